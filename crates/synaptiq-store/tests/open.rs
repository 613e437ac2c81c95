//! Opening a store from a URL: backend choice, pool parameters, and errors that are loud but
//! never repeat a password.

use std::time::{Duration, Instant};

use synaptiq_store::{OpenError, Store, open};

/// The application layer's lead use cases over `store`.
fn via_app(store: &std::sync::Arc<dyn Store>) -> synaptiq_app::Services {
    synaptiq_app::Services::new(
        store.clone(),
        std::sync::Arc::new(synaptiq_app::NoAuthCache),
    )
}

async fn open_err(url: &str) -> String {
    match open(url).await {
        Ok(store) => panic!("{url} opened a {} store", store.backend()),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn sqlite_urls_open_with_or_without_pool_parameters() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, form) in ["sqlite://", "sqlite:"].into_iter().enumerate() {
        let file = dir.path().join(format!("s{i}.db"));
        let url = format!(
            "{form}{}?max_connections=2&acquire_timeout=1",
            file.display()
        );
        let store = open(&url).await.expect("open");
        store.migrate().await.expect("migrate");
        store.ping().await.expect("ping");
        assert_eq!(store.backend(), "sqlite");
        store.close().await;
        assert!(file.exists(), "{url} created {}", file.display());
    }
}

#[tokio::test]
async fn a_sqlite_path_in_a_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let typo = dir.path().join("no-such-dir").join("synaptiq.db");
    let msg = open_err(&format!("sqlite://{}", typo.display())).await;
    assert!(msg.contains("does not exist"), "{msg}");
    assert!(!typo.exists());
    assert!(
        !dir.path().join("no-such-dir").exists(),
        "nothing is created"
    );
    let msg = open_err("sqlite://").await;
    assert!(msg.contains("empty SQLite path"), "{msg}");
}

#[tokio::test]
async fn unknown_schemes_and_malformed_urls_are_loud_without_the_password() {
    for url in [
        "mysql://root:hunter2@127.0.0.1/db",
        "postgress://u:hunter2@127.0.0.1/db",
        "hunter2",
        "//u:hunter2@host/db",
    ] {
        let msg = open_err(url).await;
        assert!(!msg.contains("hunter2"), "{url}: {msg}");
        assert!(
            msg.contains("sqlite://PATH or postgres://"),
            "says what is expected: {msg}"
        );
    }
    let msg = open_err("mysql://root:hunter2@127.0.0.1/db").await;
    assert!(msg.contains("\"mysql\""), "names the scheme: {msg}");
    for url in [
        "postgres://u:hunter2@127.0.0.1:99999/db",
        "postgres://u:hunter2@[::1/db",
        "postgres://u:hunter2@127.0.0.1/db?max_connections=many",
    ] {
        let msg = open_err(url).await;
        assert!(!msg.contains("hunter2"), "{url}: {msg}");
    }
}

#[tokio::test]
async fn an_unreachable_postgres_fails_within_the_acquire_timeout() {
    // Port 1 on loopback: nothing listens there.
    let url = "postgresql://u:hunter2@127.0.0.1:1/db?acquire_timeout=1";
    let started = Instant::now();
    let err = open(url).await.err().expect("no server");
    assert!(matches!(err, OpenError::Backend(_)), "{err:?}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(err.to_string().contains("refused"), "says why: {err}");
    assert!(started.elapsed() < Duration::from_secs(5), "bounded wait");
}

#[tokio::test]
async fn postgresql_scheme_selects_postgres() {
    let Ok(base) = std::env::var("SYNAPTIQ_TEST_POSTGRES_URL") else {
        return;
    };
    let url = base.replacen("postgres://", "postgresql://", 1);
    let store = open(&url).await.expect("open");
    assert_eq!(store.backend(), "postgres");
    store.ping().await.expect("ping");
    store.close().await;
}

#[tokio::test]
async fn target_session_attrs_read_write_refuses_a_read_only_server() {
    let Ok(base) = std::env::var("SYNAPTIQ_TEST_POSTGRES_URL") else {
        return;
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let store = open(&format!("{base}{sep}target_session_attrs=read-write"))
        .await
        .expect("a writable server is accepted");
    store.ping().await.expect("ping");
    store.close().await;
    // A session that starts read-only looks like a hot standby.
    let standby = format!(
        "{base}{sep}options[default_transaction_read_only]=on&target_session_attrs=read-write&acquire_timeout=1"
    );
    let err = open_err(&standby).await;
    assert!(err.contains("read-only"), "{err}");
    let err = open_err(&format!("{base}{sep}target_session_attrs=primary")).await;
    assert!(err.contains("target_session_attrs"), "{err}");
}

/// The lead version read without waiting (SQLite) sees commits made through other connections
/// — here a second store on the same file, as the CLI or another server process would be — at
/// once, and an in-memory database (one connection per database) has no such read.
#[tokio::test]
async fn sqlite_reads_lead_versions_without_waiting_and_sees_other_writers() {
    use synaptiq_core::plan::Plan;
    use synaptiq_core::scope::Environment::Live;
    use synaptiq_types::leads::CreateLead;

    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("v.db").display());
    let reader = open(&url).await.expect("open");
    reader.migrate().await.expect("migrate");
    let writer = open(&url).await.expect("open again");
    let org = writer
        .create_org("Acme", Plan::Starter)
        .await
        .expect("org")
        .id;
    assert_eq!(reader.lead_version_now(&org, Live), Some(0));
    let mut last = 0;
    for i in 0..3 {
        let lead: CreateLead =
            serde_json::from_value(serde_json::json!({ "email": format!("l{i}@acme.io") }))
                .expect("lead");
        via_app(&writer)
            .create_lead(&org, Live, &lead, &synaptiq_store::Actor::local("test"))
            .await
            .expect("lead");
        let now = reader.lead_version_now(&org, Live).expect("read");
        assert!(
            now > last,
            "version {now} after a commit elsewhere, was {last}"
        );
        assert_eq!(now, writer.lead_version(&org, Live).await.expect("v"));
        last = now;
    }
    let memory = open("sqlite::memory:").await.expect("memory");
    memory.migrate().await.expect("migrate");
    assert_eq!(memory.lead_version_now(&org, Live), None);
}
