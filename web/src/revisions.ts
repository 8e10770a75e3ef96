// A transcript's revisions, in the record and the Hansard: a speech its speaker corrected says
// so, and shows the original (revision 0) and each revision on request; the speaker of a
// speech gets a form to correct it. The signing (the wallet code) loads only once a speaker
// opens that form (./correct.ts): a listener never loads it.

import { Api, ApiError, type TranscriptRevision } from "./api";
import { el, short } from "./format";
import { MAX_REVISION, MAX_TEXT } from "./provenance/correction";

const api = new Api(location.origin);
const when = (ms: number) => new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });

// What to do about the refusals a speaker can do something about, beside the node's words.
const HINTS: Record<string, string> = {
  revision_taken: "That revision already has four texts you signed: reload the page and correct the latest.",
  revision_gap: "A revision was saved meanwhile (in another tab?): reload the page to see it, then correct that.",
  rate_limited: "Wait a minute, then try again.",
  chain_unavailable: "The node cannot reach the chain just now: try again shortly.",
};

/** A failure in words: the node's message and its stable code, when it gave one. */
export function failure(e: unknown): string {
  if (e instanceof ApiError && e.code) return `${e.message} (${e.code}).${HINTS[e.code] ? ` ${HINTS[e.code]}` : ""}`;
  return e instanceof Error ? e.message : String(e);
}

function revisionItem(r: TranscriptRevision, current: boolean): HTMLLIElement {
  const who = r.revision === 0 ? `as transcribed${r.engine ? ` by ${r.engine}` : ""}` : `corrected by the speaker${r.speaker ? `, ${short(r.speaker)}` : ""}`;
  return el(
    "li",
    {},
    el("strong", { textContent: r.revision === 0 ? "The original" : `Revision ${r.revision}` }),
    ` · ${who} · ${when(r.atMs)}${current ? " · current" : ""} · `,
    el("span", { className: "muted", textContent: `sha256 ${r.transcriptDigest.replace(/^0x/, "").slice(0, 16)}…` }),
    el("blockquote", { textContent: r.text || "(no words recognised)" }),
  );
}

/**
 * For a speech at `revision` above 0: that its speaker corrected it, and (read when opened)
 * the original and every revision. Null for a transcript as transcribed.
 */
export function revisionNote(speech: number, revision: number | undefined): HTMLElement | null {
  if (!revision) return null;
  const body = el("div", { ariaLive: "polite" }, el("p", { textContent: "Reading…" }));
  const box = el("details", {}, el("summary", { textContent: "The original and each revision" }), body);
  let read = false;
  box.addEventListener("toggle", () => {
    if (!box.open || read) return;
    read = true;
    api
      .transcript(speech)
      .then((t) => body.replaceChildren(el("ul", { className: "revisions" }, ...t.revisions.map((r, i) => revisionItem(r, i === t.revisions.length - 1)))))
      .catch((e) => {
        read = false;
        body.replaceChildren(el("p", { textContent: `Could not read the revisions: ${failure(e)}` }));
      });
  });
  return el("div", { className: "revised" }, el("p", { textContent: `Corrected by the speaker, revision ${revision}.` }), box);
}

let signing: Promise<typeof import("./correct")> | undefined;
const signingKit = () => (signing ??= import("./correct"));

/**
 * "Correct transcript", for the speech's own speaker: the text to correct, signed by their
 * wallet as the speech's next revision and submitted; `onSaved` hears the revision saved.
 */
export function correctionForm(speech: number, text: string, onSaved: (r: TranscriptRevision) => void): HTMLDetailsElement {
  const id = `correct-${speech}`;
  const area = el("textarea", { id, rows: 5, value: text, spellcheck: true });
  area.setAttribute("aria-describedby", `${id}-about`);
  const submit = el("button", { type: "submit", className: "primary", textContent: "Sign and submit the correction" });
  const status = el("p", { role: "status", ariaLive: "polite" });
  const say = (words: string) => (status.textContent = words);
  const form = el(
    "form",
    {},
    el("label", { htmlFor: id, textContent: "Your corrected transcript" }),
    area,
    el("p", {
      id: `${id}-about`,
      className: "muted",
      textContent: "Your wallet signs these exact words as a new revision; the original and every earlier revision stay in the record.",
    }),
    submit,
    status,
  );
  form.onsubmit = async (e) => {
    e.preventDefault();
    if (submit.disabled) return;
    const words = area.value.trim();
    if (!words) return say("Not saved: write the corrected transcript first.");
    if (new TextEncoder().encode(words).length > MAX_TEXT) return say(`Not saved: a transcript is at most ${MAX_TEXT / 1024} KiB.`);
    submit.disabled = true;
    try {
      say("Reading the transcript as it stands…");
      const t = await api.transcript(speech);
      const latest = t.revisions.at(-1);
      if (latest?.text === words) return say("Not saved: that is the transcript as it stands; change it first.");
      if (t.nextRevision === null || t.nextRevision === undefined) {
        throw new Error(
          latest && latest.revision >= MAX_REVISION
            ? `this speech has had its ${MAX_REVISION} corrections`
            : "this speech cannot be corrected yet: it is still being recorded",
        );
      }
      const { signCorrection } = await signingKit();
      const { revision, fresh } = await signCorrection(api, t, words, say);
      say(fresh ? `Saved as revision ${revision.revision}, signed by your wallet.` : `Revision ${revision.revision} with these words was already in the record.`);
      onSaved(revision);
    } catch (err) {
      say(`Not saved: ${failure(err)}`);
    } finally {
      submit.disabled = false;
    }
  };
  const box = el("details", { className: "correct" }, el("summary", { textContent: "Correct transcript" }), form);
  // The signing code starts loading as the form opens, before the speaker has finished typing.
  box.addEventListener("toggle", () => box.open && void signingKit().catch(() => (signing = undefined)));
  return box;
}
