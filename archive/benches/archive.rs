//! What the broadcast and the archive cost (`cargo bench -p assembly-archive --bench archive`):
//! one hour of 20 ms Opus packets (180,000, 80 bytes each, as a 32 kb/s speaker sends) pushed
//! through the HLS segmenter (fMP4 segments, playlist, state) and the recorder's Ogg writer,
//! files on the local disk. Reports CPU seconds per hour of audio for each, from the
//! process's own CPU clock, in one run.

use std::sync::Arc;
use std::time::Instant;

use assembly_archive::hls::Stream;
use assembly_archive::record::ogg::OggOpusWriter;

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn main() {
    let dir = std::env::temp_dir().join(format!("assembly-bench-archive-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let packets = 180_000u64;
    let packet: Arc<[u8]> = {
        let mut p = vec![0x5au8; 80];
        p[0] = 0xf8; // CELT 20 ms, one frame
        Arc::from(p)
    };

    let (c0, t0) = (cpu_seconds(), Instant::now());
    let mut hls = Stream::open(dir.join("hls")).unwrap();
    for _ in 0..packets {
        hls.push(packet.clone());
    }
    let (c1, t1) = (cpu_seconds(), Instant::now());
    let mut ogg = OggOpusWriter::create(&dir.join("speech.ogg"), 1, "bench").unwrap();
    for _ in 0..packets {
        ogg.write(&packet).unwrap();
    }
    ogg.finish().unwrap();
    let (c2, t2) = (cpu_seconds(), Instant::now());
    let segments = std::fs::read_dir(dir.join("hls"))
        .map(|d| d.count())
        .unwrap_or(0);
    let report = serde_json::json!({
        "audio_hours": 1,
        "packets": packets,
        "hls_cpu_seconds_per_hour": ((c1 - c0) * 100.0).round() / 100.0,
        "hls_wall_seconds": ((t1 - t0).as_secs_f64() * 100.0).round() / 100.0,
        "hls_files_on_disk": segments,
        "recording_cpu_seconds_per_hour": ((c2 - c1) * 100.0).round() / 100.0,
        "recording_wall_seconds": ((t2 - t1).as_secs_f64() * 100.0).round() / 100.0,
        "recording_bytes": std::fs::metadata(dir.join("speech.ogg")).map(|m| m.len()).unwrap_or(0),
    });
    println!("{report}");
    let _ = std::fs::remove_dir_all(&dir);
}
