//! API keys: insertion, lookup, scoping, status filters, revocation, update, deletion.

use std::sync::Arc;

use synaptiq_core::ids::KeyId;
use synaptiq_core::scope::Environment::{Live, Test};
use synaptiq_core::scope::{KeyStatus, Scope};
use synaptiq_store::{KeyRecord, Store, StoreError};
use synaptiq_types::time::Timestamp;

use crate::conformance::harness::{all, epoch, key, new_key, org, page, random_hash, tick};

fn ids(keys: &[KeyRecord]) -> Vec<KeyId> {
    keys.iter().map(|k| k.id.clone()).collect()
}

pub async fn insert_and_find_by_hash(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let mut nk = new_key(&a, Live, "deploy");
    nk.scope = Scope::Write;
    nk.allowed_ips = vec!["10.0.0.0/8".to_owned(), "2001:db8::/32".to_owned()];
    nk.expires_at = Some(Timestamp::now().plus_seconds(3600));
    let hash = nk.hash;
    let before = Timestamp::now();
    let k = store
        .insert_key(nk.clone(), &synaptiq_store::Actor::local("test"))
        .await
        .expect("insert");
    assert_eq!(
        (k.org_id.clone(), k.environment, k.name.as_str(), k.scope),
        (a.clone(), Live, "deploy", Scope::Write)
    );
    assert_eq!(k.hint, "sk_deploy…");
    assert_eq!(k.allowed_ips, nk.allowed_ips);
    assert_eq!(k.expires_at, nk.expires_at);
    assert!(k.created_at >= before && k.created_at <= Timestamp::now());
    assert_eq!(
        (k.revoked_at, k.rotated_to.clone(), k.last_used_at),
        (None, None, None)
    );

    let auth = store
        .find_by_hash(&hash)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(auth.key, k, "what was stored is what is read back");
    assert_eq!(
        auth.org,
        store.get_org(&a).await.expect("org").expect("org")
    );
    assert_eq!(store.get_key(&a, Live, &k.id).await.expect("get"), Some(k));
    assert_eq!(
        store.find_by_hash(&random_hash()).await.expect("find"),
        None
    );

    let mut twin = new_key(&a, Test, "twin");
    twin.hash = hash;
    match store
        .insert_key(twin, &synaptiq_store::Actor::local("test"))
        .await
    {
        Err(StoreError::Conflict { param, .. }) => assert_eq!(param, "key"),
        other => panic!("expected a hash conflict, got {other:?}"),
    }
}

pub async fn get_and_list_are_scoped_to_org_and_env(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let b = org(&store, "Globex").await;
    let live1 = key(&store, &a, Live, "l1", None).await;
    tick().await;
    let test1 = key(&store, &a, Test, "t1", None).await;
    tick().await;
    let live2 = key(&store, &a, Live, "l2", None).await;
    let other = key(&store, &b, Live, "b1", None).await;

    assert!(
        store
            .get_key(&a, Live, &live1.id)
            .await
            .expect("get")
            .is_some()
    );
    assert_eq!(store.get_key(&a, Test, &live1.id).await.expect("get"), None);
    assert_eq!(store.get_key(&b, Live, &live1.id).await.expect("get"), None);
    assert_eq!(store.get_key(&a, Live, &other.id).await.expect("get"), None);

    let now = Timestamp::now();
    let (keys, total) = store
        .list_keys(&a, Some(Live), None, now, all())
        .await
        .expect("list");
    assert_eq!(
        (ids(&keys), total),
        (vec![live2.id.clone(), live1.id.clone()], 2)
    );
    let (keys, total) = store
        .list_keys(&a, None, None, now, all())
        .await
        .expect("list");
    assert_eq!(
        (ids(&keys), total),
        (
            vec![live2.id.clone(), test1.id.clone(), live1.id.clone()],
            3
        ),
        "no environment: both, newest first"
    );
    let (keys, total) = store
        .list_keys(&a, None, None, now, page(2, 2))
        .await
        .expect("page 2");
    assert_eq!((ids(&keys), total), (vec![live1.id.clone()], 3));
    let (keys, total) = store
        .list_keys(&a, None, None, now, page(3, 2))
        .await
        .expect("past the end");
    assert_eq!((keys.len(), total), (0, 3));
    let (keys, total) = store
        .list_keys(&b, Some(Test), None, now, all())
        .await
        .expect("list");
    assert_eq!((keys.len(), total), (0, 0));
}

pub async fn list_filters_by_status_at_now(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let now = Timestamp::now();
    let hour = now.plus_seconds(3600);
    let active = key(&store, &a, Live, "active", None).await;
    let expiring = key(&store, &a, Live, "expiring", Some(hour)).await;
    let expired = key(&store, &a, Live, "expired", Some(now.plus_seconds(-1))).await;
    let revoked = key(&store, &a, Live, "revoked", Some(now.plus_seconds(-1))).await;
    store
        .revoke_key(
            &a,
            Live,
            &revoked.id,
            now,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("revoke")
        .expect("exists");
    let rotating = key(&store, &a, Live, "rotating", None).await;
    let replacement = new_key(&a, Live, "rotating");
    let successor = match store
        .rotate_key(
            &a,
            Live,
            &rotating.id,
            replacement,
            hour,
            now,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("rotate")
    {
        synaptiq_store::RotateOutcome::Rotated { new, .. } => new.id,
        other => panic!("expected a rotation, got {other:?}"),
    };
    let _elsewhere = key(&store, &a, Test, "test env", Some(now.plus_seconds(-1))).await;

    let with = |status: KeyStatus, at: Timestamp| {
        let (store, a) = (store.clone(), a.clone());
        async move {
            let (keys, total) = store
                .list_keys(&a, Some(Live), Some(status), at, all())
                .await
                .expect("list");
            let mut got = ids(&keys);
            got.sort();
            assert_eq!(
                total,
                got.len() as u64,
                "{status:?}: total matches the page"
            );
            got
        }
    };
    let sorted = |mut v: Vec<KeyId>| {
        v.sort();
        v
    };
    assert_eq!(
        with(KeyStatus::Active, now).await,
        sorted(vec![
            active.id.clone(),
            expiring.id.clone(),
            successor.clone()
        ])
    );
    assert_eq!(
        with(KeyStatus::Rotating, now).await,
        vec![rotating.id.clone()]
    );
    assert_eq!(
        with(KeyStatus::Expired, now).await,
        vec![expired.id.clone()]
    );
    assert_eq!(
        with(KeyStatus::Revoked, now).await,
        vec![revoked.id.clone()],
        "revocation wins over expiry"
    );
    // Two hours later the expiring key and the rotation's old key have expired.
    let later = now.plus_seconds(7200);
    assert_eq!(
        with(KeyStatus::Expired, later).await,
        sorted(vec![
            expired.id.clone(),
            expiring.id.clone(),
            rotating.id.clone()
        ])
    );
    assert_eq!(with(KeyStatus::Rotating, later).await, Vec::<KeyId>::new());
    assert_eq!(
        with(KeyStatus::Active, later).await,
        sorted(vec![active.id, successor])
    );
    // The boundary: a key expiring exactly at `now` is expired at `now`.
    assert_eq!(
        with(KeyStatus::Expired, hour).await,
        sorted(vec![
            expired.id.clone(),
            expiring.id.clone(),
            rotating.id.clone()
        ])
    );
}

pub async fn revoke_is_idempotent_and_keeps_the_first_time(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let mut nk = new_key(&a, Live, "k");
    let hash = nk.hash;
    nk.expires_at = None;
    let k = store
        .insert_key(nk, &synaptiq_store::Actor::local("test"))
        .await
        .expect("insert");
    let t1 = Timestamp(1_900_000_000_000);
    let e0 = epoch(&store).await;
    let first = store
        .revoke_key(&a, Live, &k.id, t1, &synaptiq_store::Actor::local("test"))
        .await
        .expect("revoke")
        .expect("exists");
    assert_eq!(first.revoked_at, Some(t1));
    assert_eq!(first.status(t1), KeyStatus::Revoked);
    assert_eq!(epoch(&store).await, e0 + 1);
    let again = store
        .revoke_key(
            &a,
            Live,
            &k.id,
            Timestamp(t1.millis() + 5000),
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("revoke")
        .expect("exists");
    assert_eq!(
        again.revoked_at,
        Some(t1),
        "the first revocation time stays"
    );
    let found = store
        .find_by_hash(&hash)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(
        found.key.revoked_at,
        Some(t1),
        "a revoked key is still found"
    );
    assert_eq!(
        store
            .revoke_key(&a, Test, &k.id, t1, &synaptiq_store::Actor::local("test"))
            .await
            .expect("revoke"),
        None
    );
    assert_eq!(
        store
            .revoke_key(
                &a,
                Live,
                &KeyId::generate(),
                t1,
                &synaptiq_store::Actor::local("test")
            )
            .await
            .expect("revoke"),
        None
    );
}

crate::conformance::suite! {
    insert_and_find_by_hash,
    get_and_list_are_scoped_to_org_and_env,
    list_filters_by_status_at_now,
    revoke_is_idempotent_and_keeps_the_first_time,
    update_key_changes_name_and_allow_list,
    delete_is_soft,
    locate_key_and_mark_exposed,
}

#[path = "keys_changes.rs"]
mod changes;
pub use changes::*;
