//! The typed client (`synaptiq-client`) against the real binary: the wire types round-trip
//! through the server, and errors come back as the envelope.

use crate::common;

use common::Server;
use synaptiq_client::Client;
use synaptiq_types::keys::CreateKey;
use synaptiq_types::leads::LeadStatus;
use synaptiq_types::leads::{CreateLead, UpdateLead};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_client_round_trip() {
    let s = Server::start();
    let base = s.url("");
    let admin = Client::new(&base, &s.bootstrap_key, Some(&s.cert_pem)).expect("client");
    let me = admin.me().await.expect("me");
    assert_eq!(me.key.scope, "admin");
    assert_eq!(me.key.environment, "test");

    let lead = CreateLead {
        email: "ada@example.com".into(),
        name: Some("Ada".into()),
        company: None,
        title: None,
        phone: None,
        tags: Some(vec!["vip".into()]),
        custom_fields: None,
        status: None,
        score: Some(70),
    };
    let created = admin.create_lead(&lead).await.expect("create");
    assert_eq!(admin.get_lead(&created.id).await.expect("get"), created);
    let dup = admin.create_lead(&lead).await.expect_err("duplicate");
    assert_eq!(dup.code(), Some("conflict"));
    let patch = UpdateLead {
        status: Some(LeadStatus::Qualified),
        ..UpdateLead::default()
    };
    assert_eq!(
        admin
            .update_lead(&created.id, &patch)
            .await
            .expect("patch")
            .status,
        LeadStatus::Qualified
    );
    assert_eq!(
        admin
            .list_leads(1, 10)
            .await
            .expect("list")
            .pagination
            .total,
        1
    );

    let key = admin
        .create_key(&CreateKey {
            name: "typed".into(),
            scope: "read".into(),
            expires_at: None,
            allowed_ips: None,
        })
        .await
        .expect("create key");
    let reader = Client::new(&base, &key.secret, Some(&s.cert_pem)).expect("client");
    assert_eq!(reader.list_leads(1, 10).await.expect("read").data.len(), 1);
    let forbidden = reader
        .delete_lead(&created.id)
        .await
        .expect_err("read key cannot delete");
    assert_eq!(forbidden.code(), Some("forbidden"));
    let rotated = admin
        .rotate_key(&key.key.id, Some(0))
        .await
        .expect("rotate");
    assert_eq!(rotated.old_key.status, "expired");
    let err = reader.me().await.expect_err("old key expired");
    assert_eq!(err.code(), Some("unauthorized"));
    assert!(
        !format!("{reader:?}").contains(&key.secret),
        "Debug redacts the key"
    );
    admin.delete_lead(&created.id).await.expect("delete");
    assert_eq!(
        admin
            .revoke_key(&rotated.new_key.key.id)
            .await
            .expect("revoke")
            .status,
        "revoked"
    );
}
