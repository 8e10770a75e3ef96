// Assembly's page: the live floor (<assembly-floor>), the wallet and sign-in, taking the
// floor (the enqueue / withdraw / yieldFloor transactions the chain judges, then the
// microphone over WHIP for exactly the user's slot), and the schedule.

import { Api, ApiError, Live, type ClientConfig, type LiveSession, type LiveState, type Me } from "./api";
import "./floor"; // defines <assembly-floor>
import type { AssemblyFloor } from "./floor";
import { countdown, el, KIND, lpt, short } from "./format";
import { mountHansard } from "./hansard";
import { Publisher } from "./media";
import { onEach, siblings } from "./cluster";
import { agendaCard } from "./agenda";
import { demoWallets } from "./demo";
import type { FloorCall, Wallet, WalletInfo } from "./wallet";
import type { Signing } from "./provenance/speaker";

// The wallet code (viem) is most of the page's weight and only a speaker needs it: it loads
// when someone reaches for the "Connect wallet" button, so a listener's page starts light.
let walletModule: Promise<typeof import("./wallet")> | undefined;
const walletKit = () => (walletModule ??= import("./wallet"));

/** A failure in words: the wallet module's (which reads contract reverts) once it is loaded. */
async function reasonOf(e: unknown): Promise<string> {
  if (walletModule) return (await walletModule).reasonOf(e);
  return e instanceof Error ? e.message : String(e);
}

const api = new Api(location.origin);
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

class App {
  config!: ClientConfig;
  live = new Live(api);
  me: Me | null = null;
  token?: string;
  renewal?: number;
  wallet?: Wallet;
  floor = $("floor") as AssemblyFloor;
  tx = $("tx");
  busy = false;
  mic?: MediaStream;
  publisher?: Publisher;
  publishingFor?: number;
  micError?: string;
  /** Signing this user's speech (its worker and code load only once they are about to speak). */
  signing?: Promise<Signing>;
  signer?: Signing;

  async start() {
    // A link to one session: /?session=7 (otherwise the node's current one).
    const session = new URLSearchParams(location.search).get("session");
    if (session) this.floor.setAttribute("session", session);
    this.floor.live = this.live;
    this.live.connect();
    this.config = await api.config();
    this.me = await api.me().catch(() => null);
    this.floor.me = this.me;
    this.live.onState((s) => this.update(s));
    mountHansard(
      $("hansard"),
      () => (this.live.state ? this.floor.shown(this.live.state)?.session : undefined),
      () => this.me?.address,
    );
    setInterval(() => this.live.state && this.update(this.live.state), 500);
    this.renderAccount();
  }

  // ── account ────────────────────────────────────────────────────────────────

  renderAccount() {
    const box = $("account");
    if (this.me) {
      const out = el("button", { type: "button", textContent: "Sign out" });
      out.onclick = async () => {
        await api.signOut(this.token);
        window.clearTimeout(this.renewal);
        this.me = null;
        this.token = undefined;
        this.floor.me = null;
        this.live.connect(undefined);
        this.renderAccount();
      };
      const record = el("a", {
        href: `/orchestrator.html?address=${this.me.address}`,
        textContent: this.me.role === "delegator" ? "Your orchestrator's record" : "Your record",
      });
      box.replaceChildren(
        el("span", { textContent: `${short(this.me.address)} · ${this.me.role} · ${lpt(this.me.stake)} ` }),
        record,
        " ",
        out,
      );
    } else {
      const connect = el("button", { type: "button", className: "primary", textContent: "Connect wallet" });
      connect.onclick = () => void this.chooseWallet(box);
      // Start fetching the wallet code as the pointer or focus reaches the button.
      connect.onpointerenter = connect.onfocus = () => void walletKit();
      box.replaceChildren(el("span", { textContent: "Listening as an observer " }), connect);
    }
    if (this.live.state) this.update(this.live.state);
  }

  async chooseWallet(box: HTMLElement) {
    const { discover, Wallet } = await walletKit();
    const wallets = await discover();
    const demo = demoWallets(this.config);
    if (wallets.length === 0 && demo.length === 0) {
      box.replaceChildren(el("span", { className: "why", textContent: "No wallet found in this browser. Install one (any EIP-1193 / EIP-6963 wallet) to sign in; you can listen without one." }));
      return;
    }
    if (wallets.length === 1 && demo.length === 0) return this.signIn(new Wallet(wallets[0], this.config));
    const button = (w: WalletInfo, text: string) => {
      const b = el("button", { type: "button", textContent: text });
      b.onclick = () => void this.signIn(new Wallet(w, this.config));
      return b;
    };
    const rows: HTMLElement[] = [];
    if (wallets.length > 0) {
      rows.push(el("span", { textContent: "Choose a wallet: " }), ...wallets.map((w) => button(w, w.name)));
    }
    if (demo.length > 0) {
      // Said in words, not only by style: these are the local chain's accounts, not yours.
      const group = el("div", { className: "demo" });
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Demo accounts on this local chain");
      group.replaceChildren(
        el("span", { textContent: "Demo accounts (this local chain only; anyone here can use them): " }),
        ...demo.map((w) => button(w, `${w.name} · ${short(w.address ?? "")}`)),
      );
      rows.push(group);
    }
    box.replaceChildren(...rows);
  }

  async signIn(wallet: Wallet) {
    const box = $("account");
    try {
      box.replaceChildren(el("span", { textContent: "Waiting for the wallet…" }));
      await wallet.connect();
      const { message, signature } = await wallet.signIn(await api.nonce());
      const me = await api.signIn(message, signature);
      this.wallet = wallet;
      // Only sign-in carries a token (`/api/v1/me` answers null).
      this.token = me.token ?? undefined;
      this.me = me;
      this.floor.me = me;
      this.live.connect(this.token);
      this.scheduleRenewal(me);
    } catch (e) {
      box.replaceChildren(el("span", { className: "why", textContent: `Sign-in failed: ${await reasonOf(e)}` }));
      setTimeout(() => this.renderAccount(), 4000);
      return;
    }
    this.renderAccount();
  }

  /** Renews the token halfway through its life while the page is open, until the sign-in ends. */
  scheduleRenewal(me: Me) {
    window.clearTimeout(this.renewal);
    const now = Date.now() / 1000;
    if (me.expires_at >= me.session_end) return;
    const wait = Math.max(30, (me.expires_at - now) / 2);
    this.renewal = window.setTimeout(async () => {
      try {
        const renewed = await api.renew(this.token);
        this.token = renewed.token ?? this.token;
        this.scheduleRenewal(renewed);
      } catch {
        // Signed out elsewhere, or the node is away: the next request says which.
      }
    }, wait * 1000);
  }

  // ── the floor, for this user ───────────────────────────────────────────────

  /** Why this user may not speak in `s`, if they may not. */
  whyNot(s: LiveSession | undefined): string | undefined {
    if (!this.me) return "Connect a wallet and sign in to request the floor.";
    if (!s) return "No session is open now; see the schedule below.";
    if (this.me.role === "observer") return "This wallet is not an orchestrator in the active set and has no bonded stake, so it may listen but not speak.";
    if (this.me.role === "delegator" && s.speakers === "orchestrators") return "This session is for orchestrators in the active set; delegators may speak in sessions that allow them.";
    return undefined;
  }

  update(state: LiveState) {
    const s = this.floor.shown(state);
    const now = this.live.now();
    const me = this.me?.address.toLowerCase();
    const mine = s?.queue.filter((q) => q.speaker.toLowerCase() === me && q.end * 1000 > now) ?? [];
    const holding = mine.find((q) => q.start * 1000 <= now);
    const waiting = s ? s.queue.filter((q) => q.start * 1000 > now) : [];
    const place = waiting.findIndex((q) => q.speaker.toLowerCase() === me);
    this.steerMicrophone(s, !!holding || place === 0);
    // The key that signs the slot's audio is certified once the slot is held or next.
    const slot = holding ?? (place === 0 ? waiting[0] : undefined);
    if (s && slot) this.signer?.want(s, slot, this.wallet, this.live.offset);

    const body = $("speak-body");
    const why = this.whyNot(s);
    const parts: Node[] = [];
    if (why) {
      parts.push(el("p", { className: "why", textContent: why }));
    } else if (holding && s) {
      parts.push(
        el("p", { textContent: `You have the floor: ${countdown(holding.end * 1000 - now)} left. ${this.micLine()}` }),
        this.button("Yield the floor", "yieldFloor", s.session),
      );
    } else if (place >= 0 && s) {
      const q = waiting[place];
      const line = place === 0 ? `You're next, in ${countdown(q.start * 1000 - now)}. ${this.micLine()}` : `You're number ${place + 1} in the queue; your slot starts in ${countdown(q.start * 1000 - now)}.`;
      parts.push(el("p", { textContent: line }), this.button("Leave the queue", "withdraw", s.session));
    } else if (s) {
      parts.push(
        el("p", { textContent: `Ask for a ${s.slot_length}-second slot. The request is a transaction: the chain decides, and your slot follows the queue.` }),
        this.button("Request the floor", "enqueue", s.session, true),
      );
    }
    // The section is redrawn twice a second: a keyboard user's focus stays on the button
    // they reached (or, when it turned into another, on its successor), not lost to <body>.
    const focused = body.contains(document.activeElement) ? document.activeElement?.textContent : undefined;
    body.replaceChildren(...parts);
    if (focused !== undefined) {
      const buttons = [...body.querySelectorAll("button")];
      (buttons.find((b) => b.textContent === focused) ?? buttons[0])?.focus();
    }
    this.renderSchedule(state);
  }

  button(label: string, call: FloorCall, session: number, primary = false): HTMLButtonElement {
    const b = el("button", { type: "button", textContent: label, disabled: this.busy || !this.wallet, className: primary ? "primary" : "" });
    if (!this.wallet) b.title = "Connect your wallet again to send transactions";
    b.onclick = () => void this.send(call, session);
    return b;
  }

  async send(call: FloorCall, session: number) {
    if (!this.wallet || this.busy) return;
    this.busy = true;
    this.tx.textContent = "Waiting for your wallet…";
    if (call === "enqueue") void this.prepareMicrophone();
    try {
      await this.wallet.send(call, session, (hash) => {
        this.tx.textContent = `Pending: transaction ${short(hash)} sent, waiting for the chain…`;
      });
      this.tx.textContent = "Confirmed by the chain.";
    } catch (e) {
      this.tx.textContent = `Failed: ${await reasonOf(e)}.`;
    } finally {
      this.busy = false;
      if (this.live.state) this.update(this.live.state);
    }
  }

  micLine(): string {
    if (this.micError) return `Microphone: ${this.micError}`;
    const line = this.publisher && this.signer?.line();
    const signing = line ? ` ${line}` : "";
    if (this.publisher?.status === "connected") return `Your microphone is live on the floor.${signing}`;
    if (this.mic) return `Microphone ready.${signing}`;
    return "Allow the microphone when asked.";
  }

  /** The speaker's signing, loaded once. */
  speakerSigning(): Promise<Signing> {
    return (this.signing ??= import("./provenance/speaker").then(async ({ Signing }) => (this.signer = await Signing.load())));
  }

  /** Asks for the microphone early (when requesting the floor, or when next). */
  async prepareMicrophone() {
    void this.speakerSigning().catch(() => {});
    if (this.mic || this.micError) return;
    try {
      this.mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
    } catch (e) {
      this.micError = e instanceof Error ? e.message : "not available";
    }
  }

  /**
   * Publishes while the user holds the floor or is next (the node forwards only inside the
   * slot; connecting when next makes the handover instant), and stops otherwise.
   */
  steerMicrophone(s: LiveSession | undefined, wanted: boolean) {
    if (wanted && s && this.publishingFor !== s.session) {
      this.publishingFor = s.session;
      void (async () => {
        await this.prepareMicrophone();
        if (!this.mic || this.publishingFor !== s.session) return;
        // This node first; in a cluster, the other members to carry on at if it goes away
        // (the session token is good on every member).
        const path = `/api/v1/sessions/${s.session}/whip`;
        const others = await siblings(api).catch(() => []);
        // Unsigned rather than silent if the signing code cannot be fetched.
        const signing = await this.speakerSigning().catch(() => undefined);
        if (!this.mic || this.publishingFor !== s.session) return;
        const p = new Publisher([api.url(path), ...onEach(others, path)], this.token, this.mic, signing);
        this.publisher = p;
        p.onStatus = () => this.live.state && this.update(this.live.state);
        await p.start().catch(async (e) => {
          this.tx.textContent = `Microphone not admitted: ${e instanceof ApiError ? e.message : await reasonOf(e)}`;
        });
      })();
    } else if (!wanted && this.publishingFor !== undefined) {
      this.publishingFor = undefined;
      void this.publisher?.stop();
      this.publisher = undefined;
      this.mic?.getTracks().forEach((t) => t.stop());
      this.mic = undefined;
    }
  }

  renderSchedule(state: LiveState) {
    const list = $("schedule");
    const key = JSON.stringify(state.upcoming);
    if (list.dataset.key === key) return;
    list.dataset.key = key;
    if (state.upcoming.length === 0) {
      list.replaceChildren(el("li", { textContent: "Nothing scheduled in the next two weeks." }));
      return;
    }
    list.replaceChildren(
      ...state.upcoming.map((u) => {
        const when = new Date(u.start * 1000).toLocaleString(undefined, { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
        const li = el("li", { textContent: `${when} — ${KIND[u.kind] ?? u.kind} (session ${u.session}) ` });
        if (u.proposal_id) li.append(agendaCard(api, u.kind, u.proposal_id, u.title));
        return li;
      }),
    );
  }
}

void new App().start().catch(async (e) => {
  $("speak-body").textContent = `The node could not be reached: ${await reasonOf(e)}`;
});
