//! Sign-In with Ethereum (EIP-4361): the message format, parsed strictly, and its checks.
//! Parsing is total: any input yields a message or a [`SiweError`], never a panic (the
//! property tests below hold it to that, on arbitrary text and on mutated valid messages).

use std::fmt;

use alloy::primitives::Address;
use chrono::{DateTime, Utc};
use url::Url;

/// A parsed EIP-4361 message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiweMessage {
    /// The URI scheme before the domain (`https`), if the message gives one.
    pub scheme: Option<String>,
    /// The host (and port) asking for the sign-in, which must be this node's.
    pub domain: String,
    /// The account signing in; the signature must recover to it.
    pub address: Address,
    /// The human-readable line the wallet shows; None when the message has none.
    pub statement: Option<String>,
    /// The RFC 3986 URI the sign-in is for, which must be this node's.
    pub uri: String,
    /// The EIP-4361 version; only `1` is accepted.
    pub version: String,
    /// The EIP-155 chain the account is on, which must be the deployment's.
    pub chain_id: u64,
    /// The node-issued nonce that makes the message single-use.
    pub nonce: String,
    /// When the wallet made the message.
    pub issued_at: DateTime<Utc>,
    /// After when the message is no longer accepted; None: no expiry of its own.
    pub expiration_time: Option<DateTime<Utc>>,
    /// Before when the message is not yet accepted; None: valid from `issued_at`.
    pub not_before: Option<DateTime<Utc>>,
    /// An identifier the requester chose for the sign-in, if any.
    pub request_id: Option<String>,
    /// URIs the sign-in also covers, in order; empty when none are listed.
    pub resources: Vec<String>,
}

/// Why a message is not acceptable. Each maps to a 4xx with this text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SiweError {
    /// The text does not parse as an EIP-4361 message; which part is wrong.
    #[error("malformed sign-in message: {0}")]
    Malformed(&'static str),
    /// The address is not in its EIP-55 mixed-case form.
    #[error("address is not EIP-55 checksummed")]
    Checksum,
    /// The message names another domain; the one it names (at most [`QUOTE_MAX`] characters).
    // Text from the message is printed with `{:?}` here and below: the error reaches logs
    // and clients, and escaping keeps terminal control sequences in it inert.
    #[error("message is for domain {0:?}, not this one")]
    WrongDomain(String),
    /// The message's URI is not this node's URL or below it; the one it names (at most
    /// [`QUOTE_MAX`] characters).
    #[error("message is for URI {0:?}, not this one")]
    WrongUri(String),
    /// The message names another chain; the chain id it names.
    #[error("message is for chain {0}, not this one")]
    WrongChain(u64),
    /// The message's version is not `1`; the version it names (at most [`QUOTE_MAX`]
    /// characters).
    #[error("unsupported SIWE version {0:?}")]
    Version(String),
    /// The message's expiration time has passed.
    #[error("message expired")]
    Expired,
    /// The message's not-before time is still ahead.
    #[error("message is not valid yet")]
    NotYetValid,
    /// The message's issued-at time is more than a minute ahead of the node's clock.
    #[error("message was issued in the future")]
    IssuedInFuture,
    /// The message was issued longer than the allowed `max_age` ago.
    #[error("message was issued too long ago")]
    TooOld,
}

/// At most this many characters of a message's own text are kept in a [`SiweError`], so a
/// huge field cannot flood a log line.
pub const QUOTE_MAX: usize = 100;

/// `text` cut to [`QUOTE_MAX`] characters, to be embedded in an error.
fn quote(text: &str) -> String {
    text.chars().take(QUOTE_MAX).collect()
}

/// Whether `uri` is `prefix`'s URL or below it: same scheme, host and port (a default port
/// and no port are the same), no userinfo, and a path at or under the prefix's, whole
/// segments only (`/app` covers `/app/x` but not `/application`). Compared parsed rather
/// than as strings, since `http://host:8700.evil.example/` and `http://host:8700@evil.example/`
/// both start with `http://host:8700`. An unparsable prefix covers nothing.
fn uri_within(uri: &str, prefix: &str) -> bool {
    let (Ok(uri), Ok(prefix)) = (Url::parse(uri), Url::parse(prefix)) else {
        return false;
    };
    // Userinfo asks the browser to authenticate to the host, and in a string comparison it
    // hides the real host; the node's URL never has one.
    if !uri.username().is_empty() || uri.password().is_some() {
        return false;
    }
    if uri.host().is_none()
        || uri.scheme() != prefix.scheme()
        || uri.host() != prefix.host()
        || uri.port_or_known_default() != prefix.port_or_known_default()
    {
        return false;
    }
    // Both paths are already normalised by the parser (`.`, `..` and their percent-encoded
    // forms resolved), so `/app/../admin` cannot pass as below `/app`.
    let base = prefix.path().trim_end_matches('/');
    let path = uri.path();
    path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

const HEADER: &str = " wants you to sign in with your Ethereum account:";

fn time(v: &str) -> Result<DateTime<Utc>, SiweError> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| SiweError::Malformed("timestamp"))
}

fn field<'a>(line: Option<&'a str>, tag: &'static str) -> Result<&'a str, SiweError> {
    line.and_then(|l| l.strip_prefix(tag))
        .ok_or(SiweError::Malformed(tag))
}

impl SiweMessage {
    /// Parses the exact text a wallet signed.
    pub fn parse(text: &str) -> Result<Self, SiweError> {
        let mut lines = text.split('\n');
        let header = lines.next().ok_or(SiweError::Malformed("header"))?;
        let origin = header
            .strip_suffix(HEADER)
            .ok_or(SiweError::Malformed("header"))?;
        let (scheme, domain) = match origin.split_once("://") {
            Some((s, d)) => (Some(s.to_string()), d),
            None => (None, origin),
        };
        if domain.is_empty() || domain.contains(char::is_whitespace) {
            return Err(SiweError::Malformed("domain"));
        }
        let address_text = lines.next().ok_or(SiweError::Malformed("address"))?;
        if !address_text.starts_with("0x") || address_text.len() != 42 {
            return Err(SiweError::Malformed("address"));
        }
        let address =
            Address::parse_checksummed(address_text, None).map_err(|_| SiweError::Checksum)?;
        if lines.next() != Some("") {
            return Err(SiweError::Malformed("blank line after address"));
        }
        let statement = match lines.next() {
            Some("") => None,
            Some(s) if !s.starts_with("URI: ") => {
                if lines.next() != Some("") {
                    return Err(SiweError::Malformed("blank line after statement"));
                }
                Some(s.to_string())
            }
            _ => return Err(SiweError::Malformed("statement")),
        };
        let uri = field(lines.next(), "URI: ")?.to_string();
        let version = field(lines.next(), "Version: ")?.to_string();
        let chain_id = field(lines.next(), "Chain ID: ")?
            .parse()
            .map_err(|_| SiweError::Malformed("Chain ID"))?;
        let nonce = field(lines.next(), "Nonce: ")?.to_string();
        if nonce.len() < 8 || !nonce.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(SiweError::Malformed("nonce"));
        }
        let issued_at = time(field(lines.next(), "Issued At: ")?)?;
        let mut msg = SiweMessage {
            scheme,
            domain: domain.to_string(),
            address,
            statement,
            uri,
            version,
            chain_id,
            nonce,
            issued_at,
            expiration_time: None,
            not_before: None,
            request_id: None,
            resources: Vec::new(),
        };
        let mut rest = lines.peekable();
        if let Some(v) = rest
            .peek()
            .and_then(|l| l.strip_prefix("Expiration Time: "))
        {
            msg.expiration_time = Some(time(v)?);
            rest.next();
        }
        if let Some(v) = rest.peek().and_then(|l| l.strip_prefix("Not Before: ")) {
            msg.not_before = Some(time(v)?);
            rest.next();
        }
        if let Some(v) = rest.peek().and_then(|l| l.strip_prefix("Request ID: ")) {
            msg.request_id = Some(v.to_string());
            rest.next();
        }
        if rest.peek() == Some(&"Resources:") {
            rest.next();
            for line in rest.by_ref() {
                let r = line
                    .strip_prefix("- ")
                    .ok_or(SiweError::Malformed("resource"))?;
                msg.resources.push(r.to_string());
            }
        }
        if rest.next().is_some() {
            return Err(SiweError::Malformed("trailing lines"));
        }
        if msg.uri.is_empty() || msg.uri.contains(char::is_whitespace) {
            return Err(SiweError::Malformed("URI"));
        }
        Ok(msg)
    }

    /// Checks everything but the signature and the nonce: domain, URI (this node's
    /// `uri_prefix` URL or below it), chain, version, and that `now` lies within the
    /// message's validity (issued no more than `max_age` ago).
    pub fn check(
        &self,
        domain: &str,
        uri_prefix: &str,
        chain_id: u64,
        now: DateTime<Utc>,
        max_age: chrono::Duration,
    ) -> Result<(), SiweError> {
        if self.domain != domain {
            return Err(SiweError::WrongDomain(quote(&self.domain)));
        }
        if !uri_within(&self.uri, uri_prefix) {
            return Err(SiweError::WrongUri(quote(&self.uri)));
        }
        if self.chain_id != chain_id {
            return Err(SiweError::WrongChain(self.chain_id));
        }
        if self.version != "1" {
            return Err(SiweError::Version(quote(&self.version)));
        }
        // A minute of clock skew between wallet and node is tolerated.
        if self.issued_at > now + chrono::Duration::seconds(60) {
            return Err(SiweError::IssuedInFuture);
        }
        if now - self.issued_at > max_age {
            return Err(SiweError::TooOld);
        }
        if self.expiration_time.is_some_and(|t| now >= t) {
            return Err(SiweError::Expired);
        }
        if self.not_before.is_some_and(|t| now < t) {
            return Err(SiweError::NotYetValid);
        }
        Ok(())
    }
}

impl fmt::Display for SiweMessage {
    /// The canonical text, as a wallet is asked to sign it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.scheme {
            write!(f, "{s}://")?;
        }
        writeln!(f, "{}{HEADER}", self.domain)?;
        writeln!(f, "{}", self.address.to_checksum(None))?;
        writeln!(f)?;
        if let Some(s) = &self.statement {
            writeln!(f, "{s}")?;
        }
        writeln!(f)?;
        writeln!(f, "URI: {}", self.uri)?;
        writeln!(f, "Version: {}", self.version)?;
        writeln!(f, "Chain ID: {}", self.chain_id)?;
        writeln!(f, "Nonce: {}", self.nonce)?;
        write!(
            f,
            "Issued At: {}",
            self.issued_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )?;
        if let Some(t) = self.expiration_time {
            write!(
                f,
                "\nExpiration Time: {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )?;
        }
        if let Some(t) = self.not_before {
            write!(
                f,
                "\nNot Before: {}",
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )?;
        }
        if let Some(r) = &self.request_id {
            write!(f, "\nRequest ID: {r}")?;
        }
        if !self.resources.is_empty() {
            write!(f, "\nResources:")?;
            for r in &self.resources {
                write!(f, "\n- {r}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parser_never_panics(text in "\\PC{0,600}") {
            let _ = SiweMessage::parse(&text);
        }

        /// Valid messages with one byte changed, dropped or duplicated: an error or a
        /// message, never a panic; and whatever parses prints back to itself.
        #[test]
        fn mutated_messages_never_panic(at in 0usize..400, byte in any::<u8>(), op in 0u8..3) {
            let mut bytes = sample().to_string().into_bytes();
            let i = at % bytes.len();
            match op {
                0 => bytes[i] = byte,
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, bytes[i]),
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(m) = SiweMessage::parse(&text) {
                prop_assert_eq!(SiweMessage::parse(&m.to_string()), Ok(m));
            }
        }

        #[test]
        fn generated_messages_round_trip(
            domain in "[a-z]{1,12}(\\.[a-z]{2,5})?(:[0-9]{2,5})?",
            statement in proptest::option::of("[A-Za-z0-9 .,]{1,60}"),
            chain_id in 1u64..1_000_000,
            nonce in "[A-Za-z0-9]{8,32}",
            secs in 0i64..4_000_000_000,
            resources in proptest::collection::vec("https://[a-z]{1,10}\\.org/[a-z]{0,8}", 0..3),
        ) {
            let m = SiweMessage {
                domain,
                statement: statement.filter(|s| !s.starts_with("URI: ")),
                chain_id,
                nonce,
                issued_at: DateTime::from_timestamp(secs, 0).unwrap(),
                expiration_time: None,
                resources,
                ..sample()
            };
            prop_assert_eq!(SiweMessage::parse(&m.to_string()), Ok(m));
        }
    }

    pub(crate) fn sample() -> SiweMessage {
        SiweMessage {
            scheme: None,
            domain: "assembly.local".into(),
            address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
                .parse()
                .unwrap(),
            statement: Some("Sign in to Assembly.".into()),
            uri: "http://assembly.local/".into(),
            version: "1".into(),
            chain_id: 31337,
            nonce: "abcdef0123456789".into(),
            issued_at: "2026-11-24T12:00:00Z".parse().unwrap(),
            expiration_time: Some("2026-11-24T12:10:00Z".parse().unwrap()),
            not_before: None,
            request_id: None,
            resources: vec!["https://livepeer.org".into()],
        }
    }

    #[test]
    fn round_trips() {
        let m = sample();
        assert_eq!(SiweMessage::parse(&m.to_string()), Ok(m.clone()));
        let bare = SiweMessage {
            statement: None,
            expiration_time: None,
            resources: vec![],
            ..m
        };
        assert_eq!(SiweMessage::parse(&bare.to_string()), Ok(bare));
    }

    #[test]
    fn checks() {
        let m = sample();
        let now: DateTime<Utc> = "2026-11-24T12:01:00Z".parse().unwrap();
        let age = chrono::Duration::minutes(10);
        assert_eq!(
            m.check("assembly.local", "http://assembly.local", 31337, now, age),
            Ok(())
        );
        assert!(matches!(
            m.check("evil.example", "http://assembly.local", 31337, now, age),
            Err(SiweError::WrongDomain(_))
        ));
        assert_eq!(
            m.check("assembly.local", "http://assembly.local", 1, now, age),
            Err(SiweError::WrongChain(31337))
        );
        let late: DateTime<Utc> = "2026-11-24T12:10:00Z".parse().unwrap();
        assert_eq!(
            m.check("assembly.local", "http://assembly.local", 31337, late, age),
            Err(SiweError::Expired)
        );
    }

    fn with_uri(uri: &str) -> SiweMessage {
        SiweMessage {
            uri: uri.into(),
            ..sample()
        }
    }

    fn check_uri(uri: &str, prefix: &str) -> Result<(), SiweError> {
        let now: DateTime<Utc> = "2026-11-24T12:01:00Z".parse().unwrap();
        with_uri(uri).check(
            "assembly.local",
            prefix,
            31337,
            now,
            chrono::Duration::minutes(10),
        )
    }

    #[test]
    fn the_uri_must_be_the_node_s_url_or_below_it() {
        let node = "http://localhost:8700";
        for ok in [
            "http://localhost:8700",
            "http://localhost:8700/",
            "http://localhost:8700/session/3?x=1#top",
            "HTTP://LOCALHOST:8700/",
        ] {
            assert_eq!(check_uri(ok, node), Ok(()), "{ok}");
        }
        assert_eq!(
            check_uri("https://node.example/", "https://node.example:443"),
            Ok(())
        );
        assert_eq!(
            check_uri("http://node.example:80/a", "http://node.example/"),
            Ok(())
        );
        for bad in [
            // Each of the first two starts with the node's URL as a string.
            "http://localhost:8700.evil.example/",
            "http://localhost:8700@evil.example/",
            "http://user@localhost:8700/",
            "http://user:pw@localhost:8700/",
            "http://:pw@localhost:8700/",
            "http://localhost:8701/",
            "http://localhost/",
            "https://localhost:8700/",
            "ws://localhost:8700/",
            "http://127.0.0.1:8700/",
            "localhost:8700",
            "not a uri",
        ] {
            assert!(
                matches!(check_uri(bad, node), Err(SiweError::WrongUri(_))),
                "{bad}"
            );
        }
        let app = "https://node.example/app";
        for ok in [
            "https://node.example/app",
            "https://node.example/app/",
            "https://node.example/app/deeper/still",
        ] {
            assert_eq!(check_uri(ok, app), Ok(()), "{ok}");
            assert_eq!(check_uri(ok, "https://node.example/app/"), Ok(()), "{ok}");
        }
        for bad in [
            "https://node.example/application",
            "https://node.example/ap",
            "https://node.example/",
            "https://node.example/app/../admin",
            "https://node.example/app/%2e%2e/admin",
        ] {
            assert!(
                matches!(check_uri(bad, app), Err(SiweError::WrongUri(_))),
                "{bad}"
            );
        }
        assert!(
            matches!(
                check_uri("http://localhost:8700/", "::"),
                Err(SiweError::WrongUri(_))
            ),
            "an unparsable prefix covers nothing"
        );
    }

    #[test]
    fn message_text_in_errors_is_escaped_and_cut() {
        let text = sample().to_string().replace(
            "assembly.local wants",
            "evil\u{1b}[2J\u{1b}[31m.example wants",
        );
        let m = SiweMessage::parse(&text).unwrap();
        let now: DateTime<Utc> = "2026-11-24T12:01:00Z".parse().unwrap();
        let age = chrono::Duration::minutes(10);
        let e = m
            .check("assembly.local", "http://assembly.local", 31337, now, age)
            .unwrap_err();
        assert!(matches!(e, SiweError::WrongDomain(_)));
        let shown = e.to_string();
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert!(shown.contains(r"\u{1b}[2J"), "{shown}");

        let long = format!("http://assembly.local.{}/", "a".repeat(5000));
        let Err(SiweError::WrongUri(kept)) =
            with_uri(&long).check("assembly.local", "http://assembly.local", 31337, now, age)
        else {
            panic!("a long foreign URI is refused");
        };
        assert_eq!(kept.chars().count(), QUOTE_MAX);
        let version = SiweMessage {
            version: format!("\u{7}{}", "9".repeat(500)),
            ..sample()
        };
        let e = version
            .check("assembly.local", "http://assembly.local", 31337, now, age)
            .unwrap_err();
        assert!(e.to_string().len() < 2 * QUOTE_MAX, "{e}");
        assert!(!e.to_string().chars().any(char::is_control), "{e}");
    }

    #[test]
    fn rejects_lowercase_addresses_and_garbage() {
        let text = sample().to_string().replace(
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
        );
        assert_eq!(SiweMessage::parse(&text), Err(SiweError::Checksum));
        assert!(SiweMessage::parse("").is_err());
        assert!(SiweMessage::parse("hello").is_err());
    }
}
