#!/usr/bin/env python3
"""A WHIP publisher or WHEP listener on aiortc: a WebRTC stack of its own (aioice for ICE,
OpenSSL for DTLS, libsrtp, libopus through PyAV), unrelated to the node's str0m and to
Chromium's. The node's interop test (node/tests/interop.rs) drives it; it also serves as a
command-line client:

    aiortc_peer.py publish URL --token T --seconds S   # a 440 Hz tone, Opus, for S seconds
    aiortc_peer.py listen URL --seconds S              # counts decoded frames and their level

A publisher given its wallet's key (--sign-key, or $AIORTC_PEER_SIGN_KEY) signs its audio
like every Assembly client (issue 16; tools/interop/provenance.py, the speaker's side of
the Rust crate provenance/): the wallet certifies a fresh speaking key for the session's
occurrence, and every Opus packet aiortc's encoder makes is passed through the signer
before it is packetized, which puts the certificate and the batches of frame tags in the
packets' padding. What is not given of session, occurrence, chain id, Assembly contract
and expiry is asked of the node (the session from the WHIP URL, the occurrence and slot
end from /chain/v1/sessions/{id}/floor, the chain id and contract from /api/v1/config).
Without a key, the audio goes unsigned, as before.

Prints one JSON object: the HTTP status of the offer, for a listener the frames it
decoded and their RMS level (0 for silence, ~4,600 for the publisher's tone), and for a
signing publisher what it signed ("signed": speaking key, frames, batches, certificates).
"""

import argparse
import asyncio
import array
import fractions
import json
import math
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import av
import aiortc.rtcrtpsender
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.opus import OpusEncoder

RATE = 48_000
FRAME = 960  # 20 ms


class Tone(MediaStreamTrack):
    """A 440 Hz tone at a sixth of full scale, paced in real time."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self.sent = 0
        self.start = None

    async def recv(self):
        if self.start is None:
            self.start = time.monotonic()
        due = self.start + self.sent / RATE
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        pcm = array.array(
            "h",
            (int(5_500 * math.sin(2 * math.pi * 440 * (self.sent + i) / RATE)) for i in range(FRAME)),
        )
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate = RATE
        frame.pts = self.sent
        frame.time_base = fractions.Fraction(1, RATE)
        self.sent += FRAME
        return frame


class SigningOpus:
    """aiortc's Opus encoder, each payload it returns passed through the speaker's signer
    (before the sender packetizes it: the tag covers the Opus payload, never RTP)."""

    def __init__(self, inner, signer, stats):
        self.inner = inner
        self.signer = signer
        self.stats = stats

    def _sign(self, payloads):
        now_ms = int(time.time() * 1000)
        out = [self.signer.sign(p, now_ms) for p in payloads]
        self.stats["frames"] += len(out)
        self.stats["batches"] = self.signer.batches
        self.stats["certificates"] = self.signer.certificates
        return out

    def encode(self, frame, force_keyframe=False):
        payloads, timestamp = self.inner.encode(frame, force_keyframe)
        return self._sign(payloads), timestamp

    def pack(self, packet):
        payloads, timestamp = self.inner.pack(packet)
        return self._sign(payloads), timestamp

    def __getattr__(self, name):
        return getattr(self.inner, name)


def sign_outgoing_opus(signer, stats):
    """Has every Opus encoder aiortc's senders make in this process sign what it encodes."""
    make = aiortc.rtcrtpsender.get_encoder

    def get_encoder(codec):
        encoder = make(codec)
        return SigningOpus(encoder, signer, stats) if isinstance(encoder, OpusEncoder) else encoder

    aiortc.rtcrtpsender.get_encoder = get_encoder


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def speaker(args):
    """The signer for a publisher given --sign-key: a fresh speaking key, certified by the
    wallet for the session's occurrence; what was not given is asked of the node."""
    u = urllib.parse.urlsplit(args.url)
    base = f"{u.scheme}://{u.netloc}"
    session = args.session
    if session is None:
        m = re.search(r"/sessions/(\d+)/whip", u.path)
        if not m:
            raise SystemExit("--session: the WHIP URL names no session")
        session = int(m.group(1))
    chain_id, assembly = args.chain_id, args.assembly
    if chain_id is None or assembly is None:
        config = get_json(f"{base}/api/v1/config")
        chain_id = config["chainId"] if chain_id is None else chain_id
        assembly = config["assembly"] if assembly is None else assembly
    occurrence, not_after = args.occurrence, args.not_after
    if occurrence is None or not_after is None:
        floor = get_json(f"{base}/chain/v1/sessions/{session}/floor")
        if occurrence is None:
            if floor.get("occurrence") is None:
                raise SystemExit(f"--occurrence: session {session} is not in session")
            occurrence = floor["occurrence"]
        if not_after is None:
            # Until ten minutes past the slot (a batch is checked against it when signed).
            not_after = (floor.get("end") or int(time.time()) + 3600) + 600
    import provenance  # tools/interop/provenance.py: needs pycryptodome and coincurve

    wallet = bytes.fromhex(args.sign_key.removeprefix("0x"))
    key = os.urandom(32)
    certificate = provenance.certify(wallet, key, session, occurrence, not_after, chain_id, assembly)
    signer = provenance.Signer(certificate, key)
    about = {
        "wallet": "0x" + provenance.address_of(wallet).hex(),
        "key": "0x" + signer.address.hex(),
        "session": session,
        "occurrence": occurrence,
        "chainId": chain_id,
        "assembly": assembly,
        "notAfter": not_after,
    }
    return signer, about


def post(url, sdp, token):
    req = urllib.request.Request(url, data=sdp.encode(), method="POST")
    req.add_header("Content-Type", "application/sdp")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), r.headers.get("Location")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), None


async def run(args):
    pc = RTCPeerConnection()
    heard = {"frames": 0, "sum_sq": 0.0, "samples": 0}

    async def consume(track):
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            # Packed s16: the plane may be padded past the frame's samples.
            pcm = array.array("h", bytes(frame.planes[0]))[: frame.samples * len(frame.layout.channels)]
            heard["frames"] += 1
            heard["samples"] += len(pcm)
            heard["sum_sq"] += sum(s * s for s in pcm)

    signed = None
    if args.mode == "publish":
        if args.sign_key:
            signer, about = await asyncio.to_thread(speaker, args)
            signed = dict(about, frames=0, batches=0, certificates=0)
            sign_outgoing_opus(signer, signed)
        pc.addTransceiver(Tone(), direction="sendonly")
    else:
        pc.addTransceiver("audio", direction="recvonly")

        @pc.on("track")
        def on_track(track):
            asyncio.ensure_future(consume(track))

    # aiortc gathers every candidate before the offer is set: no trickle, as WHIP allows.
    await pc.setLocalDescription(await pc.createOffer())
    status, body, location = await asyncio.to_thread(post, args.url, pc.localDescription.sdp, args.token)
    out = {"status": status}
    if status != 201:
        out["body"] = body
        await pc.close()
        return out
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
    await asyncio.sleep(args.seconds)
    out["ice"] = pc.iceConnectionState
    if signed is not None:
        out["signed"] = signed
    if args.mode == "listen":
        out["frames"] = heard["frames"]
        out["rms"] = round(math.sqrt(heard["sum_sq"] / heard["samples"]), 1) if heard["samples"] else 0.0
    await pc.close()
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["publish", "listen"])
    p.add_argument("url")
    p.add_argument("--token")
    p.add_argument("--seconds", type=float, default=5.0)
    sign = p.add_argument_group("signing (publish)", "speaker-signed audio; without --sign-key, unsigned")
    sign.add_argument(
        "--sign-key",
        default=os.environ.get("AIORTC_PEER_SIGN_KEY"),
        help="the speaker's wallet private key, hex: certifies the speaking key (default: $AIORTC_PEER_SIGN_KEY)",
    )
    sign.add_argument("--session", type=int, help="session id (default: from the WHIP URL)")
    sign.add_argument("--occurrence", type=int, help="occurrence (default: the node's floor now)")
    sign.add_argument("--chain-id", type=int, help="chain id (default: the node's /api/v1/config)")
    sign.add_argument("--assembly", help="Assembly contract, 0x… (default: the node's /api/v1/config)")
    sign.add_argument("--not-after", type=int, help="certificate expiry, unix seconds (default: slot end + 600)")
    out = asyncio.run(run(p.parse_args()))
    print(json.dumps(out), flush=True)
    sys.exit(0 if out["status"] == 201 else 3)


if __name__ == "__main__":
    main()
