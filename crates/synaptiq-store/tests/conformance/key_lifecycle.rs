//! Rotation (including races), the expiry sweep and usage batches.

use std::collections::HashSet;
use std::sync::Arc;

use synaptiq_core::ids::KeyId;
use synaptiq_core::scope::Environment::{Live, Test};
use synaptiq_core::scope::KeyStatus;
use synaptiq_store::{RotateOutcome, Store, UsageFact};
use synaptiq_types::time::Timestamp;

use crate::conformance::harness::{all, epoch, key, new_key, org};

pub async fn rotate_outcomes(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let now = Timestamp::now();
    let deadline = now.plus_seconds(86_400);
    let mut nk = new_key(&a, Live, "prod");
    nk.allowed_ips = vec!["10.0.0.0/8".to_owned()];
    let old = store
        .insert_key(nk, &synaptiq_store::Actor::local("test"))
        .await
        .expect("insert");

    let rotate = |id: KeyId, at: Timestamp, until: Timestamp| {
        let (store, a) = (store.clone(), a.clone());
        async move {
            let mut replacement = new_key(&a, Live, "prod");
            replacement.allowed_ips = vec!["10.0.0.0/8".to_owned()];
            replacement.rotated_from = Some(id.clone());
            store
                .rotate_key(
                    &a,
                    Live,
                    &id,
                    replacement,
                    until,
                    at,
                    &synaptiq_store::Actor::local("test"),
                )
                .await
                .expect("rotate")
        }
    };
    assert_eq!(
        rotate(KeyId::generate(), now, deadline).await,
        RotateOutcome::NotFound
    );
    let wrong_env = store
        .rotate_key(
            &a,
            Test,
            &old.id,
            new_key(&a, Test, "x"),
            deadline,
            now,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("rotate");
    assert_eq!(wrong_env, RotateOutcome::NotFound);

    let e0 = epoch(&store).await;
    let RotateOutcome::Rotated { old: was, new } = rotate(old.id.clone(), now, deadline).await
    else {
        panic!("an active key rotates");
    };
    assert_eq!(epoch(&store).await, e0 + 1);
    assert_eq!(was.id, old.id);
    assert_eq!(was.rotated_to.as_ref(), Some(&new.id));
    assert_eq!(was.expires_at, Some(deadline));
    assert_eq!(was.status(now), KeyStatus::Rotating);
    assert_eq!(new.rotated_from.as_ref(), Some(&old.id));
    assert_eq!(
        (new.name.as_str(), new.scope, new.environment),
        ("prod", old.scope, Live)
    );
    assert_eq!(new.allowed_ips, vec!["10.0.0.0/8".to_owned()]);
    assert_eq!(new.status(now), KeyStatus::Active);
    assert_eq!(
        store.get_key(&a, Live, &old.id).await.expect("get"),
        Some(*was),
        "the returned old key is the stored one"
    );
    assert_eq!(
        store.get_key(&a, Live, &new.id).await.expect("get"),
        Some(*new)
    );

    let revoked = key(&store, &a, Live, "revoked", None).await;
    store
        .revoke_key(
            &a,
            Live,
            &revoked.id,
            now,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("revoke");
    assert_eq!(
        rotate(revoked.id, now, deadline).await,
        RotateOutcome::NotUsable(KeyStatus::Revoked)
    );
    let expired = key(&store, &a, Live, "expired", Some(now.plus_seconds(-1))).await;
    assert_eq!(
        rotate(expired.id, now, deadline).await,
        RotateOutcome::NotUsable(KeyStatus::Expired)
    );
    let (_, total) = store
        .list_keys(&a, None, None, now, all())
        .await
        .expect("list");
    assert_eq!(total, 4, "refused rotations insert no replacement");
}

pub async fn rotation_never_extends_an_earlier_expiry(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let now = Timestamp::now();
    let soon = now.plus_seconds(600);
    let k = key(&store, &a, Live, "short-lived", Some(soon)).await;
    let outcome = store
        .rotate_key(
            &a,
            Live,
            &k.id,
            new_key(&a, Live, "x"),
            now.plus_seconds(86_400),
            now,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("rotate");
    let RotateOutcome::Rotated { old, .. } = outcome else {
        panic!("expected a rotation, got {outcome:?}");
    };
    assert_eq!(old.expires_at, Some(soon), "a grace never outlives the key");
    // A shorter grace does shorten it.
    let k = key(
        &store,
        &a,
        Live,
        "long-lived",
        Some(now.plus_seconds(86_400)),
    )
    .await;
    let outcome = store
        .rotate_key(
            &a,
            Live,
            &k.id,
            new_key(&a, Live, "y"),
            soon,
            now,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("rotate");
    let RotateOutcome::Rotated { old, .. } = outcome else {
        panic!("expected a rotation, got {outcome:?}");
    };
    assert_eq!(old.expires_at, Some(soon));
}

/// Rotates `id` from 8 tasks at once with `deadline`, returning the outcomes.
async fn race_rotations(
    store: &Arc<dyn Store>,
    org: &synaptiq_core::ids::OrgId,
    id: &KeyId,
    deadline: Timestamp,
    now: Timestamp,
) -> Vec<RotateOutcome> {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, org, id) = (store.clone(), org.clone(), id.clone());
            tokio::spawn(async move {
                let replacement = new_key(&org, Live, &format!("racer {i}"));
                store
                    .rotate_key(
                        &org,
                        Live,
                        &id,
                        replacement,
                        deadline,
                        now,
                        &synaptiq_store::Actor::local("test"),
                    )
                    .await
                    .expect("a racing rotation must not error")
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.expect("task"));
    }
    outcomes
}

pub async fn concurrent_rotations_with_zero_grace_have_one_winner(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let k = key(&store, &a, Live, "contended", None).await;
    let now = Timestamp::now();
    let outcomes = race_rotations(&store, &a, &k.id, now, now).await;
    let winners: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            RotateOutcome::Rotated { new, .. } => Some(new.id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let losers = outcomes
        .iter()
        .filter(|o| **o == RotateOutcome::NotUsable(KeyStatus::Expired))
        .count();
    assert_eq!(
        losers, 7,
        "the others see the key already ended: {outcomes:?}"
    );
    let (keys, total) = store
        .list_keys(&a, Some(Live), None, now, all())
        .await
        .expect("list");
    assert_eq!(total, 2, "losers leave no replacement behind: {keys:?}");
    let old = store
        .get_key(&a, Live, &k.id)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(old.rotated_to.as_ref(), Some(&winners[0]));
}

/// With a grace period the old key stays usable, and the contract lets a rotating key be
/// rotated again: racing rotations therefore apply one after another, each seeing the last.
pub async fn concurrent_rotations_serialize(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let k = key(&store, &a, Live, "contended", None).await;
    let now = Timestamp::now();
    let deadline = now.plus_seconds(3600);
    let e0 = epoch(&store).await;
    let outcomes = race_rotations(&store, &a, &k.id, deadline, now).await;
    let mut successors = HashSet::new();
    for o in &outcomes {
        let RotateOutcome::Rotated { old, new } = o else {
            panic!("a rotating key is still usable: {outcomes:?}");
        };
        assert_eq!(
            old.rotated_to.as_ref(),
            Some(&new.id),
            "each rotation returns its own result"
        );
        assert_eq!(old.expires_at, Some(deadline));
        successors.insert(new.id.clone());
    }
    assert_eq!(successors.len(), 8);
    assert_eq!(epoch(&store).await, e0 + 8, "one bump per rotation");
    let old = store
        .get_key(&a, Live, &k.id)
        .await
        .expect("get")
        .expect("exists");
    let last = old.rotated_to.expect("rotated");
    assert!(successors.contains(&last));
    let (_, total) = store
        .list_keys(&a, Some(Live), None, now, all())
        .await
        .expect("list");
    assert_eq!(total, 9);
}

pub async fn rotation_racing_revocation_stays_consistent(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    for round in 0..5 {
        let k = key(&store, &a, Live, &format!("round {round}"), None).await;
        let now = Timestamp::now();
        let rotation = {
            let (store, a, id) = (store.clone(), a.clone(), k.id.clone());
            tokio::spawn(async move {
                let replacement = new_key(&a, Live, "replacement");
                store
                    .rotate_key(
                        &a,
                        Live,
                        &id,
                        replacement,
                        now.plus_seconds(3600),
                        now,
                        &synaptiq_store::Actor::local("test"),
                    )
                    .await
                    .expect("rotate")
            })
        };
        let revoked = store
            .revoke_key(&a, Live, &k.id, now, &synaptiq_store::Actor::local("test"))
            .await
            .expect("revoke")
            .expect("exists");
        let outcome = rotation.await.expect("task");
        let stored = store
            .get_key(&a, Live, &k.id)
            .await
            .expect("get")
            .expect("exists");
        assert_eq!(stored.revoked_at, Some(now), "the revocation always lands");
        match outcome {
            RotateOutcome::Rotated { new, .. } => {
                assert_eq!(stored.rotated_to, Some(new.id.clone()), "rotated first");
                assert_eq!(revoked.rotated_to, Some(new.id));
            }
            RotateOutcome::NotUsable(KeyStatus::Revoked) => {
                assert_eq!(stored.rotated_to, None, "revoked first: no successor");
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
}

crate::conformance::suite! {
    rotate_outcomes,
    rotation_never_extends_an_earlier_expiry,
    concurrent_rotations_with_zero_grace_have_one_winner,
    concurrent_rotations_serialize,
    rotation_racing_revocation_stays_consistent,
    sweep_returns_each_key_once_across_callers,
    record_usage_keeps_the_newest_fact,
}

#[path = "key_lifecycle_sweeps.rs"]
mod sweeps;
pub use sweeps::*;
