//! The usage recorder's tests.

use super::*;

fn key() -> KeyRecord {
    KeyRecord::fixture("k", None)
}

const T0: i64 = 1_800_000_000_000;
const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

impl UsageRecorder {
    /// [`UsageRecorder::used`] through the key's slot, held only for this call (as by a
    /// cached record that is dropped right after).
    fn use_key(&self, k: &KeyRecord, at: Timestamp, ip: IpAddr, agent: Option<&str>, status: u16) {
        self.used(&self.slot(k.id.as_str()), k, at, ip, agent, status);
    }
}

fn facts(r: &UsageRecorder, now: i64, all: bool) -> Vec<(i64, String, Option<String>)> {
    let (batch, _) = r.take_due(Timestamp(now), all);
    batch
        .into_iter()
        .map(|f| (f.at.millis(), f.ip, f.user_agent))
        .collect()
}

/// A busy key's last use is written at its first flush, then once a minute (the newest
/// use each time); counters go out at every flush.
#[test]
fn last_use_is_written_once_a_minute_and_counters_every_flush() {
    let (r, k) = (UsageRecorder::default(), key());
    let ok = 200;
    r.use_key(&k, Timestamp(T0), IP, Some("agent/1"), ok);
    let (batch, counts) = r.take_due(Timestamp(T0 + 5_000), false);
    assert_eq!(batch.len(), 1, "first use: written at once");
    assert_eq!(counts.len(), 1);
    // Written, nothing pending and no record holding the slot: no slot left, only the
    // 16-byte write record.
    assert!(r.keys.lock().expect("lock").is_empty());
    assert_eq!(r.written.lock().expect("lock").len(), 1);
    let mut written_at = T0 + 5_000;
    for s in 1..=24 {
        let at = T0 + s * 5_000;
        r.use_key(&k, Timestamp(at), IP, Some("agent/1"), ok);
        let now = at + 5_000;
        let (batch, counts) = r.take_due(Timestamp(now), false);
        assert_eq!(counts.len(), 1, "counters at every flush");
        assert_eq!(counts[0].ok, 1);
        if now - written_at >= FACT_INTERVAL_MS {
            assert_eq!(batch.len(), 1, "a minute after the last write ({s})");
            assert_eq!(batch[0].at, Timestamp(at), "the newest use");
            written_at = now;
        } else {
            assert!(batch.is_empty(), "held back at flush {s}");
        }
    }
    // A use held back, then no more traffic: it still goes out a minute after the write.
    r.use_key(&k, Timestamp(written_at + 1_000), IP, Some("agent/1"), ok);
    assert!(facts(&r, written_at + 30_000, false).is_empty());
    assert_eq!(
        facts(&r, written_at + FACT_INTERVAL_MS, false),
        vec![(written_at + 1_000, IP.to_string(), Some("agent/1".into()))]
    );
    // Nothing pending and the last write out of date: the key is forgotten.
    assert!(facts(&r, written_at + 3 * FACT_INTERVAL_MS, false).is_empty());
    assert!(r.keys.lock().expect("lock").is_empty());
    assert!(r.written.lock().expect("lock").is_empty());
}

/// A slot held by a cached record stays across flushes (the next request needs no lookup)
/// and is the one the recorder flushes; once released and written out, it goes.
#[test]
fn a_held_slot_is_flushed_and_kept_until_released() {
    let (r, k) = (UsageRecorder::default(), key());
    let slot = r.slot(k.id.as_str());
    assert!(
        Arc::ptr_eq(&slot, &r.slot(k.id.as_str())),
        "one slot per key"
    );
    r.used(&slot, &k, Timestamp(T0), IP, None, 200);
    r.count(&slot, &k, Timestamp(T0), 429);
    let (batch, counts) = r.take_due(Timestamp(T0 + 1), false);
    assert_eq!(batch.len(), 1);
    assert_eq!((counts[0].ok, counts[0].rate_limited), (1, 1));
    assert_eq!(r.keys.lock().expect("lock").len(), 1, "held: kept");
    r.used(&slot, &k, Timestamp(T0 + 2), IP, None, 200);
    assert_eq!(
        r.pending_counts(&k.org_id, k.environment)[0].ok,
        1,
        "unwritten counters are visible"
    );
    drop(slot);
    let (_, counts) = r.take_due(Timestamp(T0 + 3), false);
    assert_eq!(counts[0].ok, 1, "nothing lost when the record goes");
    // The fact is held back (written a moment ago), so the slot stays until it is out.
    assert_eq!(r.keys.lock().expect("lock").len(), 1);
    assert_eq!(facts(&r, T0 + FACT_INTERVAL_MS + 3, false).len(), 1);
    assert!(r.keys.lock().expect("lock").is_empty());
}

/// A new address or user agent is written at the next flush; shutdown writes everything.
#[test]
fn a_new_address_or_agent_is_not_held_back_and_shutdown_writes_all() {
    let (r, k) = (UsageRecorder::default(), key());
    let ok = 200;
    r.use_key(&k, Timestamp(T0), IP, None, ok);
    assert_eq!(facts(&r, T0 + 1, false).len(), 1);
    let other = IpAddr::from([203, 0, 113, 9]);
    r.use_key(&k, Timestamp(T0 + 2), other, None, ok);
    assert_eq!(
        facts(&r, T0 + 3, false),
        vec![(T0 + 2, other.to_string(), None)]
    );
    r.use_key(&k, Timestamp(T0 + 4), other, Some("curl/8"), ok);
    assert_eq!(
        facts(&r, T0 + 5, false),
        vec![(T0 + 4, other.to_string(), Some("curl/8".into()))]
    );
    // Same address and agent again: held back, but not at shutdown.
    r.use_key(&k, Timestamp(T0 + 6), other, Some("curl/8"), ok);
    assert!(facts(&r, T0 + 7, false).is_empty());
    assert_eq!(facts(&r, T0 + 8, true).len(), 1, "flush_all");
    // Back to an address seen before the last write: that is a change too.
    r.use_key(&k, Timestamp(T0 + 9), IP, Some("curl/8"), ok);
    assert_eq!(facts(&r, T0 + 10, false).len(), 1);
}

/// A failed write is retried at the next flush, and a newer use that arrived meanwhile wins.
#[test]
fn failed_facts_come_back_unless_a_newer_one_arrived() {
    let (r, k) = (UsageRecorder::default(), key());
    r.use_key(&k, Timestamp(T0), IP, None, 200);
    let (batch, _) = r.take_due(Timestamp(T0 + 1), false);
    r.restore_facts(batch);
    assert_eq!(facts(&r, T0 + 2, false).len(), 1, "retried at once");
    r.use_key(&k, Timestamp(T0 + 3), IP, None, 200);
    let (batch, _) = r.take_due(Timestamp(T0 + FACT_INTERVAL_MS + 2), false);
    assert_eq!(batch.len(), 1);
    r.use_key(&k, Timestamp(T0 + FACT_INTERVAL_MS + 5), IP, None, 200);
    r.restore_facts(batch);
    assert_eq!(
        facts(&r, T0 + FACT_INTERVAL_MS + 6, false),
        vec![(T0 + FACT_INTERVAL_MS + 5, IP.to_string(), None)]
    );
}

#[test]
fn agents_are_cut_at_256_characters() {
    let long = "é".repeat(300);
    assert_eq!(cut(&long).chars().count(), 256);
    assert_eq!(cut("curl/8"), "curl/8");
    let r = UsageRecorder::default();
    let k = key();
    r.use_key(&k, Timestamp(T0), IP, Some(&long), 200);
    assert_eq!(facts(&r, T0 + 1, false).len(), 1);
    r.use_key(&k, Timestamp(T0 + 2), IP, Some(&long), 200);
    assert!(
        facts(&r, T0 + 3, false).is_empty(),
        "the same long agent is no change"
    );
}
