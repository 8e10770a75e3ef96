//! Server-reflexive address discovery (RFC 8489 Binding), sent from the media socket itself
//! before the engine starts, so the mapping learned is the one listeners will reach. A node
//! behind NAT then offers both its host and its public address, on the one UDP port.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

const MAGIC: u32 = 0x2112_A442;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const MAPPED_ADDRESS: u16 = 0x0001;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
const USERNAME: u16 = 0x0006;

/// The attributes of STUN message `m` as (type, value), as far as they are well formed.
fn attributes(m: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let len = m
        .get(2..4)
        .map(|l| u16::from_be_bytes([l[0], l[1]]) as usize)
        .unwrap_or(0);
    let body = m.get(20..20 + len).unwrap_or_default();
    let mut i = 0;
    std::iter::from_fn(move || {
        let head = body.get(i..i + 4)?;
        let kind = u16::from_be_bytes([head[0], head[1]]);
        let alen = u16::from_be_bytes([head[2], head[3]]) as usize;
        let value = body.get(i + 4..i + 4 + alen)?;
        i += 4 + alen.div_ceil(4) * 4;
        Some((kind, value))
    })
}

/// The receiver's ufrag in a Binding request (its USERNAME is `receiver:sender`, RFC 8445
/// 7.2.2): for the node, which of its peers a connectivity check is meant for. `None` for
/// anything that is not a Binding request with a username.
pub fn request_ufrag(m: &[u8]) -> Option<&[u8]> {
    if m.len() < 20
        || u16::from_be_bytes([m[0], m[1]]) != BINDING_REQUEST
        || m[4..8] != MAGIC.to_be_bytes()
    {
        return None;
    }
    let (_, username) = attributes(m).find(|(kind, _)| *kind == USERNAME)?;
    username.split(|b| *b == b':').next()
}

/// Why the node learned no public address from a STUN server.
#[derive(Debug, thiserror::Error)]
pub enum StunError {
    /// Not a `stun:` URL.
    #[error("not a stun: URL: {0}")]
    Url(String),
    /// The server's name did not resolve.
    #[error("resolving {0}: {1}")]
    Resolve(String, std::io::Error),
    /// The socket failed.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// No answer in time.
    #[error("no answer from {0} in time")]
    Timeout(SocketAddr),
    /// An answer without a mapped address.
    #[error("answer carries no mapped address")]
    NoAddress,
}

/// `stun:host[:port]` (RFC 7064) to a socket address of the given family.
pub fn resolve(url: &str, v4: bool) -> Result<SocketAddr, StunError> {
    let rest = url
        .strip_prefix("stun:")
        .ok_or_else(|| StunError::Url(url.into()))?;
    let host = if rest
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        rest.to_string()
    } else {
        format!("{rest}:3478")
    };
    host.to_socket_addrs()
        .map_err(|e| StunError::Resolve(url.into(), e))?
        .find(|a| a.is_ipv4() == v4)
        .ok_or_else(|| StunError::Url(url.into()))
}

/// A Binding request with transaction id `tx`.
pub fn request(tx: [u8; 12]) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[0..2].copy_from_slice(&BINDING_REQUEST.to_be_bytes());
    m[4..8].copy_from_slice(&MAGIC.to_be_bytes());
    m[8..20].copy_from_slice(&tx);
    m
}

/// The mapped address in a Binding success response to `tx`, if `m` is one.
pub fn parse_response(m: &[u8], tx: [u8; 12]) -> Option<Result<SocketAddr, StunError>> {
    if m.len() < 20
        || u16::from_be_bytes([m[0], m[1]]) != BINDING_SUCCESS
        || m[4..8] != MAGIC.to_be_bytes()
        || m[8..20] != tx
    {
        return None;
    }
    // A truncated answer is not one: keep waiting for a whole one.
    m.get(20..20 + u16::from_be_bytes([m[2], m[3]]) as usize)?;
    let mut plain = None;
    for (kind, value) in attributes(m) {
        match kind {
            XOR_MAPPED_ADDRESS => {
                return Some(address(value, Some(&m[4..20])).ok_or(StunError::NoAddress))
            }
            MAPPED_ADDRESS => plain = address(value, None),
            _ => {}
        }
    }
    Some(plain.ok_or(StunError::NoAddress))
}

/// Decodes a (XOR-)MAPPED-ADDRESS value; `xor` is the cookie and transaction id.
fn address(v: &[u8], xor: Option<&[u8]>) -> Option<SocketAddr> {
    let family = *v.get(1)?;
    let mut port = u16::from_be_bytes([*v.get(2)?, *v.get(3)?]);
    let key = xor.unwrap_or(&[0u8; 16]);
    if xor.is_some() {
        port ^= (MAGIC >> 16) as u16;
    }
    let ip = match family {
        1 => {
            let b = v.get(4..8)?;
            IpAddr::V4(Ipv4Addr::new(
                b[0] ^ key[0],
                b[1] ^ key[1],
                b[2] ^ key[2],
                b[3] ^ key[3],
            ))
        }
        2 => {
            let b = v.get(4..20)?;
            let mut o = [0u8; 16];
            for (k, x) in o.iter_mut().enumerate() {
                *x = b[k] ^ key[k];
            }
            IpAddr::V6(Ipv6Addr::from(o))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Asks `server` which address `socket` is seen from, retrying until `timeout`.
pub fn discover(
    socket: &UdpSocket,
    server: SocketAddr,
    timeout: Duration,
) -> Result<SocketAddr, StunError> {
    let mut tx = [0u8; 12];
    getrandom::fill(&mut tx).map_err(|e| StunError::Io(std::io::Error::other(e.to_string())))?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        socket.send_to(&request(tx), server)?;
        let wait =
            Duration::from_millis(250).min(deadline.saturating_duration_since(Instant::now()));
        socket.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
        loop {
            match socket.recv_from(&mut buf) {
                Ok((n, from)) if from == server => {
                    if let Some(r) = parse_response(&buf[..n], tx) {
                        socket.set_read_timeout(None)?;
                        return r;
                    }
                }
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    socket.set_read_timeout(None)?;
    Err(StunError::Timeout(server))
}

/// A connectivity check as a client sends it: a Binding request with ICE-CONTROLLING
/// first, then USERNAME `ufrag:clientufrag` (no integrity: nothing here checks it).
#[cfg(test)]
pub(super) fn check_naming(ufrag: &str) -> Vec<u8> {
    let user = format!("{ufrag}:clientufrag");
    let mut attrs = vec![0x80, 0x29, 0, 4, 1, 2, 3, 4];
    attrs.extend_from_slice(&USERNAME.to_be_bytes());
    attrs.extend_from_slice(&(user.len() as u16).to_be_bytes());
    attrs.extend_from_slice(user.as_bytes());
    attrs.resize(attrs.len().div_ceil(4) * 4, 0);
    let mut m = request([7; 12]).to_vec();
    m[2..4].copy_from_slice(&(attrs.len() as u16).to_be_bytes());
    m.extend_from_slice(&attrs);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot STUN server answering with XOR-MAPPED-ADDRESS, as RFC 8489 lays it out.
    fn serve_once(server: UdpSocket) {
        let mut buf = [0u8; 64];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(n, 20);
        let SocketAddr::V4(v4) = from else { panic!() };
        let mut m = vec![0x01, 0x01, 0, 12];
        m.extend_from_slice(&buf[4..20]);
        m.extend_from_slice(&[0, 0x20, 0, 8, 0, 1]);
        m.extend_from_slice(&(v4.port() ^ 0x2112).to_be_bytes());
        for (i, b) in v4.ip().octets().iter().enumerate() {
            m.push(b ^ MAGIC.to_be_bytes()[i]);
        }
        server.send_to(&m, from).unwrap();
    }

    #[test]
    fn learns_the_mapped_address_from_a_server() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let at = server.local_addr().unwrap();
        let t = std::thread::spawn(move || serve_once(server));
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mapped = discover(&socket, at, Duration::from_secs(2)).unwrap();
        assert_eq!(mapped, socket.local_addr().unwrap());
        t.join().unwrap();
    }

    #[test]
    fn names_the_peer_a_check_is_for() {
        let m = check_naming("nodeufrag");
        assert_eq!(request_ufrag(&m), Some(&b"nodeufrag"[..]));
        // A response, a truncated message, and plain bytes name nobody.
        let mut response = m.clone();
        response[0..2].copy_from_slice(&BINDING_SUCCESS.to_be_bytes());
        assert_eq!(request_ufrag(&response), None);
        assert_eq!(request_ufrag(&m[..30]), None);
        assert_eq!(request_ufrag(&[0x80; 64]), None);
        assert_eq!(request_ufrag(&request([1; 12])), None);
    }

    #[test]
    fn ignores_what_is_not_its_answer() {
        let tx = [1u8; 12];
        assert!(parse_response(&[0u8; 10], tx).is_none());
        let mut other = request([2u8; 12]).to_vec();
        other[0..2].copy_from_slice(&BINDING_SUCCESS.to_be_bytes());
        assert!(parse_response(&other, tx).is_none());
        let mut empty = request(tx).to_vec();
        empty[0..2].copy_from_slice(&BINDING_SUCCESS.to_be_bytes());
        assert!(matches!(
            parse_response(&empty, tx),
            Some(Err(StunError::NoAddress))
        ));
    }

    #[test]
    fn urls() {
        assert_eq!(resolve("stun:127.0.0.1:1234", true).unwrap().port(), 1234);
        assert_eq!(resolve("stun:127.0.0.1", true).unwrap().port(), 3478);
        assert!(resolve("turn:127.0.0.1", true).is_err());
    }
}
