//! The SQL builders' tests.
use synaptiq_types::leads::{LeadSource, LeadStatus};
use synaptiq_types::time::Timestamp;

use super::*;
use synaptiq_types::leads::{LeadListQuery, LeadSortBy, SortOrder};

/// The placeholders of `b` are `$1` … `$n`, first used in that order, `n` being the
/// number of arguments.
fn assert_numbered(b: &Built<'_>) {
    let mut seen = Vec::new();
    let mut rest = b.sql.as_str();
    while let Some(i) = rest.find('$') {
        rest = &rest[i + 1..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let n: usize = digits.parse().expect("a placeholder number");
        if !seen.contains(&n) {
            seen.push(n);
        }
    }
    let expected: Vec<usize> = (1..=b.args.len()).collect();
    assert_eq!(seen, expected, "{}", b.sql);
}

fn page(p: u32, limit: u32) -> PageRequest {
    PageRequest::new(Some(p), Some(limit)).expect("page")
}

#[test]
fn lead_statements_hold_only_the_given_conditions() {
    let q = LeadListQuery::default();
    let b = lead_count_sql("org_1", "live", &q);
    assert_eq!(
        b.sql,
        "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM lead_counts \
         WHERE org_id = $1 AND environment = $2"
    );
    assert_eq!(b.args, vec![Arg::Text("org_1"), Arg::Text("live")]);

    let before = Timestamp::now();
    let q = LeadListQuery {
        status: Some(LeadStatus::Lost),
        created_before: Some(before),
        sort_by: Some(LeadSortBy::Score),
        sort_order: Some(SortOrder::Asc),
        ..LeadListQuery::default()
    };
    let b = lead_count_sql("org_1", "test", &q);
    assert_eq!(
        b.sql,
        "SELECT COUNT(*) FROM leads WHERE org_id = $1 AND environment = $2 \
         AND status = $3 AND created_at < $4"
    );
    assert_eq!(
        b.args,
        vec![
            Arg::Text("org_1"),
            Arg::Text("test"),
            Arg::Text("lost"),
            Arg::Int(before.millis())
        ]
    );
    let b = lead_page_sql("org_1", "test", &q, page(3, 10));
    assert_eq!(
        b.sql,
        format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE id IN (SELECT id FROM leads \
             WHERE org_id = $1 AND environment = $2 AND status = $3 AND created_at < $4 \
             ORDER BY score ASC, id ASC LIMIT $5 OFFSET $6) ORDER BY score ASC, id ASC"
        )
    );
    assert_eq!(&b.args[4..], &[Arg::Int(10), Arg::Int(20)]);
}

#[test]
fn every_filter_combination_is_numbered_in_order() {
    let at = Timestamp::now();
    for status in [None, Some(LeadStatus::New)] {
        for source in [None, Some(LeadSource::Form)] {
            for after in [None, Some(at)] {
                for before in [None, Some(at)] {
                    let q = LeadListQuery {
                        status,
                        source,
                        created_after: after,
                        created_before: before,
                        ..LeadListQuery::default()
                    };
                    let count = lead_count_sql("o", "live", &q);
                    assert_numbered(&count);
                    let dated = after.is_some() || before.is_some();
                    assert_eq!(count.sql.contains("lead_counts"), !dated);
                    assert_numbered(&lead_page_sql("o", "live", &q, page(1, 25)));
                }
            }
        }
    }
}

#[test]
fn search_patterns_choose_the_trigram_index_from_three_characters() {
    let p = search_patterns("Say \"Hi\" 100%", SearchIndex::Fts5);
    assert_eq!(p.needle, "say \"hi\" 100%");
    assert_eq!(p.contains, "%say \"hi\" 100\\%%");
    assert_eq!(p.prefix, "say \"hi\" 100\\%%");
    assert_eq!(p.fts.as_deref(), Some("\"say \"\"hi\"\" 100%\""));
    assert_eq!(search_patterns("ab", SearchIndex::Fts5).fts, None);
    assert_eq!(
        search_patterns("ÄÖ", SearchIndex::Fts5).fts,
        None,
        "characters, not bytes"
    );
    assert_eq!(
        search_patterns("ÄÖü", SearchIndex::Fts5).fts.as_deref(),
        Some("\"äöü\"")
    );
    assert_eq!(search_patterns("abc", SearchIndex::Like).fts, None);
}

#[test]
fn search_statements_are_numbered_in_order() {
    for q in ["ab", "abc"] {
        for index in [SearchIndex::Like, SearchIndex::Fts5] {
            let p = search_patterns(q, index);
            let count = search_count_sql("o", "live", &p);
            let page_sql = search_page_sql("o", "live", &p, page(2, 5));
            assert_numbered(&count);
            assert_numbered(&page_sql);
            let indexed = p.fts.is_some();
            assert_eq!(count.sql.contains("leads_search MATCH"), indexed);
            assert_eq!(page_sql.sql.contains("leads_search MATCH"), indexed);
            assert_eq!(page_sql.args.last(), Some(&Arg::Int(5)));
        }
    }
    let p = search_patterns("ab", SearchIndex::Like);
    assert_eq!(
        search_count_sql("o", "live", &p).sql,
        "SELECT COUNT(*) FROM leads WHERE org_id = $1 AND environment = $2 \
         AND (lower(COALESCE(name, '')) LIKE $3 ESCAPE '\\' OR email_norm LIKE $3 \
         ESCAPE '\\' OR lower(COALESCE(company, '')) LIKE $3 ESCAPE '\\')"
    );
}
