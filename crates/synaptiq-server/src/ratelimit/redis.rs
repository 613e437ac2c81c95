//! Global buckets in Redis: one atomic Lua script per request, clocked by Redis `TIME` so that
//! server processes with skewed clocks agree. The script mirrors [`synaptiq_core::gcra`]
//! (in microseconds: Lua numbers are doubles, exact to 2^53).

use redis::aio::ConnectionManager;
use synaptiq_core::gcra::Decision;

use super::{Bucket, Outcome, Verdict};

/// KEYS: bucket keys. ARGV: spend (0/1), then per bucket: limit, period in µs, floor in µs.
/// Returns: now_us, refused index (0 = none, else 1-based), then per bucket:
/// allowed, remaining, reset_after_us, retry_after_us.
///
/// The floor is how far ahead of now the calling node's own copy of the bucket is (its shadow
/// of Redis's earlier answers plus what it charged locally while Redis was away). It is used
/// only for a bucket Redis does not hold: a Redis that restarted empty (it keeps nothing on
/// disk) or lost the key starts the bucket from the node's copy, not from a fresh allowance.
/// A bucket Redis holds is Redis's alone: the copy trails Redis by a round trip at least, and
/// feeding it back on every call would charge each request that round trip again.
const SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local spend = ARGV[1] == '1'
local out = {now, 0}
local new_tats = {}
for i = 1, #KEYS do
  local limit = tonumber(ARGV[3 * i - 1])
  local period = tonumber(ARGV[3 * i])
  local interval = math.max(math.floor(period / limit), 1)
  local capacity = interval * limit
  local stored = redis.call('GET', KEYS[i])
  local tat = now + tonumber(ARGV[3 * i + 1])
  if stored then tat = tonumber(stored) end
  local base = math.max(tat, now)
  local new_tat = base + interval
  if new_tat - now <= capacity then
    local remaining = math.floor((capacity - (new_tat - now)) / interval)
    if not spend then remaining = math.min(remaining + 1, limit) end
    new_tats[i] = new_tat
    table.insert(out, 1); table.insert(out, remaining)
    table.insert(out, new_tat - now); table.insert(out, 0)
  else
    if out[2] == 0 then out[2] = i end
    table.insert(out, 0); table.insert(out, 0)
    table.insert(out, base - now); table.insert(out, new_tat - now - capacity)
  end
end
if spend and out[2] == 0 then
  for i = 1, #KEYS do
    local period = tonumber(ARGV[3 * i])
    redis.call('SET', KEYS[i], string.format('%d', new_tats[i]), 'PX', math.floor(period / 1000) + 1000)
  end
end
return out
"#;

/// Key prefix in Redis.
const PREFIX: &str = "synaptiq:rl:";

/// A multiplexed, auto-reconnecting connection and the loaded script.
#[derive(Clone)]
pub struct RedisBuckets {
    conn: ConnectionManager,
    script: redis::Script,
}

impl RedisBuckets {
    /// Connects (bounded by `timeout`). The URL is never logged: it may hold a password.
    pub async fn connect(url: &str, timeout: std::time::Duration) -> Result<Self, String> {
        let client =
            redis::Client::open(url).map_err(|e| format!("invalid Redis URL ({:?})", e.kind()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            timeout * 2,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| "timed out connecting to Redis".to_owned())?
        .map_err(|e| format!("cannot connect to Redis: {e}"))?;
        Ok(Self {
            conn,
            script: redis::Script::new(SCRIPT),
        })
    }

    /// One round trip: checks (and charges) all buckets atomically; a bucket Redis does not
    /// hold starts from `floors_ns` (this node's own backlog of it, see [`SCRIPT`]).
    pub async fn check(
        &self,
        owner: &str,
        buckets: &[Bucket],
        floors_ns: &[u64],
        spend: bool,
    ) -> redis::RedisResult<Outcome> {
        let mut inv = self.script.prepare_invoke();
        inv.arg(if spend { 1 } else { 0 });
        for (i, b) in buckets.iter().enumerate() {
            inv.key(format!("{PREFIX}{}", b.kind.storage_id(owner)));
            let floor = floors_ns.get(i).copied().unwrap_or(0) / 1000;
            inv.arg(b.rate.limit)
                .arg(b.rate.period_ns / 1000)
                .arg(floor);
        }
        let mut conn = self.conn.clone();
        let out: Vec<i64> = inv.invoke_async(&mut conn).await?;
        let bad = || {
            redis::RedisError::from((redis::ErrorKind::UnexpectedReturnType, "rate-limit script"))
        };
        if out.len() != 2 + 4 * buckets.len() {
            return Err(bad());
        }
        let now_ns = u64::try_from(out[0]).map_err(|_| bad())? * 1000;
        let refused = usize::try_from(out[1])
            .ok()
            .filter(|&i| i > 0)
            .map(|i| i - 1);
        let ns = |v: i64| u64::try_from(v).unwrap_or(0) * 1000;
        let verdicts = buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let o = &out[2 + 4 * i..6 + 4 * i];
                let decision = Decision {
                    allowed: o[0] == 1,
                    remaining: u32::try_from(o[1]).unwrap_or(0),
                    reset_after_ns: ns(o[2]),
                    retry_after_ns: ns(o[3]),
                    new_tat_ns: 0,
                };
                Verdict::at(b.rate.limit, decision, now_ns)
            })
            .collect();
        Ok(Outcome { verdicts, refused })
    }

    /// A cheap liveness check.
    pub async fn ping(&self) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
    }
}
