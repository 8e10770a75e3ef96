//! Ogg Opus (RFC 7845) as the recordings' container: the Opus packets exactly as the speaker
//! sent them, no re-encoding. A page is written (and handed to the kernel) about every
//! second, so a node that dies mid-speech leaves a file that plays up to its last second.
//!
//! Pages are written by the `ogg` crate's `PacketWriter` over a buffer flushed at each page
//! end (one write per page, as before). Measured against the hand-written writer it replaced,
//! back to back with `cargo bench -p assembly-archive --bench archive`: 0.06 and 0.06
//! CPU-seconds per hour of audio, 14,677,296 and 14,677,323 bytes. The reader stays
//! hand-written: recovery and the tests use it to check every page's CRC.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use ogg::writing::{PacketWriteEndInfo, PacketWriter};

pub use assembly_media::opus::{opus_samples, RATE};

/// Packets per page (50 × 20 ms ≈ one second of audio).
const PACKETS_PER_PAGE: usize = 50;

/// Ogg's page checksum, for the reader (the writer's is the `ogg` crate's).
fn crc32(data: &[u8]) -> u32 {
    // Ogg's CRC: polynomial 0x04c11db7, not reflected, zero initial value.
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Writes one Ogg Opus stream.
pub struct OggOpusWriter {
    // Buffered so each page reaches the kernel in one write (the crate writes a page as
    // header, lacing and every packet separately); flushed at every page end.
    pages: PacketWriter<'static, BufWriter<File>>,
    serial: u32,
    granule: u64,
    /// The latest packet, held back one call: the stream's last packet must be written
    /// with end-of-stream, and only `finish` knows which one is last.
    held: Option<Vec<u8>>,
    /// Packets on the page being gathered (the held one included).
    on_page: usize,
    /// Audio packets written so far.
    pub packets: u64,
}

impl OggOpusWriter {
    /// Creates `path` with the identification and comment headers.
    pub fn create(path: &Path, serial: u32, vendor: &str) -> io::Result<Self> {
        let mut w = Self {
            pages: PacketWriter::new(BufWriter::new(File::create(path)?)),
            serial,
            granule: 0,
            held: None,
            on_page: 0,
            packets: 0,
        };
        let mut head = b"OpusHead".to_vec();
        head.push(1); // version
        head.push(1); // channels: the floor is mono speech; decoders downmix stereo packets
        head.extend_from_slice(&312u16.to_le_bytes()); // pre-skip (Opus encoders' usual)
        head.extend_from_slice(&RATE.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // channel mapping family
                      // RFC 7845: each header on a page of its own, granule 0; the crate marks the first
                      // page beginning-of-stream.
        w.put(head, PacketWriteEndInfo::EndPage, 0)?;
        let mut tags = b"OpusTags".to_vec();
        tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
        tags.extend_from_slice(vendor.as_bytes());
        tags.extend_from_slice(&0u32.to_le_bytes());
        w.put(tags, PacketWriteEndInfo::EndPage, 0)?;
        Ok(w)
    }

    /// Adds one Opus packet.
    pub fn write(&mut self, packet: &[u8]) -> io::Result<()> {
        if let Some(previous) = self.held.take() {
            let end = if self.on_page >= PACKETS_PER_PAGE {
                self.on_page = 0;
                PacketWriteEndInfo::EndPage
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            self.put(previous, end, self.granule)?;
        }
        self.granule += u64::from(opus_samples(packet));
        self.held = Some(packet.to_vec());
        self.on_page += 1;
        self.packets += 1;
        Ok(())
    }

    /// Audio written so far, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.granule * 1000 / u64::from(RATE)
    }

    fn put(&mut self, packet: Vec<u8>, end: PacketWriteEndInfo, granule: u64) -> io::Result<()> {
        let page_ends = end != PacketWriteEndInfo::NormalPacket;
        self.pages.write_packet(packet, self.serial, end, granule)?;
        if page_ends {
            self.pages.inner_mut().flush()?;
        }
        Ok(())
    }

    /// Ends the stream (the last page carries end-of-stream) and syncs the file. A stream
    /// with no audio packet ends after its headers, without an end-of-stream page.
    pub fn finish(mut self) -> io::Result<()> {
        if let Some(last) = self.held.take() {
            self.put(last, PacketWriteEndInfo::EndStream, self.granule)?;
        }
        let file = self
            .pages
            .into_inner()
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

/// Why a file is not a readable Ogg Opus recording.
#[derive(Debug, thiserror::Error)]
pub enum OggError {
    /// The file could not be read.
    #[error("reading: {0}")]
    Io(#[from] io::Error),
    /// The page with this number (from 0) has a bad capture pattern or CRC.
    #[error("page {0}: bad capture pattern or checksum")]
    Corrupt(usize),
}

/// The audio packets of an Ogg Opus file (headers skipped), checking every page's CRC. A
/// trailing partial page (a crash mid-write) ends the stream instead of failing it.
pub fn read_packets(path: &Path) -> Result<Vec<Vec<u8>>, OggError> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    packets(&bytes)
}

/// As [`read_packets`], from the file's bytes.
pub fn packets(bytes: &[u8]) -> Result<Vec<Vec<u8>>, OggError> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut page_no = 0;
    let mut partial: Vec<u8> = Vec::new();
    while at + 27 <= bytes.len() {
        if &bytes[at..at + 4] != b"OggS" {
            return Err(OggError::Corrupt(page_no));
        }
        let segments = bytes[at + 26] as usize;
        let Some(lacing) = bytes.get(at + 27..at + 27 + segments) else {
            break;
        };
        let body_len: usize = lacing.iter().map(|&l| l as usize).sum();
        let end = at + 27 + segments + body_len;
        if end > bytes.len() {
            break;
        }
        let mut page = bytes[at..end].to_vec();
        let stored = u32::from_le_bytes([page[22], page[23], page[24], page[25]]);
        page[22..26].copy_from_slice(&[0; 4]);
        if crc32(&page) != stored {
            return Err(OggError::Corrupt(page_no));
        }
        let mut body = &bytes[at + 27 + segments..end];
        for &l in lacing {
            partial.extend_from_slice(&body[..l as usize]);
            body = &body[l as usize..];
            if l < 255 {
                let p = std::mem::take(&mut partial);
                if !(p.starts_with(b"OpusHead") || p.starts_with(b"OpusTags")) {
                    out.push(p);
                }
            }
        }
        at = end;
        page_no += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_crash_tolerance() {
        let dir = std::env::temp_dir().join(format!("ogg-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.ogg");
        let mut w = OggOpusWriter::create(&path, 7, "assembly").unwrap();
        // 20 ms CELT frames (config 31, code 0), and one 600-byte packet (lacing over 255).
        let mut sent = Vec::new();
        for i in 0..120u32 {
            let mut p = vec![0xf8u8; if i == 60 { 600 } else { 80 }];
            p[1..5].copy_from_slice(&i.to_be_bytes());
            w.write(&p).unwrap();
            sent.push(p);
        }
        assert_eq!(w.duration_ms(), 2400);
        w.finish().unwrap();
        assert_eq!(read_packets(&path).unwrap(), sent);

        // A crash mid-page: what was on complete pages is still read.
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 30]).unwrap();
        let kept = read_packets(&path).unwrap();
        assert_eq!(kept, sent[..100].to_vec());
        // A flipped bit is caught.
        let mut bad = bytes.clone();
        bad[200] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert!(matches!(read_packets(&path), Err(OggError::Corrupt(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
