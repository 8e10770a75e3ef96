// The node's HTTP and WebSocket API, typed as the node serves it (node/openapi.json).

export type Role = "orchestrator" | "delegator" | "observer";
export type Kind = "open_floor" | "lip_debate" | "treasury_debate";
export type Speakers = "orchestrators" | "orchestrators_and_delegators";

export interface ClientConfig {
  network: string;
  chainId: number;
  assembly: `0x${string}`;
  rpcUrl: string;
  publicListening: boolean;
  reactions: { name: string; emoji: string }[];
}

export interface Speaker {
  address: `0x${string}`;
  role: Role;
  stake: string;
}

export interface QueueEntry {
  index: number;
  speaker: `0x${string}`;
  start: number;
  end: number;
  final: boolean;
}

export interface LiveSession {
  session: number;
  occurrence: number;
  kind: Kind;
  speakers: Speakers;
  proposal_id: string | null;
  start: number;
  end: number | null;
  slot_length: number;
  floor: { speaker: Speaker; start: number; end: number } | null;
  queue: QueueEntry[];
}

export interface Upcoming {
  session: number;
  occurrence: number;
  kind: Kind;
  proposal_id: string | null;
  start: number;
  end: number;
}

export interface LiveState {
  type: "state";
  server_time_ms: number;
  current: number | null;
  live: LiveSession[];
  upcoming: Upcoming[];
  listeners: { orchestrators: number; delegators: number; observers: number };
  head_block: number | null;
}

export interface Burst {
  type: "reactions";
  server_time_ms: number;
  counts: Record<string, number>;
  stake: Record<string, string>;
  total_stake: string;
}

export interface Nonce {
  nonce: string;
  domain: string;
  uri: string;
  chain_id: number;
}

export interface Me {
  address: `0x${string}`;
  expires_at: number;
  role: Role;
  stake: string;
  token?: string;
}

/** An error the node explained. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

async function json<T>(r: Response): Promise<T> {
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`;
    let reason: string | undefined;
    try {
      const body = await r.json();
      message = body.message ?? body.error ?? message;
      reason = body.reason;
    } catch {
      // Not JSON: the status line says enough.
    }
    throw new ApiError(r.status, message, reason);
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

  async signOut(): Promise<void> {
    await fetch(this.url("/api/v1/auth/sign-out"), { method: "POST", credentials: "include" });
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
  private errorListeners: Listener<string>[] = [];

  constructor(
    private readonly api: Api,
    private token?: string,
  ) {}

  onState(f: Listener<LiveState>) {
    this.stateListeners.push(f);
    if (this.state) f(this.state);
  }
  onBurst(f: Listener<Burst>) {
    this.burstListeners.push(f);
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
      let msg: LiveState | Burst | { type: "error"; message: string };
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      if ("server_time_ms" in msg) this.offset = msg.server_time_ms - Date.now();
      if (msg.type === "state") {
        this.state = msg;
        this.stateListeners.forEach((f) => f(msg as LiveState));
      } else if (msg.type === "reactions") {
        this.burstListeners.forEach((f) => f(msg as Burst));
      } else if (msg.type === "error") {
        this.errorListeners.forEach((f) => f((msg as { message: string }).message));
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
