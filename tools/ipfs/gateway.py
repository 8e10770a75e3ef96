#!/usr/bin/env python3
"""A local stand-in for an IPFS trustless gateway, for script/start's demo chain only.

Each file in a directory is served as one dag-pb/UnixFS block (files up to 256 KiB, IPFS's
default chunk size, are one block) under its CIDv0, the way `GET /ipfs/{cid}?format=raw`
with `Accept: application/vnd.ipld.raw` answers on a real gateway, so the indexer verifies
it exactly as it verifies a real one. `--cid FILE` prints a file's CID and exits.

Usage: gateway.py --cid FILE | gateway.py DIR PORT
"""
import hashlib
import http.server
import os
import sys

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def block(data):
    if len(data) > 256 * 1024:
        raise SystemExit("gateway.py: files over 256 KiB take more than one block")
    unixfs = b"\x08\x02" + b"\x12" + varint(len(data)) + data + b"\x18" + varint(len(data))
    return b"\x0a" + varint(len(unixfs)) + unixfs


def cid(blk):
    mh = b"\x12\x20" + hashlib.sha256(blk).digest()
    n = int.from_bytes(mh, "big")
    s = ""
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    return "1" * (len(mh) - len(mh.lstrip(b"\0"))) + s


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--cid":
        print(cid(block(open(sys.argv[2], "rb").read())))
        return
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    blocks = {}
    for name in sorted(os.listdir(sys.argv[1])):
        path = os.path.join(sys.argv[1], name)
        if os.path.isfile(path):
            b = block(open(path, "rb").read())
            blocks[cid(b)] = b

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?", 1)[0]
            found = blocks.get(path.removeprefix("/ipfs/"))
            if not path.startswith("/ipfs/") or found is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.ipld.raw")
            self.send_header("Content-Length", str(len(found)))
            self.end_headers()
            self.wfile.write(found)

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()


if __name__ == "__main__":
    main()
