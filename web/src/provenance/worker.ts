// The speaker's encoded transform, in a worker: every Opus frame the browser encodes passes
// through here on its way to the WHIP connection and leaves signed (signer.ts), off the page's
// thread. One worker serves every connection of the page's speaker, so a reconnect (or a
// failover to another member) keeps signing the same speech with the same key and count, and
// the wallet is never asked again for the same slot.

import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import type { Hex } from "viem";
import type { FromWorker, Span, ToWorker } from "./messages";
import { Signer } from "./signer";

/** What of the worker's global scope this uses (the DOM library types the page, not a worker). */
interface Scope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  onrtctransform: ((e: { transformer: { readable: ReadableStream<RTCEncodedAudioFrame>; writable: WritableStream<RTCEncodedAudioFrame> } }) => void) | null;
  postMessage(m: FromWorker): void;
}
const scope = self as unknown as Scope;

/** Each slot's speaking key, made when the page first asks for its address. */
const keys = new Map<string, Hex>();
/** Certified slots, each signing inside its span. */
const speeches = new Map<string, { signer: Signer; span: Span }>();

/** The signer for a frame encoded now (server time `now`), if a certified slot is on. */
function current(): { signer: Signer; now: number; span: Span } | undefined {
  for (const { signer, span } of speeches.values()) {
    const now = Date.now() + span.offsetMs;
    if (now >= span.fromMs && now < span.untilMs) return { signer, now, span };
  }
  return undefined;
}

/**
 * The last frames of a slot each carry their own batch: one gathered across the slot's end
 * would be signed after it, and a node that cut the slot there would hold its frames
 * unattested. 100 ms is five frames: the cost is four small batches a slot.
 */
const CLOSING_MS = 100;

let frames = 0;
let added = 0;
/** Whether the page has been told of a frame that could not be signed (once is enough). */
let told = false;

async function transform(frame: RTCEncodedAudioFrame, out: TransformStreamDefaultController<RTCEncodedAudioFrame>) {
  const on = current();
  if (on && frame.data.byteLength > 0) {
    if (on.now + CLOSING_MS >= on.span.untilMs) on.signer.flush();
    const before = on.signer.batches;
    const t0 = performance.now();
    try {
      const signed = await on.signer.sign(new Uint8Array(frame.data), on.now);
      const ms = performance.now() - t0;
      frames += 1;
      if (signed.byteLength !== frame.data.byteLength) {
        added += signed.byteLength - frame.data.byteLength;
        frame.data = signed.buffer as ArrayBuffer;
      }
      if (on.signer.batches !== before) {
        scope.postMessage({ type: "batch", ms, frames, added });
        frames = 0;
        added = 0;
      }
    } catch (e) {
      // A packet Opus framing refuses goes as it is: there is nothing in it to sign.
      if (!told) scope.postMessage({ type: "error", message: e instanceof Error ? e.message : String(e) });
      told = true;
    }
  }
  out.enqueue(frame);
}

function pipe(readable: ReadableStream<RTCEncodedAudioFrame>, writable: WritableStream<RTCEncodedAudioFrame>) {
  // A new connection: the node it reaches checks it from its first frame.
  for (const { signer } of speeches.values()) signer.restate();
  // Ends with its connection (closed on a reconnect); the next connection brings new streams.
  void readable
    .pipeThrough(new TransformStream({ transform }))
    .pipeTo(writable)
    .catch(() => {});
}

scope.onrtctransform = (e) => pipe(e.transformer.readable, e.transformer.writable);

scope.onmessage = ({ data: m }) => {
  switch (m.type) {
    case "hello":
      scope.postMessage({ type: "hello" });
      break;
    case "key": {
      let key = keys.get(m.id);
      if (!key) keys.set(m.id, (key = generatePrivateKey()));
      scope.postMessage({ type: "key", id: m.id, address: privateKeyToAddress(key) });
      break;
    }
    case "certificate": {
      const key = keys.get(m.id);
      try {
        if (!key) throw new Error("no speaking key was made for this slot");
        speeches.set(m.id, { signer: new Signer({ body: m.body, signature: m.signature }, key), span: m.span });
        scope.postMessage({ type: "certified", id: m.id });
      } catch (e) {
        scope.postMessage({ type: "certified", id: m.id, refused: e instanceof Error ? e.message : String(e) });
      }
      break;
    }
    case "span": {
      const s = speeches.get(m.id);
      if (s) s.span = m.span;
      break;
    }
    case "streams":
      pipe(m.readable, m.writable);
      break;
    case "flush":
      for (const { signer } of speeches.values()) signer.flush();
      break;
  }
};
