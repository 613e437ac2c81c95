//! Streamed response bodies (server-sent events, exports): what a streaming route's answer
//! carries until its last byte.
//!
//! A request's whole-request timeout (`stack::limits`) ends when its handler returns the
//! response head; a streamed body goes on after that. So a streamed body holds what the
//! request held — the key's concurrency slot — and instead of a deadline it gets an idle
//! timeout: it ends when nothing was sent for that long ([`Streamed`]). SSE
//! answers send a keep-alive comment every [`KEEP_ALIVE`] ([`sse`]), so an open event stream
//! that is merely waiting is never idle.

use std::convert::Infallible;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::response::Response;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use http_body::Frame;

/// How often an idle event stream sends a keep-alive comment.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// An SSE answer over `events`, with a keep-alive comment every [`KEEP_ALIVE`].
pub fn sse<S>(events: S) -> Sse<axum::response::sse::KeepAliveStream<S>>
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
}

/// Whether `res`'s body is all there (a buffer of known length): a body that is not may be
/// streamed long after the handler returned.
pub fn is_complete(res: &Response) -> bool {
    res.body().size_hint().exact().is_some()
}

/// A streamed body that keeps `held` (the key's concurrency slot) until it ends or is
/// dropped, and, given an idle timeout, ends with an error (aborting the response) when no
/// frame came for that long.
pub struct Streamed<T> {
    body: Body,
    held: Option<T>,
    idle: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
}

impl<T: Send + Unpin + 'static> Streamed<T> {
    /// `res` with its body keeping `held` until its last byte and ended after `idle` without
    /// a frame (each when given).
    pub fn wrap(res: Response, held: Option<T>, idle: Option<Duration>) -> Response {
        if held.is_none() && idle.is_none() {
            return res;
        }
        res.map(|body| {
            Body::new(Streamed {
                body,
                held,
                idle: idle.map(|d| (d, Box::pin(tokio::time::sleep(d)))),
            })
        })
    }
}

impl<T: Unpin> HttpBody for Streamed<T> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let polled = match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some((idle, timer)) = &mut this.idle {
                    timer.as_mut().reset(tokio::time::Instant::now() + *idle);
                }
                Poll::Ready(frame)
            }
            Poll::Pending => {
                let idled = match &mut this.idle {
                    Some((_, timer)) => timer.as_mut().poll(cx).is_ready(),
                    None => false,
                };
                if idled {
                    Poll::Ready(Some(Err(axum::Error::new(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "stream idle timeout",
                    )))))
                } else {
                    Poll::Pending
                }
            }
        };
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            // Released at the end, not when the connection gets round to dropping the body.
            this.held = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn channel_body() -> (tokio::sync::mpsc::Sender<Bytes>, Response) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
        });
        (tx, Response::new(Body::from_stream(stream)))
    }

    #[tokio::test]
    async fn a_held_value_lives_until_the_last_byte() {
        let held = std::sync::Arc::new(());
        let (tx, res) = channel_body();
        assert!(!is_complete(&res));
        let mut body = Streamed::wrap(res, Some(held.clone()), None).into_body();
        tx.send(Bytes::from_static(b"a")).await.expect("send");
        let first = body.frame().await.expect("frame").expect("ok");
        assert_eq!(first.into_data().ok(), Some(Bytes::from_static(b"a")));
        assert_eq!(
            std::sync::Arc::strong_count(&held),
            2,
            "held while streaming"
        );
        drop(tx);
        assert!(body.frame().await.is_none(), "ended");
        assert_eq!(
            std::sync::Arc::strong_count(&held),
            1,
            "released at the end"
        );
        drop(body);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_stream_ends_and_a_busy_one_does_not() {
        let (tx, res) = channel_body();
        let mut body = Streamed::<()>::wrap(res, None, Some(Duration::from_secs(60))).into_body();
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(50)).await;
            tx.send(Bytes::from_static(b"x")).await.expect("send");
            assert!(body.frame().await.expect("frame").is_ok(), "busy: not idle");
        }
        let ended = body.frame().await.expect("an error frame");
        assert!(ended.is_err(), "60 s without a frame ends it");
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_stream_sends_a_keep_alive_every_15_seconds() {
        let events = futures_util::stream::pending::<Result<Event, Infallible>>();
        let mut body = axum::response::IntoResponse::into_response(sse(events)).into_body();
        let started = tokio::time::Instant::now();
        for n in 1..=3 {
            let frame = body.frame().await.expect("a frame").expect("ok");
            let data = frame.into_data().expect("data");
            assert_eq!(&data[..], b": keep-alive\n\n", "keep-alive {n}");
            assert_eq!(started.elapsed(), KEEP_ALIVE * n, "keep-alive {n} on time");
        }
    }
}
