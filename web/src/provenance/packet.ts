// Opus packet framing (RFC 6716 §3.2) as provenance/src/packet.rs reads it: the frames a
// packet holds, its padding, its canonical form (what a frame tag covers) and the same frames
// written back with other padding. Kept line for line with the Rust, whose vectors
// (provenance/tests/vectors.json) web/tests/provenance.mjs checks this against.

/** The largest frame RFC 6716 allows (§3.2.1). */
const MAX_FRAME = 1275;

/** A packet that breaks one of RFC 6716's rules (§3.4, R1–R7). */
export class Malformed extends Error {
  constructor(why: string) {
    super(`not an Opus packet: ${why}`);
  }
}

/** One Opus packet, read. */
export interface Packet {
  bytes: Uint8Array;
  /** The TOC byte with its code bits cleared: configuration and stereo flag. */
  config: number;
  frames: Uint8Array[];
  padding: Uint8Array;
}

const NONE: Uint8Array = new Uint8Array(0);

/** Reads `bytes` as one Opus packet. */
export function parse(bytes: Uint8Array): Packet {
  if (bytes.length === 0) throw new Malformed("empty");
  const toc = bytes[0];
  const rest = bytes.subarray(1);
  let frames: Uint8Array[];
  let padding = NONE;
  switch (toc & 0x3) {
    case 0:
      frames = [rest];
      break;
    case 1:
      if (rest.length % 2 !== 0) throw new Malformed("code 1 with an odd length");
      frames = [rest.subarray(0, rest.length / 2), rest.subarray(rest.length / 2)];
      break;
    case 2: {
      const [len, body] = frameLength(rest);
      if (len > body.length) throw new Malformed("code 2 frame longer than the packet");
      frames = [body.subarray(0, len), body.subarray(len)];
      break;
    }
    default:
      [frames, padding] = code3(rest);
  }
  if (frames.some((f) => f.length > MAX_FRAME)) throw new Malformed("frame longer than 1275 bytes");
  return { bytes, config: toc & ~0x3, frames, padding };
}

/**
 * The packet as a decoder hears it, one way only: the shortest code for its frames (0 for
 * one, 1 for two alike in length, 2 for two unlike, else 3), no padding. A packet already in
 * that form (as almost every packet an encoder sends) is returned as it is.
 */
export function canonical(p: Packet): Uint8Array {
  const code = shortestCode(p);
  if ((p.bytes[0] & 0x3) === code && code !== 3) return p.bytes;
  const out: number[] = [];
  if (code === 0 || code === 1) out.push(p.config | code);
  else if (code === 2) {
    out.push(p.config | 2);
    pushLength(out, p.frames[0].length);
  } else code3Header(p, out, 0);
  return join(out, p.frames, NONE);
}

/** The same frames with `padding` as the packet's padding (any it had replaced): code 3. */
export function withPadding(p: Packet, padding: Uint8Array): Uint8Array {
  const head: number[] = [];
  code3Header(p, head, padding.length);
  return join(head, p.frames, padding);
}

function join(head: number[], frames: Uint8Array[], tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + frames.reduce((n, f) => n + f.length, 0) + tail.length);
  out.set(head);
  let at = head.length;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  out.set(tail, at);
  return out;
}

const vbr = (p: Packet) => p.frames.some((f) => f.length !== p.frames[0].length);

function shortestCode(p: Packet): number {
  if (p.frames.length === 1) return 0;
  if (p.frames.length === 2) return vbr(p) ? 2 : 1;
  return 3;
}

/** TOC, frame count byte, padding length and (VBR) frame lengths of a code 3 packet. */
function code3Header(p: Packet, out: number[], padding: number) {
  const isVbr = vbr(p);
  out.push(p.config | 3);
  // M ≤ 48 holds: the packet this was read from obeyed R5.
  out.push(p.frames.length | (isVbr ? 0x80 : 0) | (padding > 0 ? 0x40 : 0));
  if (padding > 0) {
    let left = padding;
    while (left > 254) {
      out.push(255);
      left -= 254;
    }
    out.push(left);
  }
  if (isVbr) for (const f of p.frames.slice(0, -1)) pushLength(out, f.length);
}

/** Reads a frame length (§3.2.1): one byte below 252, else two. */
function frameLength(bytes: Uint8Array): [number, Uint8Array] {
  if (bytes.length >= 1 && bytes[0] < 252) return [bytes[0], bytes.subarray(1)];
  if (bytes.length >= 2) return [bytes[1] * 4 + bytes[0], bytes.subarray(2)];
  throw new Malformed("frame length cut short");
}

function pushLength(out: number[], len: number) {
  if (len < 252) out.push(len);
  else {
    const low = 252 + ((len - 252) % 4);
    out.push(low, (len - low) / 4);
  }
}

/** Frames and padding of a code 3 packet's bytes after its TOC (§3.2.5). */
function code3(bytes: Uint8Array): [Uint8Array[], Uint8Array] {
  if (bytes.length === 0) throw new Malformed("code 3 without a count");
  const count = bytes[0];
  let rest = bytes.subarray(1);
  const m = count & 0x3f;
  if (m === 0 || m > 48) throw new Malformed("code 3 frame count outside 1–48");
  let padding = 0;
  if (count & 0x40) {
    for (;;) {
      if (rest.length === 0) throw new Malformed("padding length cut short");
      const b = rest[0];
      rest = rest.subarray(1);
      padding += Math.min(b, 254);
      if (b !== 255) break;
    }
  }
  if (padding > rest.length) throw new Malformed("padding longer than the packet");
  let body = rest.subarray(0, rest.length - padding);
  const pad = rest.subarray(rest.length - padding);
  const frames: Uint8Array[] = [];
  if (count & 0x80) {
    const lengths: number[] = [];
    for (let i = 0; i < m - 1; i++) {
      const [len, r] = frameLength(body);
      lengths.push(len);
      body = r;
    }
    for (const len of lengths) {
      if (len > body.length) throw new Malformed("code 3 frame longer than the packet");
      frames.push(body.subarray(0, len));
      body = body.subarray(len);
    }
    frames.push(body);
  } else {
    if (body.length % m !== 0) throw new Malformed("code 3 CBR length not a multiple of its frames");
    const size = body.length / m;
    for (let i = 0; i < m; i++) frames.push(body.subarray(i * size, (i + 1) * size));
  }
  return [frames, pad];
}
