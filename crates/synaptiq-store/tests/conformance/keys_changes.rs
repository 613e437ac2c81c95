//! Key changes: rename and allow-list, soft deletion, locating a key and marking it exposed.

use super::*;

pub async fn update_key_changes_name_and_allow_list(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let mut nk = new_key(&a, Live, "before");
    nk.allowed_ips = vec!["10.0.0.0/8".to_owned()];
    let k = store
        .insert_key(nk, &synaptiq_store::Actor::local("test"))
        .await
        .expect("insert");
    let e0 = epoch(&store).await;
    let renamed = store
        .update_key(
            &a,
            Live,
            &k.id,
            Some("after"),
            None,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(renamed.name, "after");
    assert_eq!(renamed.allowed_ips, vec!["10.0.0.0/8".to_owned()]);
    assert_eq!(epoch(&store).await, e0 + 1);
    let ips = vec!["192.0.2.0/24".to_owned(), "2001:db8::/32".to_owned()];
    let moved = store
        .update_key(
            &a,
            Live,
            &k.id,
            None,
            Some(&ips),
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(
        (moved.name.as_str(), moved.allowed_ips.clone()),
        ("after", ips)
    );
    let cleared = store
        .update_key(
            &a,
            Live,
            &k.id,
            None,
            Some(&[]),
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("update")
        .expect("exists");
    assert!(
        cleared.allowed_ips.is_empty(),
        "an empty list means anywhere"
    );
    assert_eq!(
        store.get_key(&a, Live, &k.id).await.expect("get"),
        Some(cleared)
    );
    assert_eq!(
        store
            .update_key(
                &a,
                Test,
                &k.id,
                Some("x"),
                None,
                &synaptiq_store::Actor::local("test")
            )
            .await
            .expect("update"),
        None
    );
}

pub async fn delete_is_soft(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let nk = new_key(&a, Live, "doomed");
    let hash = nk.hash;
    let k = store
        .insert_key(nk, &synaptiq_store::Actor::local("test"))
        .await
        .expect("insert");
    let keep = key(&store, &a, Live, "kept", None).await;
    let t = Timestamp::now();
    assert!(
        !store
            .delete_key(&a, Test, &k.id, t, &synaptiq_store::Actor::local("test"))
            .await
            .expect("delete")
    );
    let e0 = epoch(&store).await;
    assert!(
        store
            .delete_key(&a, Live, &k.id, t, &synaptiq_store::Actor::local("test"))
            .await
            .expect("delete")
    );
    assert_eq!(epoch(&store).await, e0 + 1);
    assert_eq!(store.get_key(&a, Live, &k.id).await.expect("get"), None);
    let (keys, total) = store
        .list_keys(&a, None, None, t, all())
        .await
        .expect("list");
    assert_eq!((ids(&keys), total), (vec![keep.id.clone()], 1));
    let (_, revoked) = store
        .list_keys(&a, None, Some(KeyStatus::Revoked), t, all())
        .await
        .expect("list");
    assert_eq!(revoked, 0, "deleted keys leave every list");
    let found = store
        .find_by_hash(&hash)
        .await
        .expect("find")
        .expect("kept");
    assert_eq!(found.key.revoked_at, Some(t), "it answers as revoked");
    assert!(
        !store
            .delete_key(&a, Live, &k.id, t, &synaptiq_store::Actor::local("test"))
            .await
            .expect("again")
    );
    assert_eq!(
        store
            .revoke_key(&a, Live, &k.id, t, &synaptiq_store::Actor::local("test"))
            .await
            .expect("revoke"),
        None
    );
    assert_eq!(
        store
            .update_key(
                &a,
                Live,
                &k.id,
                Some("x"),
                None,
                &synaptiq_store::Actor::local("test")
            )
            .await
            .expect("update"),
        None
    );
    let outcome = store
        .rotate_key(
            &a,
            Live,
            &k.id,
            new_key(&a, Live, "x"),
            t,
            t,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("rotate");
    assert_eq!(outcome, synaptiq_store::RotateOutcome::NotFound);
}

pub async fn locate_key_and_mark_exposed(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let nk = new_key(&a, Test, "leaky");
    let hash = nk.hash;
    let k = store
        .insert_key(nk, &synaptiq_store::Actor::local("test"))
        .await
        .expect("insert");
    assert_eq!(
        store.locate_key(&k.id).await.expect("locate"),
        Some((a.clone(), Test))
    );
    assert_eq!(
        store.locate_key(&KeyId::generate()).await.expect("locate"),
        None
    );
    let t1 = Timestamp(1_900_000_000_000);
    let first = store
        .mark_exposed(&hash, t1, &synaptiq_store::Actor::local("test"))
        .await
        .expect("mark")
        .expect("exists");
    assert_eq!(
        (first.id.clone(), first.exposed_at),
        (k.id.clone(), Some(t1))
    );
    let second = store
        .mark_exposed(
            &hash,
            Timestamp(t1.millis() + 60_000),
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("mark")
        .expect("exists");
    assert_eq!(
        second.exposed_at,
        Some(t1),
        "only the first exposure is kept"
    );
    assert_eq!(
        store
            .get_key(&a, Test, &k.id)
            .await
            .expect("get")
            .expect("exists")
            .exposed_at,
        Some(t1)
    );
    assert_eq!(
        store
            .mark_exposed(&random_hash(), t1, &synaptiq_store::Actor::local("test"))
            .await
            .expect("mark"),
        None
    );
}
