//! Leads: creation, uniqueness, lists, patches, deletion, scoping.

use std::collections::BTreeMap;
use std::sync::Arc;

use synaptiq_core::ids::LeadId;
use synaptiq_core::scope::Environment::{Live, Test};
use synaptiq_store::{LeadRecord, Store, StoreError};
use synaptiq_types::leads::{
    CreateLead, LeadListQuery, LeadSortBy, LeadSource, LeadStatus, SortOrder, UpdateLead,
};
use synaptiq_types::time::Timestamp;

use crate::conformance::harness::{all, create, lead_id as id, minimal, org, page, tick, via_app};

pub async fn create_and_get(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let b = org(&store, "Globex").await;
    let before = Timestamp::now();
    let full = CreateLead {
        name: Some("Jane Doe".to_owned()),
        company: Some("Acme".to_owned()),
        title: Some("CTO".to_owned()),
        phone: Some("+1 555 0100".to_owned()),
        tags: Some(vec!["inbound".to_owned(), "vip".to_owned()]),
        custom_fields: Some(BTreeMap::from([("crmId".to_owned(), "123".to_owned())])),
        status: Some(LeadStatus::Qualified),
        score: Some(100),
        ..minimal("Jane@Acme.io")
    };
    let lead = create(&store, &a, Live, full).await;
    assert!(lead.id.starts_with("lead_"));
    assert_eq!(lead.email, "Jane@Acme.io", "the email is kept as given");
    assert_eq!(
        (lead.status, lead.score, lead.source),
        (LeadStatus::Qualified, 100, LeadSource::Api)
    );
    assert!(lead.created_at >= before && lead.created_at == lead.updated_at);
    let got = store.get_lead(&a, Live, &id(&lead)).await.expect("get");
    let got = got.map(LeadRecord::into_wire);
    assert_eq!(got, Some(lead.clone()), "every field round-trips");

    let bare = create(&store, &a, Live, minimal("bare@acme.io")).await;
    assert_eq!(
        (
            bare.name,
            bare.status,
            bare.score,
            bare.tags.len(),
            bare.custom_fields.len()
        ),
        (None, LeadStatus::New, 0, 0, 0)
    );
    assert_eq!(
        store.get_lead(&a, Test, &id(&lead)).await.expect("get"),
        None
    );
    assert_eq!(
        store.get_lead(&b, Live, &id(&lead)).await.expect("get"),
        None
    );
    assert_eq!(
        store
            .get_lead(&a, Live, &LeadId::generate())
            .await
            .expect("get"),
        None
    );
}

pub async fn duplicate_email_conflicts_per_org_and_env(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let b = org(&store, "Globex").await;
    let first = create(&store, &a, Live, minimal("Jane@Acme.io")).await;
    match via_app(&store)
        .create_lead(
            &a,
            Live,
            &minimal("jane@ACME.IO"),
            &synaptiq_store::Actor::local("test"),
        )
        .await
    {
        Err(StoreError::Conflict { param, existing_id }) => {
            assert_eq!(param, "email");
            assert_eq!(existing_id, Some(first.id.clone()));
        }
        other => panic!("expected an email conflict, got {other:?}"),
    }
    create(&store, &a, Test, minimal("jane@acme.io")).await;
    create(&store, &b, Live, minimal("jane@acme.io")).await;
    let (_, total) = store
        .list_leads(&a, Live, &LeadListQuery::default(), all())
        .await
        .expect("list");
    assert_eq!(total, 1, "the refused lead was not stored");
}

pub async fn list_filters_sorts_and_pages(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let mut made = Vec::new();
    let mut marks = Vec::new();
    for (i, (status, score)) in [
        (LeadStatus::New, 10),
        (LeadStatus::Qualified, 90),
        (LeadStatus::New, 50),
        (LeadStatus::Lost, 30),
    ]
    .into_iter()
    .enumerate()
    {
        marks.push(Timestamp::now());
        tick().await;
        let new = CreateLead {
            status: Some(status),
            score: Some(score),
            ..minimal(&format!("l{i}@x.io"))
        };
        made.push(create(&store, &a, Live, new).await);
        tick().await;
    }
    create(&store, &a, Test, minimal("elsewhere@x.io")).await;
    let emails = |q: LeadListQuery| {
        let (store, a) = (store.clone(), a.clone());
        async move {
            let (leads, total) = store.list_leads(&a, Live, &q, all()).await.expect("list");
            let e: Vec<String> = leads.into_iter().map(|l| l.email).collect();
            (e, total)
        }
    };
    let v = |s: &[&str]| s.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        emails(LeadListQuery::default()).await,
        (v(&["l3@x.io", "l2@x.io", "l1@x.io", "l0@x.io"]), 4),
        "newest first by default"
    );
    let status_new = LeadListQuery {
        status: Some(LeadStatus::New),
        ..LeadListQuery::default()
    };
    assert_eq!(emails(status_new).await, (v(&["l2@x.io", "l0@x.io"]), 2));
    let from_api = LeadListQuery {
        source: Some(LeadSource::Api),
        ..LeadListQuery::default()
    };
    assert_eq!(emails(from_api).await.1, 4);
    let from_chat = LeadListQuery {
        source: Some(LeadSource::Chat),
        ..LeadListQuery::default()
    };
    assert_eq!(emails(from_chat).await, (vec![], 0));
    let window = LeadListQuery {
        created_after: Some(marks[1]),
        created_before: Some(marks[3]),
        ..LeadListQuery::default()
    };
    assert_eq!(emails(window).await, (v(&["l2@x.io", "l1@x.io"]), 2));
    let by_score = LeadListQuery {
        sort_by: Some(LeadSortBy::Score),
        sort_order: Some(SortOrder::Asc),
        ..LeadListQuery::default()
    };
    assert_eq!(
        emails(by_score).await.0,
        v(&["l0@x.io", "l3@x.io", "l2@x.io", "l1@x.io"])
    );
    let oldest_first = LeadListQuery {
        sort_order: Some(SortOrder::Asc),
        ..LeadListQuery::default()
    };
    assert_eq!(
        emails(oldest_first).await.0,
        v(&["l0@x.io", "l1@x.io", "l2@x.io", "l3@x.io"])
    );
    let patch = UpdateLead {
        score: Some(11),
        ..UpdateLead::default()
    };
    via_app(&store)
        .update_lead(
            &a,
            Live,
            &id(&made[0]),
            &patch,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("update")
        .expect("exists");
    let recently_updated = LeadListQuery {
        sort_by: Some(LeadSortBy::UpdatedAt),
        ..LeadListQuery::default()
    };
    assert_eq!(emails(recently_updated).await.0[0], "l0@x.io");

    let (leads, total) = store
        .list_leads(&a, Live, &LeadListQuery::default(), page(2, 3))
        .await
        .expect("page 2");
    assert_eq!((leads.len(), total), (1, 4));
    assert_eq!(leads[0].email, "l0@x.io");
}

pub async fn update_applies_patches_and_clears_nulls(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let new = CreateLead {
        name: Some("Jane".to_owned()),
        company: Some("Acme".to_owned()),
        title: Some("CTO".to_owned()),
        phone: Some("+1 555 0100".to_owned()),
        tags: Some(vec!["a".to_owned()]),
        ..minimal("jane@acme.io")
    };
    let lead = create(&store, &a, Live, new).await;
    tick().await;
    let patch = UpdateLead {
        name: Some(None),
        company: Some(Some("Initech".to_owned())),
        tags: Some(vec!["b".to_owned(), "c".to_owned()]),
        custom_fields: Some(BTreeMap::from([("k".to_owned(), "v".to_owned())])),
        status: Some(LeadStatus::Converted),
        score: Some(77),
        email: Some("JANE@acme.io".to_owned()),
        ..UpdateLead::default()
    };
    let got = via_app(&store)
        .update_lead(
            &a,
            Live,
            &id(&lead),
            &patch,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(got.name, None, "null clears");
    assert_eq!(got.company.as_deref(), Some("Initech"));
    assert_eq!(got.title.as_deref(), Some("CTO"), "absent fields stay");
    assert_eq!(got.phone.as_deref(), Some("+1 555 0100"));
    assert_eq!(got.tags, vec!["b".to_owned(), "c".to_owned()]);
    assert_eq!(got.custom_fields.get("k").map(String::as_str), Some("v"));
    assert_eq!((got.status, got.score), (LeadStatus::Converted, 77));
    assert_eq!(got.email, "JANE@acme.io", "its own email in another case");
    assert_eq!(got.created_at, lead.created_at);
    assert!(got.updated_at > lead.updated_at);
    assert_eq!(
        store
            .get_lead(&a, Live, &id(&lead))
            .await
            .expect("get")
            .map(LeadRecord::into_wire),
        Some(got.clone())
    );
    let empty = via_app(&store)
        .update_lead(
            &a,
            Live,
            &id(&lead),
            &UpdateLead::default(),
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!((empty.name, empty.company), (None, got.company));
    assert_eq!(
        via_app(&store)
            .update_lead(
                &a,
                Test,
                &id(&lead),
                &patch,
                &synaptiq_store::Actor::local("test")
            )
            .await
            .expect("update"),
        None
    );
    assert_eq!(
        via_app(&store)
            .update_lead(
                &a,
                Live,
                &LeadId::generate(),
                &patch,
                &synaptiq_store::Actor::local("test")
            )
            .await
            .expect("update"),
        None
    );
}

crate::conformance::suite! {
    create_and_get,
    duplicate_email_conflicts_per_org_and_env,
    list_filters_sorts_and_pages,
    update_applies_patches_and_clears_nulls,
    update_email_conflict_names_the_holder,
    concurrent_patches_all_apply,
    delete_is_scoped,
    lead_version_moves_with_every_change,
    a_cancelled_creation_leaves_the_writer_usable,
}

#[path = "leads_changes.rs"]
mod changes;
pub use changes::*;
