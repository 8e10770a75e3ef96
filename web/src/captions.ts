// Live captions on the stage: the floor holder's words a few seconds after they are said
// (`caption` messages), replaced by the Hansard's final text when the speech has been
// transcribed (`transcript` messages). One polite live region, so screen readers read each
// new caption without interrupting.

import type { Caption, Transcript } from "./api";
import { el } from "./format";

/** Captions shown at once: the latest few lines of the current speech. */
const LINES = 3;

type Line = { speaker: string; slot: number; text: string; final: boolean };

export class Captions {
  /** The element to place under the speaker. */
  readonly element = el("div", { class: "captions", role: "log", ariaLive: "polite", ariaLabel: "Live captions" });
  private lines: Line[] = [];
  private session?: number;

  /** Shows `session`'s captions only (another session's are dropped). */
  show(session: number | undefined) {
    if (session === this.session) return;
    this.session = session;
    this.lines = [];
    this.render();
  }

  /** A `caption` or `transcript` message from the live socket. */
  take(msg: Caption | Transcript) {
    if (msg.session !== this.session) return;
    const same = (l: Line) => l.speaker === msg.speaker && l.slot === msg.slot_start;
    if (msg.type === "caption") {
      const last = this.lines[this.lines.length - 1];
      // A new speaker's first caption clears the last speaker's.
      if (last && !same(last)) this.lines = [];
      if (this.lines.some((l) => same(l) && l.final)) return;
      this.lines.push({ speaker: msg.speaker, slot: msg.slot_start, text: msg.text, final: false });
      this.lines = this.lines.slice(-LINES);
    } else {
      // The final transcript replaces that speech's captions (if they are still shown).
      if (!this.lines.some(same)) return;
      this.lines = this.lines.filter((l) => !same(l));
      this.lines.push({ speaker: msg.speaker, slot: msg.slot_start, text: msg.text, final: true });
    }
    this.render();
  }

  private render() {
    this.element.replaceChildren(
      ...this.lines.map((l) => el("p", { class: l.final ? "final" : "", textContent: l.final ? `Transcript: ${l.text}` : l.text })),
    );
  }
}
