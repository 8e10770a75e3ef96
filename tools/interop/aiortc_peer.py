#!/usr/bin/env python3
"""A WHIP publisher or WHEP listener on aiortc: a WebRTC stack of its own (aioice for ICE,
OpenSSL for DTLS, libsrtp, libopus through PyAV), unrelated to the node's str0m and to
Chromium's. The node's interop test (node/tests/interop.rs) drives it; it also serves as a
command-line client:

    aiortc_peer.py publish URL --token T --seconds S   # a 440 Hz tone, Opus, for S seconds
    aiortc_peer.py listen URL --seconds S              # counts decoded frames and their level

Prints one JSON object: the HTTP status of the offer, and for a listener the frames it
decoded and their RMS level (0 for silence, ~4,600 for the publisher's tone).
"""

import argparse
import asyncio
import array
import fractions
import json
import math
import sys
import time
import urllib.error
import urllib.request

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

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

    if args.mode == "publish":
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
    out = asyncio.run(run(p.parse_args()))
    print(json.dumps(out), flush=True)
    sys.exit(0 if out["status"] == 201 else 3)


if __name__ == "__main__":
    main()
