//! Pepper versions: fingerprints recorded once, keys counted by version.

use std::sync::Arc;

use synaptiq_core::scope::Environment::Live;
use synaptiq_store::{Actor, PepperVersion, Store};
use synaptiq_types::time::Timestamp;

use crate::conformance::harness::{key, new_key, org, random_hash};

pub async fn the_first_fingerprint_of_a_version_stays(store: Arc<dyn Store>) {
    assert_eq!(store.pepper_versions().await.expect("versions"), []);
    assert_eq!(
        store.record_pepper(1, "aaaa").await.expect("record"),
        "aaaa"
    );
    assert_eq!(
        store.record_pepper(1, "bbbb").await.expect("again"),
        "aaaa",
        "a second node's different pepper is told the recorded one"
    );
    assert_eq!(store.record_pepper(2, "cccc").await.expect("v2"), "cccc");
    // Two nodes at once with different peppers: both see the same winner.
    let (x, y) = tokio::join!(
        store.record_pepper(3, "xxxx"),
        store.record_pepper(3, "yyyy")
    );
    let (x, y) = (x.expect("x"), y.expect("y"));
    assert_eq!(x, y);
    assert!(x == "xxxx" || x == "yyyy");
}

pub async fn versions_count_the_keys_that_still_work(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    store.record_pepper(1, "aaaa").await.expect("record");
    let live = key(&store, &a, Live, "live", None).await;
    key(&store, &a, Live, "other", None).await;
    let revoked = key(&store, &a, Live, "revoked", None).await;
    let me = Actor::local("test");
    let now = Timestamp::now();
    store
        .revoke_key(&a, Live, &revoked.id, now, &me)
        .await
        .expect("revoke");
    let mut old = new_key(&a, Live, "made under v7");
    old.pepper_version = 7;
    store.insert_key(old, &me).await.expect("insert v7");
    assert_eq!(
        store.pepper_versions().await.expect("versions"),
        [
            PepperVersion {
                version: 1,
                fingerprint: Some("aaaa".to_owned()),
                keys: 2,
            },
            PepperVersion {
                version: 7,
                fingerprint: None,
                keys: 1,
            },
        ]
    );
    assert!(
        store
            .delete_key(&a, Live, &live.id, now, &me)
            .await
            .expect("delete")
    );
    assert_eq!(store.pepper_versions().await.expect("versions")[0].keys, 1);
}

pub async fn a_key_is_rehashed_once_under_the_current_pepper(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let me = Actor::local("test");
    let old = new_key(&a, Live, "rotating");
    let old_hash = old.hash;
    let k = store.insert_key(old, &me).await.expect("insert");
    let new_hash = random_hash();
    assert!(
        store
            .rehash_key(&k.id, &old_hash, &new_hash, 2)
            .await
            .expect("rehash")
    );
    assert!(
        !store
            .rehash_key(&k.id, &old_hash, &random_hash(), 2)
            .await
            .expect("again"),
        "a second node re-hashing from the old hash changes nothing"
    );
    assert!(store.find_by_hash(&old_hash).await.expect("old").is_none());
    let found = store
        .find_by_hash(&new_hash)
        .await
        .expect("new")
        .expect("found");
    assert_eq!(found.key.id, k.id);
    let versions = store.pepper_versions().await.expect("versions");
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.keys))
            .collect::<Vec<_>>(),
        [(2, 1)]
    );
}

crate::conformance::suite! {
    the_first_fingerprint_of_a_version_stays,
    versions_count_the_keys_that_still_work,
    a_key_is_rehashed_once_under_the_current_pepper,
}
