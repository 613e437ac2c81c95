//! Dashboard storage: users by email, sessions by token hash, hourly usage counters.

use std::sync::Arc;

use synaptiq_core::ids::{KeyId, UserId};
use synaptiq_core::scope::Environment::{self, Live, Test};
use synaptiq_store::{NewSession, Role, SessionHash, Store, StoreError, UsageCount};
use synaptiq_types::time::Timestamp;

use crate::conformance::harness::{key, org, random_hash, tick};

fn session_hash() -> SessionHash {
    SessionHash(random_hash().0)
}

fn new_session(hash: SessionHash, user: &UserId, now: Timestamp, secs: i64) -> NewSession {
    NewSession {
        id_hash: hash,
        user_id: user.clone(),
        created_at: now,
        expires_at: now.plus_seconds(secs),
        ip: Some("192.0.2.7".into()),
        user_agent: Some("Mozilla/5.0".into()),
    }
}

pub async fn users_are_found_by_email_and_listed(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let b = org(&store, "Globex").await;
    let ann = store
        .create_user(&a, "Ann@Example.com", Role::Owner, "$argon2id$a")
        .await
        .expect("create");
    tick().await;
    let bob = store
        .create_user(&a, "bob@example.com", Role::Viewer, "$argon2id$b")
        .await
        .expect("create");
    let cid = store
        .create_user(&b, "cid@example.com", Role::Admin, "$argon2id$c")
        .await
        .expect("create");
    for typed in ["ann@example.com", "ANN@example.COM", " ann@example.com "] {
        let got = store.find_user_by_email(typed).await.expect("find");
        assert_eq!(got.as_ref(), Some(&ann), "{typed:?}");
    }
    assert_eq!(got_hash(&store, "bob@example.com").await, "$argon2id$b");
    assert_eq!(
        store
            .find_user_by_email("nobody@example.com")
            .await
            .expect("find"),
        None
    );
    assert_eq!(store.list_users(&a).await.expect("list"), vec![ann, bob]);
    assert_eq!(store.list_users(&b).await.expect("list"), vec![cid]);
}

async fn got_hash(store: &Arc<dyn Store>, email: &str) -> String {
    store
        .find_user_by_email(email)
        .await
        .expect("find")
        .expect("exists")
        .password_hash
}

pub async fn sessions_live_until_they_expire_or_end(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let user = store
        .create_user(&a, "ann@example.com", Role::Admin, "$argon2id$a")
        .await
        .expect("user");
    let now = Timestamp::now();
    let (live, short) = (session_hash(), session_hash());
    store
        .create_session(new_session(live, &user.id, now, 3600))
        .await
        .expect("create");
    store
        .create_session(new_session(short, &user.id, now, 60))
        .await
        .expect("create");
    let found = store
        .find_session(&live, now)
        .await
        .expect("find")
        .expect("live session");
    assert_eq!(found.user, user);
    assert_eq!((found.org.id.clone(), found.org.name.as_str()), (a, "Acme"));
    assert_eq!(found.created_at, now);
    assert_eq!(found.expires_at, now.plus_seconds(3600));
    // Expiry is exclusive: at its end the session is gone.
    assert!(
        store
            .find_session(&short, now.plus_seconds(60))
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        store
            .find_session(&session_hash(), now)
            .await
            .expect("find")
            .is_none()
    );
    // The sweep removes only what expired.
    assert_eq!(
        store
            .delete_expired_sessions(now.plus_seconds(61))
            .await
            .expect("sweep"),
        1
    );
    assert!(
        store
            .find_session(&live, now)
            .await
            .expect("find")
            .is_some()
    );
    // Sign-out.
    assert!(store.delete_session(&live).await.expect("delete"));
    assert!(!store.delete_session(&live).await.expect("delete"));
    assert!(
        store
            .find_session(&live, now)
            .await
            .expect("find")
            .is_none()
    );
    // A hash collision is a conflict, never a second session under the same id.
    let dup = session_hash();
    store
        .create_session(new_session(dup, &user.id, now, 60))
        .await
        .expect("create");
    match store
        .create_session(new_session(dup, &user.id, now, 60))
        .await
    {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn count(
    k: &KeyId,
    org: &synaptiq_core::ids::OrgId,
    env: Environment,
    hour: i64,
    n: u64,
) -> UsageCount {
    UsageCount {
        key_id: k.clone(),
        org_id: org.clone(),
        environment: env,
        hour: Timestamp(hour * 3_600_000),
        ok: n,
        client_error: n * 2,
        rate_limited: n * 3,
        server_error: n * 4,
    }
}

pub async fn usage_counters_add_up_and_are_scoped(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let b = org(&store, "Globex").await;
    let k1 = key(&store, &a, Live, "one", None).await.id;
    let k2 = key(&store, &a, Live, "two", None).await.id;
    let kt = key(&store, &a, Test, "test", None).await.id;
    let kb = key(&store, &b, Live, "other", None).await.id;
    store.record_usage_counts(&[]).await.expect("empty batch");
    store
        .record_usage_counts(&[
            count(&k1, &a, Live, 100, 1),
            count(&k2, &a, Live, 101, 5),
            count(&kt, &a, Test, 100, 7),
            count(&kb, &b, Live, 100, 9),
        ])
        .await
        .expect("batch");
    // A second flush (or another node) adds to the same hour.
    store
        .record_usage_counts(&[count(&k1, &a, Live, 100, 2), count(&k1, &a, Live, 99, 1)])
        .await
        .expect("batch");
    let got = store
        .usage_counts(&a, Live, Timestamp(100 * 3_600_000 + 1))
        .await
        .expect("read");
    let mut want = vec![count(&k1, &a, Live, 100, 3), count(&k2, &a, Live, 101, 5)];
    want.sort_by(|x, y| (&x.key_id, x.hour).cmp(&(&y.key_id, y.hour)));
    assert_eq!(
        got, want,
        "from the hour containing `since`, this org and env only"
    );
    let all = store
        .usage_counts(&a, Live, Timestamp(0))
        .await
        .expect("read");
    assert_eq!(all.len(), 3);
    assert_eq!(
        store
            .usage_counts(&a, Test, Timestamp(0))
            .await
            .expect("read"),
        vec![count(&kt, &a, Test, 100, 7)]
    );
}

pub async fn concurrent_usage_flushes_lose_nothing(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let keys = [
        key(&store, &a, Live, "one", None).await.id,
        key(&store, &a, Live, "two", None).await.id,
    ];
    let mut tasks = Vec::new();
    for i in 0..8u64 {
        let (store, a, keys) = (store.clone(), a.clone(), keys.clone());
        tasks.push(tokio::spawn(async move {
            // Opposite orders on alternate tasks: the store must not deadlock.
            let mut batch = vec![
                count(&keys[0], &a, Live, 7, 1),
                count(&keys[1], &a, Live, 7, 1),
            ];
            if i % 2 == 1 {
                batch.reverse();
            }
            loop {
                match store.record_usage_counts(&batch).await {
                    Ok(()) => break,
                    Err(StoreError::Unavailable(_)) => tokio::task::yield_now().await,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let got = store
        .usage_counts(&a, Live, Timestamp(0))
        .await
        .expect("read");
    assert_eq!(got.len(), 2);
    for c in got {
        assert_eq!(
            (c.ok, c.client_error, c.rate_limited, c.server_error),
            (8, 16, 24, 32)
        );
    }
}

/// A flush larger than one multi-row statement (facts: 500 rows, counters: 250), with the same
/// key twice in one batch: every row lands once, duplicates are merged.
pub async fn usage_batches_span_several_statements(store: Arc<dyn Store>) {
    use synaptiq_store::UsageFact;
    let a = org(&store, "Acme").await;
    let mut keys = Vec::new();
    for i in 0..620 {
        keys.push(key(&store, &a, Live, &format!("k{i}"), None).await.id);
    }
    let mut facts: Vec<UsageFact> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| UsageFact {
            key_id: k.clone(),
            at: Timestamp(10_000 + i as i64),
            ip: format!("192.0.2.{}", i % 250),
            user_agent: Some(format!("agent/{i}")),
        })
        .collect();
    // The same key again, newer, and once more, older: the newest wins.
    let newer = UsageFact {
        at: Timestamp(99_999),
        ip: "198.51.100.1".into(),
        ..facts[7].clone()
    };
    let older = UsageFact {
        at: Timestamp(1),
        ..facts[7].clone()
    };
    facts.push(newer);
    facts.push(older);
    store.record_usage(&facts).await.expect("facts");
    for (i, k) in keys.iter().enumerate() {
        let got = store
            .get_key(&a, Live, k)
            .await
            .expect("get")
            .expect("exists");
        if i == 7 {
            assert_eq!(got.last_used_at, Some(Timestamp(99_999)));
            assert_eq!(got.last_used_ip.as_deref(), Some("198.51.100.1"));
        } else {
            assert_eq!(
                got.last_used_at,
                Some(Timestamp(10_000 + i as i64)),
                "key {i}"
            );
            assert_eq!(got.last_used_user_agent, Some(format!("agent/{i}")));
        }
    }
    let mut counts: Vec<UsageCount> = keys.iter().map(|k| count(k, &a, Live, 5, 1)).collect();
    counts.push(count(&keys[3], &a, Live, 5, 10));
    store.record_usage_counts(&counts).await.expect("counts");
    store
        .record_usage_counts(&counts)
        .await
        .expect("counts again");
    let got = store
        .usage_counts(&a, Live, Timestamp(0))
        .await
        .expect("read");
    assert_eq!(got.len(), keys.len());
    for c in &got {
        let n = if c.key_id == keys[3] { 22 } else { 2 };
        assert_eq!(c.ok, n, "{}", c.key_id);
        assert_eq!(c.server_error, 4 * n);
    }
}

crate::conformance::suite! {
    users_are_found_by_email_and_listed,
    sessions_live_until_they_expire_or_end,
    usage_counters_add_up_and_are_scoped,
    usage_batches_span_several_statements,
    concurrent_usage_flushes_lose_nothing,
}
