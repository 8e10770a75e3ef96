#!/usr/bin/python3
"""A WHIP publisher or WHEP listener on GStreamer's webrtcbin: the stack of GStreamer's own
whipsink, whipclientsink and whepsrc and of Meetecho's simple-whip-client (libnice for ICE,
GStreamer's OpenSSL DTLS element with the RSA certificate it generates, libsrtp). Its offers
are as webrtcbin makes them by default: no BUNDLE group for one audio section, and after
nomination libnice keeps the path alive with Binding Indications, not requests. The node's
GStreamer test (node/tests/gstreamer.rs) drives it; it also serves as a command-line client:

    gst_peer.py publish URL --token T --seconds S   # a 440 Hz tone, Opus, for up to S seconds
    gst_peer.py listen URL --seconds S              # counts decoded frames and their level
    ... --wrong-fingerprint                         # offers a certificate fingerprint not its own

Runs with Debian's python3 (python3-gst-1.0, gir1.2-gst-plugins-bad-1.0). Prints one JSON
object: the HTTP status of the offer, the certificate type webrtcbin used, each connection
state change with its time, when (if ever) the node closed the connection, and for a
listener the 20 ms frames it decoded and their RMS level.
"""

import argparse
import array
import json
import math
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

OPUS = (
    "application/x-rtp,media=audio,encoding-name=OPUS,payload=111,clock-rate=48000,"
    "encoding-params=(string)2"
)
# A sixth of full scale, as the aiortc peer sends: 5,500 peak, RMS 3,890 in mono.
TONE = (
    "audiotestsrc is-live=true wave=sine freq=440 volume=0.1678 ! audioconvert ! audioresample"
    " ! audio/x-raw,channels=1,rate=48000 ! opusenc frame-size=20 ! rtpopuspay pt=111"
    " ! queue"
)


def request(method, url, body=None, token=None):
    """(status, body text, Location) of one HTTP request; HTTP errors are answers too."""
    headers = {"Content-Type": "application/sdp"} if body is not None else {}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            location = r.headers.get("Location")
            if location:
                location = urllib.parse.urljoin(url, location)
            return r.status, r.read().decode(), location
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), None
    except urllib.error.URLError as e:
        return 0, str(e.reason), None


def candidates(sdp):
    """Each candidate's address, port and type."""
    out = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            f = line.split()
            out.append(f"{f[4]}:{f[5]} {f[7]}")
    return out


def key_algorithm(pem):
    """The public key algorithm of a PEM certificate, as OpenSSL names it."""
    if not pem:
        return None
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-text"], input=pem.encode(), capture_output=True
    ).stdout.decode()
    for line in out.splitlines():
        if "Public Key Algorithm:" in line:
            return line.split(":", 1)[1].strip()
    return None


class Peer:
    def __init__(self, mode, url, token, seconds, wrong_fingerprint=False):
        self.mode, self.url, self.token, self.seconds = mode, url, token, seconds
        self.wrong_fingerprint = wrong_fingerprint
        self.report = {"mode": mode, "states": []}
        self.start = time.monotonic()
        self.location = None
        self.leaving = False
        self.frames = 0
        self.loud = 0
        self.squares = 0.0
        self.samples = 0
        self.loop = GLib.MainLoop()
        self.pipe = Gst.Pipeline.new("peer")
        self.webrtc = Gst.ElementFactory.make("webrtcbin", "webrtc")
        self.pipe.add(self.webrtc)
        if mode == "publish":
            src = Gst.parse_bin_from_description(TONE, True)
            self.pipe.add(src)
            src.link(self.webrtc)
            transceiver = self.webrtc.emit("get-transceiver", 0)
            transceiver.set_property(
                "direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY
            )
        else:
            self.webrtc.emit(
                "add-transceiver",
                GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY,
                Gst.Caps.from_string(OPUS),
            )
            self.webrtc.connect("pad-added", self.on_pad)
        for prop in ("ice-connection-state", "connection-state", "ice-gathering-state"):
            self.webrtc.connect("notify::" + prop, self.on_state)
        self.webrtc.connect("on-negotiation-needed", self.on_negotiation_needed)

    def at(self):
        return round((time.monotonic() - self.start) * 1000)

    def on_state(self, element, spec):
        if self.leaving:
            return
        value = element.get_property(spec.name).value_nick
        self.report["states"].append([self.at(), spec.name + ":" + value])
        if spec.name == "ice-gathering-state" and value == "complete":
            GLib.idle_add(self.send_offer)
        if spec.name == "connection-state":
            if value == "connected" and "connected_ms" not in self.report:
                self.report["connected_ms"] = self.at()
                self.watch_dtls()
            elif value in ("failed", "closed", "disconnected") and "connected_ms" in self.report:
                self.report.setdefault("ended_ms", self.at())
                self.report.setdefault("ended_as", value)
                GLib.timeout_add(300, self.loop.quit)

    def watch_dtls(self):
        """The DTLS transport's own state: `closed` is the node's close_notify."""
        transceiver = self.webrtc.emit("get-transceiver", 0)
        part = transceiver.get_property("sender" if self.mode == "publish" else "receiver")
        dtls = part.get_property("transport") if part else None
        if dtls is not None:
            dtls.connect("notify::state", self.on_dtls)
            self.report["certificate"] = key_algorithm(dtls.get_property("certificate"))
            self.report["node_certificate"] = key_algorithm(dtls.get_property("remote-certificate"))

    def on_dtls(self, transport, spec):
        if self.leaving:
            return
        state = transport.get_property("state").value_nick
        self.report["states"].append([self.at(), "dtls:" + state])
        if state in ("closed", "failed"):
            self.report.setdefault("ended_ms", self.at())
            self.report.setdefault("ended_as", "dtls-" + state)
            GLib.timeout_add(300, self.loop.quit)

    def on_negotiation_needed(self, element):
        # One offer: a second would restart ICE under credentials the node never saw.
        if self.report.get("offered"):
            return
        self.report["offered"] = True
        promise = Gst.Promise.new_with_change_func(self.on_offer, None)
        element.emit("create-offer", None, promise)

    def on_offer(self, promise, _):
        # The reply owns the offer (PyGObject does not copy it): keep it until it is set.
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        self.webrtc.emit("set-local-description", offer, Gst.Promise.new())
        del reply

    def send_offer(self):
        # Non-trickle, as simple-whip-client and whipsink send by default: every candidate
        # in the one offer.
        sdp = self.webrtc.get_property("local-description").sdp.as_text()
        if self.wrong_fingerprint:
            # Another certificate's, as far as the node can tell: its last hex digit changed.
            sdp = "\r\n".join(
                line[:-1] + ("0" if line[-1] != "0" else "1")
                if line.startswith("a=fingerprint:")
                else line
                for line in sdp.split("\r\n")
            )
        self.report["offer_has_bundle"] = "a=group:BUNDLE" in sdp
        self.report["offer_candidates"] = candidates(sdp)
        status, body, location = request("POST", self.url, sdp.encode(), self.token)
        self.report["status"] = status
        if status != 201:
            self.report["body"] = body
            self.loop.quit()
            return False
        self.location = location
        self.report["answer_has_bundle"] = "a=group:BUNDLE" in body
        self.report["answer_candidates"] = candidates(body)
        _, message = GstSdp.SDPMessage.new_from_text(body)
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
        self.webrtc.emit(
            "set-remote-description",
            answer,
            Gst.Promise.new_with_change_func(self.on_answer_set, None),
        )
        return False

    def on_answer_set(self, promise, _):
        reply = promise.get_reply()
        if reply is not None and reply.has_field("error"):
            self.report["answer_error"] = reply.get_value("error").message
            GLib.idle_add(self.loop.quit)

    def on_pad(self, element, pad):
        if pad.direction != Gst.PadDirection.SRC:
            return
        sink = Gst.parse_bin_from_description(
            "rtpopusdepay ! opusdec ! audioconvert ! audio/x-raw,format=S16LE"
            " ! appsink name=out emit-signals=true sync=false",
            True,
        )
        self.pipe.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))
        sink.get_by_name("out").connect("new-sample", self.on_sample)

    def on_sample(self, appsink):
        buffer = appsink.emit("pull-sample").get_buffer()
        ok, info = buffer.map(Gst.MapFlags.READ)
        if ok:
            # info.data is a memoryview: as an iterable it would be bytes, not samples.
            pcm = array.array("h")
            pcm.frombytes(bytes(info.data))
            buffer.unmap(info)
            # Only frames after the first second: the decoder's start is quiet.
            if self.frames >= 50:
                squares = sum(s * s for s in pcm)
                self.squares += squares
                self.samples += len(pcm)
                if pcm and math.sqrt(squares / len(pcm)) > 1000:
                    self.loud += 1
            self.frames += 1
        return Gst.FlowReturn.OK

    def run(self):
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)
        self.pipe.set_state(Gst.State.PLAYING)
        GLib.timeout_add(int(self.seconds * 1000), self.loop.quit)
        self.loop.run()
        # From here on, state changes are this peer's own leaving, not the node's doing.
        self.leaving = True
        if self.location:
            # RFC 9725: a client ends its session with DELETE, also after the server did
            # (then 410 Gone says why).
            status, body, _ = request("DELETE", self.location, token=self.token)
            self.report["delete_status"] = status
            if status != 200:
                self.report["delete_body"] = body
        self.pipe.set_state(Gst.State.NULL)
        self.report["ran_ms"] = self.at()
        if self.mode == "listen":
            self.report["frames"] = self.frames
            self.report["loud_frames"] = self.loud
            self.report["rms"] = round(math.sqrt(self.squares / self.samples), 1) if self.samples else 0.0
        return self.report

    def on_error(self, bus, message):
        err, debug = message.parse_error()
        self.report.setdefault("errors", []).append(f"{err.message} ({debug})"[:300])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["publish", "listen"])
    parser.add_argument("url")
    parser.add_argument("--token")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--wrong-fingerprint", action="store_true")
    args = parser.parse_args()
    Gst.init(None)
    print(json.dumps(Peer(args.mode, args.url, args.token, args.seconds, args.wrong_fingerprint).run()))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
