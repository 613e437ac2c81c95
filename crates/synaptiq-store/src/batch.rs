//! Multi-row statements for the usage flush: one statement per chunk of rows instead of one
//! per row (a flush after a busy interval carries one row per key used — 10,000 keys meant
//! 20,000 statements every five seconds; issue 7).
//!
//! The SQL text is built only from constants and placeholders; every value is bound. Both
//! dialects accept it: `VALUES` lists name their columns `column1`, `column2`, …, and
//! `UPDATE … FROM` exists in SQLite ≥ 3.33 and PostgreSQL. Placeholders differ: PostgreSQL
//! needs `$n`; SQLite gets anonymous `?`, because it keeps named ones (`$n`, `?n`) in a list it
//! searches linearly, on parsing and again on every bind — quadratic in the parameters, which
//! at 2,000 of them cost more than the statements saved (perf: `sqlite3_bind_parameter_name`
//! and `strncmp`, a fifth of the server's CPU under load).

use std::borrow::Cow;
use std::sync::OnceLock;

use crate::keys::UsageFact;

/// How a backend writes placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placeholders {
    /// `$1`, `$2`, … (PostgreSQL).
    Numbered,
    /// `?` in order (SQLite).
    Anonymous,
}

/// Rows per usage-fact statement (4 parameters each).
pub(crate) const FACTS_PER_STATEMENT: usize = 500;
/// Rows per usage-counter statement (8 parameters each).
pub(crate) const COUNTS_PER_STATEMENT: usize = 250;

/// The row counts a statement of at most `max` rows may have.
///
/// With any count allowed, each flush's statements had new text, so each was parsed anew
/// (`persistent(false)`; parsing was a third of a flush in callgrind). Rows are split greedily
/// into these five sizes instead, so every statement shape recurs, is built once per process
/// and stays prepared in sqlx's per-connection statement cache.
fn chunk_sizes(max: usize) -> [usize; 5] {
    [max, (max / 5).max(1), (max / 25).max(1), 4, 1]
}

/// `items` in chunks of the sizes of [`chunk_sizes`]`(max)`, largest first.
pub(crate) fn split<T>(items: &[T], max: usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut rest = items;
    for size in chunk_sizes(max) {
        while rest.len() >= size {
            let (chunk, tail) = rest.split_at(size);
            out.push(chunk);
            rest = tail;
        }
    }
    out
}

/// The statement built by `build` for `rows` rows: from a table made once per process for the
/// row counts [`split`] produces, or built anew for any other count.
fn cached(
    cell: &'static OnceLock<Vec<((Placeholders, usize), String)>>,
    max: usize,
    build: fn(Placeholders, usize) -> String,
    p: Placeholders,
    rows: usize,
) -> Cow<'static, str> {
    let table = cell.get_or_init(|| {
        [Placeholders::Numbered, Placeholders::Anonymous]
            .into_iter()
            .flat_map(|p| chunk_sizes(max).map(|n| ((p, n), build(p, n))))
            .collect()
    });
    match table.iter().find(|(k, _)| *k == (p, rows)) {
        Some((_, sql)) => Cow::Borrowed(sql.as_str()),
        None => Cow::Owned(build(p, rows)),
    }
}

/// [`record_usage_sql`] for `rows` rows, built once per shape.
pub(crate) fn record_usage_statement(p: Placeholders, rows: usize) -> Cow<'static, str> {
    static SQL: OnceLock<Vec<((Placeholders, usize), String)>> = OnceLock::new();
    cached(&SQL, FACTS_PER_STATEMENT, record_usage_sql, p, rows)
}

/// [`upsert_usage_counts_sql`] for `rows` rows, built once per shape.
pub(crate) fn upsert_usage_counts_statement(p: Placeholders, rows: usize) -> Cow<'static, str> {
    static SQL: OnceLock<Vec<((Placeholders, usize), String)>> = OnceLock::new();
    cached(&SQL, COUNTS_PER_STATEMENT, upsert_usage_counts_sql, p, rows)
}

/// `($a, $b, …)` for row `row` of `width` parameters; the columns listed in `bigint` are
/// `CAST` to BIGINT (PostgreSQL types a `VALUES` column from its first row, without a table).
fn values_row(out: &mut String, p: Placeholders, row: usize, width: usize, bigint: &[usize]) {
    out.push('(');
    for col in 0..width {
        if col > 0 {
            out.push_str(", ");
        }
        let one = match p {
            Placeholders::Numbered => format!("${}", row * width + col + 1),
            Placeholders::Anonymous => "?".to_owned(),
        };
        if bigint.contains(&col) {
            out.push_str(&format!("CAST({one} AS BIGINT)"));
        } else {
            out.push_str(&one);
        }
    }
    out.push(')');
}

fn values(p: Placeholders, rows: usize, width: usize, bigint: &[usize]) -> String {
    let mut out = String::with_capacity(rows * width * 6);
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        values_row(&mut out, p, row, width, bigint);
    }
    out
}

/// Last-use facts of `rows` keys: per row (at, ip, user agent, key id). A key's fact is only
/// written if it is newer than the stored one (another node may have written a later use).
pub(crate) fn record_usage_sql(p: Placeholders, rows: usize) -> String {
    format!(
        "UPDATE api_keys SET last_used_at = v.column1, last_used_ip = v.column2, \
         last_used_user_agent = v.column3 \
         FROM (VALUES {}) AS v \
         WHERE api_keys.id = v.column4 \
         AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < v.column1)",
        values(p, rows, 4, &[0])
    )
}

/// Hourly counters of `rows` (key, hour) pairs: per row (key id, org id, environment, hour,
/// ok, client errors, rate limited, server errors), added to what is stored. The pairs of one
/// statement must be distinct (PostgreSQL cannot update a row twice in one statement).
pub(crate) fn upsert_usage_counts_sql(p: Placeholders, rows: usize) -> String {
    format!(
        "INSERT INTO key_usage_hourly (key_id, org_id, environment, hour, ok, client_error, \
         rate_limited, server_error) VALUES {} \
         ON CONFLICT (key_id, hour) DO UPDATE SET ok = key_usage_hourly.ok + excluded.ok, \
         client_error = key_usage_hourly.client_error + excluded.client_error, \
         rate_limited = key_usage_hourly.rate_limited + excluded.rate_limited, \
         server_error = key_usage_hourly.server_error + excluded.server_error",
        values(p, rows, 8, &[3, 4, 5, 6, 7])
    )
}

/// The facts of `batch` to write: one per key (a row joined twice in one statement gets an
/// unpredictable one), the newest, and of equally new ones the first — what applying them in
/// order gave; in key id order, so on PostgreSQL two nodes flushing overlapping batches lock
/// rows in the same order and never deadlock (SQLite's single writer needs no order).
pub(crate) fn newest_per_key(batch: &[UsageFact]) -> Vec<&UsageFact> {
    let mut facts: Vec<&UsageFact> = batch.iter().collect();
    // Stable: facts for one key keep their order.
    facts.sort_by(|a, b| a.key_id.as_str().cmp(b.key_id.as_str()));
    facts.dedup_by(|later, kept| {
        if later.key_id != kept.key_id {
            return false;
        }
        if later.at > kept.at {
            *kept = *later;
        }
        true
    });
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_into_few_recurring_sizes() {
        for n in [
            0usize, 1, 3, 4, 5, 19, 20, 99, 100, 499, 500, 501, 1234, 10_000,
        ] {
            let items: Vec<usize> = (0..n).collect();
            let chunks = split(&items, FACTS_PER_STATEMENT);
            let flat: Vec<usize> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
            assert_eq!(flat, items, "{n}: every row once, in order");
            for c in &chunks {
                assert!(
                    chunk_sizes(FACTS_PER_STATEMENT).contains(&c.len()),
                    "{n}: {}",
                    c.len()
                );
                assert!(matches!(
                    record_usage_statement(Placeholders::Anonymous, c.len()),
                    Cow::Borrowed(_)
                ));
            }
            for c in split(&items, COUNTS_PER_STATEMENT) {
                assert!(matches!(
                    upsert_usage_counts_statement(Placeholders::Numbered, c.len()),
                    Cow::Borrowed(_)
                ));
            }
            // Greedy: at most 4 + 4 + 4 + 3 chunks besides the full ones.
            assert!(
                chunks.len() <= n / FACTS_PER_STATEMENT + 15,
                "{n}: {}",
                chunks.len()
            );
        }
        assert_eq!(
            record_usage_statement(Placeholders::Numbered, 7),
            record_usage_sql(Placeholders::Numbered, 7)
        );
        assert_eq!(
            upsert_usage_counts_statement(Placeholders::Anonymous, 50),
            upsert_usage_counts_sql(Placeholders::Anonymous, 50)
        );
    }

    #[test]
    fn placeholders_are_numbered_in_order() {
        let sql = record_usage_sql(Placeholders::Numbered, 2);
        assert!(
            sql.contains(
                "(VALUES (CAST($1 AS BIGINT), $2, $3, $4), (CAST($5 AS BIGINT), $6, $7, $8))"
            ),
            "{sql}"
        );
        let sql = record_usage_sql(Placeholders::Anonymous, 2);
        assert!(
            sql.contains("(VALUES (CAST(? AS BIGINT), ?, ?, ?), (CAST(? AS BIGINT), ?, ?, ?))")
        );
        let sql = upsert_usage_counts_sql(Placeholders::Numbered, 1);
        assert!(sql.contains("VALUES ($1, $2, $3, CAST($4 AS BIGINT), CAST($5 AS BIGINT)"));
        assert!(sql.contains("CAST($8 AS BIGINT))"));
    }
}
