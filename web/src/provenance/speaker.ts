// The page's side of a signed speech (loaded only when this user is about to speak): the
// signing worker and the encoded transform that feeds it each WHIP sender's frames, and the
// one wallet signature per slot that certifies the worker's speaking key. Audio never waits
// for signing: until the wallet has certified the key, or if it will not, or if the browser
// has no encoded transforms, the speaker is heard unsigned, and told so.

import type { LiveSession, QueueEntry } from "../api";
import type { SenderTransform } from "../media";
import type { Wallet } from "../wallet";
import type { FromWorker, Span, ToWorker } from "./messages";

/** How the browser lets a script at a sender's encoded frames. */
type Via = "script-transform" | "encoded-streams";

/** Chromium's pre-standard encoded streams (no RTCRtpScriptTransform before Chrome 141). */
interface EncodedStreamsSender {
  createEncodedStreams(): { readable: ReadableStream<RTCEncodedAudioFrame>; writable: WritableStream<RTCEncodedAudioFrame> };
}

type State = "unsupported" | "no-wallet" | "asking" | "signing" | "refused";

/** What the page shows of signing, and what the e2e reads on `window.__assemblySigning`. */
export interface SigningFigures {
  via: Via | null;
  state: State | null;
  /** Frames signed and padding bytes added, since the page began speaking. */
  frames: number;
  added: number;
  batches: number;
  /** Each batch's signing time in the worker (ms), the latest 1,000. */
  costMs: number[];
}

/** The certificate outlives the slot by this much: a slot's end can move, and clocks drift. */
const GRACE_S = 300;

function detect(): Via | null {
  if (typeof RTCRtpScriptTransform === "function") return "script-transform";
  if ("createEncodedStreams" in RTCRtpSender.prototype) return "encoded-streams";
  return null;
}

export class Signing implements SenderTransform {
  readonly figures: SigningFigures;
  private detail = "";
  /** Slots asked for, with the times their span was last given for. */
  private slots = new Map<string, { start: number; end: number }>();
  private waiting = new Map<string, (m: FromWorker) => void>();

  private constructor(
    private readonly worker: Worker | undefined,
    readonly via: Via | null,
  ) {
    this.figures = { via, state: via ? null : "unsupported", frames: 0, added: 0, batches: 0, costMs: [] };
    (window as unknown as { __assemblySigning: SigningFigures }).__assemblySigning = this.figures;
    worker?.addEventListener("message", (e: MessageEvent<FromWorker>) => this.heard(e.data));
  }

  /**
   * Signing for this page's speaker: its worker, once it answers. A browser without encoded
   * transforms, or a worker that does not load in 3 s, gives a Signing that signs nothing
   * (a transform whose worker is gone would silence the speaker).
   */
  static async load(): Promise<Signing> {
    const via = detect();
    if (!via) return new Signing(undefined, null);
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
    const up = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000);
      worker.addEventListener("message", () => (clearTimeout(timer), resolve(true)), { once: true });
      worker.addEventListener("error", () => (clearTimeout(timer), resolve(false)), { once: true });
      worker.postMessage({ type: "hello" } satisfies ToWorker);
    });
    if (!up) worker.terminate();
    return up ? new Signing(worker, via) : new Signing(undefined, null);
  }

  get rtcConfig(): RTCConfiguration | undefined {
    // Chromium hands a sender's frames to createEncodedStreams only if asked up front.
    return this.via === "encoded-streams" ? ({ encodedInsertableStreams: true } as RTCConfiguration) : undefined;
  }

  attach(sender: RTCRtpSender) {
    if (!this.worker) return;
    if (this.via === "script-transform") {
      sender.transform = new RTCRtpScriptTransform(this.worker, { side: "send" });
    } else {
      const { readable, writable } = (sender as unknown as EncodedStreamsSender).createEncodedStreams();
      this.post({ type: "streams", readable, writable }, [readable, writable]);
    }
  }

  /**
   * Signing for `slot` (the one held, or next) of `s`: its key certified by `wallet` once,
   * however often the connection is made again; its span kept up with the live state's
   * times. `offsetMs` is the server's clock minus this device's.
   */
  want(s: LiveSession, slot: QueueEntry, wallet: Wallet | undefined, offsetMs: number) {
    if (!this.worker) return;
    // The slot's place in the queue names it while its times move (a holder before yields).
    const id = `${s.session}/${s.occurrence}/${slot.index}`;
    const span: Span = { fromMs: slot.start * 1000, untilMs: slot.end * 1000, offsetMs };
    const had = this.slots.get(id);
    if (had) {
      if (had.start !== slot.start || had.end !== slot.end) {
        this.slots.set(id, { start: slot.start, end: slot.end });
        this.post({ type: "span", id, span });
      }
      return;
    }
    // Asked once there is a wallet to ask (after a reload, until it is connected again).
    if (!wallet?.address) return this.set("no-wallet");
    this.slots.set(id, { start: slot.start, end: slot.end });
    this.set("asking");
    this.certify(id, s, slot, wallet, span).then(
      () => this.set("signing"),
      (e: unknown) => this.set("refused", e instanceof Error ? e.message : String(e)),
    );
  }

  private async certify(id: string, s: LiveSession, slot: QueueEntry, wallet: Wallet, span: Span) {
    const key = await this.ask({ type: "key", id }, "key", id);
    const body = { session: BigInt(s.session), occurrence: s.occurrence, key: key.address, notAfter: BigInt(slot.end + GRACE_S) };
    const signature = await wallet.certify(body);
    const taken = await this.ask({ type: "certificate", id, body, signature, span }, "certified", id);
    if (taken.refused) throw new Error(`the wallet's signature cannot be used: ${taken.refused}`);
  }

  /** What the speaker is told of their audio's signing. */
  line(): string {
    switch (this.figures.state) {
      case "signing":
        return "Your audio is signed with a key your wallet certified for this slot.";
      case "asking":
        return "Your wallet is asked to certify this slot's speaking key (a signature, not a transaction); until then your audio goes out unsigned.";
      case "refused":
        return `Your audio goes out unsigned: it is heard, but the record cannot prove it is yours (the wallet did not certify a speaking key: ${this.detail}).`;
      case "no-wallet":
        return "Your audio goes out unsigned: connect your wallet again to sign it.";
      case "unsupported":
        return "Your audio goes out unsigned: signing could not start in this browser.";
      default:
        return "";
    }
  }

  private set(state: State, detail = "") {
    this.figures.state = state;
    this.detail = detail;
  }

  /**
   * The speaker stops: the worker closes the batch on the next frame, and this settles once
   * that batch is signed (or after 150 ms, seven frames, if no frame comes), so the
   * connection ends with every frame sent attested.
   */
  finish(): Promise<void> {
    if (!this.worker || this.figures.state !== "signing") return Promise.resolve();
    const worker = this.worker;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        worker.removeEventListener("message", batch);
        resolve();
      };
      const batch = (e: MessageEvent<FromWorker>) => e.data.type === "batch" && done();
      const timer = setTimeout(done, 150);
      worker.addEventListener("message", batch);
      this.post({ type: "flush" });
    });
  }

  private post(m: ToWorker, transfer: Transferable[] = []) {
    this.worker?.postMessage(m, transfer);
  }

  /** Posts `m` and waits for the worker's `type` answer about slot `id`. */
  private ask<K extends "key" | "certified">(m: ToWorker, type: K, id: string): Promise<Extract<FromWorker, { type: K }>> {
    return new Promise((resolve) => {
      this.waiting.set(`${type}:${id}`, (r) => resolve(r as Extract<FromWorker, { type: K }>));
      this.post(m);
    });
  }

  private heard(m: FromWorker) {
    if (m.type === "batch") {
      const f = this.figures;
      f.frames += m.frames;
      f.added += m.added;
      f.batches += 1;
      f.costMs.push(+m.ms.toFixed(3));
      if (f.costMs.length > 1000) f.costMs.shift();
    } else if (m.type === "key" || m.type === "certified") {
      const reply = `${m.type}:${m.id}`;
      this.waiting.get(reply)?.(m);
      this.waiting.delete(reply);
    } else if (m.type === "error") {
      console.warn(`speaker signing: ${m.message}`);
    }
  }
}
