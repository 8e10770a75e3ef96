// <assembly-floor>: the live view as one embeddable element — who holds the floor and for how
// long (by the server's clock), the queue, who is listening, reactions, and a Listen button.
// Livepeer Explorer (or any page) can embed it with the built script:
//   <assembly-floor node="https://assembly.example" session="current"></assembly-floor>
// Inside Assembly's own page the app hands it its shared connection and identity.

import { Api, Live, type Burst, type LiveSession, type LiveState, type Me } from "./api";
import { Captions } from "./captions";
import { countdown, el, KIND, lpt, short } from "./format";
import { Listener } from "./media";

const STYLE = `
:host { display: block; font: inherit; color: inherit; }
.card { border: 1px solid currentColor; border-radius: .5rem; padding: .75rem; margin: .5rem 0; }
.holder { font-size: 1.15rem; }
.muted { opacity: .75; }
ol { padding-left: 1.4rem; margin: .25rem 0; }
li.you { font-weight: 700; }
button { font: inherit; padding: .45rem .8rem; border-radius: .4rem; border: 1px solid currentColor; background: transparent; color: inherit; cursor: pointer; min-height: 2.5rem; }
button:focus-visible { outline: 3px solid; outline-offset: 2px; }
button[disabled] { opacity: .5; cursor: not-allowed; }
.reactions { display: flex; flex-wrap: wrap; gap: .35rem; }
.stream { list-style: none; padding: 0; margin: .4rem 0 0; max-height: 9rem; overflow: auto; }
.row { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
.captions { font-size: 1.1rem; min-height: 1.5em; }
.captions p { margin: .2rem 0; }
.captions .final { opacity: .8; }
`;

export class AssemblyFloor extends HTMLElement {
  /** The connection (the app sets a shared one; standalone, the element makes its own). */
  live?: Live;
  /** Who is signed in, if anyone (the app sets it). */
  me: Me | null = null;
  private api!: Api;
  private root: ShadowRoot;
  private view = el("div");
  // The captions sit between the speaker (view) and the rest (under), outside both, so the
  // half-second re-render never recreates their live region.
  private captions = new Captions();
  private under = el("div");
  private stream = el("ul", { class: "stream", ariaLive: "polite", ariaLabel: "Reactions" });
  private listenButton = el("button", { type: "button", textContent: "Listen" });
  private listenStatus = el("span", { class: "muted", ariaLive: "polite" });
  private audio = el("audio", { autoplay: true });
  private listener?: Listener;
  private timer?: number;
  private reactions: { name: string; emoji: string }[] = [];

  constructor() {
    super();
    this.root = this.attachShadow({ mode: "open" });
  }

  connectedCallback() {
    this.api = new Api(this.getAttribute("node") ?? location.origin);
    this.root.replaceChildren(el("style", { textContent: STYLE }), this.view, this.captions.element, this.under, this.controls(), this.audio);
    if (!this.live) {
      this.live = new Live(this.api);
      this.live.connect();
    }
    void this.api.config().then((c) => {
      this.reactions = c.reactions;
      this.render();
    });
    this.live.onState(() => this.render());
    this.live.onBurst((b) => this.burst(b));
    this.live.onCaption((c) => this.captions.take(c));
    this.timer = window.setInterval(() => this.render(), 500);
  }

  disconnectedCallback() {
    window.clearInterval(this.timer);
    void this.listener?.stop();
  }

  /** The session shown: the `session` attribute, else the one the node shows first. */
  session(state = this.live?.state): LiveSession | undefined {
    if (!state) return undefined;
    const want = this.getAttribute("session");
    const id = want && want !== "current" ? Number(want) : state.current;
    return state.live.find((s) => s.session === id);
  }

  private controls(): HTMLElement {
    this.listenButton.addEventListener("click", () => void this.toggleListen());
    return el(
      "div",
      {},
      el("div", { class: "row" }, this.listenButton, this.listenStatus),
      el("div", { class: "reactions", role: "group", ariaLabel: "React" }),
      this.stream,
    );
  }

  private async toggleListen() {
    if (this.listener) {
      await this.listener.stop();
      this.listener = undefined;
      this.listenButton.textContent = "Listen";
      this.listenStatus.textContent = "";
      return;
    }
    const s = this.session();
    if (!s) {
      this.listenStatus.textContent = "No session is live to listen to.";
      return;
    }
    const l = new Listener(this.api.url(`/api/v1/sessions/${s.session}/whep`), undefined, this.audio);
    l.onStatus = (st, detail) => {
      this.listenStatus.textContent = st === "refused" ? `Refused: ${detail}` : st === "connected" ? "Listening" : st === "stopped" ? "" : `${st[0].toUpperCase()}${st.slice(1)}…`;
      this.dispatchEvent(new CustomEvent("listen-status", { detail: st }));
    };
    this.listener = l;
    this.listenButton.textContent = "Stop listening";
    await l.start().catch(() => {});
  }

  /** The listener's connection, for stats (tests, diagnostics). */
  get listening(): Listener | undefined {
    return this.listener;
  }

  private burst(b: Burst) {
    const parts = Object.entries(b.counts).map(([name, n]) => {
      const emoji = this.reactions.find((r) => r.name === name)?.emoji ?? name;
      return `${emoji} ${name} ×${n} (${lpt(b.stake[name] ?? "0")})`;
    });
    this.stream.prepend(el("li", { textContent: parts.join(" · ") }));
    while (this.stream.children.length > 8) this.stream.lastElementChild?.remove();
  }

  private renderReactions(group: HTMLElement) {
    const canReact = this.me && this.me.role !== "observer";
    const why = !this.me ? "Sign in with a wallet to react" : "Only orchestrators and delegators react";
    group.replaceChildren(
      ...this.reactions.map((r) => {
        const b = el("button", { type: "button", textContent: `${r.emoji} ${r.name}`, disabled: !canReact, title: canReact ? r.name : why });
        b.addEventListener("click", () => this.live?.react(r.name));
        return b;
      }),
    );
    if (!canReact) group.append(el("span", { class: "muted", textContent: why }));
  }

  render() {
    const state = this.live?.state;
    const group = this.root.querySelector<HTMLElement>(".reactions");
    if (group && group.childElementCount === 0 || (group && group.dataset.me !== String(this.me?.role))) {
      this.renderReactions(group);
      group.dataset.me = String(this.me?.role);
    }
    if (!state || !this.live) {
      this.view.replaceChildren(el("p", { textContent: "Connecting to the node…" }));
      this.under.replaceChildren();
      return;
    }
    const s = this.session(state);
    this.captions.show(s?.session);
    const [head, rest] = this.body(state, s, this.live.now());
    this.view.replaceChildren(...head);
    this.under.replaceChildren(...rest);
  }

  /** The stage (title and speaker), and what goes under the captions. */
  private body(state: LiveState, s: LiveSession | undefined, now: number): [Node[], Node[]] {
    const total = state.listeners.orchestrators + state.listeners.delegators + state.listeners.observers;
    const listening = el("p", {
      class: "muted",
      textContent: `${total} connected: ${state.listeners.orchestrators} orchestrators, ${state.listeners.delegators} delegators, ${state.listeners.observers} observers`,
    });
    if (!s) {
      return [[el("h2", { textContent: "No session is live" })], [listening]];
    }
    const me = this.me?.address.toLowerCase();
    const title = el("h2", { textContent: `${KIND[s.kind] ?? s.kind} · session ${s.session}` });
    let holder: HTMLElement;
    if (s.floor) {
      const { speaker: sp, end } = s.floor;
      const you = sp.address.toLowerCase() === me ? " (you)" : "";
      holder = el(
        "div",
        { class: "card holder", role: "status" },
        el("strong", { textContent: "Speaking: " }),
        `${short(sp.address)}${you} · ${sp.role} · ${lpt(sp.stake)} · `,
        el("span", { textContent: `${countdown(end * 1000 - now)} left`, ariaLabel: "time left in this slot" }),
      );
    } else {
      holder = el("div", { class: "card holder", role: "status", textContent: "Nobody holds the floor. An orchestrator can request it." });
    }
    const waiting = s.queue.filter((q) => q.start * 1000 > now);
    const queue = el(
      "ol",
      { ariaLabel: "Queue" },
      ...waiting.map((q, i) => {
        const you = q.speaker.toLowerCase() === me;
        const label = `${short(q.speaker)}${you ? " (you)" : ""}${i === 0 ? " — next" : ""} · starts in ${countdown(q.start * 1000 - now)}${q.final ? "" : " (unconfirmed)"}`;
        return el("li", { class: you ? "you" : "", textContent: label });
      }),
    );
    return [
      [title, holder],
      [el("h3", { textContent: waiting.length ? `Queue (${waiting.length})` : "Queue: empty" }), queue, listening],
    ];
  }
}

if (!customElements.get("assembly-floor")) customElements.define("assembly-floor", AssemblyFloor);
