//! Search against a plain LIKE scan of the same rows.

use super::*;
use crate::conformance::harness::via_app;

/// `q` as the search's `LIKE` patterns: (needle, `%needle%`, `needle%`).
fn patterns(q: &str) -> (String, String, String) {
    let needle = q.to_lowercase();
    let mut escaped = String::new();
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    (needle, format!("%{escaped}%"), format!("{escaped}%"))
}

/// The search as plain SQL (a full scan with `LIKE`): matches, ranking and order.
const REFERENCE_SEARCH: &str = "SELECT id FROM leads WHERE org_id = $1 AND environment = $2 \
    AND (lower(COALESCE(name, '')) LIKE $3 ESCAPE '\\' OR email_norm LIKE $3 ESCAPE '\\' \
    OR lower(COALESCE(company, '')) LIKE $3 ESCAPE '\\') \
    ORDER BY CASE WHEN email_norm = $4 THEN 3 \
    WHEN lower(COALESCE(name, '')) LIKE $5 ESCAPE '\\' OR email_norm LIKE $5 ESCAPE '\\' \
    OR lower(COALESCE(company, '')) LIKE $5 ESCAPE '\\' THEN 2 ELSE 1 END DESC, \
    created_at DESC, id DESC";

pub async fn search_matches_the_plain_like_scan(store: Arc<dyn Store>, url: String) {
    let mut raw = Raw::connect(&url).await;
    let a = org(&store, "Acme").await;
    let b = org(&store, "Globex").await;
    let corpus = [
        named("zoe@x.io", Some("Zoë Ångström"), Some("Nordic AB")),
        named("ecole@x.io", Some("ÉCOLE Normale"), Some("École SA")),
        named("cafe@x.io", Some("naïve café"), None),
        named("strasse@x.io", Some("Straße"), Some("STRASSE GmbH")),
        named("istanbul@x.io", Some("İstanbul Ltd"), Some("istanbul")),
        named("percent@x.io", Some("100% Pure"), Some("50%off")),
        named("under@x.io", Some("under_score"), Some("a_b_c")),
        named("slash@x.io", Some("back\\slash"), Some("C:\\dir")),
        named("quote@x.io", Some("Say \"hi\""), Some("O'Brien & Co")),
        named("ann@x.io", Some("Ann"), None),
        named("Annex@X.io", Some("ANNEX Group"), Some("annex")),
        named("joanna@x.io", Some("Joanna"), Some("Hannah & Co")),
        named("emoji@x.io", Some("Rocket 🚀 Labs"), Some("日本語テキスト")),
        named("aaa@x.io", Some("aaaa"), Some("aa")),
        named("space@x.io", Some("  two  spaces "), None),
        minimal("bare@x.io"),
    ];
    for new in corpus {
        create(&store, &a, Live, new.clone()).await;
        create(&store, &b, Live, new).await;
        tick().await;
    }
    create(&store, &a, Test, named("ann@x.io", Some("Ann"), None)).await;
    let queries = [
        "a",
        "A",
        "z",
        "ö",
        "Ö",
        "é",
        "É",
        "%",
        "_",
        "\\",
        "'",
        "\"",
        " ",
        "ß",
        "🚀",
        "日本",
        "an",
        "AN",
        "x.",
        "@x",
        "aa",
        "10",
        "0%",
        "r_",
        "k\\",
        "ann",
        "Ann",
        "ANN",
        "ann@x.io",
        "ANNEX@x.IO",
        "annex",
        "nna",
        "ström",
        "STRÖM",
        "ngstr",
        "école",
        "ÉCOLE",
        "cole",
        "naï",
        "café",
        "CAFÉ",
        "straße",
        "STRASSE",
        "strasse",
        "gmbh",
        "istanbul",
        "İstanbul",
        "x.io",
        "@x.io",
        "100%",
        "0%o",
        "50%",
        "der_s",
        "a_b",
        "_b_",
        "k\\s",
        ":\\d",
        "\"hi\"",
        "o'b",
        "& co",
        "🚀 la",
        "本語テ",
        "aaa",
        "aaaa",
        "aaaaa",
        "two  sp",
        "  t",
        "nobody",
        "%%%",
        "___",
        "\\\\\\",
        "a%b",
    ];
    assert_like_scan(&store, &mut raw, &a, &queries).await;

    // The index follows changes: patched names, emails and companies, deletions.
    let (all_leads, _) = store
        .list_leads(&a, Live, &Default::default(), all())
        .await
        .expect("list");
    for (i, lead) in all_leads.iter().enumerate() {
        let lead_id = lead.id.clone();
        match i % 4 {
            0 => {
                let patch = UpdateLead {
                    name: Some(Some(format!("Renamed Ström {i}"))),
                    company: Some(None),
                    ..UpdateLead::default()
                };
                via_app(&store)
                    .update_lead(
                        &a,
                        Live,
                        &lead_id,
                        &patch,
                        &synaptiq_store::Actor::local("test"),
                    )
                    .await
                    .expect("update")
                    .expect("exists");
            }
            1 => {
                let patch = UpdateLead {
                    email: Some(format!("Moved{i}.ANN@new.example")),
                    company: Some(Some(format!("Annex & École {i}"))),
                    ..UpdateLead::default()
                };
                via_app(&store)
                    .update_lead(
                        &a,
                        Live,
                        &lead_id,
                        &patch,
                        &synaptiq_store::Actor::local("test"),
                    )
                    .await
                    .expect("update")
                    .expect("exists");
            }
            2 => {
                assert!(
                    store
                        .delete_lead(&a, Live, &lead_id, &synaptiq_store::Actor::local("test"))
                        .await
                        .expect("delete")
                );
            }
            _ => {}
        }
    }
    assert_like_scan(&store, &mut raw, &a, &queries).await;
    assert_like_scan(
        &store,
        &mut raw,
        &a,
        &["renamed", "ström 4", "new.example", "moved1"],
    )
    .await;

    // An organization's deletion cascades to its leads, and so out of the index.
    raw.exec(
        "DELETE FROM organizations WHERE id = $1",
        &[RawArg::T(b.as_str())],
    )
    .await;
    assert_like_scan(&store, &mut raw, &a, &queries).await;
    if matches!(raw, Raw::Sqlite(_)) {
        // FTS5 compares its index with the leads' current values.
        raw.exec(
            "INSERT INTO leads_search (leads_search, rank) VALUES ('integrity-check', 1)",
            &[],
        )
        .await;
    }
}

/// Asserts that searching `org` for each query finds, ranks and counts what the plain `LIKE`
/// scan does.
async fn assert_like_scan(store: &Arc<dyn Store>, raw: &mut Raw, a: &OrgId, queries: &[&str]) {
    for &q in queries {
        let (needle, contains, prefix) = patterns(q);
        let expected = raw
            .texts(
                REFERENCE_SEARCH,
                &[
                    RawArg::T(a.as_str()),
                    RawArg::T("live"),
                    RawArg::T(&contains),
                    RawArg::T(&needle),
                    RawArg::T(&prefix),
                ],
            )
            .await;
        let (leads, total) = store.search_leads(a, Live, q, all()).await.expect("search");
        let got: Vec<String> = leads.into_iter().map(|l| l.id.into()).collect();
        assert_eq!(got, expected, "q = {q:?}");
        assert_eq!(total, expected.len() as u64, "q = {q:?}");
        if expected.len() > 2 {
            let (second, total) = store
                .search_leads(a, Live, q, page(2, 2))
                .await
                .expect("search page 2");
            let second: Vec<String> = second.into_iter().map(|l| l.id.into()).collect();
            assert_eq!(
                second,
                expected[2..expected.len().min(4)].to_vec(),
                "q = {q:?}"
            );
            assert_eq!(total, expected.len() as u64, "q = {q:?}");
        }
    }
}
