//! Events: every change records its event in its own transaction. The first case reads the
//! `events` table after one change of each kind; the second makes the event's insert fail
//! (a trigger that aborts it: the change's statement has run, the transaction dies between
//! change and event) and shows that neither the change nor the event exists afterwards.

use std::sync::Arc;

use synaptiq_core::scope::Environment::Live;
use synaptiq_core::scope::KeyStatus;
use synaptiq_store::{Actor, LeadRecord, RotateOutcome, Store};
use synaptiq_types::leads::{LeadStatus, UpdateLead};
use synaptiq_types::time::Timestamp;

use crate::conformance::harness::{
    Raw, RawArg, all, create, epoch, key, lead_id, minimal, new_key, org, random_hash, via_app,
};

fn status(s: LeadStatus) -> UpdateLead {
    UpdateLead {
        status: Some(s),
        ..UpdateLead::default()
    }
}

/// (type, subject, actor) of an organization's events, in the order recorded.
async fn events_of(raw: &mut Raw, org: &str) -> Vec<String> {
    raw.texts(
        "SELECT type || ' ' || subject_id || ' ' || actor FROM events \
         WHERE org_id = $1 ORDER BY created_at, id",
        &[RawArg::T(org)],
    )
    .await
}

pub async fn every_change_records_its_event(store: Arc<dyn Store>, url: String) {
    let mut raw = Raw::connect(&url).await;
    let a = org(&store, "Acme").await;
    let me = Actor::local("user_x");
    let now = Timestamp::now();
    let later = now.plus_seconds(3600);
    let k = key(&store, &a, Live, "k", Some(Timestamp(now.millis() - 1))).await;
    let r = store
        .insert_key(new_key(&a, Live, "r"), &me)
        .await
        .expect("insert");
    store
        .update_key(&a, Live, &r.id, Some("renamed"), None, &me)
        .await
        .expect("update")
        .expect("found");
    let RotateOutcome::Rotated { new, .. } = store
        .rotate_key(&a, Live, &r.id, new_key(&a, Live, "r2"), later, now, &me)
        .await
        .expect("rotate")
    else {
        panic!("not rotated");
    };
    store
        .mark_exposed(&random_hash(), now, &me)
        .await
        .expect("no such key: no event");
    let swept = store.sweep_expired(now).await.expect("sweep");
    assert_eq!(swept.len(), 1);
    store
        .revoke_key(&a, Live, &new.id, now, &me)
        .await
        .expect("revoke");
    assert!(
        store
            .delete_key(&a, Live, &r.id, now, &me)
            .await
            .expect("delete")
    );
    let lead = create(&store, &a, Live, minimal("jane@acme.io")).await;
    let l = lead_id(&lead);
    for s in [
        LeadStatus::Qualified,
        LeadStatus::Qualified,
        LeadStatus::Converted,
    ] {
        via_app(&store)
            .update_lead(&a, Live, &l, &status(s), &me)
            .await
            .expect("update lead")
            .expect("found");
    }
    assert!(
        store
            .delete_lead(&a, Live, &l, &me)
            .await
            .expect("delete lead")
    );

    let (k, r, n, l) = (k.id.as_str(), r.id.as_str(), new.id.as_str(), l.as_str());
    assert_eq!(
        events_of(&mut raw, a.as_str()).await,
        [
            format!("key.created {k} test"),
            format!("key.created {r} user_x"),
            format!("key.updated {r} user_x"),
            format!("key.created {n} user_x"),
            format!("key.rotated {r} user_x"),
            format!("key.expired {k} system"),
            format!("key.revoked {n} user_x"),
            format!("key.deleted {r} user_x"),
            format!("lead.created {l} test"),
            format!("lead.updated {l} user_x"),
            format!("lead.qualified {l} user_x"),
            format!("lead.updated {l} user_x"),
            format!("lead.updated {l} user_x"),
            format!("lead.converted {l} user_x"),
            format!("lead.deleted {l} user_x"),
        ]
    );
    // The audit log shows the key events only, newest first.
    let (audit, total) = store
        .list_audit(&a, Live, &Default::default(), all())
        .await
        .expect("audit");
    assert_eq!(total, 8);
    assert_eq!(audit[0].kind, "key.deleted");
    assert_eq!(audit[3].kind, "key.rotated");
    assert_eq!(audit[4].kind, "key.created");
}

/// Makes every insert into `events` fail, or lets them through again.
async fn refuse_events(raw: &mut Raw, on: bool) {
    match (&*raw, on) {
        (Raw::Sqlite(_), true) => {
            raw.exec(
                "CREATE TRIGGER events_refuse BEFORE INSERT ON events \
                 BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
                &[],
            )
            .await;
        }
        (Raw::Pg(_), true) => {
            raw.exec(
                "CREATE FUNCTION events_refuse() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$",
                &[],
            )
            .await;
            raw.exec(
                "CREATE TRIGGER events_refuse BEFORE INSERT ON events \
                 FOR EACH ROW EXECUTE FUNCTION events_refuse()",
                &[],
            )
            .await;
        }
        (Raw::Sqlite(_), false) => {
            raw.exec("DROP TRIGGER events_refuse", &[]).await;
        }
        (Raw::Pg(_), false) => {
            raw.exec("DROP TRIGGER events_refuse ON events", &[]).await;
            raw.exec("DROP FUNCTION events_refuse()", &[]).await;
        }
    }
}

pub async fn a_change_without_its_event_does_not_happen(store: Arc<dyn Store>, url: String) {
    let mut raw = Raw::connect(&url).await;
    let a = org(&store, "Acme").await;
    let me = Actor::local("user_x");
    let now = Timestamp::now();
    let expired = key(&store, &a, Live, "old", Some(Timestamp(now.millis() - 1))).await;
    let mut nk = new_key(&a, Live, "k");
    let hash = nk.hash;
    nk.scope = synaptiq_core::scope::Scope::Admin;
    let k = store.insert_key(nk, &me).await.expect("insert");
    let lead = create(&store, &a, Live, minimal("jane@acme.io")).await;
    let l = lead_id(&lead);
    let events_before = events_of(&mut raw, a.as_str()).await;
    let epoch_before = epoch(&store).await;
    let version_before = store.lead_version(&a, Live).await.expect("version");

    refuse_events(&mut raw, true).await;
    let failed = |what: &str, ok: bool| assert!(!ok, "{what} succeeded without its event");
    failed(
        "insert_key",
        store.insert_key(new_key(&a, Live, "x"), &me).await.is_ok(),
    );
    failed(
        "update_key",
        store
            .update_key(&a, Live, &k.id, Some("renamed"), None, &me)
            .await
            .is_ok(),
    );
    failed(
        "rotate_key",
        store
            .rotate_key(&a, Live, &k.id, new_key(&a, Live, "y"), now, now, &me)
            .await
            .is_ok(),
    );
    failed(
        "revoke_key",
        store.revoke_key(&a, Live, &k.id, now, &me).await.is_ok(),
    );
    failed(
        "delete_key",
        store.delete_key(&a, Live, &k.id, now, &me).await.is_ok(),
    );
    failed(
        "mark_exposed",
        store.mark_exposed(&hash, now, &me).await.is_ok(),
    );
    failed("sweep_expired", store.sweep_expired(now).await.is_ok());
    failed(
        "create_lead",
        via_app(&store)
            .create_lead(&a, Live, &minimal("bob@acme.io"), &me)
            .await
            .is_ok(),
    );
    failed(
        "update_lead",
        via_app(&store)
            .update_lead(&a, Live, &l, &status(LeadStatus::Qualified), &me)
            .await
            .is_ok(),
    );
    failed(
        "delete_lead",
        store.delete_lead(&a, Live, &l, &me).await.is_ok(),
    );
    refuse_events(&mut raw, false).await;

    // Nothing changed: no new event, no epoch move, every object as it was.
    assert_eq!(events_of(&mut raw, a.as_str()).await, events_before);
    assert_eq!(epoch(&store).await, epoch_before);
    assert_eq!(
        store.lead_version(&a, Live).await.expect("version"),
        version_before
    );
    let (keys, total) = store
        .list_keys(&a, Some(Live), None, now, all())
        .await
        .expect("keys");
    assert_eq!(total, 2, "no key was added: {keys:?}");
    let same = store
        .get_key(&a, Live, &k.id)
        .await
        .expect("get")
        .expect("not deleted");
    assert_eq!(
        (
            &same.name,
            same.revoked_at,
            same.expires_at,
            &same.rotated_to,
            same.exposed_at
        ),
        (&k.name, None, None, &None, None),
        "not renamed, rotated, revoked, deleted or exposed"
    );
    assert_eq!(same.status(now), KeyStatus::Active);
    let (leads, _) = store
        .list_leads(&a, Live, &Default::default(), all())
        .await
        .expect("leads");
    let leads: Vec<_> = leads.into_iter().map(LeadRecord::into_wire).collect();
    assert_eq!(leads, vec![lead], "no lead added, changed or deleted");
    // The expiry the failed sweep saw is still due, and is recorded (with its event) now.
    let swept = store.sweep_expired(now).await.expect("sweep");
    assert_eq!(
        swept.iter().map(|k| &k.id).collect::<Vec<_>>(),
        [&expired.id]
    );
    let last = events_of(&mut raw, a.as_str()).await.pop();
    assert_eq!(last, Some(format!("key.expired {} system", expired.id)));
}

crate::conformance::suite! {

    ;
    raw:
    every_change_records_its_event,
    a_change_without_its_event_does_not_happen,
}
