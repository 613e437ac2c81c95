//! Webhooks: endpoints scoped by organization and environment, and the fixtures of the
//! webhook cases (the outbox and claims are in `webhooks_outbox.rs`, outcomes and disabling in
//! `webhooks_delivery.rs`, redelivery, recovery and pruning in `webhooks_recovery.rs`).

use std::sync::Arc;

use synaptiq_core::ids::{EventId, OrgId, WebhookEndpointId};
use synaptiq_core::scope::Environment::{self, Live, Test};
use synaptiq_core::webhook::WebhookSecret;
use synaptiq_store::webhooks::DISABLE_AFTER_MS;
use synaptiq_store::{
    Actor, AttemptOutcome, ClaimedDelivery, DeliveryRecord, EndpointRecord, EventFilter, Next,
    Store,
};
use synaptiq_types::leads::{LeadStatus, UpdateLead};
use synaptiq_types::time::Timestamp;

use crate::conformance::harness::{
    Raw, RawArg, all, create, key, lead_id, minimal, org, page, tick, via_app,
};

/// Subscribed to these types only.
fn only(types: &[&str]) -> EventFilter {
    EventFilter::Only(types.iter().map(|t| (*t).to_owned()).collect())
}

/// An enabled endpoint record, not yet stored.
fn record(org: &OrgId, env: Environment, events: EventFilter) -> EndpointRecord {
    let now = Timestamp::now();
    EndpointRecord {
        id: WebhookEndpointId::generate(),
        org_id: org.clone(),
        environment: env,
        url: format!("https://hooks.example.com/{}", ulid::Ulid::new()),
        description: None,
        events,
        secret: WebhookSecret::generate().expect("secret"),
        previous_secret: None,
        enabled: true,
        disabled_reason: None,
        disabled_at: None,
        consecutive_failures: 0,
        failing_since: None,
        created_at: now,
        updated_at: now,
    }
}

/// Stores `e` and returns it.
async fn stored(store: &Arc<dyn Store>, e: EndpointRecord) -> EndpointRecord {
    store.create_endpoint(&e).await.expect("create endpoint");
    e
}

/// A stored enabled endpoint.
async fn endpoint(
    store: &Arc<dyn Store>,
    org: &OrgId,
    env: Environment,
    events: EventFilter,
) -> EndpointRecord {
    stored(store, record(org, env, events)).await
}

/// Every delivery of `e`, newest first.
async fn deliveries(store: &Arc<dyn Store>, e: &EndpointRecord) -> Vec<DeliveryRecord> {
    let (list, total) = store
        .list_deliveries(&e.org_id, e.environment, &e.id, None, all())
        .await
        .expect("list deliveries")
        .expect("endpoint exists");
    assert_eq!(usize::try_from(total).expect("total"), list.len());
    list
}

/// The endpoint as stored now.
async fn reread(store: &Arc<dyn Store>, e: &EndpointRecord) -> EndpointRecord {
    store
        .get_endpoint(&e.org_id, e.environment, &e.id)
        .await
        .expect("get endpoint")
        .expect("endpoint exists")
}

/// `t` plus `ms` milliseconds.
fn plus(t: Timestamp, ms: i64) -> Timestamp {
    Timestamp(t.millis() + ms)
}

/// Claims everything due at `now` for 30 s.
async fn claim_all(store: &Arc<dyn Store>, now: Timestamp) -> Vec<ClaimedDelivery> {
    store
        .claim_deliveries(now, plus(now, 30_000), 100, &[])
        .await
        .expect("claim")
}

/// The outcome of attempt 1 of `event` to `e` at `at`, with an HTTP status that fits `next`.
fn outcome(e: &EndpointRecord, event: &str, at: Timestamp, next: Next) -> AttemptOutcome {
    let ok = next == Next::Delivered;
    AttemptOutcome {
        endpoint_id: e.id.clone(),
        event_id: event.to_owned(),
        at,
        attempts: 1,
        http_status: Some(match next {
            Next::Delivered => 200,
            Next::Gone => 410,
            _ => 500,
        }),
        error: (!ok).then(|| "http_status".to_owned()),
        latency_ms: 25,
        response: Some(if ok { "thanks" } else { "nope" }.to_owned()),
        next,
    }
}

/// A delivery's event id, typed.
fn evt(d: &DeliveryRecord) -> EventId {
    EventId::parse(&d.event_id).expect("event id")
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).expect("JSON")
}

/// `e`'s delivery of `event`.
async fn delivery(store: &Arc<dyn Store>, e: &EndpointRecord, event: &str) -> DeliveryRecord {
    deliveries(store, e)
        .await
        .into_iter()
        .find(|d| d.event_id == event)
        .expect("delivery")
}

pub async fn endpoint_crud_is_scoped(store: Arc<dyn Store>) {
    let (a, b) = (org(&store, "Acme").await, org(&store, "Globex").await);
    let first = endpoint(&store, &a, Live, EventFilter::All).await;
    tick().await;
    let second = endpoint(&store, &a, Live, only(&["lead.created"])).await;
    let testing = endpoint(&store, &a, Test, EventFilter::All).await;
    let got = reread(&store, &first).await;
    assert_eq!(
        (&got.id, &got.org_id, got.environment, &got.url, &got.events),
        (&first.id, &a, Live, &first.url, &EventFilter::All)
    );
    assert_eq!(got.secret.encoded(), first.secret.encoded());
    assert!(got.enabled && got.previous_secret.is_none() && got.failing_since.is_none());
    assert_eq!(
        (got.created_at, got.updated_at),
        (first.created_at, first.updated_at)
    );
    assert_eq!(
        reread(&store, &second).await.events,
        only(&["lead.created"])
    );
    let ids = |l: &[EndpointRecord]| l.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    let (list, total) = store.list_endpoints(&a, Live, all()).await.expect("list");
    assert_eq!(
        (ids(&list), total),
        (vec![second.id.clone(), first.id.clone()], 2)
    );
    let (list, total) = store
        .list_endpoints(&a, Live, page(2, 1))
        .await
        .expect("page");
    assert_eq!((ids(&list), total), (vec![first.id.clone()], 2));
    let (list, total) = store.list_endpoints(&a, Test, all()).await.expect("list");
    assert_eq!((ids(&list), total), (vec![testing.id.clone()], 1));
    let (list, total) = store.list_endpoints(&b, Live, all()).await.expect("list");
    assert!(list.is_empty() && total == 0, "another organization");

    // A delivery, so that refused deletions can be seen to leave it alone.
    create(&store, &a, Live, minimal("jane@acme.io")).await;
    assert_eq!(deliveries(&store, &first).await.len(), 1);
    let until = plus(Timestamp::now(), 3_600_000);
    let old = first.secret.clone();
    let fresh = WebhookSecret::generate().expect("secret");
    let change = |e: &mut EndpointRecord| {
        e.url = "https://hooks.example.com/moved".to_owned();
        e.description = Some("CRM sync".to_owned());
        e.events = only(&["lead.updated", "key.created"]);
        e.previous_secret = Some((old.clone(), until));
        e.secret = fresh.clone();
    };
    for (o, env) in [(&b, Live), (&a, Test)] {
        assert!(
            store
                .get_endpoint(o, env, &first.id)
                .await
                .expect("get")
                .is_none()
        );
        let none = store.update_endpoint(o, env, &first.id, &change).await;
        assert!(none.expect("update").is_none(), "update elsewhere");
        let page = store.list_deliveries(o, env, &first.id, None, all()).await;
        assert!(page.expect("deliveries").is_none(), "deliveries elsewhere");
        assert!(
            !store
                .delete_endpoint(o, env, &first.id)
                .await
                .expect("delete")
        );
    }
    let same = reread(&store, &first).await;
    assert_eq!(
        (same.url.as_str(), same.events),
        (first.url.as_str(), EventFilter::All)
    );
    assert_eq!(
        deliveries(&store, &first).await.len(),
        1,
        "a deletion refused elsewhere leaves the deliveries alone"
    );
    let updated = store
        .update_endpoint(&a, Live, &first.id, &change)
        .await
        .expect("update")
        .expect("exists");
    let got = reread(&store, &first).await;
    for e in [&updated, &got] {
        assert_eq!(e.url, "https://hooks.example.com/moved");
        assert_eq!(e.description.as_deref(), Some("CRM sync"));
        assert_eq!(e.events, only(&["lead.updated", "key.created"]));
        assert_eq!(e.secret.encoded(), fresh.encoded());
        let (prev, prev_until) = e.previous_secret.as_ref().expect("previous secret");
        assert_eq!((prev.encoded(), *prev_until), (old.encoded(), until));
    }
    assert!(
        store
            .delete_endpoint(&a, Live, &first.id)
            .await
            .expect("delete")
    );
    assert!(
        store
            .get_endpoint(&a, Live, &first.id)
            .await
            .expect("get")
            .is_none()
    );
    assert!(
        !store
            .delete_endpoint(&a, Live, &first.id)
            .await
            .expect("again")
    );
    let gone = store
        .list_deliveries(&a, Live, &first.id, None, all())
        .await;
    assert!(gone.expect("deliveries").is_none());
    let (list, total) = store.list_endpoints(&a, Live, all()).await.expect("list");
    assert_eq!((ids(&list), total), (vec![second.id.clone()], 1));
}

crate::conformance::suite! {
    endpoint_crud_is_scoped,
    claims_carry_what_an_attempt_needs,
    versions_increase_per_subject,
    key_events_carry_the_key_without_secret,
    finishing_records_the_outcome_and_health,
    gone_disables_and_tells_the_other_endpoints,
    failing_too_long_disables,
    an_outcome_after_disabling_does_not_revive,
    redeliver_recover_and_test,
    disabling_by_update_fails_pending,
    prune_deletes_finished_messages_only,
    ; raw:
    the_outbox_is_written_with_the_change,
}

#[path = "webhooks_outbox.rs"]
mod outbox;
pub use outbox::*;
#[path = "webhooks_delivery.rs"]
mod delivery;
pub use delivery::*;
#[path = "webhooks_recovery.rs"]
mod recovery;
pub use recovery::*;
