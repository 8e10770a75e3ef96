//! Fragmented MP4 (CMAF) with Opus, as "Encapsulation of Opus in ISO Base Media File Format"
//! lays it out: an init segment (`ftyp` + `moov` with an `Opus` sample entry and its `dOps`)
//! and media segments (`moof` + `mdat`), one sample per Opus packet, 48 kHz timescale.
//! Opus in fMP4 rather than AAC: no transcoding at all (the speaker's packets go to the
//! broadcast as they are), and every current browser, hls.js and Safari 17+ play it.

/// The 48 kHz media timescale.
pub const TIMESCALE: u32 = 48_000;

fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(body.len() + 8);
    b.extend_from_slice(&((body.len() + 8) as u32).to_be_bytes());
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

fn full(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut v = vec![version];
    v.extend_from_slice(&flags.to_be_bytes()[1..]);
    v.extend_from_slice(body);
    boxed(kind, &v)
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

fn matrix() -> Vec<u8> {
    MATRIX.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// The init segment for one Opus track of `channels` channels.
pub fn init_segment(channels: u8) -> Vec<u8> {
    let ftyp = boxed(
        b"ftyp",
        &cat(&[
            b"iso6".to_vec(),
            0u32.to_be_bytes().to_vec(),
            b"iso6cmfcmp41".to_vec(),
        ]),
    );
    let mut mvhd = Vec::new();
    mvhd.extend_from_slice(&0u32.to_be_bytes()); // creation
    mvhd.extend_from_slice(&0u32.to_be_bytes()); // modification
    mvhd.extend_from_slice(&TIMESCALE.to_be_bytes());
    mvhd.extend_from_slice(&0u32.to_be_bytes()); // duration: fragmented
    mvhd.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // rate 1.0
    mvhd.extend_from_slice(&0x0100u16.to_be_bytes()); // volume 1.0
    mvhd.extend_from_slice(&[0; 10]);
    mvhd.extend_from_slice(&matrix());
    mvhd.extend_from_slice(&[0; 24]);
    mvhd.extend_from_slice(&2u32.to_be_bytes()); // next track id
    let mvhd = full(b"mvhd", 0, 0, &mvhd);

    let mut tkhd = Vec::new();
    tkhd.extend_from_slice(&[0; 8]); // creation, modification
    tkhd.extend_from_slice(&1u32.to_be_bytes()); // track id
    tkhd.extend_from_slice(&[0; 4]);
    tkhd.extend_from_slice(&0u32.to_be_bytes()); // duration
    tkhd.extend_from_slice(&[0; 8]);
    tkhd.extend_from_slice(&0u16.to_be_bytes()); // layer
    tkhd.extend_from_slice(&0u16.to_be_bytes()); // alternate group
    tkhd.extend_from_slice(&0x0100u16.to_be_bytes()); // volume
    tkhd.extend_from_slice(&[0; 2]);
    tkhd.extend_from_slice(&matrix());
    tkhd.extend_from_slice(&[0; 8]); // width, height
    let tkhd = full(b"tkhd", 0, 0x7, &tkhd);

    let mut mdhd = Vec::new();
    mdhd.extend_from_slice(&[0; 8]);
    mdhd.extend_from_slice(&TIMESCALE.to_be_bytes());
    mdhd.extend_from_slice(&0u32.to_be_bytes());
    mdhd.extend_from_slice(&0x55c4u16.to_be_bytes()); // "und"
    mdhd.extend_from_slice(&[0; 2]);
    let mdhd = full(b"mdhd", 0, 0, &mdhd);
    let hdlr = full(
        b"hdlr",
        0,
        0,
        &cat(&[
            vec![0; 4],
            b"soun".to_vec(),
            vec![0; 12],
            b"Assembly floor\0".to_vec(),
        ]),
    );

    let mut dops = vec![0u8, channels];
    dops.extend_from_slice(&312u16.to_be_bytes()); // pre-skip
    dops.extend_from_slice(&TIMESCALE.to_be_bytes()); // input sample rate
    dops.extend_from_slice(&0i16.to_be_bytes()); // output gain
    dops.push(0); // channel mapping family
    let dops = boxed(b"dOps", &dops);
    let mut entry = vec![0u8; 6];
    entry.extend_from_slice(&1u16.to_be_bytes()); // data reference index
    entry.extend_from_slice(&[0; 8]);
    entry.extend_from_slice(&u16::from(channels).to_be_bytes());
    entry.extend_from_slice(&16u16.to_be_bytes()); // sample size
    entry.extend_from_slice(&[0; 4]);
    entry.extend_from_slice(&(TIMESCALE << 16).to_be_bytes());
    entry.extend_from_slice(&dops);
    let opus = boxed(b"Opus", &entry);
    let stsd = full(b"stsd", 0, 0, &cat(&[1u32.to_be_bytes().to_vec(), opus]));
    let empty = |k: &[u8; 4]| full(k, 0, 0, &0u32.to_be_bytes());
    let stsz = full(b"stsz", 0, 0, &[0u8; 8]);
    let stbl = boxed(
        b"stbl",
        &cat(&[stsd, empty(b"stts"), empty(b"stsc"), stsz, empty(b"stco")]),
    );
    let dref = full(
        b"dref",
        0,
        0,
        &cat(&[1u32.to_be_bytes().to_vec(), full(b"url ", 0, 1, &[])]),
    );
    let dinf = boxed(b"dinf", &dref);
    let smhd = full(b"smhd", 0, 0, &[0; 4]);
    let minf = boxed(b"minf", &cat(&[smhd, dinf, stbl]));
    let mdia = boxed(b"mdia", &cat(&[mdhd, hdlr, minf]));
    let trak = boxed(b"trak", &cat(&[tkhd, mdia]));
    let mut trex = Vec::new();
    trex.extend_from_slice(&1u32.to_be_bytes()); // track
    trex.extend_from_slice(&1u32.to_be_bytes()); // sample description
    trex.extend_from_slice(&960u32.to_be_bytes()); // default duration
    trex.extend_from_slice(&0u32.to_be_bytes()); // default size
    trex.extend_from_slice(&0u32.to_be_bytes()); // default flags
    let mvex = boxed(b"mvex", &full(b"trex", 0, 0, &trex));
    let moov = boxed(b"moov", &cat(&[mvhd, trak, mvex]));
    cat(&[ftyp, moov])
}

/// One media segment: `samples` (Opus packet, duration in 48 kHz ticks) starting at
/// `decode_time`, as fragment number `sequence`.
pub fn media_segment(sequence: u32, decode_time: u64, samples: &[(&[u8], u32)]) -> Vec<u8> {
    let mfhd = full(b"mfhd", 0, 0, &sequence.to_be_bytes());
    // default-base-is-moof: data offsets count from the moof's first byte.
    let tfhd = full(b"tfhd", 0, 0x02_0000, &1u32.to_be_bytes());
    let tfdt = full(b"tfdt", 1, 0, &decode_time.to_be_bytes());
    let trun_len = 8 + 4 + 4 + 4 + samples.len() * 8;
    let traf_len = 8 + tfhd.len() + tfdt.len() + trun_len;
    let moof_len = 8 + mfhd.len() + traf_len;
    let mut trun = Vec::with_capacity(trun_len);
    trun.extend_from_slice(&(samples.len() as u32).to_be_bytes());
    trun.extend_from_slice(&((moof_len + 8) as u32).to_be_bytes()); // data offset: past mdat's header
    for (data, duration) in samples {
        trun.extend_from_slice(&duration.to_be_bytes());
        trun.extend_from_slice(&(data.len() as u32).to_be_bytes());
    }
    let trun = full(b"trun", 0, 0x000301, &trun);
    let traf = boxed(b"traf", &cat(&[tfhd, tfdt, trun]));
    let moof = boxed(b"moof", &cat(&[mfhd, traf]));
    debug_assert_eq!(moof.len(), moof_len);
    let body: Vec<u8> = samples
        .iter()
        .flat_map(|(d, _)| d.iter().copied())
        .collect();
    cat(&[moof, boxed(b"mdat", &body)])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks top-level boxes: (type, size).
    fn boxes(b: &[u8]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at + 8 <= b.len() {
            let size = u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
            out.push((
                String::from_utf8_lossy(&b[at + 4..at + 8]).to_string(),
                size,
            ));
            assert!(size >= 8 && at + size <= b.len(), "box overruns");
            at += size;
        }
        assert_eq!(at, b.len());
        out
    }

    #[test]
    fn well_formed_boxes() {
        let init = init_segment(2);
        let kinds: Vec<String> = boxes(&init).into_iter().map(|b| b.0).collect();
        assert_eq!(kinds, vec!["ftyp", "moov"]);
        let p = [0xf8u8, 0xff, 0xfe];
        let seg = media_segment(3, 48_000, &[(&p, 960), (&p, 960)]);
        let kinds: Vec<String> = boxes(&seg).into_iter().map(|b| b.0).collect();
        assert_eq!(kinds, vec!["moof", "mdat"]);
        // The data offset points at the first sample.
        let moof_len = boxes(&seg)[0].1;
        assert_eq!(&seg[moof_len + 8..moof_len + 11], &p);
    }
}
