//! The public broadcast end to end: real speech (espeak-ng, Opus by ffmpeg) from two speakers
//! with a gap between them; the session's HLS playlist is continuous (consecutive segments,
//! program date-times one segment apart), `ffprobe` reads every segment, and the whole
//! stream decodes to as much audio as the wall clock that passed — silence where nobody spoke.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::U256;
use assembly_archive::record::ogg;
use assembly_media::client;
use assembly_media::sdp::Intent;
use assembly_testkit::chain::{open_session, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::node::{node_with, Node};
use assembly_testkit::s3::{fake_s3, Bucket};
use assembly_testkit::siwe::token;

fn node_dir_hls(node: &Node, session: u64) -> std::path::PathBuf {
    node.dir().join("hls").join(session.to_string())
}

fn speech(dir: &std::path::Path, text: &str) -> Vec<Vec<u8>> {
    let wav = dir.join("s.wav");
    let opus = dir.join("s.ogg");
    assert!(Command::new("espeak-ng")
        .arg("-w")
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng")
        .success());
    assert!(Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(&wav)
        .args([
            "-ar",
            "48000",
            "-ac",
            "1",
            "-c:a",
            "libopus",
            "-frame_duration",
            "20"
        ])
        .arg(&opus)
        .status()
        .expect("ffmpeg")
        .success());
    ogg::read_packets(&opus).unwrap()
}

/// Seconds of media in a file (its end minus its start: a segment starts where the last ended).
fn ffprobe_duration(path: &std::path::Path) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=start_time,duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(
        out.status.success(),
        "ffprobe refused {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text
        .trim()
        .split(',')
        .filter_map(|x| x.parse().ok())
        .collect();
    match v.as_slice() {
        [start, duration] => duration - start.max(0.0) + start.min(0.0),
        [duration] => *duration,
        _ => 0.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_is_broadcast_continuously_over_hls() {
    let dir = std::env::temp_dir().join(format!("assembly-broadcast-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let packets: Vec<Arc<[u8]>> = speech(&dir, "Every orchestrator may speak in turn.")
        .into_iter()
        .map(Arc::from)
        .collect();
    let chain = TestChain::start_at(&[], now()).await;
    // A stand-in for S3-compatible storage: keeps what is PUT, checks each request's SigV4
    // signature and each body against its signed SHA-256, honours DELETE.
    let bucket: Bucket = Arc::default();
    let s3 = fake_s3(bucket.clone()).await;
    let node = node_with(
        &chain,
        chain.anvil.endpoint(),
        Duration::from_millis(50),
        |c| {
            c.archive.s3 = Some(assembly_testkit::s3::config(s3));
        },
    )
    .await;
    let started = now();
    let session = open_session(&chain, started, 3).await;
    let whip = format!("{}/api/v1/sessions/{session}/whip", node.base);
    // Two speakers, the second asking only after the first's slot: silence in between.
    for (k, delay) in [(1usize, 1u64), (2, 6)] {
        let t = token(&node, &chain, k).await;
        let p = client::persistent(
            reqwest::Client::new(),
            whip.clone(),
            Some(t),
            Intent::Publish,
            Arc::new(|_: &[u8], _| {}),
        );
        let frames = p.frames.clone().unwrap();
        let packets = packets.clone();
        tokio::spawn(async move {
            let _keep = p;
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            for packet in packets.iter().cycle() {
                tick.tick().await;
                if frames.send(packet.clone()).await.is_err() {
                    return;
                }
            }
        });
        tokio::time::sleep(Duration::from_secs(delay)).await;
        assert!(
            chain
                .try_send(
                    chain.assembly.enqueue(U256::from(session)),
                    chain.accounts[k]
                )
                .await
        );
    }
    tokio::time::sleep(Duration::from_secs(5)).await;

    // Twelve whole segments: the stream begins with the first packet, a moment after the
    // session, and a segment is listed once it is whole, so the twelfth may land a second
    // after the twelfth second (a read at once found eleven on a loaded machine).
    let base = format!("{}/hls/{session}", node.base);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let playlist = loop {
        let playlist = node
            .client
            .get(format!("{base}/index.m3u8"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let whole = playlist.lines().filter(|l| l.ends_with(".m4s")).count();
        if whole >= 12 || std::time::Instant::now() >= deadline {
            break playlist;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let segments: Vec<&str> = playlist.lines().filter(|l| l.ends_with(".m4s")).collect();
    let pdts: Vec<i64> = playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXT-X-PROGRAM-DATE-TIME:"))
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .unwrap()
                .timestamp_millis()
        })
        .collect();
    let total: f64 = playlist
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .map(|d| d.trim_end_matches(',').parse::<f64>().unwrap())
        .sum();
    eprintln!(
        "{} segments, {total:.2} s of media over {} s of session",
        segments.len(),
        now() - started
    );
    assert!(segments.len() >= 12, "{playlist}");
    assert!(
        !playlist.contains("DISCONTINUITY\n"),
        "no break in one node's stream"
    );
    for w in pdts.windows(2) {
        let step = w[1] - w[0];
        assert!(
            (980..=1100).contains(&step),
            "segments one second apart: {step} ms"
        );
    }
    let init = node
        .client
        .get(format!("{base}/init.mp4"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut whole = init.to_vec();
    for (i, seg) in segments.iter().enumerate() {
        let bytes = node
            .client
            .get(format!("{base}/{seg}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let one = dir.join(format!("one{i}.mp4"));
        std::fs::write(&one, [init.as_ref(), bytes.as_ref()].concat()).unwrap();
        let d = ffprobe_duration(&one);
        assert!((0.9..1.2).contains(&d), "segment {seg}: {d} s");
        whole.extend_from_slice(&bytes);
    }
    let all = dir.join("all.mp4");
    std::fs::write(&all, &whole).unwrap();
    let wav = dir.join("all.wav");
    let decoded = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(&all)
        .arg(&wav)
        .status()
        .unwrap();
    assert!(decoded.success(), "the whole stream decodes");
    let d = ffprobe_duration(&wav);
    assert!((d - total).abs() < 0.5, "decoded {d} s of {total} s");

    // The bucket holds the same stream: every segment the playlist names, byte for byte.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = bucket.lock().unwrap().clone();
    let key = |f: &str| format!("broadcast/hls/{session}/{f}");
    assert_eq!(stored.get(&key("init.mp4")).map(Vec::len), Some(init.len()));
    let mut keys: Vec<&String> = stored.keys().collect();
    keys.sort();
    let m = node
        .client
        .get(format!("{}/metrics", node.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let s3_lines: Vec<&str> = m.lines().filter(|l| l.starts_with("assembly_s3")).collect();
    let copy = String::from_utf8(
        stored
            .get(&key("index.m3u8"))
            .unwrap_or_else(|| panic!("no playlist in the bucket: {keys:?} {s3_lines:?}"))
            .clone(),
    )
    .unwrap();
    let named: Vec<&str> = copy.lines().filter(|l| l.ends_with(".m4s")).collect();
    assert!(
        named.len() >= segments.len() - 1,
        "bucket playlist current: {copy}"
    );
    for seg in named {
        let local = std::fs::read(node_dir_hls(&node, session).join(seg)).unwrap();
        assert_eq!(stored.get(&key(seg)), Some(&local), "{seg} in the bucket");
    }
    eprintln!("bucket: {} objects", stored.len());
    let _ = std::fs::remove_dir_all(&dir);
}
