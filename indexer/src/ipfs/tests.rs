//! The verifier against real dag-pb/UnixFS blocks and a gateway stand-in that lies, fails
//! and withholds.
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use proptest::prelude::*;

use super::*;

/// `$result` is an `Err` matching `$kind`, retryable or not as `$retry` says.
macro_rules! fails {
    ($result:expr, $kind:pat, $retry:expr) => {{
        let err = $result.unwrap_err();
        let ok = matches!(err, $kind) && err.is_retryable() == $retry;
        assert!(ok, "{err:?}");
    }};
}

fn field(number: u64, wire: u64, value: &[u8], out: &mut Vec<u8>) {
    let varint = |mut v: u64, out: &mut Vec<u8>| {
        for _ in 0..9 {
            if v < 0x80 {
                break;
            }
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    };
    varint(number << 3 | wire, out);
    if wire == 2 {
        varint(value.len() as u64, out);
        out.extend_from_slice(value);
    } else {
        varint(u64::from_le_bytes(value.try_into().unwrap()), out);
    }
}

/// A dag-pb node holding UnixFS file data, laid out as go-ipfs does (links first).
fn file_node(links: &[(Cid, u64)], data: &[u8], filesize: u64) -> Vec<u8> {
    let (mut unixfs, mut node) = (Vec::new(), Vec::new());
    field(1, 0, &2u64.to_le_bytes(), &mut unixfs);
    field(2, 2, data, &mut unixfs);
    field(3, 0, &filesize.to_le_bytes(), &mut unixfs);
    for (cid, size) in links {
        field(4, 0, &size.to_le_bytes(), &mut unixfs);
        let mut link = Vec::new();
        field(1, 2, &cid.to_bytes(), &mut link);
        field(2, 2, b"", &mut link);
        field(3, 0, &size.to_le_bytes(), &mut link);
        field(2, 2, &link, &mut node);
    }
    field(1, 2, &unixfs, &mut node);
    node
}

fn cid(v1: bool, codec: u64, block: &[u8]) -> Cid {
    let digest = Sha256::digest(block).into();
    Cid { v1, codec, digest }
}

fn leaf(data: &[u8]) -> (Cid, Reply) {
    let block = file_node(&[], data, data.len() as u64);
    (cid(false, DAG_PB, &block), Reply::Block(block))
}

#[derive(Clone)]
enum Reply {
    Block(Vec<u8>),
    Status(u16),
    Typed(&'static str, Vec<u8>),
    Slow,
}

/// A trustless-gateway stand-in on 127.0.0.1 serving `replies` by CID string.
async fn gateway(replies: Vec<(Cid, Reply)>) -> Gateway {
    let replies = replies.into_iter().map(|(c, r)| (c.to_string(), r));
    let replies: Arc<HashMap<_, _>> = Arc::new(replies.collect());
    let serve = move |Path(cid): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap| {
        let reply = replies.get(&cid).cloned();
        async move { serve(reply, query, &headers).await }
    };
    let app = axum::Router::new().route("/ipfs/{cid}", axum::routing::get(serve));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Gateway::new(format!("http://{addr}/"), Duration::from_millis(500)).unwrap()
}

async fn serve(reply: Option<Reply>, query: Option<String>, headers: &HeaderMap) -> Response {
    let accept = headers.get("accept").map(|a| a.as_bytes());
    if accept != Some(b"application/vnd.ipld.raw") || query.as_deref() != Some("format=raw") {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    match reply {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(Reply::Block(block)) => {
            ([("content-type", "application/vnd.ipld.raw")], block).into_response()
        }
        Some(Reply::Typed(kind, body)) => ([("content-type", kind)], body).into_response(),
        Some(Reply::Status(s)) => StatusCode::from_u16(s).unwrap().into_response(),
        Some(Reply::Slow) => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::OK.into_response()
        }
    }
}

async fn fetch(replies: Vec<(Cid, Reply)>, root: Cid) -> Result<Vec<u8>, IpfsError> {
    gateway(replies).await.fetch_file(root).await
}

const LIP_89: &str =
    "---\nlip: 89\ntitle: \"Treasury parameters\"\nauthor: x\n---\n\n## Abstract\n";

#[test]
fn known_answer_cids() {
    // The empty UnixFS directory, and the empty raw block (sha2-256 of nothing).
    let dir = [0x0a, 0x02, 0x08, 0x01];
    let cases = [
        (
            cid(false, DAG_PB, &dir),
            "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn",
        ),
        (
            cid(true, DAG_PB, &dir),
            "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354",
        ),
        (
            cid(true, RAW, b""),
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
        ),
    ];
    for (cid, expected) in cases {
        assert_eq!(cid.to_string(), expected);
        assert_eq!(expected.parse::<Cid>().unwrap(), cid);
    }
}

#[test]
fn proposal_forms() {
    let qm = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
    let v0: Cid = qm.parse().unwrap();
    let v1 = Cid { v1: true, ..v0 };
    for (form, expected) in [
        (qm.as_bytes().to_vec(), v0),
        (format!(" ipfs://{qm}\0\0\n").into_bytes(), v0),
        (format!("/ipfs/{qm}").into_bytes(), v0),
        (v0.to_bytes(), v0),
        (v1.to_bytes(), v1),
        ([&[0][..], &v1.to_bytes()].concat(), v1),
        (v1.to_string().to_uppercase().into_bytes(), v1),
    ] {
        assert_eq!(cid_of_proposal(&form).unwrap(), expected, "{form:?}");
    }
    let bad: [&[u8]; 6] = [
        b"",
        b"not a cid",
        b"Qm123",
        &[0xff; 40],
        &[0x12, 0x20, 1],
        &[2, 0x70],
    ];
    for bad in bad {
        fails!(cid_of_proposal(bad), IpfsError::BadProposal(_), false);
    }
    // sha2-512, base16 and dag-cbor are well-formed but not ours to handle.
    let sha512 = [&[1, 0x55, 0x13, 0x40][..], &[7; 64]].concat();
    let sha512_b32 = format!("b{}", BASE32_NOPAD.encode(&sha512).to_ascii_lowercase());
    let base16 = "f01551220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let dag_cbor = [1, 0x71, 0x12, 0x20];
    for unsupported in [
        &sha512[..],
        sha512_b32.as_bytes(),
        base16.as_bytes(),
        &dag_cbor,
    ] {
        fails!(
            cid_of_proposal(unsupported),
            IpfsError::Unsupported(_),
            false
        );
    }
}

#[test]
fn front_matter_forms() {
    let title = |s: &str| Some(s.to_owned());
    assert_eq!(
        front_matter(LIP_89),
        (Some(89), title("Treasury parameters"))
    );
    let preamble = "\n    LIP: 16\n    Title: Polling\n\n## Abstract";
    assert_eq!(front_matter(preamble), (Some(16), title("Polling")));
    let fenced = "---\nlip: 'LIP-7'\n---\ntitle: body, not header";
    assert_eq!(front_matter(fenced), (Some(7), None));
    assert_eq!(front_matter("just text\n"), (None, None));
}

#[tokio::test]
async fn single_block_json_lip() {
    let json = serde_json::json!({ "gitCommitHash": "0123abcd", "text": LIP_89 }).to_string();
    let (root, block) = leaf(json.as_bytes());
    let gw = gateway(vec![(root, block)]).await;
    let lip = gw.fetch_lip(root.to_string().as_bytes()).await.unwrap();
    let expected = Lip {
        cid: root.to_string(),
        number: Some(89),
        title: Some("Treasury parameters".into()),
        text: LIP_89.into(),
    };
    assert_eq!(lip, expected);
    assert_eq!(gw.fetch_lip(&root.to_bytes()).await.unwrap(), expected);
}

/// root (CIDv1 dag-pb) → [dag-pb leaf, raw leaf, node → [leaf, leaf]], content in link order.
fn multi_block(content: &[u8]) -> (Cid, Vec<(Cid, Reply)>) {
    let parts: Vec<&[u8]> = content.chunks(content.len().div_ceil(4)).collect();
    let size = |i: usize| parts[i].len() as u64;
    let (a, b) = (leaf(parts[0]), cid(true, RAW, parts[1]));
    let (c1, c2) = (leaf(parts[2]), leaf(parts[3]));
    let c_block = file_node(&[(c1.0, size(2)), (c2.0, size(3))], &[], size(2) + size(3));
    let c = cid(false, DAG_PB, &c_block);
    let links = [(a.0, size(0)), (b, size(1)), (c, size(2) + size(3))];
    let root_block = file_node(&links, &[], content.len() as u64);
    let root = cid(true, DAG_PB, &root_block);
    let mut blocks = vec![a, c1, c2, (root, Reply::Block(root_block))];
    blocks.push((b, Reply::Block(parts[1].to_vec())));
    blocks.push((c, Reply::Block(c_block)));
    (root, blocks)
}

#[tokio::test]
async fn multi_block_markdown_lip() {
    let markdown = format!("---\nlip: 101\ntitle: Multi\n---\n{}", "text ".repeat(99));
    let (root, blocks) = multi_block(markdown.as_bytes());
    assert!(root.to_string().starts_with("bafybei"));
    let gw = gateway(blocks).await;
    let lip = gw.fetch_lip(root.to_string().as_bytes()).await.unwrap();
    let got = (lip.number, lip.title.as_deref());
    assert_eq!(got, (Some(101), Some("Multi")));
    assert_eq!(lip.text, markdown);
}

#[tokio::test]
async fn altered_bytes_are_a_mismatch() {
    let (root, Reply::Block(mut block)) = leaf(LIP_89.as_bytes()) else {
        unreachable!()
    };
    *block.last_mut().unwrap() ^= 1;
    let served = cid(false, DAG_PB, &block).to_string();
    let err = fetch(vec![(root, Reply::Block(block))], root).await;
    let err = err.unwrap_err();
    let IpfsError::Mismatch { expected, got } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((expected, got), (&root.to_string(), &served));
    assert!(!err.is_retryable());

    // A lie deep in the DAG is caught by its link's CID.
    let (root, mut blocks) = multi_block(&(0..64).collect::<Vec<u8>>());
    blocks[2].1 = Reply::Block(b"forged".to_vec());
    fails!(fetch(blocks, root).await, IpfsError::Mismatch { .. }, false);
}

#[tokio::test]
async fn unavailable_gateway_is_retryable() {
    let root = cid(false, DAG_PB, b"anything");
    let down = fetch(vec![(root, Reply::Status(503))], root).await;
    fails!(down, IpfsError::Unreachable(_), true);
    let slow = fetch(vec![(root, Reply::Slow)], root).await;
    fails!(slow, IpfsError::Unreachable(_), true);
    fails!(fetch(vec![], root).await, IpfsError::NotFound(_), true);
    let forbidden = fetch(vec![(root, Reply::Status(403))], root).await;
    fails!(forbidden, IpfsError::Refused(403), false);

    // Bind a free port, then release it, so nothing listens there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let gw = Gateway::new(format!("http://{closed}"), DEFAULT_TIMEOUT).unwrap();
    let refused = gw.fetch_lip(root.to_string().as_bytes()).await;
    fails!(refused, IpfsError::Unreachable(_), true);
}

#[tokio::test]
async fn oversized_content_is_refused() {
    let huge = vec![b'a'; MAX_BLOCK + 1];
    let raw = cid(true, RAW, &huge);
    let big_block = fetch(vec![(raw, Reply::Block(huge))], raw).await;
    fails!(big_block, IpfsError::TooLarge(_), false);

    // A root announcing 2 MiB is refused before its children are fetched.
    let block = file_node(&[(raw, 1)], &[], 2 << 20);
    let root = cid(false, DAG_PB, &block);
    let big_file = fetch(vec![(root, Reply::Block(block))], root).await;
    fails!(big_file, IpfsError::TooLarge(_), false);

    // A chain one node deeper than allowed.
    let mut top = cid(true, RAW, b"");
    let mut replies = vec![(top, Reply::Block(vec![]))];
    for _ in 0..=MAX_DEPTH {
        let block = file_node(&[(top, 0)], &[], 0);
        top = cid(false, DAG_PB, &block);
        replies.push((top, Reply::Block(block)));
    }
    let deep = fetch(replies, top).await;
    fails!(deep, IpfsError::TooLarge("DAG deeper than 8"), false);
}

#[tokio::test]
async fn malformed_or_foreign_content_is_typed() {
    let garbage = [
        vec![0x0a, 0xff, 0xff],             // length past the end
        vec![0x0a, 0x02, 0x08],             // truncated UnixFS varint
        vec![0x0b],                         // wire type 3
        vec![0x12, 0x03, 0x0a, 0x01, 0x00], // link with a 1-byte hash
        file_node(&[], &[0xff, 0xfe], 2),   // not UTF-8
        file_node(&[], b"{\"gitCommitHash\":\"x\"}", 21),
        file_node(&[], b"abc", 7), // filesize disagrees
    ];
    let replies = garbage.map(|b| (cid(false, DAG_PB, &b), Reply::Block(b)));
    let gw = gateway(replies.to_vec()).await;
    for (root, _) in replies {
        let malformed = gw.fetch_lip(&root.to_bytes()).await;
        fails!(malformed, IpfsError::Malformed(_), false);
    }

    // A directory, and a gateway that ignores the Accept header.
    let dir = vec![0x0a, 0x02, 0x08, 0x01];
    let root = cid(false, DAG_PB, &dir);
    let directory = fetch(vec![(root, Reply::Block(dir))], root).await;
    fails!(directory, IpfsError::Unsupported(_), false);
    let (root, _) = leaf(LIP_89.as_bytes());
    let reply = Reply::Typed("text/markdown", LIP_89.into());
    let untrusty = fetch(vec![(root, reply)], root).await;
    fails!(untrusty, IpfsError::Unsupported(_), false);
}

#[test]
fn gateway_urls() {
    assert!(Gateway::new("https://ipfs.example.org/prefix/", DEFAULT_TIMEOUT).is_ok());
    for bad in ["", "ipfs.example.org", "ftp://x", "http://x/?a=b"] {
        let gw = Gateway::new(bad, DEFAULT_TIMEOUT);
        fails!(gw, IpfsError::InvalidGateway(_), false);
    }
}

proptest! {
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = (decode_node(&bytes), decode_unixfs(&bytes), Cid::from_bytes(&bytes));
        let _ = cid_of_proposal(&bytes);
        let _ = parse_lip(cid(true, RAW, &bytes), &bytes);
        let _ = std::str::from_utf8(&bytes).map(str::parse::<Cid>);
    }
}
