#!/usr/bin/env python3
"""tools/interop/provenance.py against the Rust crate's vectors (provenance/tests/vectors.json):
given the speaking key, the certificate signature and the `at_ms` times, every `out` from
`in`, byte for byte; and the EIP-712 certificate, Opus framing, and real Opus packets from
aiortc's encoder signed and read back.

    python3 tools/interop/test_provenance.py
"""

import json
import math
import os
import random
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import provenance as pv  # noqa: E402

VECTORS = os.path.join(HERE, "..", "..", "provenance", "tests", "vectors.json")
# Anvil's account 1, the vectors' holder (provenance/tests/stream.rs): a well-known test key.
HOLDER_KEY = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


def h(s: str) -> bytes:
    return bytes.fromhex(s.removeprefix("0x"))


class Vectors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(VECTORS) as f:
            cls.v = json.load(f)

    def certificate(self):
        v = self.v
        return pv.Certificate(
            v["session"], v["occurrence"], h(v["speakingKeyAddress"]), v["notAfter"], h(v["certificateSignature"])
        )

    def test_keccak_is_ethereums_not_sha3(self):
        self.assertEqual(
            pv.keccak256(b"").hex(), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        )

    def test_speaking_key_address(self):
        self.assertEqual(pv.address_of(h(self.v["speakingKey"])), h(self.v["speakingKeyAddress"]))

    def test_certificate_digest_is_eip712(self):
        v = self.v
        d = pv.speaking_key_digest(
            v["session"], v["occurrence"], v["speakingKeyAddress"], v["notAfter"], v["chainId"], v["assembly"]
        )
        self.assertEqual(d, h(v["certificateDigest"]))

    def test_certificate_is_the_holders_and_signs_alike(self):
        v = self.v
        self.assertEqual(pv.address_of(HOLDER_KEY), h(v["holder"]))
        self.assertEqual(self.certificate().signer(v["chainId"], v["assembly"]), h(v["holder"]))
        made = pv.certify(
            HOLDER_KEY, h(v["speakingKey"]), v["session"], v["occurrence"], v["notAfter"], v["chainId"], v["assembly"]
        )
        self.assertEqual(made, self.certificate())

    def test_attestation_digest(self):
        self.assertEqual(self.certificate().digest(), h(self.v["attestationDigest"]))

    def test_signer_reproduces_every_packet(self):
        s = pv.Signer(self.certificate(), h(self.v["speakingKey"]))
        for i, p in enumerate(self.v["packets"]):
            self.assertEqual(s.sign(h(p["in"]), p["at_ms"]).hex(), p["out"].removeprefix("0x"), f"packet {i}")

    def test_signed_vectors_read_back(self):
        v = self.v
        r = pv.Verifier(v["holder"], v["session"], v["occurrence"], v["chainId"], v["assembly"])
        for p in v["packets"]:
            r.packet(h(p["out"]))
        self.assertEqual(r.signed, pv.BATCH_FRAMES)
        self.assertEqual(len(r.pending), len(v["packets"]) - pv.BATCH_FRAMES)
        # The padding is left out of a tag: each out's tag is its in's.
        for p in v["packets"]:
            self.assertEqual(pv.frame_tag(pv.Packet.parse(h(p["out"]))), pv.tag(h(p["in"])))

    def test_a_flipped_bit_is_caught(self):
        v = self.v
        outs = [bytearray(h(p["out"])) for p in v["packets"]]
        outs[10][10] ^= 1
        r = pv.Verifier(v["holder"], v["session"], v["occurrence"], v["chainId"], v["assembly"])
        with self.assertRaises(ValueError):
            for p in outs:
                r.packet(bytes(p))


class Framing(unittest.TestCase):
    """provenance/src/packet.rs's own cases."""

    def test_an_encoders_packet_is_its_own_canonical_form(self):
        p = bytes([0xFC, 1, 2, 3, 4])
        self.assertEqual(pv.Packet.parse(p).canonical(), p)

    def test_padding_is_read_and_left_out_of_the_canonical_form(self):
        p = pv.Packet.parse(bytes([0xF8, 9, 9, 9]))
        q = pv.Packet.parse(p.with_padding(b"\xaa" * 300))
        self.assertEqual(q.padding, b"\xaa" * 300)
        self.assertEqual(q.canonical(), bytes([0xF8, 9, 9, 9]))

    def test_rule_breakers_are_refused(self):
        for bad in [b"", b"\x01\x01\x02\x03", b"\x02\xc8\x01", b"\x03", b"\x03\x00",
                    b"\x03\x42\x09\x01", b"\x03\x03\x01\x02", b"\x03\x82\xfc\x01"]:
            with self.assertRaises(pv.Malformed, msg=bad.hex()):
                pv.Packet.parse(bad)

    def test_padding_never_changes_the_canonical_form(self):
        rng = random.Random(16)
        for _ in range(200):
            config = rng.randrange(256) & ~3
            frames = [rng.randbytes(rng.choice([0, 1, 5, 60, 251, 252, 253, 299])) for _ in range(rng.randint(1, 5))]
            if rng.random() < 0.3:
                frames = [frames[0]] * len(frames)
            bare = pv.Packet(b"", config, frames, b"")
            pad = rng.randbytes(rng.choice([0, 1, 253, 254, 255, 508, 599]))
            a = pv.Packet.parse(bare.with_padding(b""))
            b = pv.Packet.parse(bare.with_padding(pad))
            self.assertEqual(a.canonical(), b.canonical())
            self.assertEqual(b.padding, pad)
            again = pv.Packet.parse(a.canonical())
            self.assertEqual(again.frames, frames)
            self.assertEqual(again.canonical(), a.canonical())


class RealOpus(unittest.TestCase):
    """Packets from aiortc's own Opus encoder (what the aiortc peer sends), signed and read back."""

    def test_aiortc_opus_signed_and_verified(self):
        try:
            import fractions

            import av
            from aiortc.codecs.opus import OpusEncoder
        except ImportError:
            self.skipTest("aiortc is not installed")
        enc, packets = OpusEncoder(), []
        for n in range(60):
            pcm = b"".join(
                int(5500 * math.sin(2 * math.pi * 440 * (n * 960 + i) / 48000)).to_bytes(2, "little", signed=True)
                for i in range(960)
            )
            frame = av.AudioFrame(format="s16", layout="mono", samples=960)
            frame.planes[0].update(pcm)
            frame.sample_rate, frame.pts, frame.time_base = 48000, n * 960, fractions.Fraction(1, 48000)
            packets += enc.encode(frame)[0]
        self.assertGreaterEqual(len(packets), 50)
        wallet, speaking = os.urandom(32), os.urandom(32)
        cert = pv.certify(wallet, speaking, 7, 3, 1_700_000_600, 31337, "0x" + "a5" * 20)
        s = pv.Signer(cert, speaking)
        out = [s.sign(p, 1_700_000_000_000 + 20 * i) for i, p in enumerate(packets)]
        carried = [i for i, (a, b) in enumerate(zip(packets, out)) if a != b]
        self.assertEqual(carried[:3], [0, 24, 49])
        r = pv.Verifier(pv.address_of(wallet), 7, 3, 31337, "0x" + "a5" * 20)
        for p in out:
            r.packet(p)
        self.assertEqual(r.signed, 50)
        # A decoder plays the padded packets.
        from aiortc.codecs.opus import OpusDecoder
        from aiortc.jitterbuffer import JitterFrame

        dec = OpusDecoder()
        for i in carried[:2]:
            self.assertTrue(dec.decode(JitterFrame(data=out[i], timestamp=i * 960)))


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=1).result
    failed = len(result.failures) + len(result.errors)
    print(f"provenance: {result.testsRun - failed - len(result.skipped)} passed, {failed} failed, {len(result.skipped)} skipped")
    sys.exit(1 if failed else 0)
