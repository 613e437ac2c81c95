//! Streamed response bodies (server-sent events, exports): what a streaming route's answer
//! carries until its last byte.
//!
//! A request's whole-request timeout (`stack::limits`) ends when its handler returns the
//! response head; a streamed body goes on after that. So a streamed body holds what the
//! request held — the key's concurrency slot ([`Holding`]) — and instead of a deadline it
//! gets an idle timeout ([`IdleTimeout`]): it ends when nothing was sent for that long. SSE
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

/// A body that keeps `held` (a concurrency slot) until the body ends or is dropped.
pub struct Holding<T> {
    body: Body,
    held: Option<T>,
}

impl<T: Send + Unpin + 'static> Holding<T> {
    /// `res` with its body keeping `held` until its last byte.
    pub fn wrap(res: Response, held: T) -> Response {
        res.map(|body| {
            Body::new(Holding {
                body,
                held: Some(held),
            })
        })
    }
}

impl<T: Unpin> HttpBody for Holding<T> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            // Released at the end, not when the connection gets round to dropping the body.
            self.held = None;
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

/// A body that ends with an error (which aborts the response) when no frame came for
/// `idle`.
pub struct IdleTimeout {
    body: Body,
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl IdleTimeout {
    /// `res` with its body ended after `idle` without a frame.
    pub fn wrap(res: Response, idle: Duration) -> Response {
        res.map(|body| {
            Body::new(IdleTimeout {
                body,
                idle,
                timer: Box::pin(tokio::time::sleep(idle)),
            })
        })
    }
}

impl HttpBody for IdleTimeout {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = tokio::time::Instant::now() + this.idle;
                this.timer.as_mut().reset(next);
                Poll::Ready(frame)
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "stream idle timeout",
                ))))),
                Poll::Pending => Poll::Pending,
            },
        }
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
        let mut body = Holding::wrap(res, held.clone()).into_body();
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
        let mut body = IdleTimeout::wrap(res, Duration::from_secs(60)).into_body();
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(50)).await;
            tx.send(Bytes::from_static(b"x")).await.expect("send");
            assert!(body.frame().await.expect("frame").is_ok(), "busy: not idle");
        }
        let ended = body.frame().await.expect("an error frame");
        assert!(ended.is_err(), "60 s without a frame ends it");
    }
}
