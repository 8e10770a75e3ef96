// The speaker's side of provenance, as provenance/src/carrier.rs's `Signer` does it: every
// Opus packet is tagged, every 25 tags are a batch the speaking key signs, and the wallet's
// certificate of that key and each batch ride in the packets' Opus padding (RFC 6716 §3.2.5),
// so relays, recordings and HLS carry them untouched. Byte for byte the Rust signer's output
// (web/tests/provenance.mjs checks provenance/tests/vectors.json): a node checks what this
// writes with the Rust `Checker`.

import { concat, encodeAbiParameters, keccak256, toBytes, type Hex } from "viem";
import { sign } from "viem/accounts";
import { canonical, parse, withPadding, type Packet } from "./packet";
import type { SpeakingKey } from "./typed";

/** Frames a batch covers: half a second of 20 ms frames. */
export const BATCH_FRAMES = 25;
/** Batches between repeats of the certificate (four seconds), for whoever starts listening late. */
export const CERTIFICATE_EVERY = 8;
/** What begins padding that carries attestations: "ASM" and the format's version. */
const MAGIC = new Uint8Array([0x41, 0x53, 0x4d, 0x01]);
const CERTIFICATE = 1;
const BATCH = 2;
const BATCH_DOMAIN = keccak256(toBytes("assembly.batch.v1"));

/** A speaking key as its holder's wallet certified it. */
export interface Certificate {
  body: SpeakingKey;
  /** The wallet's EIP-712 signature, r | s | v. */
  signature: Uint8Array;
}

/** Big-endian bytes of `n` in `size` bytes. */
function be(n: bigint | number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let v = BigInt(n);
  for (let i = size - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}

/** A frame's tag: the first 16 bytes of the Keccak-256 of its canonical form (padding left out). */
export function tag(packet: Packet): Uint8Array {
  return keccak256(canonical(packet), "bytes").subarray(0, 16);
}

/**
 * A signature as the carrier writes it: 65 bytes, v 27 or 28 (some wallets answer 0 or 1,
 * which the Rust side reads as the same signature and writes back as 27 or 28).
 */
export function normalized(signature: Uint8Array): Uint8Array {
  if (signature.length !== 65) throw new Error(`a ${signature.length}-byte signature, not 65`);
  const out = signature.slice();
  if (out[64] < 27) out[64] += 27;
  return out;
}

/** The certificate as its padding item: kind, body, signature. */
export function certificateItem(c: Certificate): Uint8Array {
  return concat([
    new Uint8Array([CERTIFICATE]),
    be(c.body.session, 32),
    be(c.body.occurrence, 4),
    toBytes(c.body.key),
    be(c.body.notAfter, 8),
    normalized(c.signature),
  ]);
}

/** What names a certificate in a speech's record leaf: keccak256 of its padding item. */
export function attestationDigest(c: Certificate): Hex {
  return keccak256(certificateItem(c));
}

interface Batch {
  session: bigint;
  occurrence: number;
  first: bigint;
  signedMs: bigint;
  tags: Uint8Array[];
}

/** What the speaking key signs for a batch (`Batch::digest`). */
export function batchDigest(b: Batch): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "uint64" }, { type: "uint32" }, { type: "uint64" }, { type: "uint64" }, { type: "bytes32" }],
      [BATCH_DOMAIN, b.session, b.occurrence, b.first, b.signedMs, keccak256(concat(b.tags))],
    ),
  );
}

async function batchItem(b: Batch, key: Hex): Promise<Uint8Array> {
  const signature = await sign({ hash: batchDigest(b), privateKey: key, to: "bytes" });
  return concat([
    new Uint8Array([BATCH]),
    be(b.session, 8),
    be(b.occurrence, 4),
    be(b.first, 8),
    be(b.signedMs, 8),
    new Uint8Array([b.tags.length]),
    ...b.tags,
    signature,
  ]);
}

/** Tags every frame of one speech, signs a batch every 25, and carries them in padding. */
export class Signer {
  private readonly certificate: Uint8Array;
  private readonly session: bigint;
  private readonly occurrence: number;
  /** The speech's position of the first frame of the batch being gathered. */
  private first = 0n;
  private tags: Uint8Array[] = [];
  /** Whether the next frame carries the certificate whatever the schedule says. */
  private restating = false;
  /** Whether the next frame closes the batch, however few frames it holds. */
  private flushing = false;
  /** Batches signed so far. */
  batches = 0;

  /** Signs with `key` (hex), which `certificate` certifies for its session and occurrence. */
  constructor(
    certificate: Certificate,
    private readonly key: Hex,
  ) {
    if (certificate.body.session >= 1n << 64n) throw new Error("session id beyond 64 bits");
    this.certificate = certificateItem(certificate);
    this.session = certificate.body.session;
    this.occurrence = certificate.body.occurrence;
  }

  /**
   * Puts the certificate on the next frame, out of schedule: the speech goes on over a new
   * connection, which a node checks from scratch (one checker per connection), while a relay
   * that carried the old one sees the same speech go on. The same key and count serve both;
   * a count restarted under the same certificate would look replayed to the relay.
   */
  restate() {
    this.restating = true;
  }

  /**
   * Closes the batch on the next frame, however few it holds (down to that frame alone): the
   * speaker is about to stop, or their slot to end, and frames whose batch would come after
   * the last frame sent would be unattested. A batch of fewer than 25 is one a node takes.
   */
  flush() {
    this.flushing = true;
  }

  /** The packet to send for `packet`, an Opus packet as the encoder gave it, at `nowMs`. */
  async sign(packet: Uint8Array, nowMs: number): Promise<Uint8Array> {
    const p = parse(packet);
    const items: Uint8Array[] = [];
    if (this.restating || (this.tags.length === 0 && this.batches % CERTIFICATE_EVERY === 0)) items.push(this.certificate);
    this.restating = false;
    this.tags.push(tag(p));
    if (this.tags.length === BATCH_FRAMES || this.flushing) {
      this.flushing = false;
      // The state moves on before the signature is awaited: the next frame may come meanwhile.
      const b: Batch = { session: this.session, occurrence: this.occurrence, first: this.first, signedMs: BigInt(Math.floor(nowMs)), tags: this.tags };
      this.tags = [];
      this.first += BigInt(b.tags.length);
      this.batches += 1;
      items.push(await batchItem(b, this.key));
    }
    if (items.length === 0) return packet;
    return withPadding(p, concat([MAGIC, ...items]));
  }
}
