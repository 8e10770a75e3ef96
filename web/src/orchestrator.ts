// The participation page: an account's attendance and participation, from
// GET /api/v1/participation/{address}. A delegator is shown its orchestrator's record, with
// its own a link away. The address and window live in the URL, so a record can be shared.

import type { ErrorBody, Participation } from "./api";
import { el, KIND, lpt, short } from "./format";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>("lookup");
const input = $<HTMLInputElement>("address");
const days = $<HTMLSelectElement>("days");
const status = $("status");
const record = $("record");

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${s % 60} s` : `${s} s`;
}

async function fetchRecord(address: string, windowDays: number): Promise<Participation> {
  const from = Math.floor(Date.now() / 1000) - windowDays * 86_400;
  const r = await fetch(`/api/v1/participation/${encodeURIComponent(address)}?from=${from}`);
  const body = (await r.json()) as Participation | ErrorBody;
  if (!r.ok || "error" in body) throw new Error((body as ErrorBody).message ?? `HTTP ${r.status}`);
  return body as Participation;
}

async function show(address: string, windowDays: number) {
  status.textContent = "Reading the record…";
  record.replaceChildren();
  try {
    let p = await fetchRecord(address, windowDays);
    let lead: HTMLElement | null = null;
    if (p.role === "delegator" && p.delegate) {
      const self = p;
      lead = el(
        "p",
        { className: "note" },
        `${short(self.address)} is a delegator (${lpt(self.stake ?? "0")}), bonded to ${short(p.delegate)}. `,
        "This is that orchestrator's record. ",
        el("a", { href: link(self.address, windowDays, true), textContent: "The delegator's own record" }),
      );
      if (!new URLSearchParams(location.search).has("self")) p = await fetchRecord(p.delegate, windowDays);
    }
    render(p, lead, windowDays);
    status.textContent = "";
  } catch (e) {
    status.textContent = `Could not read the record: ${(e as Error).message}`;
  }
}

function link(address: string, windowDays: number, self = false): string {
  const q = new URLSearchParams({ address, days: String(windowDays) });
  if (self) q.set("self", "1");
  return `/orchestrator.html?${q}`;
}

function render(p: Participation, lead: HTMLElement | null, windowDays: number) {
  // Feed readers find the orchestrator's feed from the page itself.
  document.querySelector("link[rel=alternate]")?.remove();
  document.head.append(el("link", { rel: "alternate", type: "application/atom+xml", href: `/api/v1/feeds/orchestrators/${p.address}.atom`, title: `Speeches of ${p.address}` }));
  const t = p.totals;
  const role = p.role ? `${p.role}${p.stake ? ` · ${lpt(p.stake)}` : ""}` : "role unknown (the chain did not answer)";
  const facts: [string, string][] = [
    ["Attended", `${t.attended} of ${t.occurrences} occurrences · ${duration(t.attended_ms)} connected while in session`],
    ["Asked for the floor", `${t.requests} times · held ${t.slots_held} slots · yielded ${t.yields} · withdrew ${t.withdrawals}`],
    ["Spoke", `${t.speeches} speeches · ${duration(t.spoken_ms)}`],
    ["Reactions given", String(t.reactions)],
    ["Voted", `on ${t.votes_cast} of ${t.debates} debated proposals`],
  ];
  const dl = el("dl", { className: "facts" });
  for (const [k, v] of facts) dl.append(el("dt", { textContent: k }), el("dd", { textContent: v }));
  const rows = p.occurrences.map((o) =>
    el(
      "tr",
      {},
      el("td", {}, el("a", { href: `/?session=${o.session}`, textContent: `${o.session}.${o.occurrence}` })),
      el("td", { textContent: KIND[o.kind] ?? o.kind }),
      el("td", { textContent: new Date(o.start * 1000).toLocaleString() }),
      el("td", { textContent: o.attended_ms ? duration(o.attended_ms) : "absent" }),
      el("td", { textContent: `${o.requests} / ${o.slots_held} / ${o.yields}` }),
      el("td", { textContent: o.speeches ? `${o.speeches} · ${duration(o.spoken_ms)}` : "—" }),
      el("td", { textContent: String(o.reactions) }),
      el("td", { textContent: o.proposal_id ? (o.vote ?? "not voted") : "—" }),
    ),
  );
  const head = ["Session", "Kind", "Began", "Attended", "Asked / held / yielded", "Spoke", "Reactions", "Vote"];
  const table = el(
    "table",
    {},
    el("caption", { textContent: `Occurrences in the last ${windowDays} days, newest first${p.truncated ? " (the oldest left out)" : ""}` }),
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col", textContent: h })))),
    el("tbody", {}, ...rows),
  );
  record.replaceChildren(
    ...(lead ? [lead] : []),
    el("h2", { textContent: p.address }),
    el("p", { textContent: role }),
    dl,
    p.occurrences.length ? el("div", { className: "scroll" }, table) : el("p", { textContent: "No occurrence began in this window." }),
    el(
      "p",
      {},
      el("a", { href: `/api/v1/participation/${p.address}/csv?from=${p.from}&to=${p.to}`, textContent: "Download as CSV" }),
      " · ",
      el("a", { href: `/api/v1/participation/${p.address}?from=${p.from}&to=${p.to}`, textContent: "JSON" }),
      " · ",
      el("a", { href: `/api/v1/feeds/orchestrators/${p.address}.atom`, textContent: "Follow their speeches (Atom feed)" }),
    ),
  );
}

form.onsubmit = (e) => {
  e.preventDefault();
  const address = input.value.trim();
  const n = Number(days.value);
  history.replaceState(null, "", link(address, n));
  void show(address, n);
};

const q = new URLSearchParams(location.search);
if (q.get("days")) days.value = q.get("days")!;
const start = q.get("address");
if (start) {
  input.value = start;
  void show(start, Number(days.value));
}
