//! Opus packet framing (RFC 6716 §3.2), as far as provenance needs it: the frames a packet
//! holds, its padding, and two ways to write the same frames back.
//!
//! What a tag covers is the packet in its [`Packet::canonical`] form: the TOC's
//! configuration and every frame, framed in the shortest code, with no padding. Padding is
//! where attestations travel ([`crate::carrier`]), and RFC 6716 §3.2.5 has every decoder
//! ignore it, so leaving it out of the tag leaves out nothing anyone hears, and lets a batch
//! ride on the last frame it vouches for.

use std::borrow::Cow;

/// The largest frame RFC 6716 allows (§3.2.1).
const MAX_FRAME: usize = 1275;

/// A packet that breaks one of RFC 6716's rules (§3.4, R1–R7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an Opus packet: {0}")]
pub struct Malformed(pub &'static str);

/// One Opus packet, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    bytes: &'a [u8],
    /// The TOC byte with its code bits cleared: configuration and stereo flag.
    config: u8,
    frames: Vec<&'a [u8]>,
    padding: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Reads `bytes` as one Opus packet.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Malformed> {
        let (&toc, rest) = bytes.split_first().ok_or(Malformed("empty"))?;
        let (frames, padding) = match toc & 0x3 {
            0 => (vec![rest], &rest[..0]),
            1 => {
                if rest.len() % 2 != 0 {
                    return Err(Malformed("code 1 with an odd length"));
                }
                let (a, b) = rest.split_at(rest.len() / 2);
                (vec![a, b], &rest[..0])
            }
            2 => {
                let (len, rest) = frame_length(rest)?;
                if len > rest.len() {
                    return Err(Malformed("code 2 frame longer than the packet"));
                }
                let (a, b) = rest.split_at(len);
                (vec![a, b], &rest[..0])
            }
            _ => code3(rest)?,
        };
        if frames.iter().any(|f| f.len() > MAX_FRAME) {
            return Err(Malformed("frame longer than 1275 bytes"));
        }
        Ok(Self {
            bytes,
            config: toc & !0x3,
            frames,
            padding,
        })
    }

    /// The padding (what [`crate::carrier`] reads attestations from).
    pub fn padding(&self) -> &'a [u8] {
        self.padding
    }

    /// The frames.
    pub fn frames(&self) -> &[&'a [u8]] {
        &self.frames
    }

    /// The packet as a decoder hears it, one way only: the shortest code for its frames
    /// (0 for one, 1 for two alike in length, 2 for two unlike, else 3), no padding. A packet
    /// already in that form (as almost every packet an encoder sends) is borrowed as it is.
    pub fn canonical(&self) -> Cow<'a, [u8]> {
        let code = self.shortest_code();
        if self.bytes[0] & 0x3 == code && code != 3 {
            return Cow::Borrowed(self.bytes);
        }
        let mut out = Vec::with_capacity(self.bytes.len());
        match code {
            0 | 1 => out.push(self.config | code),
            2 => {
                out.push(self.config | 2);
                push_length(&mut out, self.frames[0].len());
            }
            _ => self.code3_header(&mut out, 0),
        }
        for f in &self.frames {
            out.extend_from_slice(f);
        }
        if out == self.bytes {
            return Cow::Borrowed(self.bytes);
        }
        Cow::Owned(out)
    }

    /// The same frames with `padding` as the packet's padding (any it had replaced), which
    /// needs code 3.
    pub fn with_padding(&self, padding: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len() + padding.len() + 8);
        self.code3_header(&mut out, padding.len());
        for f in &self.frames {
            out.extend_from_slice(f);
        }
        out.extend_from_slice(padding);
        out
    }

    fn vbr(&self) -> bool {
        self.frames.iter().any(|f| f.len() != self.frames[0].len())
    }

    fn shortest_code(&self) -> u8 {
        match self.frames.len() {
            1 => 0,
            2 if !self.vbr() => 1,
            2 => 2,
            _ => 3,
        }
    }

    /// TOC, frame count byte, padding length and (VBR) frame lengths of a code 3 packet.
    fn code3_header(&self, out: &mut Vec<u8>, padding: usize) {
        let vbr = self.vbr();
        out.push(self.config | 3);
        // M ≤ 48 holds: the packet this was read from obeyed R5.
        let mut count = self.frames.len() as u8;
        if vbr {
            count |= 0x80;
        }
        if padding > 0 {
            count |= 0x40;
        }
        out.push(count);
        if padding > 0 {
            let mut left = padding;
            while left > 254 {
                out.push(255);
                left -= 254;
            }
            out.push(left as u8);
        }
        if vbr {
            for f in &self.frames[..self.frames.len() - 1] {
                push_length(out, f.len());
            }
        }
    }
}

/// Reads a frame length (§3.2.1): one byte below 252, else two.
fn frame_length(bytes: &[u8]) -> Result<(usize, &[u8]), Malformed> {
    match bytes {
        [b, rest @ ..] if *b < 252 => Ok((usize::from(*b), rest)),
        [b, c, rest @ ..] => Ok((usize::from(*c) * 4 + usize::from(*b), rest)),
        _ => Err(Malformed("frame length cut short")),
    }
}

fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 252 {
        out.push(len as u8);
    } else {
        let low = 252 + (len - 252) % 4;
        out.push(low as u8);
        out.push(((len - low) / 4) as u8);
    }
}

/// Frames and padding of a code 3 packet's bytes after its TOC (§3.2.5).
fn code3(bytes: &[u8]) -> Result<(Vec<&[u8]>, &[u8]), Malformed> {
    let (&count, mut rest) = bytes
        .split_first()
        .ok_or(Malformed("code 3 without a count"))?;
    let (vbr, padded, m) = (
        count & 0x80 != 0,
        count & 0x40 != 0,
        usize::from(count & 0x3f),
    );
    if m == 0 || m > 48 {
        return Err(Malformed("code 3 frame count outside 1–48"));
    }
    let mut padding = 0usize;
    if padded {
        loop {
            let (&b, r) = rest
                .split_first()
                .ok_or(Malformed("padding length cut short"))?;
            rest = r;
            padding += usize::from(b.min(254));
            if b != 255 {
                break;
            }
        }
    }
    let body = rest
        .len()
        .checked_sub(padding)
        .ok_or(Malformed("padding longer than the packet"))?;
    let (mut body, pad) = rest.split_at(body);
    let mut frames = Vec::with_capacity(m);
    if vbr {
        let mut lengths = Vec::with_capacity(m - 1);
        for _ in 0..m - 1 {
            let (len, r) = frame_length(body)?;
            lengths.push(len);
            body = r;
        }
        for len in lengths {
            if len > body.len() {
                return Err(Malformed("code 3 frame longer than the packet"));
            }
            let (f, r) = body.split_at(len);
            frames.push(f);
            body = r;
        }
        frames.push(body);
    } else {
        if body.len() % m != 0 {
            return Err(Malformed("code 3 CBR length not a multiple of its frames"));
        }
        let size = body.len() / m;
        frames.extend((0..m).map(|i| &body[i * size..(i + 1) * size]));
    }
    Ok((frames, pad))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn an_encoders_packet_is_its_own_canonical_form() {
        let p = [0xfc, 1, 2, 3, 4];
        assert!(matches!(
            Packet::parse(&p).unwrap().canonical(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn padding_is_read_and_left_out_of_the_canonical_form() {
        let p = Packet::parse(&[0xf8, 9, 9, 9]).unwrap();
        let padded = p.with_padding(&[0xAA; 300]);
        let q = Packet::parse(&padded).unwrap();
        assert_eq!(q.padding(), &[0xAA; 300][..]);
        assert_eq!(q.canonical().as_ref(), &[0xf8, 9, 9, 9][..]);
    }

    #[test]
    fn rule_breakers_are_refused() {
        for bad in [
            &[][..],
            &[0x01, 1, 2, 3],      // code 1, odd
            &[0x02, 200, 1],       // code 2, first frame too long
            &[0x03],               // code 3, no count
            &[0x03, 0x00],         // M = 0
            &[0x03, 0x42, 9, 1],   // padding longer than the packet
            &[0x03, 0x03, 1, 2],   // CBR, 2 bytes over 3 frames
            &[0x03, 0x82, 252, 1], // VBR, length cut short
        ] {
            assert!(Packet::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn packet() -> impl Strategy<Value = (u8, Vec<Vec<u8>>)> {
        (
            any::<u8>().prop_map(|t| t & !0x3),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..6),
        )
    }

    proptest! {
        /// Whatever its padding, a packet's canonical form is that of its frames alone, and
        /// reading it back gives the same frames.
        #[test]
        fn padding_never_changes_the_canonical_form(
            (config, frames) in packet(),
            pad in prop::collection::vec(any::<u8>(), 0..600),
        ) {
            let bare = Packet { bytes: &[], config, frames: frames.iter().map(|f| &f[..]).collect(), padding: &[] };
            let plain = bare.with_padding(&[]);
            let padded = bare.with_padding(&pad);
            let a = Packet::parse(&plain).unwrap();
            let b = Packet::parse(&padded).unwrap();
            prop_assert_eq!(a.canonical(), b.canonical());
            prop_assert_eq!(b.padding(), &pad[..]);
            let c = a.canonical();
            let again = Packet::parse(&c).unwrap();
            prop_assert_eq!(again.frames(), a.frames());
            prop_assert_eq!(again.canonical(), c.clone());
        }

        /// Any bytes at all: read or refused, never a panic.
        #[test]
        fn any_bytes_are_read_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(p) = Packet::parse(&bytes) {
                let _ = p.canonical();
                let _ = p.with_padding(&[1, 2, 3]);
            }
        }
    }
}
