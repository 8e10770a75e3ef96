// A debate's agenda: the vote it is held before (its title, linked to Livepeer Explorer),
// when that vote closes, counting down, and the tally so far from the votes the node's
// indexer has read from the chain. Shown under each debate in the schedule.

import type { Api, Votes } from "./api";
import type { components } from "./generated/api";

type Title = components["schemas"]["Title"];
import { debateTopic, el, lpt, short } from "./format";

const CHOICE: Record<string, string> = { for: "For", against: "Against", abstain: "Abstain", yes: "Yes", no: "No" };

/** "3 d 4 h", "5 h 12 min", "12 min": how long until `at` (unix seconds), never negative. */
export function until(at: number, now = Date.now()): string {
  const m = Math.max(0, Math.floor((at * 1000 - now) / 60_000));
  const [d, h, min] = [Math.floor(m / 1440), Math.floor((m % 1440) / 60), m % 60];
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${min} min`;
  return `${min} min`;
}

/** The tally in words: "For 1 voter · 10,500 LPT; Against none". */
export function tallyText(votes: Votes): string {
  if (votes.tally.length === 0) return "No votes yet.";
  const order = Object.keys(CHOICE);
  return [...votes.tally]
    .sort((a, b) => order.indexOf(a.choice) - order.indexOf(b.choice))
    .map((t) => {
      const who = t.voters === 1 ? "1 voter" : `${t.voters} voters`;
      return `${CHOICE[t.choice] ?? t.choice}: ${who}${t.weight ? ` · ${lpt(t.weight)}` : ""}`;
    })
    .join("; ");
}

/**
 * The agenda of a scheduled debate of `kind` on `proposalId`. Fills in as the indexer
 * answers; what it cannot learn it leaves out rather than guess.
 */
export function agendaCard(api: Api, kind: string, proposalId: string, title?: Title | null): HTMLElement {
  const topic = debateTopic(kind, proposalId, title);
  const link = el("a", { href: topic.href, textContent: topic.text, rel: "noopener" });
  const closes = el("span", { className: "closes" });
  const tally = el("span", { className: "tally" });
  const proposer = el("span", { className: "proposer" });
  const card = el("div", { className: "agenda" }, link, proposer, " ", closes, el("br"), tally);
  let closesAt: number | undefined;
  const showCloses = () => {
    if (closesAt === undefined) return;
    const when = new Date(closesAt * 1000).toLocaleString(undefined, { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    closes.textContent = `· the vote closes ${when} (in ${until(closesAt)})`;
  };
  const describe = () =>
    api
      .proposal(proposalId)
      .then((p) => {
        link.textContent = debateTopic(kind, proposalId, p.title).text;
        if (p.proposer) {
          proposer.replaceChildren(
            " · proposed by ",
            el("a", { href: `/orchestrator.html?address=${p.proposer}`, textContent: short(p.proposer), title: p.proposer }),
          );
        }
        closesAt = p.vote_closes_at ?? undefined;
        showCloses();
      })
      .catch(() => {});
  const count = () =>
    api
      .votes(proposalId)
      .then((v) => {
        tally.textContent = `Tally so far: ${tallyText(v)}`;
      })
      .catch(() => {
        tally.textContent = "Tally: not available from this node.";
      });
  // A second after the page's own start (listening and the live state come first), then
  // every 10 s while the card is shown: votes keep arriving until the vote closes.
  window.setTimeout(() => {
    void describe();
    void count();
    const timer = window.setInterval(() => {
      if (!card.isConnected) return window.clearInterval(timer);
      showCloses();
      void count();
    }, 10_000);
  }, 1000);
  return card;
}
