"""Speaker-signed audio in Python: the speaker's side of the Rust crate `provenance/`
(`carrier::Signer`), byte for byte, so that a peer that is not an Assembly client (the
aiortc peer, tools/interop/aiortc_peer.py) signs its audio like one.

- `Packet` reads Opus framing (RFC 6716 §3.2) and writes the same frames back: in their
  canonical form (shortest code, no padding), which a frame's tag covers, or as a code 3
  packet carrying padding, which attestations ride in (§3.2.5: every decoder ignores it).
- `certify` has a wallet key sign a speaking key (EIP-712 `SpeakingKey` in the domain
  {name "Assembly", version "1", chainId, verifyingContract}).
- `Signer.sign` puts the certificate on a speech's first frame and on the first frame of
  every 8th batch, and each batch of 25 tags, signed by the speaking key, on the last
  frame it tags.
- `Verifier` reads a signed stream back (in order), for tests and standalone checks.

Keccak-256 is Ethereum's (pycryptodome's `keccak`), not SHA3-256; signatures are secp256k1,
RFC 6979 deterministic and low-s (libsecp256k1 through coincurve), written r | s | v with
v 27 or 28. provenance/tests/vectors.json checks all of it (test_provenance.py).
"""

from dataclasses import dataclass

import coincurve
from Crypto.Hash import keccak as _keccak

BATCH_FRAMES = 25
CERTIFICATE_EVERY = 8
MAGIC = b"ASM\x01"
CERTIFICATE = 1
BATCH = 2
CERTIFICATE_LEN = 32 + 4 + 20 + 8 + 65
BATCH_HEAD = 8 + 4 + 8 + 8 + 1
MAX_FRAME = 1275


def keccak256(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=bytes(data)).digest()


class Malformed(ValueError):
    """Not an Opus packet (RFC 6716 §3.4), or padding that claims to be ours and is not."""


# --- Opus framing (provenance/src/packet.rs) ---------------------------------------------


def _frame_length(b: bytes, i: int):
    """A frame length at b[i] (§3.2.1): one byte below 252, else two. Returns (len, next)."""
    if i < len(b) and b[i] < 252:
        return b[i], i + 1
    if i + 1 < len(b):
        return b[i + 1] * 4 + b[i], i + 2
    raise Malformed("frame length cut short")


def _push_length(out: bytearray, n: int):
    if n < 252:
        out.append(n)
    else:
        low = 252 + (n - 252) % 4
        out.append(low)
        out.append((n - low) // 4)


class Packet:
    """One Opus packet, read: its configuration (TOC less the code), frames and padding."""

    def __init__(self, raw: bytes, config: int, frames: list, padding: bytes):
        self.raw = raw
        self.config = config
        self.frames = frames
        self.padding = padding

    @classmethod
    def parse(cls, raw: bytes) -> "Packet":
        raw = bytes(raw)
        if not raw:
            raise Malformed("empty")
        toc, rest = raw[0], raw[1:]
        padding = b""
        code = toc & 0x3
        if code == 0:
            frames = [rest]
        elif code == 1:
            if len(rest) % 2:
                raise Malformed("code 1 with an odd length")
            h = len(rest) // 2
            frames = [rest[:h], rest[h:]]
        elif code == 2:
            n, i = _frame_length(rest, 0)
            if n > len(rest) - i:
                raise Malformed("code 2 frame longer than the packet")
            frames = [rest[i : i + n], rest[i + n :]]
        else:
            frames, padding = cls._code3(rest)
        if any(len(f) > MAX_FRAME for f in frames):
            raise Malformed("frame longer than 1275 bytes")
        return cls(raw, toc & ~0x3 & 0xFF, frames, padding)

    @staticmethod
    def _code3(b: bytes):
        if not b:
            raise Malformed("code 3 without a count")
        count, i = b[0], 1
        vbr, padded, m = bool(count & 0x80), bool(count & 0x40), count & 0x3F
        if m == 0 or m > 48:
            raise Malformed("code 3 frame count outside 1-48")
        pad = 0
        if padded:
            while True:
                if i >= len(b):
                    raise Malformed("padding length cut short")
                v = b[i]
                i += 1
                pad += min(v, 254)
                if v != 255:
                    break
        end = len(b) - pad
        if end < i:
            raise Malformed("padding longer than the packet")
        body, padding = b[i:end], b[end:]
        frames = []
        if vbr:
            lengths, j = [], 0
            for _ in range(m - 1):
                n, j = _frame_length(body, j)
                lengths.append(n)
            for n in lengths:
                if n > len(body) - j:
                    raise Malformed("code 3 frame longer than the packet")
                frames.append(body[j : j + n])
                j += n
            frames.append(body[j:])
        else:
            if len(body) % m:
                raise Malformed("code 3 CBR length not a multiple of its frames")
            size = len(body) // m
            frames = [body[k * size : (k + 1) * size] for k in range(m)]
        return frames, padding

    def _vbr(self) -> bool:
        return any(len(f) != len(self.frames[0]) for f in self.frames)

    def _shortest_code(self) -> int:
        n = len(self.frames)
        if n == 1:
            return 0
        if n == 2:
            return 2 if self._vbr() else 1
        return 3

    def _code3_header(self, out: bytearray, padding: int):
        vbr = self._vbr()
        out.append(self.config | 3)
        count = len(self.frames) | (0x80 if vbr else 0) | (0x40 if padding > 0 else 0)
        out.append(count)
        if padding > 0:
            left = padding
            while left > 254:
                out.append(255)
                left -= 254
            out.append(left)
        if vbr:
            for f in self.frames[:-1]:
                _push_length(out, len(f))

    def canonical(self) -> bytes:
        """The packet as a decoder hears it, one way only: shortest code, no padding."""
        code = self._shortest_code()
        if self.raw[0] & 0x3 == code and code != 3:
            return self.raw
        out = bytearray()
        if code in (0, 1):
            out.append(self.config | code)
        elif code == 2:
            out.append(self.config | 2)
            _push_length(out, len(self.frames[0]))
        else:
            self._code3_header(out, 0)
        for f in self.frames:
            out += f
        return bytes(out)

    def with_padding(self, padding: bytes) -> bytes:
        """The same frames as a code 3 packet with `padding` (any it had replaced)."""
        out = bytearray()
        self._code3_header(out, len(padding))
        for f in self.frames:
            out += f
        out += padding
        return bytes(out)


def tag(payload: bytes) -> bytes:
    """A frame's tag: the first 16 bytes of the Keccak-256 of its bytes."""
    return keccak256(payload)[:16]


def frame_tag(packet: Packet) -> bytes:
    """An Opus packet's tag: of its canonical form, so the padding is not covered."""
    return tag(packet.canonical())


# --- secp256k1 -------------------------------------------------------------------------


def _key_bytes(key) -> bytes:
    if isinstance(key, coincurve.PrivateKey):
        return key.secret
    if isinstance(key, str):
        key = bytes.fromhex(key.removeprefix("0x"))
    if len(key) != 32:
        raise ValueError("a secp256k1 private key is 32 bytes")
    return bytes(key)


def address_of(key) -> bytes:
    """The 20-byte address of a private key."""
    pub = coincurve.PrivateKey(_key_bytes(key)).public_key.format(compressed=False)
    return keccak256(pub[1:])[12:]


def sign_hash(key, digest: bytes) -> bytes:
    """`digest` signed by `key`: r | s | v, v 27 or 28 (RFC 6979, low s)."""
    sig = coincurve.PrivateKey(_key_bytes(key)).sign_recoverable(digest, hasher=None)
    return sig[:64] + bytes([27 + sig[64]])


def recover(digest: bytes, signature: bytes) -> bytes:
    """The address whose key made `signature` (r | s | v) over `digest`."""
    if len(signature) != 65:
        raise ValueError("a signature is 65 bytes")
    v = signature[64]
    v = v - 27 if v >= 27 else v
    if v not in (0, 1):
        raise ValueError("v is not 27 or 28")
    pub = coincurve.PublicKey.from_signature_and_message(signature[:64] + bytes([v]), digest, hasher=None)
    return keccak256(pub.format(compressed=False)[1:])[12:]


def address(text) -> bytes:
    """An address from 0x-hex (or bytes)."""
    if isinstance(text, (bytes, bytearray)):
        b = bytes(text)
    else:
        b = bytes.fromhex(text.removeprefix("0x"))
    if len(b) != 20:
        raise ValueError("an address is 20 bytes")
    return b


# --- EIP-712: SpeakingKey ----------------------------------------------------------------


def _u(n: int) -> bytes:
    return int(n).to_bytes(32, "big")


def _addr_word(a: bytes) -> bytes:
    return b"\x00" * 12 + a


DOMAIN_TYPE = keccak256(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
SPEAKING_KEY_TYPE = keccak256(b"SpeakingKey(uint256 session,uint32 occurrence,address key,uint64 notAfter)")


def domain_separator(chain_id: int, assembly) -> bytes:
    """The EIP-712 domain speaking keys are certified in: the Assembly contract on its chain."""
    return keccak256(
        DOMAIN_TYPE + keccak256(b"Assembly") + keccak256(b"1") + _u(chain_id) + _addr_word(address(assembly))
    )


def speaking_key_digest(session: int, occurrence: int, key, not_after: int, chain_id: int, assembly) -> bytes:
    """What the wallet signs: the EIP-712 hash of SpeakingKey{session, occurrence, key, notAfter}."""
    struct = keccak256(SPEAKING_KEY_TYPE + _u(session) + _u(occurrence) + _addr_word(address(key)) + _u(not_after))
    return keccak256(b"\x19\x01" + domain_separator(chain_id, assembly) + struct)


def batch_digest(session: int, occurrence: int, first: int, signed_ms: int, tags) -> bytes:
    """What the speaking key signs for a batch (`Batch::digest`)."""
    return keccak256(
        keccak256(b"assembly.batch.v1")
        + _u(session)
        + _u(occurrence)
        + _u(first)
        + _u(signed_ms)
        + keccak256(b"".join(tags))
    )


# --- the carrier (provenance/src/carrier.rs) --------------------------------------------


@dataclass
class Certificate:
    """A speaking key as its holder's wallet certified it."""

    session: int
    occurrence: int
    key: bytes  # the speaking key's address
    not_after: int  # seconds since the epoch
    signature: bytes  # the wallet's, r | s | v

    def item(self) -> bytes:
        return (
            bytes([CERTIFICATE])
            + self.session.to_bytes(32, "big")
            + self.occurrence.to_bytes(4, "big")
            + self.key
            + self.not_after.to_bytes(8, "big")
            + self.signature
        )

    def digest(self) -> bytes:
        """Its attestation digest: keccak256 of its item as the padding carries it."""
        return keccak256(self.item())

    def signer(self, chain_id: int, assembly) -> bytes:
        """The wallet that signed it."""
        d = speaking_key_digest(self.session, self.occurrence, self.key, self.not_after, chain_id, assembly)
        return recover(d, self.signature)


@dataclass
class Batch:
    session: int
    occurrence: int
    first: int
    signed_ms: int
    tags: list
    signature: bytes

    def digest(self) -> bytes:
        return batch_digest(self.session, self.occurrence, self.first, self.signed_ms, self.tags)

    def item(self) -> bytes:
        tags = self.tags[:255]
        return (
            bytes([BATCH])
            + self.session.to_bytes(8, "big")
            + self.occurrence.to_bytes(4, "big")
            + self.first.to_bytes(8, "big")
            + self.signed_ms.to_bytes(8, "big")
            + bytes([len(tags)])
            + b"".join(tags)
            + self.signature
        )


def certify(wallet_key, speaking_key, session: int, occurrence: int, not_after: int, chain_id: int, assembly) -> Certificate:
    """`speaking_key` certified by `wallet_key` (an account's key) for one occurrence of a session."""
    key = address_of(speaking_key)
    d = speaking_key_digest(session, occurrence, key, not_after, chain_id, assembly)
    return Certificate(session, occurrence, key, not_after, sign_hash(wallet_key, d))


def encode(items) -> bytes:
    """Attestation padding: MAGIC, then each item."""
    return MAGIC + b"".join(i.item() for i in items)


def decode(padding: bytes) -> list:
    """Attestation padding read back: [] for padding that is not ours."""
    if not padding.startswith(MAGIC):
        return []
    b, i, items = padding, len(MAGIC), []
    while i < len(b):
        kind = b[i]
        i += 1
        if kind == CERTIFICATE:
            if len(b) - i < CERTIFICATE_LEN:
                raise Malformed("certificate cut short")
            items.append(
                Certificate(
                    int.from_bytes(b[i : i + 32], "big"),
                    int.from_bytes(b[i + 32 : i + 36], "big"),
                    b[i + 36 : i + 56],
                    int.from_bytes(b[i + 56 : i + 64], "big"),
                    b[i + 64 : i + 129],
                )
            )
            i += CERTIFICATE_LEN
        elif kind == BATCH:
            if len(b) - i < BATCH_HEAD:
                raise Malformed("batch cut short")
            session = int.from_bytes(b[i : i + 8], "big")
            occurrence = int.from_bytes(b[i + 8 : i + 12], "big")
            first = int.from_bytes(b[i + 12 : i + 20], "big")
            signed_ms = int.from_bytes(b[i + 20 : i + 28], "big")
            n = b[i + 28]
            i += BATCH_HEAD
            if len(b) - i < 16 * n + 65:
                raise Malformed("cut short")
            tags = [b[i + 16 * k : i + 16 * (k + 1)] for k in range(n)]
            i += 16 * n
            items.append(Batch(session, occurrence, first, signed_ms, tags, b[i : i + 65]))
            i += 65
        else:
            raise Malformed("unknown item")
    return items


class Signer:
    """The speaker's side: tags every frame, signs a batch every 25 with the speaking key,
    and carries the batches and the certificate in the frames' padding."""

    def __init__(self, certificate: Certificate, key):
        if certificate.session >= 1 << 64:
            raise Malformed("session id beyond 64 bits")
        self.certificate = certificate
        self.key = _key_bytes(key)
        self.session = certificate.session
        self.occurrence = certificate.occurrence
        self.first = 0
        self.tags = []
        self.batches = 0
        self.certificates = 0  # items carried, for a report

    @property
    def address(self) -> bytes:
        return address_of(self.key)

    def sign(self, packet: bytes, now_ms: int) -> bytes:
        """The packet to send for `packet`, an Opus packet as the encoder gave it, at `now_ms`."""
        p = Packet.parse(packet)
        items = []
        if not self.tags and self.batches % CERTIFICATE_EVERY == 0:
            items.append(self.certificate)
            self.certificates += 1
        self.tags.append(frame_tag(p))
        if len(self.tags) == BATCH_FRAMES:
            items.append(self._batch(now_ms))
        if not items:
            return bytes(packet)
        return p.with_padding(encode(items))

    def _batch(self, now_ms: int) -> Batch:
        tags, self.tags = self.tags, []
        d = batch_digest(self.session, self.occurrence, self.first, now_ms, tags)
        b = Batch(self.session, self.occurrence, self.first, now_ms, tags, sign_hash(self.key, d))
        self.first += len(tags)
        self.batches += 1
        return b


class Verifier:
    """Reads a signed stream back, in order (no loss, no reordering): what a node's checker
    would count as signed, for tests and standalone checks. Raises on anything forged."""

    def __init__(self, holder, session: int, occurrence: int, chain_id: int, assembly):
        self.holder = address(holder)
        self.session, self.occurrence = session, occurrence
        self.chain_id, self.assembly = chain_id, assembly
        self.key = None
        self.pending = []
        self.next = 0
        self.signed = 0
        self.unsigned = 0

    def packet(self, raw: bytes):
        p = Packet.parse(raw)
        t = frame_tag(p)
        items = decode(p.padding)
        for it in items:
            if isinstance(it, Certificate):
                if it.signer(self.chain_id, self.assembly) != self.holder:
                    raise ValueError("certificate not signed by the holder")
                if (it.session, it.occurrence) != (self.session, self.occurrence):
                    raise ValueError("certificate for another session")
                self.key = it.key
        if self.key is None:
            self.unsigned += 1
            return
        self.pending.append(t)
        for it in items:
            if isinstance(it, Batch):
                if recover(it.digest(), it.signature) != self.key:
                    raise ValueError("batch not signed by the certified key")
                if (it.session, it.occurrence) != (self.session, self.occurrence):
                    raise ValueError("batch for another session")
                if it.first < self.next or len(it.tags) > BATCH_FRAMES:
                    raise ValueError("batch replayed or too long")
                self.next = it.first + len(it.tags)
                if it.tags != self.pending:
                    raise ValueError("frames do not match the batch's tags")
                self.signed += len(self.pending)
                self.pending = []
