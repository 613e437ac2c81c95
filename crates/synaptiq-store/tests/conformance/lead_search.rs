//! Lead search: ranking, case-insensitivity, scoping and LIKE-wildcard escaping.

use std::sync::Arc;

use synaptiq_core::ids::OrgId;
use synaptiq_core::scope::Environment::{Live, Test};
use synaptiq_store::Store;
use synaptiq_types::leads::{CreateLead, UpdateLead};

use crate::conformance::harness::{Raw, RawArg, all, create, minimal, org, page, tick};

fn named(email: &str, name: Option<&str>, company: Option<&str>) -> CreateLead {
    CreateLead {
        name: name.map(str::to_owned),
        company: company.map(str::to_owned),
        ..minimal(email)
    }
}

async fn search(
    store: &Arc<dyn Store>,
    org: &synaptiq_core::ids::OrgId,
    q: &str,
) -> (Vec<String>, u64) {
    let (leads, total) = store
        .search_leads(org, Live, q, all())
        .await
        .expect("search");
    (leads.into_iter().map(|l| l.email).collect(), total)
}

fn v(s: &[&str]) -> Vec<String> {
    s.iter().map(|e| (*e).to_owned()).collect()
}

pub async fn search_ranks_exact_then_prefix_then_substring(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    // Created oldest to newest; within a rank, newer comes first.
    for new in [
        named("substring-old@x.io", Some("Joanna Smith"), None),
        named("ann@x.io", None, None),
        named("prefix-name@x.io", Some("Annabel Lee"), None),
        named("substring-new@x.io", None, Some("Hannah & Co")),
        named("annex@x.io", None, None),
        named("nobody@x.io", Some("Bob"), Some("Bobco")),
    ] {
        create(&store, &a, Live, new).await;
        tick().await;
    }
    assert_eq!(
        search(&store, &a, "ann").await,
        (
            v(&[
                "annex@x.io",
                "prefix-name@x.io",
                "ann@x.io",
                "substring-new@x.io",
                "substring-old@x.io",
            ]),
            5
        ),
        "prefix matches (email, name, company) before substring matches"
    );
    assert_eq!(search(&store, &a, "ann@x.io").await, (v(&["ann@x.io"]), 1),);
    let (first, _) = search(&store, &a, "ANN@X.IO").await;
    assert_eq!(
        first,
        v(&["ann@x.io"]),
        "the exact email match is case-insensitive"
    );
    // Exact email outranks a newer prefix match.
    create(&store, &a, Live, named("ann@x.io.example", None, None)).await;
    assert_eq!(
        search(&store, &a, "ann@x.io").await,
        (v(&["ann@x.io", "ann@x.io.example"]), 2)
    );
    let (leads, total) = store
        .search_leads(&a, Live, "ann", page(2, 2))
        .await
        .expect("page");
    assert_eq!(total, 6);
    let emails: Vec<_> = leads.into_iter().map(|l| l.email).collect();
    assert_eq!(emails, v(&["prefix-name@x.io", "ann@x.io"]));
}

pub async fn search_is_case_insensitive_and_scoped(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let b = org(&store, "Globex").await;
    create(
        &store,
        &a,
        Live,
        named("CEO@MegaCorp.com", Some("MARY Major"), Some("MegaCorp")),
    )
    .await;
    create(
        &store,
        &a,
        Test,
        named("mary@test.io", Some("Mary Test"), None),
    )
    .await;
    create(
        &store,
        &b,
        Live,
        named("mary@other.io", Some("Mary Other"), None),
    )
    .await;
    assert_eq!(
        search(&store, &a, "mary").await,
        (v(&["CEO@MegaCorp.com"]), 1)
    );
    assert_eq!(
        search(&store, &a, "MAJOR").await.1,
        1,
        "name, upper-case query"
    );
    assert_eq!(
        search(&store, &a, "megacorp").await.1,
        1,
        "company and email"
    );
    assert_eq!(search(&store, &a, "ceo@megacorp.COM").await.1, 1);
    assert_eq!(search(&store, &a, "nobody").await, (vec![], 0));
    let (test_env, _) = store
        .search_leads(&a, Test, "mary", all())
        .await
        .expect("search");
    assert_eq!(test_env.len(), 1);
    assert_eq!(test_env[0].email, "mary@test.io");
}

pub async fn search_escapes_like_wildcards(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    for new in [
        named("percent@x.io", Some("100% Real"), None),
        named("under@x.io", Some("snake_case"), None),
        named("slash@x.io", None, Some("back\\slash")),
        named(
            "plain@x.io",
            Some("Plain 100 Snake case"),
            Some("backslash"),
        ),
    ] {
        create(&store, &a, Live, new).await;
    }
    assert_eq!(search(&store, &a, "%").await, (v(&["percent@x.io"]), 1));
    assert_eq!(search(&store, &a, "0%").await, (v(&["percent@x.io"]), 1));
    assert_eq!(search(&store, &a, "_").await, (v(&["under@x.io"]), 1));
    assert_eq!(search(&store, &a, "e_c").await, (v(&["under@x.io"]), 1));
    assert_eq!(search(&store, &a, "\\").await, (v(&["slash@x.io"]), 1));
    assert_eq!(search(&store, &a, "k\\s").await, (v(&["slash@x.io"]), 1));
    assert_eq!(
        search(&store, &a, "'").await,
        (vec![], 0),
        "quotes are data"
    );
}

crate::conformance::suite! {
    search_ranks_exact_then_prefix_then_substring,
    search_is_case_insensitive_and_scoped,
    search_escapes_like_wildcards,
    ;
    raw:
    search_matches_the_plain_like_scan,
}

#[path = "lead_search_reference.rs"]
mod reference;
pub use reference::*;
