//! The storage conformance suite: every case is written once, as an async fn taking an
//! `Arc<dyn Store>`, and runs against SQLite (a temporary file) always and against PostgreSQL
//! when `SYNAPTIQ_TEST_POSTGRES_URL` is set (each PostgreSQL case in a schema of its own, so
//! cases run in parallel). A backend passes when every case passes on it.
//!
//! Layout: `harness` opens a fresh store per case and builds fixtures; `orgs_users_audit`,
//! `events`, `keys`, `key_lifecycle`, `leads`, `lead_totals`, `lead_search` and `dashboard` hold the cases; the
//! `suite!` list below names each case once and instantiates it for both backends.

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

/// Instantiates every case as `sqlite::<case>` and `postgres::<case>`. The cases after
/// `; raw:` also get a URL for a direct connection (`harness::Raw`).
macro_rules! suite {
    (
        $($module:ident :: $case:ident),* $(,)?;
        raw: $($raw_module:ident :: $raw_case:ident),* $(,)?
    ) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::conformance::harness::on_sqlite(crate::conformance::$module::$case).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $raw_case() {
                    crate::conformance::harness::on_sqlite_raw(crate::conformance::$raw_module::$raw_case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::conformance::harness::on_postgres(crate::conformance::$module::$case).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $raw_case() {
                    crate::conformance::harness::on_postgres_raw(crate::conformance::$raw_module::$raw_case).await;
                }
            )*
        }
    };
}

suite! {
    orgs_users_audit::orgs_create_get_list,
    orgs_users_audit::set_plan_bumps_the_epoch,
    orgs_users_audit::user_emails_are_unique_case_insensitively,
    orgs_users_audit::audit_records_and_filters,
    keys::insert_and_find_by_hash,
    keys::get_and_list_are_scoped_to_org_and_env,
    keys::list_filters_by_status_at_now,
    keys::revoke_is_idempotent_and_keeps_the_first_time,
    keys::update_key_changes_name_and_allow_list,
    keys::delete_is_soft,
    keys::locate_key_and_mark_exposed,
    key_lifecycle::rotate_outcomes,
    key_lifecycle::rotation_never_extends_an_earlier_expiry,
    key_lifecycle::concurrent_rotations_with_zero_grace_have_one_winner,
    key_lifecycle::concurrent_rotations_serialize,
    key_lifecycle::rotation_racing_revocation_stays_consistent,
    key_lifecycle::sweep_returns_each_key_once_across_callers,
    key_lifecycle::record_usage_keeps_the_newest_fact,
    leads::create_and_get,
    leads::duplicate_email_conflicts_per_org_and_env,
    leads::list_filters_sorts_and_pages,
    leads::update_applies_patches_and_clears_nulls,
    leads::update_email_conflict_names_the_holder,
    leads::concurrent_patches_all_apply,
    leads::delete_is_scoped,
    leads::lead_version_moves_with_every_change,
    lead_search::search_ranks_exact_then_prefix_then_substring,
    lead_search::search_is_case_insensitive_and_scoped,
    lead_search::search_escapes_like_wildcards,
    dashboard::users_are_found_by_email_and_listed,
    dashboard::sessions_live_until_they_expire_or_end,
    dashboard::usage_counters_add_up_and_are_scoped,
    dashboard::usage_batches_span_several_statements,
    dashboard::concurrent_usage_flushes_lose_nothing;
    raw:
    events::every_change_records_its_event,
    events::a_change_without_its_event_does_not_happen,
    lead_totals::totals_stay_exact_through_changes,
    lead_totals::date_filtered_totals,
    lead_totals::deep_pages_follow_the_offset_order,
    lead_search::search_matches_the_plain_like_scan,
}
