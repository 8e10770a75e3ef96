//! `assembly`: what anyone can run against an Assembly, with no node of their own.
//!
//! ```text
//! assembly verify <recording.ogg | speech URL> [--rpc URL] [--assembly ADDRESS] [--json]
//! ```
//!
//! `verify` checks that a recorded speech was spoken by the address that held the floor:
//! its speaking key certified by that wallet for the session, every frame signed by that
//! key inside the slot, nothing altered (see `assembly_node::verify`). A speech URL is a
//! node's `/api/v1/archive/speeches/{id}` (or its `/audio`); the chain is asked at `--rpc`,
//! or, when that is not given, at the RPC the node names in its `/api/v1/config`, which is
//! then said plainly, since a node that lies could name a chain that agrees with it.
//! Exit status: 0 verified, 1 checked and not verified, 2 not checked (an error).

use std::process::ExitCode;

use alloy::primitives::Address;
use anyhow::{bail, Context};
use assembly_node::verify::{self, Anchored, Chain, Proof, Report, Transcript};
use serde_json::Value;
use sha2::Digest;

struct Args {
    target: String,
    rpc: Option<String>,
    assembly: Option<Address>,
    json: bool,
}

fn usage() -> &'static str {
    "assembly verify <recording.ogg | speech URL> [--rpc URL] [--assembly ADDRESS] [--json]"
}

fn args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    match it.next().as_deref() {
        Some("verify") => {}
        Some("-h" | "--help") | None => {
            println!("{}", usage());
            std::process::exit(0);
        }
        Some(other) => bail!("unknown command {other}: {}", usage()),
    }
    let mut a = Args {
        target: String::new(),
        rpc: None,
        assembly: None,
        json: false,
    };
    while let Some(arg) = it.next() {
        let mut v = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--rpc" => a.rpc = Some(v()?),
            "--assembly" => a.assembly = Some(v()?.parse().context("--assembly: an address")?),
            "--json" => a.json = true,
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            t if a.target.is_empty() && !t.starts_with("--") => a.target = t.to_string(),
            other => bail!("unexpected argument {other}: {}", usage()),
        }
    }
    if a.target.is_empty() {
        bail!("what to verify is missing: {}", usage());
    }
    Ok(a)
}

/// The recording's bytes, and the node that served it (for a URL).
async fn fetch(http: &reqwest::Client, target: &str) -> anyhow::Result<(Vec<u8>, Option<String>)> {
    if !(target.starts_with("http://") || target.starts_with("https://")) {
        let bytes = std::fs::read(target).with_context(|| format!("reading {target}"))?;
        return Ok((bytes, None));
    }
    let speech = target.trim_end_matches('/').trim_end_matches("/audio");
    let origin = speech
        .find("/api/")
        .map(|i| speech[..i].to_string())
        .context("a speech URL names /api/v1/archive/speeches/{id}")?;
    let r = http
        .get(format!("{speech}/audio"))
        .send()
        .await
        .with_context(|| format!("fetching {speech}/audio"))?;
    if !r.status().is_success() {
        bail!("{speech}/audio answered {}", r.status());
    }
    Ok((r.bytes().await?.to_vec(), Some(origin)))
}

/// Where to ask the chain: the flags, or what the node that served the speech names.
async fn chain(http: &reqwest::Client, a: &Args, node: Option<&str>) -> anyhow::Result<Chain> {
    let (rpc, assembly) = match (&a.rpc, a.assembly, node) {
        (Some(rpc), Some(assembly), _) => (rpc.clone(), assembly),
        (rpc, assembly, Some(node)) => {
            let c: Value = http
                .get(format!("{node}/api/v1/config"))
                .send()
                .await?
                .json()
                .await
                .context("the node's /api/v1/config")?;
            let assembly = match assembly {
                Some(a) => a,
                None => c["assembly"]
                    .as_str()
                    .context("config names no assembly")?
                    .parse()?,
            };
            let rpc = match rpc {
                Some(r) => r.clone(),
                None => {
                    let r = c["rpcUrl"].as_str().context("config names no RPC")?;
                    eprintln!("asking the chain at {r}, the RPC the node names (pass --rpc to ask your own)");
                    r.to_string()
                }
            };
            (rpc, assembly)
        }
        _ => bail!("a recording file needs --rpc and --assembly: the chain to check it against"),
    };
    Ok(Chain::connect(&rpc, assembly).await?)
}

/// The speech's proof and its transcript at the proof's revision, from the node that
/// served it: `None` when its occurrence has no record yet.
async fn proof(
    http: &reqwest::Client,
    target: &str,
) -> anyhow::Result<Option<(Proof, Option<Transcript>)>> {
    let speech = target.trim_end_matches('/').trim_end_matches("/audio");
    let r = http.get(format!("{speech}/proof")).send().await?;
    if r.status().as_u16() == 409 {
        return Ok(None);
    }
    if !r.status().is_success() {
        bail!("{speech}/proof answered {}", r.status());
    }
    let proof: Proof = r.json().await.context("the proof")?;
    // Every revision of the transcript, to check the leaf's against its digest (and a
    // correction against its speaker's signature).
    let revisions: Value = http
        .get(format!("{speech}/transcript"))
        .send()
        .await?
        .json()
        .await
        .unwrap_or(Value::Null);
    let transcript = revisions["revisions"]
        .as_array()
        .and_then(|l| {
            // The text of the leaf's revision whose digest is the leaf's (a revision may
            // have two texts its speaker signed); else that revision's text, to be found
            // not to match.
            let digest = proof.leaf.transcript_digest.to_string();
            let of_revision = |r: &&Value| r["revision"] == proof.leaf.revision;
            l.iter()
                .filter(of_revision)
                .find(|r| r["transcriptDigest"].as_str() == Some(digest.as_str()))
                .or_else(|| l.iter().find(of_revision))
        })
        .and_then(|r| {
            Some(Transcript {
                text: r["text"].as_str()?.to_string(),
                signature: r["signature"].as_str().and_then(|s| s.parse().ok()),
            })
        });
    Ok(Some((proof, transcript)))
}

fn print_anchor(a: &Anchored) {
    println!(
        "record     root {} attested by {} member(s); {} root(s) anchored for the occurrence",
        a.root, a.attestations, a.roots
    );
    println!("           RecordAnchor.verify: {}", a.verified_on_chain);
    match (a.revision, a.corrected_by) {
        (0, _) => println!("transcript revision 0, as transcribed"),
        (n, Some(by)) => {
            println!("transcript revision {n}, corrected and signed by the speaker {by}")
        }
        (n, None) => println!("transcript revision {n}, NOT shown to be signed by the speaker"),
    }
    if !a.mismatches.is_empty() {
        println!(
            "           leaf disagrees with the recording on {}",
            a.mismatches.join(", ")
        );
    }
}

fn print(r: &Report, sha256: &str) {
    let f = &r.frames;
    println!("recording  sha256 {sha256}");
    println!(
        "speaker    {} held the floor of session {} (occurrence {}) from {} to {}",
        r.holder, r.session, r.occurrence, r.slot.0, r.slot.1
    );
    println!(
        "key        {} certified by {}{}",
        r.key,
        r.certified_by,
        match (r.certified_by == r.holder, r.contract_wallet) {
            (true, true) => " (the holder's contract wallet, by EIP-1271)",
            (true, false) => " (the holder)",
            _ => " (NOT the holder)",
        }
    );
    println!(
        "frames     {} signed, {} unsigned, {} altered, {} unattested",
        f.signed, f.unsigned, f.altered, f.unattested
    );
    if let Some(t) = r.tainted {
        println!("tainted    {t}");
    }
    if !r.refused.is_empty() {
        println!("refused    {}", r.refused.join(", "));
    }
    println!("attestation digest {}", r.attestation_digest);
}

async fn run() -> anyhow::Result<bool> {
    let a = args()?;
    let http = reqwest::Client::new();
    let (bytes, node) = fetch(&http, &a.target).await?;
    let packets =
        assembly_archive::record::ogg::packets(&bytes).context("reading the Ogg Opus recording")?;
    let chain = chain(&http, &a, node.as_deref()).await?;
    let report = verify::speech(&packets, &chain).await?;
    let digest = alloy::primitives::B256::from_slice(&sha2::Sha256::digest(&bytes));
    let sha256 = alloy::hex::encode(digest);
    let anchored = match node {
        Some(_) => match proof(&http, &a.target).await? {
            Some((p, transcript)) => Some(
                chain
                    .anchored(&p, &report, digest, transcript.as_ref())
                    .await?,
            ),
            None => None,
        },
        None => None,
    };
    let verified = report.verified() && anchored.as_ref().is_none_or(Anchored::holds);
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["sha256"] = sha256.into();
        v["record"] = serde_json::to_value(&anchored)?;
        v["verified"] = verified.into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print(&report, &sha256);
        match &anchored {
            Some(an) => print_anchor(an),
            None if node.is_some() => println!("record     its occurrence has no record yet"),
            None => {}
        }
        println!(
            "{}",
            if verified {
                "VERIFIED: these bytes were spoken by the floor holder in their slot"
            } else {
                "NOT VERIFIED"
            }
        );
    }
    Ok(verified)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        // Checked, and found to carry no proof: not verified, rather than not checked.
        Err(e)
            if matches!(
                e.downcast_ref::<verify::VerifyError>(),
                Some(verify::VerifyError::Unsigned | verify::VerifyError::NoBatch)
            ) =>
        {
            println!("NOT VERIFIED: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("assembly verify: {e:#}");
            ExitCode::from(2)
        }
    }
}
