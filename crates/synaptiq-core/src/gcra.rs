//! The generic cell rate algorithm: a token bucket kept as one number.
//!
//! A bucket of capacity `limit` that refills continuously at `limit` per `period` is stored as
//! its *theoretical arrival time* (TAT): the instant at which the bucket would be full again.
//! A request is allowed when, after adding one emission interval `T = period / limit`, the TAT
//! is at most `limit × T` ahead of now. The same arithmetic runs in memory and in the Redis
//! script, so both limiters agree.

/// A rate: `limit` requests per `period_ns`, burst capacity `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per period (and bucket capacity). At least 1.
    pub limit: u32,
    /// Period length in nanoseconds.
    pub period_ns: u64,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Whole requests left in the bucket after this one.
    pub remaining: u32,
    /// Nanoseconds until the bucket is full again.
    pub reset_after_ns: u64,
    /// When refused: nanoseconds until one request would be allowed.
    pub retry_after_ns: u64,
    /// The TAT to store (unchanged when refused).
    pub new_tat_ns: u64,
}

impl Rate {
    /// `limit` requests per minute.
    pub fn per_minute(limit: u32) -> Self {
        Self {
            limit: limit.max(1),
            period_ns: 60_000_000_000,
        }
    }

    /// `limit` requests per day.
    pub fn per_day(limit: u32) -> Self {
        Self {
            limit: limit.max(1),
            period_ns: 86_400_000_000_000,
        }
    }

    fn interval(&self) -> u64 {
        (self.period_ns / u64::from(self.limit)).max(1)
    }

    /// Checks one request at `now_ns` against a bucket whose stored TAT is `tat_ns`
    /// (0 for a bucket never used).
    pub fn check(&self, tat_ns: u64, now_ns: u64) -> Decision {
        let t = self.interval();
        let capacity = t * u64::from(self.limit);
        let base = tat_ns.max(now_ns);
        let new_tat = base + t;
        if new_tat - now_ns <= capacity {
            let ahead = new_tat - now_ns;
            Decision {
                allowed: true,
                remaining: u32::try_from((capacity - ahead) / t).unwrap_or(u32::MAX),
                reset_after_ns: ahead,
                retry_after_ns: 0,
                new_tat_ns: new_tat,
            }
        } else {
            let ahead = base - now_ns;
            Decision {
                allowed: false,
                remaining: 0,
                reset_after_ns: ahead,
                retry_after_ns: new_tat - now_ns - capacity,
                new_tat_ns: tat_ns,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse_then_refill() {
        let r = Rate::per_minute(60);
        let mut tat = 0;
        let now = 1_000_000_000_000;
        for i in 0..60 {
            let d = r.check(tat, now);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 59 - i);
            tat = d.new_tat_ns;
        }
        let d = r.check(tat, now);
        assert!(!d.allowed);
        assert_eq!(d.retry_after_ns, 1_000_000_000);
        let later = r.check(tat, now + d.retry_after_ns);
        assert!(later.allowed);
        assert_eq!(later.remaining, 0);
    }

    #[test]
    fn fresh_bucket_is_full() {
        let d = Rate::per_minute(120).check(0, 5);
        assert!(d.allowed);
        assert_eq!(d.remaining, 119);
        assert_eq!(d.reset_after_ns, 500_000_000);
    }
}
