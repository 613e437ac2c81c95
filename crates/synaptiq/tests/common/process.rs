//! The server's process and raw connections to it: signals, waiting for its exit, raw TLS and TCP streams.

use super::*;

impl Server {
    /// Sends SIGTERM with the system's `kill` command.
    pub fn terminate(&self) {
        self.signal("-TERM");
    }

    /// Sends a signal (`-TERM`, `-INT`, …) with the system's `kill` command.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(signal)
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} failed: {status}");
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.exited {
            return Some(s);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                self.exited = Some(s);
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A TLS 1.2/1.3 connection offering `alpn`, handshake done.
    pub fn tls_stream(&self, alpn: &[&[u8]]) -> TlsStream {
        self.tls_stream_versions(alpn, rustls::ALL_VERSIONS)
    }

    /// A TLS connection restricted to `versions`, handshake done.
    pub fn tls_stream_versions(
        &self,
        alpn: &[&[u8]],
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> TlsStream {
        self.tls_over(self.tcp(), alpn, versions)
            .expect("TLS handshake")
    }

    /// A TCP connection to the HTTPS port from the local address `from` (any of 127.0.0.0/8
    /// on Linux), with a 30 s read timeout.
    pub fn tcp_from(&self, from: std::net::Ipv4Addr) -> TcpStream {
        use socket2::{Domain, Socket, Type};
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        sock.bind(&std::net::SocketAddr::from((from, 0)).into())
            .expect("bind the client address");
        sock.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], self.port)).into())
            .expect("connect");
        let s: TcpStream = sock.into();
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        s
    }

    /// TLS over `sock` offering `alpn`; the handshake's error when it fails.
    pub fn tls_over(
        &self,
        sock: TcpStream,
        alpn: &[&[u8]],
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> std::io::Result<TlsStream> {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&self.cert_pem) {
            roots.add(c.expect("certificate")).expect("add root");
        }
        let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let name = ServerName::try_from("127.0.0.1").expect("server name");
        let conn = rustls::ClientConnection::new(Arc::new(cfg), name).expect("client connection");
        let mut s = rustls::StreamOwned::new(conn, sock);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        Ok(s)
    }

    /// A plain TCP connection to the HTTPS port, with a 30 s read timeout.
    pub fn tcp(&self) -> TcpStream {
        tcp_to(self.port)
    }
}
