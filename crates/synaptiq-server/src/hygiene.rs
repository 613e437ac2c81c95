//! Connection hygiene (issue 24): idle connections are closed, and one client address cannot
//! take every connection slot.
//!
//! - [`Activity`] counts a connection's requests in flight and when the last one ended; the
//!   transport closes the connection gracefully (HTTP/2: `GOAWAY`; HTTP/1.1: after the answer
//!   in progress) once nothing has been asked for the idle timeout. HTTP/2 `PING`s and the
//!   server's own keep-alive pings do not count as activity: they keep no request going.
//! - [`PeerSlots`] caps the connections of one client address (direct connections only; behind
//!   a proxy every connection comes from the proxy).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// One connection's requests: how many are in flight, and when the last one ended.
pub struct Activity {
    start: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds from `start` to the last request's end.
    last: AtomicU64,
}

impl Activity {
    /// A connection opened now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    /// A request begins; it counts as in flight until the guard is dropped (when its handler
    /// has answered: a streamed body that goes on is left to the graceful close, which lets it
    /// finish).
    pub fn begin(self: &Arc<Self>) -> InFlight {
        // No clock read here: while a request is in flight the connection is not idle
        // whatever `last` says, and its end records the time.
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Resolves once the connection has had no request in flight for `timeout`.
    pub async fn idle_for(&self, timeout: Duration) {
        loop {
            let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
            let due = self.start + last + timeout;
            if self.in_flight.load(Ordering::Relaxed) == 0 && Instant::now() >= due {
                return;
            }
            // Asleep until the earliest moment it could be idle (or a timeout from now, while
            // requests are in flight).
            tokio::time::sleep_until(due.max(Instant::now() + timeout / 4)).await;
        }
    }
}

/// A request in flight on a connection (see [`Activity::begin`]).
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Open connections per client address, capped.
pub struct PeerSlots {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PeerSlots {
    /// At most `max` connections per address (0: no cap).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for one more connection from `ip`, or `None` when it has `max` already.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<PeerSlot> {
        if self.max == 0 {
            return Some(PeerSlot(None));
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(PeerSlot(Some((self.clone(), ip))))
    }
}

/// A connection's place under its address's cap, given back when dropped.
pub struct PeerSlot(Option<(Arc<PeerSlots>, IpAddr)>);

impl Drop for PeerSlot {
    fn drop(&mut self) {
        if let Some((slots, ip)) = self.0.take() {
            let mut open = slots.open.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = open.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&ip);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_at_most_its_slots_back_and_forth() {
        let slots = PeerSlots::new(2);
        let a: IpAddr = [127, 0, 0, 2].into();
        let b: IpAddr = [127, 0, 0, 3].into();
        let (x, y) = (slots.take(a), slots.take(a));
        assert!(x.is_some() && y.is_some());
        assert!(slots.take(a).is_none(), "a third from the same address");
        assert!(slots.take(b).is_some(), "another address is not affected");
        drop(x);
        assert!(
            slots.take(a).is_some(),
            "a closed connection frees its slot"
        );
        assert!(PeerSlots::new(0).take(a).is_some(), "0: no cap");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_only_without_requests_for_the_timeout() {
        let activity = Activity::new();
        let timeout = Duration::from_secs(60);
        let guard = activity.begin();
        // A request in flight for two minutes: not idle meanwhile.
        let idle = tokio::time::timeout(Duration::from_secs(120), activity.idle_for(timeout));
        assert!(idle.await.is_err());
        drop(guard);
        let began = Instant::now();
        activity.idle_for(timeout).await;
        assert_eq!(
            began.elapsed(),
            timeout,
            "idle a full timeout after the last answer"
        );
    }
}
