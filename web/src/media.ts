// WHIP (speak) and WHEP (listen) from the browser. The node is ICE-lite: it answers with all
// its candidates and never sends a connectivity check of its own, so it learns the client's
// address from the client's first check (a peer-reflexive candidate). The offer therefore goes
// at once, with no trickle and no wait for local candidates (a browser's host candidates are
// mDNS names the node could not use anyway); waiting cost a listener 130 ms on loopback.
// Both sides reconnect by themselves when the connection fails (a node restart, a network
// change): the floor lives on chain, so a new connection lands on the same floor. In a
// cluster a link knows every member's endpoint and reconnects to the next one, as the Rust
// client does: a speaker whose node dies carries on at another member.

import { ApiError, type ErrorBody } from "./api";

/** Offers `pc` to a WHIP/WHEP endpoint; returns the resource URL to DELETE. */
async function negotiate(pc: RTCPeerConnection, endpoint: string, token?: string): Promise<string> {
  await pc.setLocalDescription(await pc.createOffer());
  // Marks let a page (and the e2e's first-audio figure) see where a connection's time goes.
  performance.mark("assembly:offer");
  const r = await fetch(endpoint, {
    method: "POST",
    // The cookie goes to our own node only: an embedding site's page speaks to the node as
    // an anonymous listener, which the node's CORS (any origin, no credentials) admits.
    credentials: "same-origin",
    headers: {
      "content-type": "application/sdp",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: pc.localDescription?.sdp ?? "",
  });
  if (r.status !== 201) {
    let message = `${r.status}`;
    let reason: string | undefined;
    try {
      const b: Partial<ErrorBody> = await r.json();
      message = b.message ?? b.error ?? message;
      reason = b.reason ?? undefined;
    } catch {
      // keep the status
    }
    throw new ApiError(r.status, message, reason);
  }
  performance.mark("assembly:answer");
  await pc.setRemoteDescription({ type: "answer", sdp: await r.text() });
  // After a redirect (a full node sends the client to a sibling, RFC 9725 §4.5) the
  // resource is the sibling's: resolved against where the answer came from.
  return new URL(r.headers.get("location") ?? "", r.url || endpoint).toString();
}

/** What a sender's encoded frames pass through on their way out (the speaker's signing). */
export interface SenderTransform {
  /** What the RTCPeerConnection must be made with for it. */
  readonly rtcConfig?: RTCConfiguration;
  attach(sender: RTCRtpSender): void;
  /** The sender is about to stop: settles once what was sent so far is wrapped up. */
  finish?(): Promise<void>;
}

type Status = "connecting" | "connected" | "reconnecting" | "stopped" | "refused";

/** A WHIP or WHEP connection that comes back when it drops, at the next endpoint. */
abstract class Link {
  pc?: RTCPeerConnection;
  private resource?: string;
  private stopped = false;
  private retry = 500;
  /** Which of the endpoints the next connection is offered to. */
  private at = 0;
  private readonly endpoints: string[];
  status: Status = "stopped";
  onStatus: (s: Status, detail?: string) => void = () => {};

  /** `endpoint`: where to connect, or the same endpoint on each member, preferred first. */
  constructor(
    endpoint: string | string[],
    protected readonly token?: string,
  ) {
    this.endpoints = typeof endpoint === "string" ? [endpoint] : endpoint;
  }

  /** The endpoint the current (or next) connection is offered to. */
  get endpoint(): string {
    return this.endpoints[this.at % this.endpoints.length];
  }

  protected abstract setup(pc: RTCPeerConnection): void;

  protected rtcConfig(): RTCConfiguration | undefined {
    return undefined;
  }

  private set(s: Status, detail?: string) {
    this.status = s;
    this.onStatus(s, detail);
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.set("connecting");
    await this.open();
  }

  private async open(): Promise<void> {
    const pc = new RTCPeerConnection(this.rtcConfig());
    this.pc = pc;
    this.setup(pc);
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      if (pc.connectionState === "connected") {
        performance.mark("assembly:connected");
        this.retry = 500;
        this.set("connected");
      } else if (pc.connectionState === "failed" || pc.connectionState === "disconnected") {
        this.reconnect();
      }
    };
    try {
      this.resource = await negotiate(pc, this.endpoint, this.token);
    } catch (e) {
      pc.close();
      if (e instanceof ApiError && e.status < 500 && e.status !== 429) {
        this.set("refused", e.message);
        throw e;
      }
      this.reconnect();
    }
  }

  private reconnect() {
    if (this.stopped) return;
    this.pc?.close();
    this.pc = undefined;
    this.resource = undefined;
    this.set("reconnecting");
    // The next member first (this one may be gone), at once; the round again with backoff.
    this.at += 1;
    const wait = this.endpoints.length > 1 && this.at % this.endpoints.length !== 0 ? 0 : this.retry;
    setTimeout(() => !this.stopped && this.open().catch(() => {}), wait);
    if (wait > 0) this.retry = Math.min(this.retry * 2, 5000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pc?.close();
    this.pc = undefined;
    this.set("stopped");
    if (this.resource) {
      const token = this.token;
      await fetch(this.resource, {
        method: "DELETE",
        credentials: "same-origin",
        headers: token ? { authorization: `Bearer ${token}` } : {},
      }).catch(() => {});
      this.resource = undefined;
    }
  }
}

/**
 * Sends the microphone to the floor (WHIP), each connection's frames through `transform`
 * (the same one across reconnections: one speech, one signer).
 */
export class Publisher extends Link {
  constructor(
    endpoint: string | string[],
    token: string | undefined,
    private readonly stream: MediaStream,
    private readonly transform?: SenderTransform,
  ) {
    super(endpoint, token);
  }

  protected rtcConfig() {
    return this.transform?.rtcConfig;
  }

  protected setup(pc: RTCPeerConnection) {
    for (const track of this.stream.getAudioTracks()) {
      const t = pc.addTransceiver(track, { direction: "sendonly", streams: [this.stream] });
      this.transform?.attach(t.sender);
    }
  }

  /** Lets the transform wrap up (the signer's last batch goes out) before the connection ends. */
  override async stop(): Promise<void> {
    if (this.pc?.connectionState === "connected") await this.transform?.finish?.();
    return super.stop();
  }
}

/** Plays the floor (WHEP) into an audio element. */
export class Listener extends Link {
  constructor(
    endpoint: string | string[],
    token: string | undefined,
    private readonly audio: HTMLAudioElement,
  ) {
    super(endpoint, token);
  }

  protected setup(pc: RTCPeerConnection) {
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.ontrack = (e) => {
      this.audio.srcObject = e.streams[0] ?? new MediaStream([e.track]);
      void this.audio.play().catch(() => {});
    };
  }

  /** Audio packets received so far (from the connection's inbound-rtp stats). */
  async packetsReceived(): Promise<number> {
    if (!this.pc) return 0;
    let n = 0;
    (await this.pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") n += s.packetsReceived ?? 0;
    });
    return n;
  }

  /**
   * The loudness of what is playing, 0 to 1, as the browser measures the decoded audio
   * (WebRTC stats' `audioLevel`): the stage's meter, with no audio graph of our own.
   */
  async audioLevel(): Promise<number> {
    if (!this.pc) return 0;
    let level = 0;
    (await this.pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "audio") level = Math.max(level, s.audioLevel ?? 0);
    });
    return level;
  }
}
