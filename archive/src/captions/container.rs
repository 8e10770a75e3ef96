//! A chunk as the engine takes it: a short Ogg Opus file (RFC 7845) built in memory, the
//! packets exactly as the speaker sent them. Both backends take Ogg Opus, as for whole
//! speeches; nothing is decoded or re-encoded.

use std::io::Cursor;

use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use assembly_media::opus::{opus_samples, RATE};

/// The Ogg Opus file holding `packets`, stream `serial`.
pub fn ogg_opus(packets: &[std::sync::Arc<[u8]>], serial: u32) -> Vec<u8> {
    let mut w = PacketWriter::new(Cursor::new(Vec::new()));
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(1); // channels: the floor is mono speech
    head.extend_from_slice(&312u16.to_le_bytes()); // pre-skip
    head.extend_from_slice(&RATE.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // channel mapping family
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&8u32.to_le_bytes());
    tags.extend_from_slice(b"Assembly");
    tags.extend_from_slice(&0u32.to_le_bytes());
    // Writing into a Vec cannot fail; the results are checked all the same.
    let mut ok = w
        .write_packet(head, serial, PacketWriteEndInfo::EndPage, 0)
        .is_ok()
        && w.write_packet(tags, serial, PacketWriteEndInfo::EndPage, 0)
            .is_ok();
    let mut granule = 0u64;
    for (i, p) in packets.iter().enumerate() {
        granule += u64::from(opus_samples(p));
        let end = if i + 1 == packets.len() {
            PacketWriteEndInfo::EndStream
        } else if (i + 1) % 50 == 0 {
            PacketWriteEndInfo::EndPage
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        ok &= w.write_packet(p.to_vec(), serial, end, granule).is_ok();
    }
    if !ok {
        return Vec::new();
    }
    w.into_inner().into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ogg::read_packets;

    #[test]
    fn the_packets_read_back() {
        let packets: Vec<std::sync::Arc<[u8]>> =
            (0..120u8).map(|i| vec![0xf8, i, i, i].into()).collect();
        let bytes = ogg_opus(&packets, 9);
        let path = std::env::temp_dir().join(format!("captions-ogg-{}.ogg", std::process::id()));
        std::fs::write(&path, &bytes).unwrap();
        let back = read_packets(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert_eq!(back.len(), 120);
        assert_eq!(back[7], vec![0xf8, 7, 7, 7]);
    }
}
