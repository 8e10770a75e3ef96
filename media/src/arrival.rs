//! When a datagram reached a socket, from the kernel (`SO_TIMESTAMPNS` on Linux), not when
//! its reader got round to it. Elsewhere the stamp is the time of the read.
//!
//! - The node's front stamps what it reads, so a speaker's packet that waited in the socket
//!   buffer while the node was overloaded is known to be late, and the shards skip it
//!   instead of playing it seconds behind.
//! - A load generator running a thousand clients on the node's own machine reads each
//!   datagram late by its own backlog; the stamp leaves that out, so what it measures is
//!   what the node (and the network) added.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Asks the kernel to stamp each datagram `socket` receives (best effort).
pub fn enable(socket: &UdpSocket) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: a valid socket descriptor and a c_int option of the size given.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "no arrival stamps");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
}

/// Receives one datagram: its length, its source, and when it arrived.
pub async fn recv(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr, Instant)> {
    #[cfg(target_os = "linux")]
    {
        socket
            .async_io(Interest::READABLE, || recv_stamped(socket, buf))
            .await
    }
    #[cfg(not(target_os = "linux"))]
    {
        let (n, from) = socket.recv_from(buf).await?;
        Ok((n, from, Instant::now()))
    }
}

/// Receives one datagram if one is waiting (`WouldBlock` if not).
pub fn try_recv(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr, Instant)> {
    #[cfg(target_os = "linux")]
    {
        socket.try_io(Interest::READABLE, || recv_stamped(socket, buf))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let (n, from) = socket.try_recv_from(buf)?;
        Ok((n, from, Instant::now()))
    }
}

#[cfg(target_os = "linux")]
fn recv_stamped(
    socket: &UdpSocket,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr, Instant)> {
    use socket2::{MaybeUninitSlice, MsgHdrMut, SockAddr, SockAddrStorage, SockRef};
    use std::mem::MaybeUninit;

    let mut control = [MaybeUninit::<u8>::uninit(); 64];
    // SAFETY: an all-zero storage is a valid (unspecified) address of its whole length; the
    // kernel writes the source into it, and its family says how to read it.
    let mut from = unsafe {
        SockAddr::new(
            SockAddrStorage::zeroed(),
            std::mem::size_of::<SockAddrStorage>() as socket2::socklen_t,
        )
    };
    // SAFETY: `buf` is initialised bytes; recvmsg only writes into it.
    let data = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    let mut bufs = [MaybeUninitSlice::new(data)];
    let mut msg = MsgHdrMut::new()
        .with_addr(&mut from)
        .with_buffers(&mut bufs)
        .with_control(&mut control);
    let n = SockRef::from(socket).recvmsg(&mut msg, 0)?;
    let control_len = msg.control_len();
    let source = from
        .as_socket()
        .ok_or_else(|| std::io::Error::other("datagram from a non-IP address"))?;
    // SAFETY: the kernel initialised the first `control_len` bytes.
    let control = unsafe { &*(&control[..control_len] as *const [MaybeUninit<u8>] as *const [u8]) };
    let at = stamp(control).map_or_else(Instant::now, to_instant);
    Ok((n, source, at))
}

/// The SCM_TIMESTAMPNS in a control buffer, as time since the epoch.
#[cfg(target_os = "linux")]
fn stamp(control: &[u8]) -> Option<Duration> {
    let header = std::mem::size_of::<libc::cmsghdr>();
    let mut i = 0;
    while i + header <= control.len() {
        // SAFETY: `header` bytes are in bounds; read unaligned from a byte buffer.
        let h: libc::cmsghdr = unsafe { std::ptr::read_unaligned(control[i..].as_ptr().cast()) };
        let len = h.cmsg_len as usize;
        if len < header || i + len > control.len() {
            return None;
        }
        if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_TIMESTAMPNS {
            let at = control.get(i + header..i + header + std::mem::size_of::<libc::timespec>())?;
            // SAFETY: the slice holds a whole timespec; read unaligned.
            let ts: libc::timespec = unsafe { std::ptr::read_unaligned(at.as_ptr().cast()) };
            return Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
        }
        i += len.next_multiple_of(std::mem::size_of::<usize>());
    }
    None
}

/// A wall-clock stamp as an `Instant`, by how long ago it was.
fn to_instant(since_epoch: Duration) -> Instant {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ago = now.saturating_sub(since_epoch);
    let i = Instant::now();
    i.checked_sub(ago).unwrap_or(i)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[tokio::test]
    async fn datagrams_carry_the_kernel_s_arrival_time() {
        let rx = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        super::enable(&rx);
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // The first socket on a machine to ask makes the kernel switch stamping on, which it
        // does a moment later (until then it stamps at the read): one datagram to warm up.
        let mut buf = [0u8; 16];
        for _ in 0..50 {
            tx.send_to(b"warm", rx.local_addr().unwrap()).unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let (_, _, at) = super::recv(&rx, &mut buf).await.unwrap();
            if at.elapsed() >= std::time::Duration::from_millis(15) {
                break;
            }
        }
        tx.send_to(b"hello", rx.local_addr().unwrap()).unwrap();
        // Read late on purpose: the stamp is the arrival, not the read.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let (n, from, at) = super::recv(&rx, &mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hello"[..], tx.local_addr().unwrap()));
        let waited = at.elapsed();
        assert!(waited >= std::time::Duration::from_millis(45), "{waited:?}");
    }
}
