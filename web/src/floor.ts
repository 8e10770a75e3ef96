// <assembly-floor>: the live view as one embeddable element — who holds the floor and for how
// long (by the server's clock), the queue, who is listening, reactions, and a Listen button.
// Livepeer Explorer (or any page) can embed it with the built script:
//   <assembly-floor node="https://assembly.example" session="current"></assembly-floor>
// Inside Assembly's own page the app hands it its shared connection and identity.

import { Api, Live, type Burst, type EnsName, type LiveSession, type LiveState, type Me } from "./api";
import { Captions } from "./captions";
import { byNearness, onEach } from "./cluster";
import { countdown, el, KIND, lpt, short } from "./format";
import { Listener } from "./media";
import { float, identicon, ringed, STAGE_STYLE } from "./stage";

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
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.captions { font-size: 1.1rem; min-height: 1.5em; }
.captions p { margin: .2rem 0; }
.captions .final { opacity: .8; }
${STAGE_STYLE}`;

export class AssemblyFloor extends HTMLElement {
  /** The connection (the app sets a shared one; standalone, the element makes its own). */
  live?: Live;
  /** Who is signed in, if anyone (the app sets it). */
  me: Me | null = null;
  private api!: Api;
  private root: ShadowRoot;
  private view = el("div");
  /** Reactions float here, over the stage, outside what each render replaces. */
  private floats = el("div", { class: "floats", ariaHidden: "true" });
  /** Says who took the floor, once per change (the stage itself re-renders twice a second). */
  private announce = el("p", { class: "sr-only", ariaLive: "polite" });
  private announced?: string;
  /** The loudness of what this page is playing, 0 to 1, while listening. */
  private level = 0;
  /** ENS names read so far, by lowercase address (null: none); each address asked once. */
  private names = new Map<string, EnsName | null>();

  /** The ENS name of `address` if already known; asks the node for it once otherwise. */
  private nameOf(address: string): EnsName | null {
    const key = address.toLowerCase();
    if (!this.names.has(key)) {
      this.names.set(key, null);
      void fetch(this.api.url(`/api/v1/names/${address}`))
        .then((r) => (r.ok ? (r.json() as Promise<EnsName>) : null))
        .then((n) => {
          if (n?.name) {
            this.names.set(key, n);
            this.render();
          }
        })
        .catch(() => {});
    }
    return this.names.get(key) ?? null;
  }
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
    // The captions sit on the stage under the speaker (view), outside what each render
    // replaces, so the half-second re-render never recreates their live region.
    const stage = el("div", { class: "stage" }, this.view, this.captions.element, this.floats);
    this.root.replaceChildren(el("style", { textContent: STYLE }), stage, this.under, this.announce, this.controls(), this.audio);
    if (!this.live) {
      this.live = new Live(this.api);
      this.live.connect();
    }
    // In a cluster, the member nearest this page is where it listens, and the others are
    // where it goes if that one does (found in the background).
    void byNearness(this.api)
      .then((urls) => (this.listenAt = urls))
      .catch(() => {});
    void this.api.config().then((c) => {
      this.reactions = c.reactions;
      this.render();
    });
    this.live.onState(() => this.render());
    this.live.onBurst((b) => this.burst(b));
    this.live.onCaption((c) => this.captions.take(c));
    this.timer = window.setInterval(() => this.render(), 500);
    this.meterTimer = window.setInterval(() => void this.measure(), 250);
  }

  private meterTimer?: number;
  /** The cluster's members, nearest this page first, once measured (see `cluster.ts`). */
  private listenAt?: string[];

  /** Reads the playing audio's level for the stage's meter. */
  private async measure() {
    const level = this.listener ? await this.listener.audioLevel().catch(() => 0) : 0;
    this.level = level;
    const meter = this.root.querySelector<HTMLMeterElement>("meter.level");
    if (meter) meter.value = level;
  }

  disconnectedCallback() {
    window.clearInterval(this.timer);
    window.clearInterval(this.meterTimer);
    void this.listener?.stop();
  }

  /**
   * The `session` attribute as a property too: React 19 hands a custom element's props to
   * its properties where the element has them, so a prop must never land on a method.
   */
  get session(): string | null {
    return this.getAttribute("session");
  }

  set session(v: string | number | null) {
    if (v === null || v === undefined) this.removeAttribute("session");
    else this.setAttribute("session", String(v));
  }

  /** The session shown: the `session` attribute, else the one the node shows first. */
  shown(state = this.live?.state): LiveSession | undefined {
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
    performance.mark("assembly:click");
    // A click that comes before the live socket's first state (a fast hand on a fresh page)
    // waits for it rather than being told nothing is live.
    if (!this.live?.state) this.listenStatus.textContent = "Connecting…";
    const s = this.shown(this.live?.state ?? (await this.live?.ready));
    if (!s) {
      this.listenStatus.textContent = "No session is live to listen to.";
      return;
    }
    performance.mark("assembly:listen");
    const l = new Listener(
      this.listenAt ? onEach(this.listenAt, `/api/v1/sessions/${s.session}/whep`) : this.api.url(`/api/v1/sessions/${s.session}/whep`),
      undefined,
      this.audio,
    );
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
    for (const [name, n] of Object.entries(b.counts)) {
      const emoji = this.reactions.find((r) => r.name === name)?.emoji ?? name;
      float(this.floats, n > 1 ? `${emoji}×${n}` : emoji);
    }
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
    const s = this.shown(state);
    this.captions.show(s?.session);
    const [head, rest] = this.body(state, s, this.live.now());
    this.view.replaceChildren(...head);
    this.under.replaceChildren(...rest);
  }

  /** The stage (title and speaker), and what goes under the captions. */
  private body(state: LiveState, s: LiveSession | undefined, now: number): [Node[], Node[]] {
    const l = state.listeners;
    const counts = el(
      "p",
      { class: "counts muted" },
      `${l.orchestrators + l.delegators + l.observers} connected: `,
      el("span", { textContent: `${l.orchestrators} orchestrators` }),
      el("span", { textContent: `${l.delegators} delegators` }),
      el("span", { textContent: `${l.observers} observers` }),
    );
    if (!s) {
      this.say("No session is live.");
      return [[el("h2", { textContent: "No session is live" })], [counts]];
    }
    const me = this.me?.address.toLowerCase();
    const title = el("h2", { textContent: `${KIND[s.kind] ?? s.kind} · session ${s.session}` });
    let holder: HTMLElement;
    if (s.floor) {
      const { speaker: sp, start, end } = s.floor;
      const you = sp.address.toLowerCase() === me ? " (you)" : "";
      const left = (end * 1000 - now) / (Math.max(1, end - start) * 1000);
      const meter = el("meter", { class: "level", min: 0, max: 1, low: 0.05, value: this.level });
      meter.setAttribute("aria-label", this.listener ? "Speaker's audio level" : "Speaker's audio level (press Listen to hear)");
      const ens = this.nameOf(sp.address);
      const picture = ringed(sp.address, left, 96);
      if (ens?.avatar) {
        // The ENS avatar replaces the identicon inside the ring; the name says who it is.
        const img = document.createElementNS("http://www.w3.org/2000/svg", "image");
        for (const [k, v] of Object.entries({ href: ens.avatar, x: "18", y: "18", width: "64", height: "64", preserveAspectRatio: "xMidYMid slice" })) img.setAttribute(k, v);
        picture.querySelector("svg.face")?.replaceWith(img);
      }
      holder = el(
        "div",
        { class: "card holder" },
        picture,
        el(
          "div",
          { class: "who" },
          el("span", { textContent: "Speaking" }),
          el("span", { class: "name", textContent: `${ens?.name ?? short(sp.address)}${you}`, title: sp.address }),
          ...(ens?.name ? [el("span", { class: "muted", textContent: short(sp.address) })] : []),
          el("span", { textContent: `${sp.role} · ${lpt(sp.stake)}` }),
          el("span", { textContent: `${countdown(end * 1000 - now)} left`, ariaLabel: "time left in this slot" }),
          meter,
        ),
      );
      this.say(`Now speaking: ${short(sp.address)}${you}, ${sp.role}.`);
    } else {
      holder = el("div", { class: "card holder", textContent: "Nobody holds the floor. An orchestrator can request it." });
      this.say("Nobody holds the floor.");
    }
    const waiting = s.queue.filter((q) => q.start * 1000 > now);
    const mine = waiting.findIndex((q) => q.speaker.toLowerCase() === me);
    const at = (t: number) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    const queue = el(
      "ol",
      { class: "faces", ariaLabel: "Queue" },
      ...waiting.map((q, i) => {
        const you = i === mine;
        const face = el("li", { class: you ? "you" : "" });
        face.append(
          identicon(q.speaker, 40),
          el("span", { textContent: `${i + 1}. ${you ? "you" : short(q.speaker)}${i === 0 ? " — next" : ""}` }),
          el("span", { class: "muted", textContent: `at ${at(q.start)} (in ${countdown(q.start * 1000 - now)})${q.final ? "" : " · unconfirmed"}` }),
        );
        return face;
      }),
    );
    const place =
      mine >= 0
        ? el("p", { textContent: `Your place: ${mine + 1} of ${waiting.length}; you speak at ${at(waiting[mine].start)}.` })
        : null;
    return [
      [title, holder],
      [el("h3", { textContent: waiting.length ? `Queue (${waiting.length})` : "Queue: empty" }), queue, ...(place ? [place] : []), counts],
    ];
  }

  /** Announces `text` to screen readers when it differs from the last announcement. */
  private say(text: string) {
    if (text === this.announced) return;
    this.announced = text;
    this.announce.textContent = text;
  }
}

if (!customElements.get("assembly-floor")) customElements.define("assembly-floor", AssemblyFloor);
