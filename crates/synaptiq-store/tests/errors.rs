//! How driver errors map to `StoreError`: what a retry can fix is `Unavailable` (the server
//! answers 503), anything else `Internal`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};
use synaptiq_store::StoreError;

fn classify(e: sqlx::Error) -> StoreError {
    StoreError::from(e)
}

#[tokio::test]
async fn sqlite_busy_beyond_the_timeout_is_unavailable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("busy.db").display());
    let opts = SqliteConnectOptions::from_str(&url)
        .expect("url")
        .create_if_missing(true)
        .busy_timeout(Duration::ZERO);
    let mut holder = SqliteConnection::connect_with(&opts).await.expect("open");
    holder
        .execute("CREATE TABLE t (x INTEGER)")
        .await
        .expect("create");
    holder.execute("BEGIN IMMEDIATE").await.expect("lock");
    let mut other = SqliteConnection::connect_with(&opts).await.expect("open");
    let err = other
        .execute("INSERT INTO t VALUES (1)")
        .await
        .expect_err("the write lock is held");
    assert!(matches!(classify(err), StoreError::Unavailable(_)));
    let err = other
        .execute("SELECT * FROM no_such_table")
        .await
        .expect_err("a bug");
    assert!(matches!(classify(err), StoreError::Internal(_)));
}

#[tokio::test]
async fn postgres_shutdown_and_timeouts_are_unavailable() {
    let Ok(url) = std::env::var("SYNAPTIQ_TEST_POSTGRES_URL") else {
        return;
    };
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    conn.execute("SET statement_timeout = 50")
        .await
        .expect("set");
    let err = conn
        .execute("SELECT pg_sleep(2)")
        .await
        .expect_err("statement timeout (57014)");
    assert!(matches!(classify(err), StoreError::Unavailable(_)));
    let err = conn
        .execute("SELECT * FROM no_such_table")
        .await
        .expect_err("undefined table (42P01)");
    assert!(matches!(classify(err), StoreError::Internal(_)));
    // The server ends this session as it would on shutdown (57P01 admin_shutdown).
    let err = conn
        .execute("SELECT pg_terminate_backend(pg_backend_pid())")
        .await
        .expect_err("terminated");
    assert!(
        matches!(classify(err), StoreError::Unavailable(_)),
        "a terminated session is retryable"
    );
}
