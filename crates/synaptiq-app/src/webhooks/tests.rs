use super::*;

const DEV: WebhookPolicy = WebhookPolicy {
    allow_http: true,
    allow_private: true,
};

#[tokio::test]
async fn urls_are_checked_against_the_policy() {
    let strict = WebhookPolicy::default();
    for (url, policy, ok) in [
        ("https://93.184.216.34/hook", strict, true),
        ("http://93.184.216.34/hook", strict, false),
        ("http://127.0.0.1:9000/hook", DEV, true),
        ("https://127.0.0.1/hook", strict, false),
        ("https://169.254.169.254/latest/meta-data", strict, false),
        ("https://[::1]/x", strict, false),
        ("https://localhost/x", strict, false),
        ("https://user:pw@93.184.216.34/x", strict, false),
        ("https://93.184.216.34/x#frag", strict, false),
        ("ftp://93.184.216.34/x", DEV, false),
        ("not a url", DEV, false),
        ("", DEV, false),
    ] {
        let got = check_url(url, policy).await;
        assert_eq!(got.is_ok(), ok, "{url}: {got:?}");
        if let Err(e) = got {
            assert_eq!(e.param, "url");
        }
    }
}

#[test]
fn subscriptions_are_the_catalogue_or_star() {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert_eq!(check_events(&s(&["*"])), Ok(EventFilter::All));
    assert_eq!(
        check_events(&s(&["lead.created", "lead.created", "key.revoked"])),
        Ok(EventFilter::Only(s(&["lead.created", "key.revoked"])))
    );
    for bad in [
        &[][..],
        &["*", "lead.created"],
        &["lead.nope"],
        &["key.updated"],
    ] {
        let err = check_events(&s(bad)).expect_err("refused");
        assert_eq!(err.param, "events");
    }
}

#[test]
fn every_catalogue_type_has_an_example_envelope() {
    let list = event_types();
    assert_eq!(list.data.len(), EventKind::webhook_catalogue().count());
    for t in &list.data {
        assert_eq!(t.example["type"], t.kind.as_str());
        assert_eq!(t.example["apiVersion"], "v1");
        assert!(t.example["data"].is_object(), "{}", t.kind);
    }
    let lead = list
        .data
        .iter()
        .find(|t| t.kind == "lead.created")
        .expect("lead.created");
    assert_eq!(lead.example["data"]["email"], "jane@acme.example");
}
