//! Listing leads: filters, sorting and pages, search, malformed ids and the page cache.

use super::*;

#[tokio::test]
async fn list_filters_sorting_and_pagination() {
    let t = TestApp::new().await;
    let k = t.keys.a_live_admin.clone();
    for i in 0..7 {
        let status = if i % 2 == 0 { "qualified" } else { "new" };
        let r = t
            .call(Method::POST, "/api/v1/leads", Some(&k), Some(json!({"email": format!("l{i}@example.com"), "score": i * 10, "status": status})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = t.get("/api/v1/leads?limit=3&page=2", &k).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["pagination"],
        json!({"page": 2, "limit": 3, "total": 7, "totalPages": 3, "hasMore": true})
    );
    assert_eq!(r.body["data"].as_array().expect("data").len(), 3);
    let r = t
        .get(
            "/api/v1/leads?status=qualified&sortBy=score&sortOrder=asc",
            &k,
        )
        .await;
    let scores: Vec<i64> = r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|l| l["score"].as_i64().expect("score"))
        .collect();
    assert_eq!(scores, vec![0, 20, 40, 60]);
    for bad in [
        "limit=0",
        "limit=101",
        "page=0",
        "status=won",
        "sortBy=name",
        "createdAfter=yesterday",
        "color=red",
        "limit=abc",
    ] {
        let r = t
            .call(Method::GET, &format!("/api/v1/leads?{bad}"), Some(&k), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", r.body);
        let param = bad.split('=').next().expect("param");
        assert_eq!(r.body["error"]["param"], param, "{bad}");
    }
    let r = t
        .get(
            "/api/v1/leads?createdAfter=2000-01-01T00:00:00Z&createdBefore=2000-01-02T00:00:00Z",
            &k,
        )
        .await;
    assert_eq!(r.body["pagination"]["total"], 0);
    // The sandbox sees none of it.
    let r = t.get("/api/v1/leads", &t.keys.a_test_read).await;
    assert_eq!(r.body["pagination"]["total"], 0);
}

#[tokio::test]
async fn search_ranks_and_isolates() {
    let t = TestApp::new().await;
    let k = t.keys.a_live_admin.clone();
    for (email, name, company) in [
        ("zed@other.io", "Zed", "Acme Widgets"),
        ("acme@acme.io", "Someone", "Nope"),
        ("bob@corp.io", "Bob Acme", "Corp"),
        ("x_y%z@corp.io", "Percent", "Corp"),
    ] {
        let r = t
            .call(
                Method::POST,
                "/api/v1/leads",
                Some(&k),
                Some(json!({"email": email, "name": name, "company": company})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let r = t.get("/api/v1/leads/search?q=acme", &k).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let emails: Vec<&str> = r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|l| l["email"].as_str().expect("email"))
        .collect();
    assert_eq!(emails.len(), 3);
    assert_eq!(
        emails[0], "acme@acme.io",
        "prefix matches rank first: {emails:?}"
    );
    // LIKE wildcards in the query are literal.
    let r = t.get("/api/v1/leads/search?q=%25", &k).await;
    assert_eq!(r.body["pagination"]["total"], 1, "{:?}", r.body);
    let r = t.get("/api/v1/leads/search?q=_", &k).await;
    assert_eq!(r.body["pagination"]["total"], 1);
    let r = t.get("/api/v1/leads/search", &k).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["param"], "q");
    // U+0000 (which ended SQLite's FTS5 query string early: a 500 found by schemathesis) is
    // refused as documented, with and without the trigram index (3+ characters).
    for q in ["%00%04%C2%AB%F3%9E%BF%95", "a%00", "acme%00acme"] {
        t.call(
            Method::GET,
            &format!("/api/v1/leads/search?page=1091&q={q}"),
            Some(&k),
            None,
        )
        .await
        .assert_invalid("q", q);
    }
    let r = t
        .get("/api/v1/leads/search?q=acme", &t.keys.b_live_admin)
        .await;
    assert_eq!(r.body["pagination"]["total"], 0);
}

#[tokio::test]
async fn malformed_ids_are_not_found() {
    let t = TestApp::new().await;
    for id in [
        "nope",
        "lead_",
        "key_01HQ3VXK9BWMN4F6T2P8R5GYSC",
        "lead_01HQ3VXK9BWMN4F6T2P8R5GYSC",
    ] {
        let r = t
            .call(
                Method::GET,
                &format!("/api/v1/leads/{id}"),
                Some(&t.keys.a_live_read),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}");
    }
}

/// Lists and searches are cached per lead version: a change made behind this server's back
/// (another node, the CLI — here the store directly) shows in the very next answer, and a
/// cached answer of one organization or environment never reaches another.
#[tokio::test]
async fn cached_pages_follow_every_change() {
    use synaptiq_core::ids::LeadId;
    use synaptiq_core::scope::Environment::{Live, Test};
    use synaptiq_types::leads::{CreateLead, UpdateLead};

    let t = TestApp::new().await;
    let read = &t.keys.a_live_read;
    let list = async |key| t.get("/api/v1/leads?limit=5", key).await;
    let search = async |key| t.get("/api/v1/leads/search?q=orbit", key).await;
    let new = |email: &str| CreateLead {
        email: email.to_owned(),
        name: Some("Orbit One".to_owned()),
        company: None,
        title: None,
        phone: None,
        tags: None,
        custom_fields: None,
        status: None,
        score: None,
    };
    // Changes made beside this server (another node, the CLI): same store, own services.
    let beside = synaptiq_app::Services::new(
        t.store.clone(),
        std::sync::Arc::new(synaptiq_app::NoAuthCache),
    );
    let first = beside
        .create_lead(
            &t.org_a,
            Live,
            &new("one@orbit.io"),
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("create");
    let r = list(read).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.body["pagination"]["total"], 1);
    assert_eq!(search(read).await.body["pagination"]["total"], 1);
    // The same answer again (from the cache).
    assert_eq!(list(read).await.body, r.body);

    // A lead created outside the API: the next list and search show it.
    beside
        .create_lead(
            &t.org_a,
            Live,
            &new("two@orbit.io"),
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("create");
    assert_eq!(list(read).await.body["pagination"]["total"], 2);
    assert_eq!(search(read).await.body["pagination"]["total"], 2);

    // A patch of a field the list only displays.
    let patch = UpdateLead {
        company: Some(Some("Orbital".to_owned())),
        ..UpdateLead::default()
    };
    let id = LeadId::parse(&first.id).expect("id");
    beside
        .update_lead(
            &t.org_a,
            Live,
            &id,
            &patch,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("patch")
        .expect("exists");
    let shown = list(read).await.body;
    let companies: Vec<_> = shown["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|l| l["company"].clone())
        .collect();
    assert!(companies.contains(&json!("Orbital")), "{shown}");

    // A delete.
    assert!(
        t.store
            .delete_lead(&t.org_a, Live, &id, &synaptiq_store::Actor::local("test"))
            .await
            .expect("delete")
    );
    assert_eq!(list(read).await.body["pagination"]["total"], 1);
    assert_eq!(search(read).await.body["pagination"]["total"], 1);

    // Same query, other environment and other organization: their own (empty) answers.
    assert_eq!(
        list(&t.keys.a_test_admin).await.body["pagination"]["total"],
        0
    );
    assert_eq!(
        search(&t.keys.a_test_admin).await.body["pagination"]["total"],
        0
    );
    beside
        .create_lead(
            &t.org_a,
            Test,
            &new("three@orbit.io"),
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("create");
    assert_eq!(
        list(&t.keys.a_test_admin).await.body["pagination"]["total"],
        1
    );
    assert_eq!(list(read).await.body["pagination"]["total"], 1);
    assert_eq!(
        list(&t.keys.b_live_admin).await.body["pagination"]["total"],
        0
    );
}
