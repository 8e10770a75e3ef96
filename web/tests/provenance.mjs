// The browser's signer (web/src/provenance/) against the Rust crate's: every vector in
// provenance/tests/vectors.json reproduced byte for byte from the same speaking key,
// certificate and times; the certificate's EIP-712 digest and its attestation digest; a
// speaker's transcript correction's EIP-712 digest and signer; and the Opus framing's own rules, as provenance/src/packet.rs's tests state them. The TypeScript is
// bundled with Vite (the build the page uses) into a temporary directory and imported.
//
//   node web/tests/provenance.mjs

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "vite";
import { bytesToHex, hashTypedData, hexToBytes, recoverTypedDataAddress } from "viem";
import { privateKeyToAddress } from "viem/accounts";

const repo = new URL("../../", import.meta.url);
const vectors = JSON.parse(readFileSync(new URL("provenance/tests/vectors.json", repo), "utf8"));

const out = mkdtempSync(join(tmpdir(), "assembly-provenance-"));
try {
  await build({
    configFile: false,
    logLevel: "warn",
    build: {
      outDir: out,
      emptyOutDir: true,
      minify: false,
      lib: {
        entry: Object.fromEntries(["signer", "packet", "typed", "correction"].map((m) => [m, new URL(`web/src/provenance/${m}.ts`, repo).pathname])),
        formats: ["es"],
        fileName: (_, name) => `${name}.mjs`,
      },
    },
  });
  const load = (m) => import(pathToFileURL(join(out, `${m}.mjs`)).href);
  const figures = await check({ ...(await load("signer")), ...(await load("packet")), ...(await load("typed")), ...(await load("correction")) });
  console.log(JSON.stringify({ ok: true, ...figures }));
} finally {
  rmSync(out, { recursive: true, force: true });
}

async function check({ Signer, attestationDigest, certificateItem, speakingKeyTypedData, transcriptCorrectionTypedData, parse, canonical, withPadding, tag }) {
  const v = vectors;
  const body = { session: BigInt(v.session), occurrence: v.occurrence, key: v.speakingKeyAddress, notAfter: BigInt(v.notAfter) };
  const certificate = { body, signature: hexToBytes(v.certificateSignature) };

  // The key, the certificate's digest and who signed it, and its attestation digest.
  assert.equal(privateKeyToAddress(v.speakingKey).toLowerCase(), v.speakingKeyAddress);
  const typed = speakingKeyTypedData(v.chainId, v.assembly, body);
  assert.equal(hashTypedData(typed), v.certificateDigest, "certificateDigest");
  assert.equal((await recoverTypedDataAddress({ ...typed, signature: v.certificateSignature })).toLowerCase(), v.holder);
  assert.equal(attestationDigest(certificate), v.attestationDigest, "attestationDigest");

  // A speaker's correction of their transcript: its digest, who signed it, and its text's.
  const c = v.correction;
  const correction = transcriptCorrectionTypedData(v.chainId, v.assembly, {
    session: BigInt(c.session), occurrence: c.occurrence, slotStart: BigInt(c.slotStart), audio: c.audio, revision: c.revision, text: c.text,
  });
  assert.equal(hashTypedData(correction), c.digest, "correction.digest");
  assert.equal((await recoverTypedDataAddress({ ...correction, signature: c.signature })).toLowerCase(), v.holder, "correction signer");
  assert.equal(`0x${createHash("sha256").update(c.text, "utf8").digest("hex")}`, c.transcriptDigest, "correction.transcriptDigest");

  // Every packet, byte for byte.
  const signer = new Signer(certificate, v.speakingKey);
  let carried = 0;
  for (const [i, packet] of v.packets.entries()) {
    const got = bytesToHex(await signer.sign(hexToBytes(packet.in), packet.at_ms));
    assert.equal(got, packet.out, `packet ${i}`);
    if (packet.in !== packet.out) carried++;
  }
  assert.ok(carried >= 2, "the vectors carry a certificate and a batch");

  // Over a new connection the certificate comes again on the next frame, and the count goes
  // on: the same packets as before but for that frame's padding.
  const again = new Signer(certificate, v.speakingKey);
  const item = certificateItem(certificate);
  for (const [i, packet] of v.packets.entries()) {
    if (i === 7) again.restate();
    const got = await again.sign(hexToBytes(packet.in), packet.at_ms);
    if (i === 7) {
      const padded = parse(got);
      assert.deepEqual([...padded.padding], [0x41, 0x53, 0x4d, 0x01, ...item], "the certificate restated");
      assert.deepEqual(canonical(padded), hexToBytes(packet.in));
    } else assert.equal(bytesToHex(got), packet.out, `packet ${i} after a restatement`);
  }

  // A speaker stopping (or a slot ending) closes the batch on the next frame: it carries the
  // batch of the 11 frames so far, itself the last, and the next batch goes on from 11.
  // Layout (provenance/src/carrier.rs): magic, kind 2, session u64, occurrence u32, first
  // u64, signed_ms u64, the count of tags, then the tags and the signature.
  const closing = new Signer(certificate, v.speakingKey);
  const batchAt = (bytes) => {
    const pad = parse(bytes).padding;
    const at = 4; // after the magic: the batch is the only item
    return { kind: pad[at], first: new DataView(pad.buffer, pad.byteOffset + at + 13).getBigUint64(0), count: pad[at + 29] };
  };
  let closed;
  for (const [i, packet] of v.packets.slice(0, 11).entries()) {
    if (i === 10) closing.flush();
    closed = await closing.sign(hexToBytes(packet.in), packet.at_ms);
    if (i < 10 && i > 0) assert.equal(bytesToHex(closed), packet.in, `packet ${i} before the flush carries nothing`);
  }
  assert.deepEqual(batchAt(closed), { kind: 2, first: 0n, count: 11 }, "the flush's batch");
  let next;
  for (const packet of v.packets.slice(0, 25)) next = await closing.sign(hexToBytes(packet.in), packet.at_ms);
  assert.deepEqual(batchAt(next), { kind: 2, first: 11n, count: 25 }, "the batch after");

  // Opus framing (provenance/src/packet.rs's tests): an encoder's packet is its own canonical
  // form; padding is read and left out of it, so a padded packet keeps its frame's tag.
  const plain = new Uint8Array([0xfc, 1, 2, 3, 4]);
  assert.equal(canonical(parse(plain)), plain);
  const q = parse(withPadding(parse(new Uint8Array([0xf8, 9, 9, 9])), new Uint8Array(300).fill(0xaa)));
  assert.deepEqual([...q.padding], Array(300).fill(0xaa));
  assert.deepEqual([...canonical(q)], [0xf8, 9, 9, 9]);
  assert.deepEqual(tag(q), tag(parse(new Uint8Array([0xf8, 9, 9, 9]))));
  // Two, three frames, alike and unlike in length, with and without padding: each read back
  // the same, its canonical form the shortest code.
  const frames = [[1, 2], [3, 4, 5], Array(260).fill(7)];
  for (const [n, code] of [[[frames[0], frames[0]], 1], [[frames[0], frames[1]], 2], [[frames[1], frames[2], frames[0]], 3], [[frames[2]], 0]]) {
    const bare = { bytes: new Uint8Array([0xf8 | 3]), config: 0xf8, frames: n.map((f) => new Uint8Array(f)), padding: new Uint8Array(0) };
    for (const pad of [0, 1, 254, 255, 600]) {
      const r = parse(withPadding(bare, new Uint8Array(pad).fill(0x55)));
      assert.deepEqual(r.frames.map((f) => [...f]), n, `frames back, ${n.length} frames, ${pad} padding`);
      assert.equal(r.padding.length, pad);
      const c = canonical(r);
      assert.equal(c[0] & 3, code, `shortest code for ${n.map((f) => f.length)}`);
      assert.deepEqual(parse(c).frames.map((f) => [...f]), n);
    }
  }
  // Rule breakers are refused, as the Rust refuses them.
  for (const bad of [[], [0x01, 1, 2, 3], [0x02, 200, 1], [0x03], [0x03, 0x00], [0x03, 0x42, 9, 1], [0x03, 0x03, 1, 2], [0x03, 0x82, 252, 1]]) {
    assert.throws(() => parse(new Uint8Array(bad)), /not an Opus packet/, JSON.stringify(bad));
  }
  return { vectors: v.packets.length, carried };
}
