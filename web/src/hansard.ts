// The archive and the Hansard on the main page: search what was said (words, speaker), each
// hit with its speaker, time and recording (and, once its speaker corrected it, its revisions);
// a session's Hansard as Markdown or JSON.

import type { ErrorBody, Hit, SaidVoted, SessionHansard } from "./api";
import { el, lpt, short } from "./format";
import { revisionNote } from "./revisions";

/** `meOf`: the signed-in account, whose own speeches link to their correction in the record. */
export function mountHansard(root: HTMLElement, sessionOf: () => number | undefined, meOf: () => string | undefined = () => undefined) {
  // Visible labels rather than hint text inside the fields: they stay readable once typed in.
  const words = el("input", { type: "search", id: "hansard-q" });
  const speaker = el("input", { type: "text", id: "hansard-speaker", size: 44 });
  const go = el("button", { type: "submit", textContent: "Search" });
  const results = el("ol", { ariaLive: "polite" });
  const exports = el("p", {});
  const debate = el("div", {});
  const form = el(
    "form",
    { role: "search", className: "row" },
    el("label", { htmlFor: "hansard-q", textContent: "Words said" }),
    words,
    el("label", { htmlFor: "hansard-speaker", textContent: "Speaker address (optional)" }),
    speaker,
    go,
  );
  form.onsubmit = async (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (words.value.trim()) q.set("q", words.value.trim());
    if (speaker.value.trim()) q.set("speaker", speaker.value.trim());
    const s = sessionOf();
    results.replaceChildren(el("li", { textContent: "Searching…" }));
    try {
      const r = await fetch(`/api/v1/hansard/search?${q}`);
      const hits = (await r.json()) as Hit[] | ErrorBody;
      if (!Array.isArray(hits)) throw new Error(hits.message ?? hits.error);
      results.replaceChildren(
        ...(hits.length ? hits.map((h) => hit(h, meOf()?.toLowerCase() === h.speaker.toLowerCase())) : [el("li", { textContent: "Nothing found. Speeches are searchable once transcribed." })]),
      );
    } catch (err) {
      results.replaceChildren(el("li", { textContent: `Search failed: ${(err as Error).message}` }));
    }
    if (s !== undefined) {
      exports.replaceChildren(
        `Session ${s}'s Hansard: `,
        el("a", { href: `/api/v1/hansard/sessions/${s}/markdown`, textContent: "Markdown" }),
        " · ",
        el("a", { href: `/api/v1/hansard/sessions/${s}`, textContent: "JSON" }),
        " · ",
        el("a", { href: `/broadcast.html?session=${s}`, textContent: "public broadcast (HLS)" }),
      );
      void fetch(`/api/v1/hansard/sessions/${s}`)
        .then((r) => (r.ok ? (r.json() as Promise<SessionHansard>) : null))
        .then((h) => debate.replaceChildren(...(h?.debate ? [saidVoted(h.debate)] : [])))
        .catch(() => debate.replaceChildren());
    }
  };
  root.append(form, results, exports, debate);
}

function hit(h: Hit, mine: boolean): HTMLLIElement {
  const when = new Date(h.started_ms).toLocaleString();
  const player = el("audio", { controls: true, preload: "none", src: h.audio });
  player.setAttribute("aria-label", `Recording of ${short(h.speaker)} at ${when}`);
  const snippet = el("p", {});
  // Matches come back in [brackets]: shown as <mark>, and still bracketed in text.
  for (const [i, part] of h.snippet.split(/\[|\]/).entries()) {
    snippet.append(i % 2 ? el("mark", { textContent: `[${part}]` }) : part);
  }
  return el(
    "li",
    {},
    el("a", { href: `/orchestrator.html?address=${h.speaker}` }, el("strong", { textContent: short(h.speaker) })),
    ` · session ${h.session} · ${when} · ${Math.round(h.duration_ms / 1000)} s `,
    el("a", { href: `/record.html?speech=${h.id}${h.at_ms ? `&t=${(h.at_ms / 1000).toFixed(1)}` : ""}`, textContent: "in the record" }),
    " · ",
    el("a", { href: h.audio, textContent: "download" }),
    mine ? " · " : "",
    mine ? el("a", { href: `/record.html?speech=${h.id}&correct=1`, textContent: "correct your transcript" }) : "",
    snippet,
    revisionNote(h.id, h.revision),
    player,
  );
}

/** Who spoke beside how they voted on the debated proposal, and who did only one of the two. */
function saidVoted(d: SaidVoted): HTMLElement {
  const rows = d.participants.map((p) =>
    el(
      "tr",
      {},
      el("td", {}, el("a", { href: `/orchestrator.html?address=${p.address}`, textContent: short(p.address) })),
      el("td", { textContent: p.speeches.length ? `${p.speeches.length} · ${Math.round(p.spoken_ms / 1000)} s` : "did not speak" }),
      el("td", { textContent: p.vote ? (p.vote.choice ?? `choice ${p.vote.support}`) : "not voted" }),
      el("td", { textContent: p.vote?.weight ? lpt(p.vote.weight) : "" }),
      el("td", { textContent: p.vote?.reason ?? "" }),
    ),
  );
  const head = ["Who", "Spoke", "Vote", "Stake", "Reason"];
  return el(
    "div",
    { className: "scroll" },
    el(
      "table",
      {},
      el("caption", { textContent: `Said and voted on proposal ${short(d.proposal_id)}: ${d.voted_without_speaking.length} voted without speaking, ${d.spoke_without_voting.length} spoke without voting` }),
      el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col", textContent: h })))),
      el("tbody", {}, ...rows),
    ),
  );
}
