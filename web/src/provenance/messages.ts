// What the page and the signing worker (worker.ts) say to each other. The speaking key is
// made in the worker and never leaves it: the page sees only its address.

import type { Address } from "viem";
import type { SpeakingKey } from "./typed";

/** One slot's signing window, by the server's clock (ms): the key signs only inside it. */
export interface Span {
  fromMs: number;
  untilMs: number;
  /** The server's clock minus this device's: batches are timed as the node times the slot. */
  offsetMs: number;
}

export type ToWorker =
  /** Are you there? (A transform whose worker never loaded would silence the speaker.) */
  | { type: "hello" }
  /** Make (once) the speaking key for slot `id`; the worker answers with its address. */
  | { type: "key"; id: string }
  /** The wallet certified slot `id`'s key: sign with it inside `span`. */
  | { type: "certificate"; id: string; body: SpeakingKey; signature: Uint8Array; span: Span }
  /** Slot `id` moved (the holder before yielded early): sign inside its new span. */
  | { type: "span"; id: string; span: Span }
  /** The speaker stops: close each batch on the next frame, so the last frames are attested. */
  | { type: "flush" }
  /** Chromium's encoded streams of a sender (where there is no RTCRtpScriptTransform). */
  | { type: "streams"; readable: ReadableStream<RTCEncodedAudioFrame>; writable: WritableStream<RTCEncodedAudioFrame> };

export type FromWorker =
  | { type: "hello" }
  | { type: "key"; id: string; address: Address }
  /** Slot `id`'s certificate was taken (`refused`: why it could not be). */
  | { type: "certified"; id: string; refused?: string }
  /** A batch was signed: how long it took (ms), and the frames and padding bytes since the last. */
  | { type: "batch"; ms: number; frames: number; added: number }
  /** A frame could not be signed (said once). */
  | { type: "error"; message: string };
