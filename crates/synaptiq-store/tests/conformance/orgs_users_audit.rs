//! Organizations, dashboard users and the audit log.

use std::sync::Arc;

use synaptiq_core::event::EventKind;
use synaptiq_core::ids::{KeyId, OrgId};
use synaptiq_core::plan::Plan;
use synaptiq_core::scope::Environment::{Live, Test};
use synaptiq_store::{Actor, AuditFilter, NewEvent, Role, Store, StoreError, Subject};
use synaptiq_types::time::Timestamp;

use crate::conformance::harness::{all, epoch, org, page, tick};

pub async fn orgs_create_get_list(store: Arc<dyn Store>) {
    let before = Timestamp::now();
    let a = store.create_org("Acme", Plan::Pro).await.expect("create");
    tick().await;
    let b = store
        .create_org("Globex", Plan::Starter)
        .await
        .expect("create");
    assert_eq!((a.name.as_str(), a.plan), ("Acme", Plan::Pro));
    assert!(a.created_at >= before && a.created_at <= Timestamp::now());
    assert_eq!(store.get_org(&a.id).await.expect("get"), Some(a.clone()));
    assert_eq!(store.get_org(&OrgId::generate()).await.expect("get"), None);
    assert_eq!(store.list_orgs().await.expect("list"), vec![a, b]);
}

pub async fn set_plan_bumps_the_epoch(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let e0 = epoch(&store).await;
    assert!(store.set_plan(&a, Plan::Enterprise).await.expect("set"));
    assert_eq!(epoch(&store).await, e0 + 1);
    let got = store.get_org(&a).await.expect("get").expect("exists");
    assert_eq!(got.plan, Plan::Enterprise);
    assert!(
        !store
            .set_plan(&OrgId::generate(), Plan::Pro)
            .await
            .expect("set")
    );
}

pub async fn user_emails_are_unique_case_insensitively(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let b = org(&store, "Globex").await;
    let ann = store
        .create_user(&a, "Ann@Example.COM", Role::Admin, "$argon2id$secret")
        .await
        .expect("create");
    assert_eq!(ann.email, "ann@example.com");
    assert_eq!((ann.org_id.clone(), ann.role), (a.clone(), Role::Admin));
    assert!(!format!("{ann:?}").contains("secret"), "hash is redacted");
    // Emails are unique across organizations (they are logins).
    match store
        .create_user(&b, "ann@example.com", Role::Viewer, "$argon2id$x")
        .await
    {
        Err(StoreError::Conflict { param, .. }) => assert_eq!(param, "email"),
        other => panic!("expected an email conflict, got {other:?}"),
    }
    let bob = store
        .create_user(&b, "bob@example.com", Role::Owner, "$argon2id$y")
        .await
        .expect("another email is fine");
    assert_ne!(bob.id, ann.id);
}

fn event(
    org: &OrgId,
    env: synaptiq_core::scope::Environment,
    kind: EventKind,
    key: &KeyId,
) -> NewEvent {
    NewEvent {
        org_id: org.clone(),
        environment: env,
        kind,
        subject: Subject::Key(key.clone()),
        actor: Actor::local("cli"),
        data: None,
    }
}

pub async fn audit_records_and_filters(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let b = org(&store, "Globex").await;
    let (k1, k2) = (KeyId::generate(), KeyId::generate());
    let mut created = event(&a, Live, EventKind::KeyCreated, &k1);
    created.actor.ip = Some("203.0.113.7".to_owned());
    store.record(created).await.expect("record");
    tick().await;
    let mid = Timestamp::now();
    tick().await;
    let revoked = event(&a, Live, EventKind::KeyRevoked, &k1);
    store.record(revoked).await.expect("record");
    tick().await;
    let other = event(&a, Live, EventKind::KeyCreated, &k2);
    store.record(other).await.expect("record");
    store
        .record(event(&a, Test, EventKind::KeyCreated, &KeyId::generate()))
        .await
        .expect("record");
    store
        .record(event(&b, Live, EventKind::KeyCreated, &KeyId::generate()))
        .await
        .expect("record");

    let list = |f: AuditFilter| {
        let (store, a) = (store.clone(), a.clone());
        async move {
            let (events, total) = store.list_audit(&a, Live, &f, all()).await.expect("list");
            let keys: Vec<_> = events
                .iter()
                .map(|e| (e.kind.clone(), e.key_id.clone()))
                .collect();
            (keys, total)
        }
    };
    let k = |kind: &str, id: &KeyId| (kind.to_owned(), Some(id.to_string()));
    assert_eq!(
        list(AuditFilter::default()).await,
        (
            vec![
                k("key.created", &k2),
                k("key.revoked", &k1),
                k("key.created", &k1)
            ],
            3
        ),
        "newest first, this org and environment only"
    );
    let by_key = AuditFilter {
        key_id: Some(k1.clone()),
        ..AuditFilter::default()
    };
    assert_eq!(
        list(by_key).await,
        (vec![k("key.revoked", &k1), k("key.created", &k1)], 2)
    );
    let by_kind = AuditFilter {
        kind: Some("key.created".to_owned()),
        ..AuditFilter::default()
    };
    assert_eq!(
        list(by_kind).await,
        (vec![k("key.created", &k2), k("key.created", &k1)], 2)
    );
    let since = AuditFilter {
        since: Some(mid),
        ..AuditFilter::default()
    };
    assert_eq!(list(since).await.1, 2);
    let until = AuditFilter {
        until: Some(mid),
        ..AuditFilter::default()
    };
    assert_eq!(list(until).await, (vec![k("key.created", &k1)], 1));

    let (events, total) = store
        .list_audit(&a, Live, &AuditFilter::default(), page(2, 2))
        .await
        .expect("page");
    assert_eq!(total, 3);
    assert_eq!(events.len(), 1);
    let oldest = &events[0];
    assert_eq!(oldest.kind, "key.created");
    assert_eq!(oldest.actor, "cli");
    assert_eq!(oldest.environment, "live");
    assert_eq!(oldest.ip.as_deref(), Some("203.0.113.7"));
    assert!(oldest.id.starts_with("aud_"), "{}", oldest.id);
    assert!(oldest.created_at < mid);

    let (events, total) = store
        .list_audit(&a, Test, &AuditFilter::default(), all())
        .await
        .expect("test env");
    assert_eq!((events.len(), total), (1, 1));
    let (_, total) = store
        .list_audit(&b, Test, &AuditFilter::default(), all())
        .await
        .expect("other org");
    assert_eq!(total, 0);
}

crate::conformance::suite! {
    orgs_create_get_list,
    set_plan_bumps_the_epoch,
    user_emails_are_unique_case_insensitively,
    audit_records_and_filters,
}
