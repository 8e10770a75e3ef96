//! Verified fetch of a Livepeer LIP poll's text from an IPFS HTTP gateway.
//!
//! Invariant: every byte [`Gateway::fetch_lip`] returns has been hashed against the CID that
//! named it — the poll's CID for the root block, each link's CID for the blocks below — so a
//! gateway can withhold content (a typed error, retryable when it may pass) but never
//! substitute it ([`IpfsError::Mismatch`]).
//!
//! # What a poll's `proposal` holds
//!
//! Read in Livepeer's own tooling, since `PollCreator` accepts any bytes:
//! - Explorer calls `createPoll(Utils.fromAscii(hash))`
//!   (`livepeer/explorer:apollo/resolvers/Mutation.tsx`, `createPoll`): the proposal is the
//!   ASCII of the CID *string*, not a binary multihash.
//! - `hash` is what `ipfs.addJSON({ gitCommitHash, text })` returned (ipfs-mini on Infura,
//!   `livepeer/explorer:pages/voting/create-poll.tsx`), later Pinata's `pinJSONToIPFS`
//!   (`livepeer/explorer:pages/api/upload-ipfs.tsx`): a CIDv0 `Qm…` of a dag-pb UnixFS file.
//! - The subgraph decodes it with `event.params.proposal.toString()` (UTF-8,
//!   `livepeer/subgraph:src/mappings/pollCreator.ts`); Explorer fetches `/ipfs/{proposal}` as
//!   JSON `IpfsPoll = { gitCommitHash, text }` (`livepeer/explorer:utils/ipfs.ts`,
//!   `lib/api/poll-lips.ts`) and takes `lip` and `title` from the front matter of `text`
//!   (`livepeer/explorer:lib/api/polls.ts`, `parsePollIpfs`).
//!
//! Anyone may call `createPoll`, so binary CIDs/multihashes and plain markdown are accepted too.
//!
//! # Protocol
//!
//! The IPFS *trustless gateway*: `GET {base}/ipfs/{cid}?format=raw` with
//! `Accept: application/vnd.ipld.raw` returns one block, which is hashed here before it is
//! decoded. Files are reassembled from dag-pb/UnixFS nodes depth-first, within fixed bounds
//! (1 MiB, 512 blocks, depth 8) so a hostile DAG cannot exhaust memory or time.

use std::error::Error as _;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use data_encoding::BASE32_NOPAD;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use sha2::{Digest, Sha256};

/// Per-request timeout when the operator sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest file reassembled: a LIP is a few tens of KiB.
const MAX_FILE: usize = 1 << 20;
/// Largest block: a single leaf may hold the whole file plus its protobuf framing.
const MAX_BLOCK: usize = MAX_FILE + 64 * 1024;
const MAX_BLOCKS: usize = 512;
const MAX_DEPTH: usize = 8;
/// A CID string is under 100 bytes; this only stops absurd inputs early.
const MAX_PROPOSAL: usize = 512;
const DAG_PB: u64 = 0x70;
const RAW: u64 = 0x55;
const SHA2_256: u64 = 0x12;

/// Why a LIP could not be fetched; [`IpfsError::is_retryable`] says whether to try later.
#[derive(Debug, thiserror::Error)]
pub enum IpfsError {
    /// The poll's `proposal` bytes are not a CID in any form we know.
    #[error("the poll's proposal is not a CID: {0}")]
    BadProposal(String),
    /// A well-formed CID or object we deliberately do not handle (hash, codec, directory…).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The configured gateway URL is unusable.
    #[error("invalid gateway URL: {0}")]
    InvalidGateway(String),
    /// Transport failure, timeout, 408/429 or 5xx: the gateway may answer later.
    #[error("gateway unreachable: {0}")]
    Unreachable(String),
    /// 404/410: the gateway does not have the block (yet).
    #[error("gateway does not have block {0}")]
    NotFound(String),
    /// Any other HTTP status, which the gateway will presumably keep answering.
    #[error("gateway refused the request with HTTP {0}")]
    Refused(u16),
    /// The gateway served bytes that do not hash to the CID asked for: it lied or is broken.
    #[error("gateway served {got} when asked for {expected}")]
    Mismatch {
        /// The CID asked for.
        expected: String,
        /// The CID of what was served.
        got: String,
    },
    /// Verified content that is not a well-formed dag-pb/UnixFS file or LIP.
    #[error("malformed content: {0}")]
    Malformed(String),
    /// The content exceeds the bounds (1 MiB, 512 blocks, depth 8).
    #[error("content too large: {0}")]
    TooLarge(&'static str),
}

impl IpfsError {
    /// Whether asking again later may succeed: the gateway was down, or has not found the
    /// content yet (IPFS availability is eventual, so a 404 today is no verdict).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unreachable(_) | Self::NotFound(_))
    }
}

fn malformed(what: &str) -> IpfsError {
    IpfsError::Malformed(what.to_owned())
}

/// A content identifier we can verify: CIDv0, or CIDv1 dag-pb/raw, always sha2-256.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cid {
    v1: bool,
    /// [`DAG_PB`] or [`RAW`]; always dag-pb in CIDv0.
    codec: u64,
    digest: [u8; 32],
}

impl Cid {
    /// Decodes a binary CIDv1, or a bare sha2-256 multihash as CIDv0.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IpfsError> {
        if bytes.starts_with(&[0x12, 0x20]) {
            return Self::from_multihash(bytes, false, DAG_PB);
        }
        let mut r = Reader(bytes);
        if r.varint()? != 1 {
            return Err(malformed("neither a CIDv1 nor a sha2-256 multihash"));
        }
        match r.varint()? {
            codec @ (DAG_PB | RAW) => Self::from_multihash(r.0, true, codec),
            codec => Err(IpfsError::Unsupported(format!("codec {codec:#x}"))),
        }
    }

    fn from_multihash(multihash: &[u8], v1: bool, codec: u64) -> Result<Self, IpfsError> {
        let mut r = Reader(multihash);
        let code = r.varint()?;
        if code != SHA2_256 {
            return Err(IpfsError::Unsupported(format!("multihash {code:#x}")));
        }
        match (r.varint()?, <[u8; 32]>::try_from(r.0)) {
            (32, Ok(digest)) => Ok(Self { v1, codec, digest }),
            _ => Err(malformed("sha2-256 digest is not 32 bytes")),
        }
    }

    fn to_bytes(self) -> Vec<u8> {
        // Both codecs are below 0x80, so their varint is one byte.
        let prefix = [1, self.codec as u8];
        let prefix = if self.v1 { &prefix[..] } else { &[] };
        [prefix, &[0x12, 0x20], &self.digest].concat()
    }
}

impl FromStr for Cid {
    type Err = IpfsError;

    /// Parses `Qm…` (CIDv0) or a CIDv1 in base32 (`b…`, either case) or base58btc (`z…`).
    fn from_str(s: &str) -> Result<Self, IpfsError> {
        if s.len() > MAX_PROPOSAL {
            return Err(malformed("CID string too long"));
        }
        if s.starts_with("Qm") {
            return match base58(s)? {
                multihash if multihash.len() == 34 => {
                    Self::from_multihash(&multihash, false, DAG_PB)
                }
                _ => Err(malformed("not a CIDv0")),
            };
        }
        let bytes = match s.split_at_checked(1) {
            Some(("b" | "B", rest)) => {
                let decoded = BASE32_NOPAD.decode(rest.to_ascii_uppercase().as_bytes());
                decoded.map_err(|_| malformed("bad base32"))?
            }
            Some(("z", rest)) => base58(rest)?,
            Some((base, _)) => return Err(IpfsError::Unsupported(format!("multibase {base}"))),
            None => return Err(malformed("empty CID")),
        };
        Self::from_bytes(&bytes)
    }
}

fn base58(s: &str) -> Result<Vec<u8>, IpfsError> {
    let decoded = bs58::decode(s).into_vec();
    decoded.map_err(|_| malformed("bad base58"))
}

/// The canonical form: base58btc for CIDv0, base32 lower for CIDv1.
impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.v1 {
            let base32 = BASE32_NOPAD.encode(&self.to_bytes());
            write!(f, "b{}", base32.to_ascii_lowercase())
        } else {
            f.write_str(&bs58::encode(self.to_bytes()).into_string())
        }
    }
}

/// The CID a poll's `proposal` names, without fetching it (to show a debate by its hash when
/// no gateway is configured). Accepts the UTF-8 CID string Explorer writes (optionally
/// `ipfs://` or `/ipfs/`-prefixed, NUL- or whitespace-padded), or a binary CID/multihash.
pub fn cid_of_proposal(proposal: &[u8]) -> Result<Cid, IpfsError> {
    if proposal.is_empty() || proposal.len() > MAX_PROPOSAL {
        return Err(IpfsError::BadProposal(format!("{} bytes", proposal.len())));
    }
    let bad = |e: IpfsError| match e {
        IpfsError::Unsupported(_) => e,
        other => IpfsError::BadProposal(other.to_string()),
    };
    if let Ok(s) = std::str::from_utf8(proposal) {
        let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
        let s = s.strip_prefix("ipfs://").unwrap_or(s);
        let s = s.strip_prefix("/ipfs/").unwrap_or(s);
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return s.parse().map_err(bad);
        }
    }
    // A leading 0x00 is the multibase prefix for "binary, as is".
    let binary = proposal.strip_prefix(&[0]).unwrap_or(proposal);
    Cid::from_bytes(binary).map_err(bad)
}

/// A LIP as published for a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lip {
    /// The CID of the poll's object, in canonical string form.
    pub cid: String,
    /// `lip:` from the front matter.
    pub number: Option<u32>,
    /// `title:` from the front matter.
    pub title: Option<String>,
    /// The LIP markdown (the JSON object's `text`, or the whole file).
    pub text: String,
}

/// An operator-configured IPFS HTTP gateway, trusted for availability only.
#[derive(Debug, Clone)]
pub struct Gateway {
    /// Without trailing slash, so `/ipfs/…` can be appended to a base with a path.
    base: String,
    client: reqwest::Client,
}

impl Gateway {
    /// A gateway at `base` (`http(s)://host[:port][/prefix]`), each request bounded by `timeout`.
    pub fn new(base: impl AsRef<str>, timeout: Duration) -> Result<Self, IpfsError> {
        let base = base.as_ref().trim().trim_end_matches('/');
        let invalid = |why: String| IpfsError::InvalidGateway(format!("{base:?}: {why}"));
        let url = reqwest::Url::parse(base).map_err(|e| invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
            return Err(invalid("not a plain http(s) URL".to_owned()));
        }
        let client = reqwest::Client::builder().timeout(timeout).build();
        let client = client.map_err(|e| invalid(e.to_string()))?;
        let base = base.to_owned();
        Ok(Self { base, client })
    }

    /// Fetches, verifies and parses the LIP a poll's `proposal` names.
    pub async fn fetch_lip(&self, proposal: &[u8]) -> Result<Lip, IpfsError> {
        let cid = cid_of_proposal(proposal)?;
        let content = self.fetch_file(cid).await?;
        parse_lip(cid, &content)
    }

    /// The verified content of the UnixFS file (or raw block) `root`.
    pub async fn fetch_file(&self, root: Cid) -> Result<Vec<u8>, IpfsError> {
        let (mut out, mut declared, mut fetched) = (Vec::new(), None, 0);
        // Children are pushed in reverse, so popping walks the DAG depth-first in link order.
        let mut stack = vec![(root, 0)];
        while let Some((cid, depth)) = stack.pop() {
            fetched += 1;
            if depth > MAX_DEPTH {
                return Err(IpfsError::TooLarge("DAG deeper than 8"));
            }
            let block = self.fetch_block(cid).await?;
            if cid.codec == RAW {
                append(&mut out, &block)?;
                continue;
            }
            let node = decode_node(&block)?;
            let file = decode_unixfs(node.data.ok_or_else(|| malformed("node without data"))?)?;
            // 2 is a file, 0 the "raw" leaf old go-ipfs wrote; 1 and 5 are directories.
            if !matches!(file.kind, 0 | 2) {
                let kind = file.kind;
                return Err(IpfsError::Unsupported(format!(
                    "{cid} is UnixFS type {kind}"
                )));
            }
            if depth == 0 {
                // Refuse an announced oversize before fetching any child.
                if file.filesize.is_some_and(|n| n > MAX_FILE as u64) {
                    return Err(IpfsError::TooLarge("file larger than 1 MiB"));
                }
                declared = file.filesize;
            }
            append(&mut out, file.data)?;
            if fetched + stack.len() + node.links.len() > MAX_BLOCKS {
                return Err(IpfsError::TooLarge("more than 512 blocks"));
            }
            stack.extend(node.links.iter().rev().map(|&link| (link, depth + 1)));
        }
        if declared.is_some_and(|n| n != out.len() as u64) {
            return Err(malformed("content size differs from the root's filesize"));
        }
        Ok(out)
    }

    /// One block, verified against `cid`.
    async fn fetch_block(&self, cid: Cid) -> Result<Vec<u8>, IpfsError> {
        let url = format!("{}/ipfs/{cid}?format=raw", self.base);
        let request = self.client.get(&url);
        let request = request.header(ACCEPT, "application/vnd.ipld.raw");
        let mut response = request.send().await.map_err(transport)?;
        match response.status().as_u16() {
            200 => {}
            404 | 410 => return Err(IpfsError::NotFound(cid.to_string())),
            s @ (408 | 429 | 500..=599) => return Err(IpfsError::Unreachable(format!("HTTP {s}"))),
            s => return Err(IpfsError::Refused(s)),
        }
        // A gateway that ignores the Accept header serves the decoded file instead of the
        // block: say so, rather than report the inevitable hash mismatch as a lie.
        let kind = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|k| k.to_str().unwrap_or("?"));
        let raw = |k: &&str| {
            k.starts_with("application/vnd.ipld.raw") || *k == "application/octet-stream"
        };
        if let Some(kind) = kind.filter(|k| !raw(k)) {
            return Err(IpfsError::Unsupported(format!(
                "gateway answered {kind:?}, not a raw block: it is not a trustless gateway"
            )));
        }
        if response.content_length().unwrap_or(0) > MAX_BLOCK as u64 {
            return Err(IpfsError::TooLarge("block larger than 1 MiB"));
        }
        let mut block = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if block.len() + chunk.len() > MAX_BLOCK {
                return Err(IpfsError::TooLarge("block larger than 1 MiB"));
            }
            block.extend_from_slice(&chunk);
        }
        let digest: [u8; 32] = Sha256::digest(&block).into();
        if digest != cid.digest {
            let (expected, got) = (cid.to_string(), Cid { digest, ..cid }.to_string());
            return Err(IpfsError::Mismatch { expected, got });
        }
        Ok(block)
    }
}

fn transport(e: reqwest::Error) -> IpfsError {
    if e.is_timeout() {
        return IpfsError::Unreachable("timed out".to_owned());
    }
    // reqwest's own message hides the cause (refused, DNS…) in its source chain.
    let (mut message, mut source) = (e.to_string(), e.source());
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    IpfsError::Unreachable(message)
}

fn append(out: &mut Vec<u8>, data: &[u8]) -> Result<(), IpfsError> {
    if out.len() + data.len() > MAX_FILE {
        return Err(IpfsError::TooLarge("file larger than 1 MiB"));
    }
    out.extend_from_slice(data);
    Ok(())
}

/// A protobuf reader over the bytes not yet read: every read stays within them or errs.
struct Reader<'a>(&'a [u8]);

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, IpfsError> {
        let mut value = 0;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.0.split_first().ok_or_else(|| malformed("truncated"))?;
            self.0 = rest;
            if shift == 63 && byte > 1 {
                return Err(malformed("varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed("varint longer than 10 bytes"))
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], IpfsError> {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > self.0.len() {
            return Err(malformed("field runs past the end"));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    fn field(&mut self) -> Result<Option<(u64, Field<'a>)>, IpfsError> {
        if self.0.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => self.take(8).map(|_| Field::Fixed)?,
            2 => {
                let len = self.varint()?;
                Field::Bytes(self.take(len)?)
            }
            5 => self.take(4).map(|_| Field::Fixed)?,
            _ => return Err(malformed("unsupported protobuf wire type")),
        };
        match key >> 3 {
            0 => Err(malformed("protobuf field number 0")),
            number => Ok(Some((number, value))),
        }
    }
}

#[derive(Default)]
struct Node<'a> {
    data: Option<&'a [u8]>,
    links: Vec<Cid>,
}

/// dag-pb `PBNode { Data = 1; repeated PBLink Links = 2 }`, with `PBLink.Hash = 1`.
fn decode_node(block: &[u8]) -> Result<Node<'_>, IpfsError> {
    let (mut node, mut r) = (Node::default(), Reader(block));
    while let Some(field) = r.field()? {
        match field {
            (1, Field::Bytes(data)) => node.data = Some(data),
            (2, Field::Bytes(link)) => {
                if node.links.len() >= MAX_BLOCKS {
                    return Err(IpfsError::TooLarge("more than 512 links"));
                }
                let (mut hash, mut r) = (None, Reader(link));
                while let Some(field) = r.field()? {
                    if let (1, Field::Bytes(h)) = field {
                        hash = Some(h);
                    }
                }
                let hash = hash.ok_or_else(|| malformed("dag-pb link without Hash"))?;
                node.links.push(Cid::from_bytes(hash)?);
            }
            (1 | 2, _) => return Err(malformed("dag-pb field of the wrong wire type")),
            _ => {}
        }
    }
    Ok(node)
}

struct UnixFs<'a> {
    kind: u64,
    data: &'a [u8],
    filesize: Option<u64>,
}

/// UnixFS `Data { Type = 1; Data = 2; filesize = 3; blocksizes = 4 }`. The block sizes are not
/// needed: link order fixes the content's order, and every block is verified anyway.
fn decode_unixfs(bytes: &[u8]) -> Result<UnixFs<'_>, IpfsError> {
    let (mut kind, mut data, mut filesize, mut r) = (None, &[][..], None, Reader(bytes));
    while let Some(field) = r.field()? {
        match field {
            (1, Field::Varint(k)) => kind = Some(k),
            (2, Field::Bytes(d)) => data = d,
            (3, Field::Varint(size)) => filesize = Some(size),
            (1..=3, _) => return Err(malformed("UnixFS field of the wrong wire type")),
            _ => {}
        }
    }
    let kind = kind.ok_or_else(|| malformed("UnixFS data without Type"))?;
    Ok(UnixFs {
        kind,
        data,
        filesize,
    })
}

/// The LIP in `content`: the `text` of Explorer's JSON object, else the whole file as markdown.
fn parse_lip(cid: Cid, content: &[u8]) -> Result<Lip, IpfsError> {
    let content = std::str::from_utf8(content).map_err(|_| malformed("LIP is not UTF-8"))?;
    let content = content.trim_start_matches('\u{feff}');
    let json = match content.trim_start().starts_with('{') {
        true => serde_json::from_str::<serde_json::Value>(content).ok(),
        false => None,
    };
    let text = match json {
        Some(object) => match object.get("text").and_then(|t| t.as_str()) {
            Some(text) => text.to_owned(),
            None => return Err(malformed("JSON object without a `text` string")),
        },
        None => content.to_owned(),
    };
    let (number, title) = front_matter(&text);
    let cid = cid.to_string();
    Ok(Lip {
        cid,
        number,
        title,
        text,
    })
}

/// `lip` and `title` from the YAML front matter; without one, from the first lines, since
/// early LIPs (e.g. LIP-16) carried `LIP:` and `Title:` in an indented preamble instead.
fn front_matter(text: &str) -> (Option<u32>, Option<String>) {
    let lines = text.lines().map(str::trim);
    let mut lines = lines.skip_while(|l| l.is_empty()).peekable();
    let fenced = lines.next_if_eq(&"---").is_some();
    let header = lines.take_while(|l| !fenced || (*l != "---" && *l != "..."));
    let (mut number, mut title) = (None, None);
    for (key, value) in header.take(60).filter_map(|line| line.split_once(':')) {
        let value = unquote(value.trim());
        match key.trim().to_ascii_lowercase().as_str() {
            "lip" if number.is_none() => {
                let digits = value.to_ascii_lowercase();
                number = digits.strip_prefix("lip-").unwrap_or(&digits).parse().ok();
            }
            "title" if title.is_none() && !value.is_empty() => {
                title = Some(value.chars().take(300).collect());
            }
            _ => {}
        }
    }
    (number, title)
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

#[cfg(test)]
mod tests;
