//! The accept loop: TLS with rustls, plain HTTP refused with `https_required`, slowloris and
//! request timeouts, connection caps (in all and per client address), idle connections closed
//! (`hygiene`), and graceful shutdown.
//!
//! Written by hand (over hyper-util) rather than with `axum::serve`, which sets no timer and so
//! has no header-read timeout, and cannot look at a connection's first byte: a TLS handshake
//! starts with 0x16, anything else on the TLS port is answered in plain HTTP/1.1 with a 403.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::app::AppState;
use crate::exposure;
use crate::stack::ClientAddr;

/// How the listener treats connections.
#[derive(Clone)]
pub enum Mode {
    /// TLS; plain HTTP gets `https_required`.
    Tls(TlsAcceptor),
    /// No TLS: only trusted proxies forwarding HTTPS are served (`--tls off`).
    BehindProxy,
    /// Every request gets `https_required` (`--http-listen`).
    RejectAll,
}

/// Serves `listener` until `shutdown` resolves, then drains in-flight requests (up to the
/// configured grace).
pub async fn serve(
    listener: TcpListener,
    mode: Mode,
    app: AppState,
    router: crate::stack::Stack,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let max = app.config.max_connections;
    let permits = Arc::new(Semaphore::new(max));
    // Direct clients are capped per address; behind a proxy every connection is the proxy's.
    let per_peer = match mode {
        Mode::BehindProxy => 0,
        Mode::Tls(_) | Mode::RejectAll => app.config.max_connections_per_ip,
    };
    let peers = crate::hygiene::PeerSlots::new(per_peer);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = permits.clone().acquire_owned() => p?,
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: wait a little instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = peers.take(peer.ip()) else {
            tracing::debug!(%peer, "connection cap of this address reached; closing");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (app, router, mode, stopped) =
            (app.clone(), router.clone(), mode.clone(), stopped.clone());
        tokio::spawn(async move {
            let _held = (permit, slot);
            handle(stream, peer, mode, app, router, stopped).await;
        });
    }
    drop(listener);
    // Every connection closes gracefully (HTTP/2 GOAWAY; HTTP/1.1 after the answer in
    // progress); each holds a permit until it has, so all permits back means all closed.
    let _ = stop.send(true);
    let grace = app.config.shutdown_grace;
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace elapsed with connections still open");
    }
    Ok(())
}

async fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    mode: Mode,
    app: AppState,
    router: crate::stack::Stack,
    stopped: tokio::sync::watch::Receiver<bool>,
) {
    let head_timeout = app.config.header_read_timeout;
    match mode {
        Mode::RejectAll => reject_plaintext(stream, peer, &app).await,
        Mode::BehindProxy => {
            serve_http(
                TokioIo::new(stream),
                peer,
                app,
                router,
                stopped,
                Proto::Detect,
            )
            .await
        }
        Mode::Tls(acceptor) => {
            let mut first = [0u8; 1];
            match tokio::time::timeout(head_timeout, stream.peek(&mut first)).await {
                Ok(Ok(1)) if first[0] == 0x16 => {}
                Ok(Ok(1)) => return reject_plaintext(stream, peer, &app).await,
                _ => return,
            }
            let Ok(Ok(tls)) = tokio::time::timeout(head_timeout, acceptor.accept(stream)).await
            else {
                return;
            };
            // ALPN has decided the protocol (RFC 9113 §3.2: HTTP/2 over TLS is negotiated, never
            // assumed), so hyper need not sniff the connection preface.
            let proto = match tls.get_ref().1.alpn_protocol() {
                Some(b"h2") => Proto::Http2,
                _ => Proto::Http1,
            };
            serve_http(TokioIo::new(tls), peer, app, router, stopped, proto).await;
        }
    }
}

/// Which HTTP version a connection speaks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    /// Negotiated HTTP/1.1 (or no ALPN).
    Http1,
    /// Negotiated `h2`.
    Http2,
    /// Plain TCP behind a proxy: detected from the first bytes.
    Detect,
}

async fn serve_http<I>(
    io: TokioIo<I>,
    peer: SocketAddr,
    app: AppState,
    router: crate::stack::Stack,
    stopped: tokio::sync::watch::Receiver<bool>,
    proto: Proto,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let header_read_timeout = app.config.header_read_timeout;
    // Heads up to twice the limit reach the stack, which answers them `431` with the error
    // envelope (`stack::limits`); beyond that hyper refuses them itself (a bare 431 on
    // HTTP/1.1; on HTTP/2 the h2 crate's own refusal). hyper's HTTP/1 buffer is 8 KiB at least.
    let head_room = (2 * app.config.header_limit).max(16 * 1024);
    let behind_proxy = proto == Proto::Detect;
    let idle_timeout = app.config.idle_timeout;
    let started = Arc::new(AtomicBool::new(false));
    let seen = started.clone();
    let activity = crate::hygiene::Activity::new();
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let (app, router) = (app.clone(), router.clone());
        seen.store(true, Ordering::Relaxed);
        let in_flight = requests.begin();
        async move {
            let _in_flight = in_flight;
            let mut client = peer;
            if behind_proxy {
                match forwarded_client(&app, peer, req.headers()) {
                    Some(ip) => client = SocketAddr::new(ip, peer.port()),
                    None => {
                        let token = crate::auth::bearer_token(req.headers())
                            .ok()
                            .map(str::to_owned);
                        return Ok::<_, std::convert::Infallible>(
                            exposure::https_required_response(&app, token.as_deref(), peer.ip())
                                .await,
                        );
                    }
                }
            }
            ClientAddr(client)
                .scope(router.oneshot(req.map(Body::new)))
                .await
        }
    });
    let mut builder = Builder::new(TokioExecutor::new());
    builder = match proto {
        Proto::Http1 => builder.http1_only(),
        Proto::Http2 => builder.http2_only(),
        Proto::Detect => builder,
    };
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_buf_size(head_room)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .max_header_list_size(u32::try_from(head_room).unwrap_or(u32::MAX))
        .max_concurrent_streams(256);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    // hyper's header-read timeout starts only once HTTP/1 has been detected; a connection that
    // sends nothing (or half an HTTP/2 preface) after the handshake is cut off here instead.
    let watchdog = async {
        tokio::time::sleep(header_read_timeout).await;
        if started.load(Ordering::Relaxed) {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(watchdog);
    // Shutdown, or nothing asked for the idle timeout, is watched by a task of its own (it
    // wakes about once per idle timeout): this loop, woken by every read and write of the
    // connection, polls only one more future for it — a `Notified`, an atomic load.
    let close = Arc::new(tokio::sync::Notify::new());
    let supervisor = tokio::spawn({
        let (close, activity, mut stopped) = (close.clone(), activity.clone(), stopped);
        async move {
            tokio::select! {
                _ = stopped.wait_for(|stop| *stop) => {}
                () = activity.idle_for(idle_timeout) => {
                    tracing::debug!(%peer, "idle for the idle timeout; closing");
                }
            }
            close.notify_one();
        }
    });
    let closed = close.notified();
    tokio::pin!(closed);
    let mut closing = false;
    loop {
        tokio::select! {
            biased;
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, %peer, "connection ended with an error");
                }
                break;
            }
            () = &mut watchdog => {
                tracing::debug!(%peer, "no request within the header timeout; closing");
                break;
            }
            // HTTP/2 sends GOAWAY, HTTP/1.1 closes after the answer in progress; what is in
            // flight finishes.
            () = &mut closed, if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
    supervisor.abort();
}

/// With `--tls off`: the client address when a trusted proxy forwarded an HTTPS request.
fn forwarded_client(app: &AppState, peer: SocketAddr, headers: &http::HeaderMap) -> Option<IpAddr> {
    let trusted = |ip: &IpAddr| app.config.trusted_proxies.iter().any(|n| n.contains(ip));
    if !trusted(&peer.ip()) {
        return None;
    }
    let proto = headers.get("x-forwarded-proto")?.to_str().ok()?;
    if !proto.trim().eq_ignore_ascii_case("https") {
        return None;
    }
    // The client is the right-most X-Forwarded-For entry that is not itself a trusted proxy.
    let chain: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some(
        chain
            .into_iter()
            .rev()
            .find(|ip| !trusted(ip))
            .unwrap_or(peer.ip()),
    )
}

/// Reads a plain-HTTP request head (bounded in size and time), answers 403 `https_required`
/// and closes. A well-formed key in it is flagged as exposed.
async fn reject_plaintext(mut stream: TcpStream, peer: SocketAddr, app: &AppState) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let deadline = app.config.header_read_timeout;
    let _ = tokio::time::timeout(deadline, async {
        while buf.len() < 16 * 1024 && !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    let token = exposure::token_in_head(&buf);
    let res = exposure::https_required_response(app, token.as_deref(), peer.ip()).await;
    let (parts, body) = res.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let mut out = format!("HTTP/1.1 {}\r\n", parts.status);
    for (k, v) in &parts.headers {
        if let Ok(v) = v.to_str() {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let _ = stream.write_all(out.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}
