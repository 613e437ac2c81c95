//! Lead changes: email conflicts on update, concurrent patches, scoped deletion, the lead version.

use super::*;

pub async fn update_email_conflict_names_the_holder(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let jane = create(&store, &a, Live, minimal("jane@acme.io")).await;
    let john = create(&store, &a, Live, minimal("john@acme.io")).await;
    let patch = UpdateLead {
        email: Some("Jane@ACME.io".to_owned()),
        score: Some(5),
        ..UpdateLead::default()
    };
    match via_app(&store)
        .update_lead(
            &a,
            Live,
            &id(&john),
            &patch,
            &synaptiq_store::Actor::local("test"),
        )
        .await
    {
        Err(StoreError::Conflict { param, existing_id }) => {
            assert_eq!(param, "email");
            assert_eq!(existing_id, Some(jane.id.clone()));
        }
        other => panic!("expected an email conflict, got {other:?}"),
    }
    let unchanged = store
        .get_lead(&a, Live, &id(&john))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        unchanged.into_wire(),
        john,
        "a refused patch changes nothing"
    );
    // The store stays usable afterwards (no lock or transaction left behind).
    let ok = UpdateLead {
        score: Some(6),
        ..UpdateLead::default()
    };
    let got = via_app(&store)
        .update_lead(
            &a,
            Live,
            &id(&john),
            &ok,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(got.score, 6);
}

pub async fn concurrent_patches_all_apply(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let lead = create(&store, &a, Live, minimal("busy@acme.io")).await;
    let patches = [
        UpdateLead {
            name: Some(Some("N".to_owned())),
            ..UpdateLead::default()
        },
        UpdateLead {
            company: Some(Some("C".to_owned())),
            ..UpdateLead::default()
        },
        UpdateLead {
            title: Some(Some("T".to_owned())),
            ..UpdateLead::default()
        },
        UpdateLead {
            phone: Some(Some("P".to_owned())),
            ..UpdateLead::default()
        },
        UpdateLead {
            score: Some(42),
            ..UpdateLead::default()
        },
        UpdateLead {
            status: Some(LeadStatus::Contacted),
            ..UpdateLead::default()
        },
    ];
    let tasks: Vec<_> = patches
        .into_iter()
        .map(|p| {
            let (store, a, lid) = (store.clone(), a.clone(), id(&lead));
            tokio::spawn(async move {
                via_app(&store)
                    .update_lead(&a, Live, &lid, &p, &synaptiq_store::Actor::local("test"))
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await
            .expect("task")
            .expect("a concurrent patch must not fail")
            .expect("exists");
    }
    let got = store
        .get_lead(&a, Live, &id(&lead))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (
            got.name.as_deref(),
            got.company.as_deref(),
            got.title.as_deref(),
            got.phone.as_deref(),
            got.score,
            got.status
        ),
        (
            Some("N"),
            Some("C"),
            Some("T"),
            Some("P"),
            42,
            LeadStatus::Contacted
        ),
        "no patch is lost"
    );
}

pub async fn delete_is_scoped(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let b = org(&store, "Globex").await;
    let lead = create(&store, &a, Live, minimal("gone@acme.io")).await;
    assert!(
        !store
            .delete_lead(&a, Test, &id(&lead), &synaptiq_store::Actor::local("test"))
            .await
            .expect("delete")
    );
    assert!(
        !store
            .delete_lead(&b, Live, &id(&lead), &synaptiq_store::Actor::local("test"))
            .await
            .expect("delete")
    );
    assert!(
        store
            .get_lead(&a, Live, &id(&lead))
            .await
            .expect("get")
            .is_some()
    );
    assert!(
        store
            .delete_lead(&a, Live, &id(&lead), &synaptiq_store::Actor::local("test"))
            .await
            .expect("delete")
    );
    assert_eq!(
        store.get_lead(&a, Live, &id(&lead)).await.expect("get"),
        None
    );
    assert!(
        !store
            .delete_lead(&a, Live, &id(&lead), &synaptiq_store::Actor::local("test"))
            .await
            .expect("again")
    );
    // The email is free again.
    create(&store, &a, Live, minimal("gone@acme.io")).await;
}

/// The lead version moves with every change to one (organization, environment)'s leads and
/// only with those.
pub async fn lead_version_moves_with_every_change(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    let b = org(&store, "Globex").await;
    // Both reads, which must agree; SQLite (a file) must have the read that does not wait.
    let v = |o, e| {
        let store = store.clone();
        async move {
            let now = store.lead_version_now(&o, e);
            let awaited = store.lead_version(&o, e).await.expect("version");
            match now {
                Some(now) => assert_eq!(now, awaited, "lead_version_now"),
                None => assert_ne!(store.backend(), "sqlite", "no lead_version_now"),
            }
            awaited
        }
    };
    assert_eq!(v(a.clone(), Live).await, 0, "no leads yet");
    let lead = create(&store, &a, Live, minimal("one@acme.io")).await;
    let v1 = v(a.clone(), Live).await;
    assert!(v1 > 0);
    let (test0, other0) = (v(a.clone(), Test).await, v(b.clone(), Live).await);
    create(&store, &a, Test, minimal("t@acme.io")).await;
    assert_eq!(v(a.clone(), Live).await, v1, "another environment");
    assert!(v(a.clone(), Test).await > test0);
    create(&store, &b, Live, minimal("x@globex.io")).await;
    assert_eq!(v(a.clone(), Live).await, v1, "another organization");
    assert!(v(b.clone(), Live).await > other0);
    // A refused duplicate changes nothing.
    assert!(
        via_app(&store)
            .create_lead(
                &a,
                Live,
                &minimal("ONE@acme.io"),
                &synaptiq_store::Actor::local("test")
            )
            .await
            .is_err()
    );
    assert_eq!(v(a.clone(), Live).await, v1);
    // A patch of a field no list filters on still moves it (lists show every field).
    let patch = UpdateLead {
        score: Some(11),
        ..UpdateLead::default()
    };
    via_app(&store)
        .update_lead(
            &a,
            Live,
            &id(&lead),
            &patch,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("patch")
        .expect("exists");
    let v2 = v(a.clone(), Live).await;
    assert!(v2 > v1, "patch");
    assert!(
        store
            .delete_lead(&a, Live, &id(&lead), &synaptiq_store::Actor::local("test"))
            .await
            .expect("delete")
    );
    assert!(v(a.clone(), Live).await > v2, "delete");
}

/// A creation cancelled part-way (its client went away, its request timed out) leaves no
/// transaction open on the writer: the write after each one succeeds. On SQLite a creation is
/// one statement list, and sqlx's worker stops a list whose caller is gone at the statement it
/// is on, possibly between `BEGIN` and `COMMIT`.
pub async fn a_cancelled_creation_leaves_the_writer_usable(store: Arc<dyn Store>) {
    let a = org(&store, "Acme").await;
    for i in 0..300u32 {
        let (s, o) = (store.clone(), a.clone());
        let task = tokio::spawn(async move {
            let new = minimal(&format!("cancelled{i}@acme.io"));
            let actor = synaptiq_store::Actor::local("test");
            via_app(&s).create_lead(&o, Live, &new, &actor).await
        });
        // Cancel at a different point each time, 0 to 1 ms in: before the list is sent, while
        // it runs, after (a creation takes about 1 ms here, most of it the commit's fsync).
        let until =
            std::time::Instant::now() + std::time::Duration::from_micros(u64::from(i * 37 % 1000));
        while std::time::Instant::now() < until {
            tokio::task::yield_now().await;
        }
        task.abort();
        let _ = task.await;
        create(&store, &a, Live, minimal(&format!("after{i}@acme.io"))).await;
    }
}
