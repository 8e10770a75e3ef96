//! What the node knows of Opus: it never decodes audio, but it reads a packet's duration
//! from its TOC byte (RFC 6716 §3.1) to date recordings and HLS segments, fills gaps with a
//! silent frame, and finds the payload type a peer negotiated for it.

use str0m::format::Codec;
use str0m::media::{Mid, Pt};
use str0m::Rtc;

/// Opus at 48 kHz: RTP timestamps, Ogg granules and fMP4 ticks all count these samples.
pub const RATE: u32 = 48_000;

/// 20 ms of Opus silence (CELT, one frame): what fills the gaps between speakers.
pub const SILENCE: [u8; 3] = [0xf8, 0xff, 0xfe];

/// Samples (at 48 kHz) in one Opus packet, from its TOC byte (RFC 6716 §3.1).
pub fn opus_samples(packet: &[u8]) -> u32 {
    let Some(&toc) = packet.first() else {
        return 0;
    };
    let config = toc >> 3;
    let frame: u32 = match config {
        0..=11 => [480, 960, 1920, 2880][(config % 4) as usize], // SILK: 10/20/40/60 ms
        12..=15 => [480, 960][(config % 2) as usize],            // hybrid: 10/20 ms
        _ => [120, 240, 480, 960][(config % 4) as usize],        // CELT: 2.5/5/10/20 ms
    };
    let frames = match toc & 0x3 {
        0 => 1,
        1 | 2 => 2,
        _ => packet.get(1).map_or(0, |b| u32::from(b & 0x3f)),
    };
    frame * frames
}

/// The payload type the peer negotiated for Opus on `mid`.
pub(crate) fn opus_pt(rtc: &mut Rtc, mid: Mid) -> Option<Pt> {
    rtc.writer(mid).and_then(|w| {
        w.payload_params()
            .find(|p| p.spec().codec == Codec::Opus)
            .map(|p| p.pt())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_from_the_toc() {
        assert_eq!(opus_samples(&[0xf8]), 960); // CELT 20 ms, one frame
        assert_eq!(opus_samples(&[0xf9]), 1920); // two frames
        assert_eq!(opus_samples(&[0x08]), 960); // SILK NB 20 ms
        assert_eq!(opus_samples(&[0x1b, 0x03]), 8640); // SILK 60 ms, code 3, 3 frames
        assert_eq!(opus_samples(&[]), 0);
    }

    #[test]
    fn silence_is_one_20_ms_frame() {
        assert_eq!(opus_samples(&SILENCE), 960);
    }
}
