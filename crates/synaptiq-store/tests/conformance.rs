//! The storage conformance suite: every case is written once, as an async fn taking an
//! `Arc<dyn Store>`, and runs against SQLite (a temporary file) always and against PostgreSQL
//! when `SYNAPTIQ_TEST_POSTGRES_URL` is set (each PostgreSQL case in a schema of its own, so
//! cases run in parallel). A backend passes when every case passes on it.
//!
//! Layout: `harness` opens a fresh store per case and builds fixtures; one module per
//! resource holds its cases and lists them once in its own [`suite!`] call, which instantiates
//! each for both backends (`conformance::keys::sqlite::<case>`, `…::postgres::<case>`). A new
//! resource adds a module here and nothing else.

/// Instantiates each case of the calling module as `sqlite::<case>` and `postgres::<case>`.
/// The cases after `; raw:` also get a URL for a direct connection (`harness::Raw`).
macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        $crate::conformance::suite! { $($case),* ; raw: }
    };
    ($($case:ident),* $(,)? ; raw: $($raw_case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    $crate::conformance::harness::on_sqlite(super::$case).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $raw_case() {
                    $crate::conformance::harness::on_sqlite_raw(super::$raw_case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    $crate::conformance::harness::on_postgres(super::$case).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $raw_case() {
                    $crate::conformance::harness::on_postgres_raw(super::$raw_case).await;
                }
            )*
        }
    };
}
pub(crate) use suite;

#[path = "conformance/dashboard.rs"]
mod dashboard;
#[path = "conformance/events.rs"]
mod events;
#[path = "conformance/harness.rs"]
mod harness;
#[path = "conformance/key_lifecycle.rs"]
mod key_lifecycle;
#[path = "conformance/keys.rs"]
mod keys;
#[path = "conformance/lead_search.rs"]
mod lead_search;
#[path = "conformance/lead_totals.rs"]
mod lead_totals;
#[path = "conformance/leads.rs"]
mod leads;
#[path = "conformance/orgs_users_audit.rs"]
mod orgs_users_audit;
#[path = "conformance/peppers.rs"]
mod peppers;
#[path = "conformance/webhooks.rs"]
mod webhooks;
