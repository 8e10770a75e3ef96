// The node's HTTP and WebSocket API. The wire types are generated from the node's OpenAPI
// document (node/openapi.json, itself generated from the Rust types): `npm run gen`.

import type { components } from "./generated/api";

type Schemas = components["schemas"];

export type Role = Schemas["Role"];
export type Kind = Schemas["Kind"];
export type Speakers = Schemas["Speakers"];
export type ClientConfig = Schemas["ClientConfig"];
export type Speaker = Schemas["Speaker"];
export type QueueEntry = Schemas["QueueEntry"];
export type LiveSession = Schemas["LiveSession"];
export type Upcoming = Schemas["Upcoming"];
/** The `state` message: also the body of `GET /api/v1/state`. */
export type LiveState = Schemas["StateMessage"];
/** The `reactions` message. */
export type Burst = Schemas["ReactionsMessage"];
/** The `caption` message: a few seconds of the floor holder's words. */
export type Caption = Schemas["CaptionMessage"];
/** The `transcript` message: a speech's final text, replacing its captions. */
export type Transcript = Schemas["TranscriptMessage"];
/** The `error` message: a client message the node refused. */
export type LiveError = Schemas["ErrorMessage"];
export type Nonce = Schemas["Nonce"];
export type Me = Schemas["Me"];
/** Every error answer's body. */
export type ErrorBody = Schemas["Error"];
/** A Hansard search hit: the speech, its transcript, a snippet and the recording. */
export type Hit = Schemas["Hit"];
/** A proposal or poll as the embedded indexer knows it: title, debate, when its vote closes. */
export type Proposal = Schemas["Proposal"];
/** The votes indexed on a proposal, and their tally. */
export type Votes = Schemas["Votes"];
/** One account's attendance and participation over a window. */
export type Participation = Schemas["Participation"];
/** A session's Hansard: its speeches and, for a debate, who said what beside how they voted. */
export type SessionHansard = Schemas["SessionHansard"];
export type SaidVoted = Schemas["SaidVoted"];
/** The cluster's registered nodes as the answering node knows them. */
export type ClusterView = Schemas["ClusterView"];
/** An address's ENS name and avatar (nulls when it has none, or the node reads no ENS). */
export type EnsName = Schemas["Name"];
/** A recorded speech: speaker, session, slot, timing, digest. */
export type Speech = Schemas["Speech"];
/** A speech with its transcript (null while pending) and its revision (0: as transcribed). */
export type Entry = Schemas["Entry"];
/** A speaker's signed correction of their speech's transcript (`POST /api/v1/archive/corrections`). */
export type CorrectionRequest = Schemas["CorrectionRequest"];
/** One revision of a speech's transcript: 0 the transcriber's, 1 and on its speaker's corrections. */
export type TranscriptRevision = Schemas["TranscriptRevision"];
/** A speech's transcript revisions, and what the next correction of it signs. */
export type SpeechTranscript = Schemas["SpeechTranscript"];

/** An error the node explained: `code` is its stable code (`ErrorBody.error`), when it gave one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason?: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

async function json<T>(r: Response): Promise<T> {
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`;
    let reason: string | undefined;
    let code: string | undefined;
    try {
      const body: Partial<ErrorBody> = await r.json();
      message = body.message ?? body.error ?? message;
      reason = body.reason ?? undefined;
      code = body.error;
    } catch {
      // Not JSON: the status line says enough.
    }
    throw new ApiError(r.status, message, reason, code);
  }
  return r.json() as Promise<T>;
}

export class Api {
  constructor(readonly base: string) {}

  url(path: string): string {
    return new URL(path, this.base).toString();
  }

  config(): Promise<ClientConfig> {
    return fetch(this.url("/api/v1/config")).then(json<ClientConfig>);
  }

  cluster(): Promise<ClusterView> {
    return fetch(this.url("/api/v1/cluster")).then(json<ClusterView>);
  }

  /** A proposal by id (a governor id in decimal, or a poll's address). */
  proposal(id: string): Promise<Proposal> {
    return fetch(this.url(`/chain/v1/proposals/${encodeURIComponent(id)}`)).then(json<Proposal>);
  }

  /** The votes indexed on a proposal so far, and their tally. */
  votes(id: string): Promise<Votes> {
    return fetch(this.url(`/chain/v1/proposals/${encodeURIComponent(id)}/votes`)).then(json<Votes>);
  }

  nonce(): Promise<Nonce> {
    return fetch(this.url("/api/v1/auth/nonce")).then(json<Nonce>);
  }

  signIn(message: string, signature: string): Promise<Me> {
    return fetch(this.url("/api/v1/auth/sign-in"), {
      method: "POST",
      credentials: "include",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message, signature }),
    }).then(json<Me>);
  }

  async me(token?: string): Promise<Me | null> {
    const r = await fetch(this.url("/api/v1/me"), {
      credentials: "include",
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    return r.status === 401 ? null : json<Me>(r);
  }

  /** A fresh token for a session in use (the node's tokens last an hour; the sign-in longer). */
  renew(token?: string): Promise<Me> {
    return fetch(this.url("/api/v1/auth/renew"), {
      method: "POST",
      credentials: "include",
      headers: token ? { authorization: `Bearer ${token}` } : {},
    }).then(json<Me>);
  }

  /** A speech's transcript revisions, oldest first, and the revision a correction would make. */
  transcript(speech: number): Promise<SpeechTranscript> {
    return fetch(this.url(`/api/v1/archive/speeches/${speech}/transcript`)).then(json<SpeechTranscript>);
  }

  /**
   * Submits a speaker's signed correction; the signature is its whole authority. `fresh` is
   * false when the node already held that very correction (200 rather than 201).
   */
  async correct(body: CorrectionRequest): Promise<{ revision: TranscriptRevision; fresh: boolean }> {
    const r = await fetch(this.url("/api/v1/archive/corrections"), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { revision: await json<TranscriptRevision>(r), fresh: r.status === 201 };
  }

  /** Ends the session on the node: its tokens are refused from now on. */
  async signOut(token?: string): Promise<void> {
    await fetch(this.url("/api/v1/auth/sign-out"), {
      method: "POST",
      credentials: "include",
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  }
}

type Listener<T> = (value: T) => void;

/**
 * The live-state WebSocket, reconnecting with backoff. The server's clock rides on every
 * message, so countdowns follow the server, not the device.
 */
export class Live {
  private socket?: WebSocket;
  private backoff = 250;
  private closed = false;
  /** Server clock minus this device's, in ms. */
  offset = 0;
  state?: LiveState;
  private stateListeners: Listener<LiveState>[] = [];
  private burstListeners: Listener<Burst>[] = [];
  private captionListeners: Listener<Caption | Transcript>[] = [];
  private errorListeners: Listener<string>[] = [];

  constructor(
    private readonly api: Api,
    private token?: string,
  ) {}

  onState(f: Listener<LiveState>) {
    this.stateListeners.push(f);
    if (this.state) f(this.state);
  }
  private arrived!: (s: LiveState) => void;
  /** The first state the socket brings. */
  readonly ready = new Promise<LiveState>((resolve) => (this.arrived = resolve));
  onBurst(f: Listener<Burst>) {
    this.burstListeners.push(f);
  }
  /** Live captions and the final transcripts that replace them. */
  onCaption(f: Listener<Caption | Transcript>) {
    this.captionListeners.push(f);
  }
  onError(f: Listener<string>) {
    this.errorListeners.push(f);
  }

  now(): number {
    return Date.now() + this.offset;
  }

  connect(token?: string) {
    this.token = token ?? this.token;
    this.socket?.close();
    const url = new URL(this.api.url("/api/v1/live"));
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (this.token) url.searchParams.set("token", this.token);
    const ws = new WebSocket(url);
    this.socket = ws;
    ws.onopen = () => (this.backoff = 250);
    ws.onmessage = (e) => {
      let msg: LiveState | Burst | Caption | Transcript | LiveError;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      if ("server_time_ms" in msg) this.offset = msg.server_time_ms - Date.now();
      if (msg.type === "state") {
        if (!this.state) performance.mark("assembly:state");
        this.state = msg;
        this.arrived(msg);
        this.stateListeners.forEach((f) => f(msg as LiveState));
      } else if (msg.type === "reactions") {
        this.burstListeners.forEach((f) => f(msg as Burst));
      } else if (msg.type === "caption" || msg.type === "transcript") {
        const m = msg;
        this.captionListeners.forEach((f) => f(m));
      } else if (msg.type === "error") {
        this.errorListeners.forEach((f) => f((msg as LiveError).message));
      }
    };
    ws.onclose = () => {
      if (this.closed || this.socket !== ws) return;
      setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, 5000);
    };
  }

  react(name: string) {
    this.socket?.send(JSON.stringify({ type: "react", reaction: name }));
  }

  close() {
    this.closed = true;
    this.socket?.close();
  }
}
