//! Loopback ports nobody is using, for a node that must come back where it was.

/// A TCP port free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free TCP port on 127.0.0.1")
        .local_addr()
        .expect("a bound socket's address")
        .port()
}

/// A UDP port free on 127.0.0.1 a moment ago.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .expect("a free UDP port on 127.0.0.1")
        .local_addr()
        .expect("a bound socket's address")
        .port()
}
