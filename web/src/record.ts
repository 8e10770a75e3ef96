// The record: sessions → occurrences → speeches, newest first, each speech playable with its
// transcript beside it. `?speech=ID` opens a speech's session and plays it (`&t=seconds` from
// a moment in it): what a Hansard search result links to. A speaker signed in on this node
// may correct the transcript of their own speeches (`&correct=1` opens that speech's form).

import { Api, type Entry, type ErrorBody, type SessionHansard, type Speech } from "./api";
import { el, short } from "./format";
import { correctionForm, revisionNote } from "./revisions";
import { identicon } from "./stage";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const audio = $<HTMLAudioElement>("audio");
const playing = $("playing");
const transcript = $("transcript");
const status = $("status");

async function json<T>(path: string): Promise<T> {
  const r = await fetch(path);
  const body = (await r.json()) as T | ErrorBody;
  if (!r.ok) throw new Error((body as ErrorBody).message ?? `HTTP ${r.status}`);
  return body as T;
}

const when = (ms: number) => new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });

/** The account signed in on this node (its session cookie), lower-cased; none for a listener. */
let me: string | undefined;
/** The speech playing. */
let current: Entry | undefined;

/** Marks the transcript's segment being heard; set for the speech playing. */
let follow = () => {};
audio.addEventListener("timeupdate", () => follow());

/** Plays `s` from `at` seconds, and shows its transcript beside the player. */
function play(s: Entry, at = 0) {
  current = s;
  playing.replaceChildren(
    el("a", { href: `/orchestrator.html?address=${s.speaker}`, textContent: short(s.speaker), title: s.speaker }),
    ` · session ${s.session}, occurrence ${s.occurrence} · ${when(s.started_ms)} · ${Math.round(s.duration_ms / 1000)} s · `,
    el("a", { href: `/api/v1/archive/speeches/${s.id}/audio`, textContent: "download (Ogg Opus)" }),
    s.sha256 ? el("span", { className: "muted", textContent: ` · sha256 ${s.sha256.slice(0, 16)}…` }) : "",
  );
  showTranscript(s);
  audio.src = `/api/v1/archive/speeches/${s.id}/audio`;
  audio.currentTime = at;
  history.replaceState(null, "", `/record.html?speech=${s.id}${at ? `&t=${at}` : ""}`);
  void audio.play().catch(() => (playing.append(" — press play to start.")));
}

/** The transcript beside the player: timed segments as transcribed, or the speaker's correction. */
function showTranscript(s: Entry) {
  // The segments are the transcriber's (revision 0): a corrected transcript is shown whole.
  if (s.segments.length && !s.revision) {
    // The transcript follows playback: the segment being heard is marked, and each one
    // is a button that plays from there.
    const parts = s.segments.map((seg) => {
      const b = el("button", { type: "button", className: "segment", textContent: seg.text });
      b.setAttribute("aria-label", `Play from ${(seg.start_ms / 1000).toFixed(1)} s: ${seg.text}`);
      b.onclick = () => {
        audio.currentTime = seg.start_ms / 1000;
        void audio.play().catch(() => {});
      };
      return b;
    });
    follow = () => {
      const t = audio.currentTime * 1000;
      s.segments.forEach((seg, i) => {
        const now = seg.start_ms <= t && (t < seg.end_ms || (i === s.segments.length - 1 && t >= seg.start_ms));
        parts[i].classList.toggle("now", now);
        if (now) parts[i].setAttribute("aria-current", "true");
        else parts[i].removeAttribute("aria-current");
      });
    };
    transcript.replaceChildren(el("p", {}, ...parts));
  } else {
    follow = () => {};
    transcript.replaceChildren(
      el("p", { textContent: s.text === null || s.text === undefined ? "Transcription pending." : s.text || "(no words recognised)" }),
      s.revision ? el("p", { className: "muted", textContent: `Corrected by the speaker, revision ${s.revision}.` }) : "",
    );
  }
}

function speechItem(s: Entry): HTMLLIElement {
  const button = el("button", { type: "button", textContent: "Play" });
  button.setAttribute("aria-label", `Play ${short(s.speaker)} at ${when(s.started_ms)}`);
  button.onclick = () => play(s);
  const transcribed = s.text !== null && s.text !== undefined;
  const said = el("p", { className: "said", textContent: transcribed ? s.text || "(no words recognised)" : "Transcription pending." });
  let note = revisionNote(s.id, s.revision) ?? el("div", {});
  // Only the speech's own speaker is offered the correction; the node checks their signature.
  const correct =
    transcribed && me === s.speaker.toLowerCase()
      ? correctionForm(s.id, s.text ?? "", (r) => {
          s.text = r.text;
          s.revision = r.revision;
          said.textContent = r.text;
          const next = revisionNote(s.id, r.revision) ?? el("div", {});
          note.replaceWith(next);
          note = next;
          if (current === s) showTranscript(s);
        })
      : null;
  return el(
    "li",
    { className: "speech", id: `speech-${s.id}` },
    identicon(s.speaker, 32),
    el(
      "div",
      {},
      el("strong", { textContent: short(s.speaker) }),
      ` · ${when(s.started_ms)} · ${Math.round(s.duration_ms / 1000)} s `,
      button,
      said,
      note,
      correct,
    ),
  );
}

/** One session's speeches, by occurrence, read when the session is opened. */
async function fill(body: HTMLElement, session: number): Promise<Entry[]> {
  const h = await json<SessionHansard>(`/api/v1/hansard/sessions/${session}`);
  const byOccurrence = new Map<number, Entry[]>();
  for (const e of h.speeches) {
    const o = e.occurrence;
    byOccurrence.set(o, [...(byOccurrence.get(o) ?? []), e]);
  }
  body.replaceChildren(
    ...[...byOccurrence.entries()]
      .sort(([a], [b]) => b - a)
      .flatMap(([o, list]) => [el("h4", { textContent: `Occurrence ${o}` }), el("ol", { className: "speeches" }, ...list.map(speechItem))]),
    el("p", {}, el("a", { href: `/api/v1/hansard/sessions/${session}/markdown`, textContent: "The session's Hansard as Markdown" })),
  );
  return h.speeches;
}

async function main() {
  const q = new URLSearchParams(location.search);
  const wanted = Number(q.get("speech") ?? NaN);
  const at = Number(q.get("t") ?? 0) || 0;
  const [speeches, signedIn] = await Promise.all([
    json<Speech[]>("/api/v1/archive/speeches?limit=5000"),
    new Api(location.origin).me().catch(() => null),
  ]);
  me = signedIn?.address.toLowerCase();
  const sessions = new Map<number, Speech[]>();
  for (const s of speeches) sessions.set(s.session, [...(sessions.get(s.session) ?? []), s]);
  status.textContent = sessions.size ? "" : "Nothing has been recorded yet.";
  const list = el("div", {});
  // In the document before the wanted speech is looked for in it (to scroll to, and to open
  // its correction form).
  $("sessions").replaceChildren(list);
  for (const [session, ss] of [...sessions.entries()].sort(([a], [b]) => b - a)) {
    const body = el("div", {}, el("p", { textContent: "Reading…" }));
    const box = el("details", { className: "session" }, el("summary", { textContent: `Session ${session} · ${ss.length} speech${ss.length === 1 ? "" : "es"} · last ${when(ss[ss.length - 1].started_ms)}` }), body);
    let filled: Promise<Entry[]> | undefined;
    const open = () => (filled ??= fill(body, session).catch((e) => {
      body.replaceChildren(el("p", { textContent: `Could not read the session: ${(e as Error).message}` }));
      return [];
    }));
    box.addEventListener("toggle", () => box.open && void open());
    list.append(box);
    if (ss.some((s) => s.id === wanted)) {
      box.open = true;
      const entries = await open();
      const e = entries.find((x) => x.id === wanted);
      if (e) {
        play(e, at);
        const item = document.getElementById(`speech-${wanted}`);
        item?.scrollIntoView({ block: "center" });
        // From "correct your transcript" in the Hansard: the form open, the text in focus.
        const form = q.has("correct") ? item?.querySelector<HTMLDetailsElement>("details.correct") : null;
        if (form) {
          form.open = true;
          form.querySelector("textarea")?.focus();
        }
      }
    }
  }
}

main().catch((e) => (status.textContent = `Could not read the record: ${(e as Error).message}`));
