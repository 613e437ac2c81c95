//! Lead list totals and pages against plain SQL: totals stay exact through every change
//! (maintained counters), date-filtered totals, deep pages in the plain `OFFSET` order.

use std::sync::Arc;

use synaptiq_core::ids::OrgId;
use synaptiq_core::scope::Environment::{self, Live, Test};
use synaptiq_store::Store;
use synaptiq_types::leads::{
    CreateLead, Lead, LeadListQuery, LeadSortBy, LeadSource, LeadStatus, SortOrder, UpdateLead,
};
use synaptiq_types::time::Timestamp;

use crate::conformance::harness::{
    Raw, RawArg, create, lead_id as id, minimal, org, page, tick, via_app,
};

const STATUSES: [LeadStatus; 5] = [
    LeadStatus::New,
    LeadStatus::Qualified,
    LeadStatus::Contacted,
    LeadStatus::Converted,
    LeadStatus::Lost,
];
const SOURCES: [LeadSource; 4] = [
    LeadSource::Chat,
    LeadSource::Api,
    LeadSource::Import,
    LeadSource::Form,
];

/// Every (status, source) filter combination, absent ones included.
fn combinations() -> Vec<(Option<LeadStatus>, Option<LeadSource>)> {
    let statuses = std::iter::once(None).chain(STATUSES.into_iter().map(Some));
    statuses
        .flat_map(|st| {
            std::iter::once(None)
                .chain(SOURCES.into_iter().map(Some))
                .map(move |so| (st, so))
        })
        .collect()
}

/// Asserts that every filter combination's total equals a plain `COUNT(*)`.
async fn assert_totals(store: &Arc<dyn Store>, raw: &mut Raw, org: &OrgId, env: Environment) {
    for (status, source) in combinations() {
        let q = LeadListQuery {
            status,
            source,
            ..LeadListQuery::default()
        };
        let (_, total) = store
            .list_leads(org, env, &q, page(1, 1))
            .await
            .expect("list");
        let expected = raw
            .count(
                "SELECT COUNT(*) FROM leads WHERE org_id = $1 AND environment = $2 \
                 AND ($3 = '' OR status = $3) AND ($4 = '' OR source = $4)",
                &[
                    RawArg::T(org.as_str()),
                    RawArg::T(env.as_str()),
                    RawArg::T(status.map_or("", LeadStatus::as_str)),
                    RawArg::T(source.map_or("", LeadSource::as_str)),
                ],
            )
            .await;
        assert_eq!(
            i64::try_from(total).expect("total"),
            expected,
            "total of {org}/{env:?} status {status:?} source {source:?}"
        );
    }
}

fn with_status(email: &str, status: LeadStatus) -> CreateLead {
    CreateLead {
        status: Some(status),
        ..minimal(email)
    }
}

async fn set_source(raw: &mut Raw, lead: &Lead, source: LeadSource) {
    raw.exec(
        "UPDATE leads SET source = $1 WHERE id = $2",
        &[RawArg::T(source.as_str()), RawArg::T(&lead.id)],
    )
    .await;
}

pub async fn totals_stay_exact_through_changes(store: Arc<dyn Store>, url: String) {
    let mut raw = Raw::connect(&url).await;
    let a = org(&store, "Acme").await;
    let b = org(&store, "Globex").await;
    assert_totals(&store, &mut raw, &a, Live).await;
    let mut leads = Vec::new();
    for i in 0..14 {
        let new = with_status(&format!("l{i}@x.io"), STATUSES[i % 5]);
        leads.push(create(&store, &a, Live, new).await);
    }
    for i in 0..3 {
        create(&store, &a, Test, minimal(&format!("t{i}@x.io"))).await;
    }
    let mut other = Vec::new();
    for (i, status) in STATUSES.into_iter().take(4).enumerate() {
        let new = with_status(&format!("o{i}@x.io"), status);
        other.push(create(&store, &b, Live, new).await);
    }
    // A refused duplicate changes nothing.
    assert!(
        via_app(&store)
            .create_lead(
                &a,
                Live,
                &minimal("L0@x.io"),
                &synaptiq_store::Actor::local("test")
            )
            .await
            .is_err()
    );
    assert_totals(&store, &mut raw, &a, Live).await;
    assert_totals(&store, &mut raw, &a, Test).await;
    assert_totals(&store, &mut raw, &b, Live).await;

    // Sources (the API sets `api`; anything else is a direct change).
    for (i, lead) in leads.iter().enumerate() {
        set_source(&mut raw, lead, SOURCES[i % 4]).await;
    }
    set_source(&mut raw, &other[0], LeadSource::Form).await;
    assert_totals(&store, &mut raw, &a, Live).await;
    assert_totals(&store, &mut raw, &b, Live).await;

    // Status changes through the store, a patch that keeps the status, a failed patch.
    for (i, lead) in leads.iter().enumerate().take(6) {
        let patch = UpdateLead {
            status: Some(STATUSES[(i + 2) % 5]),
            ..UpdateLead::default()
        };
        via_app(&store)
            .update_lead(
                &a,
                Live,
                &id(lead),
                &patch,
                &synaptiq_store::Actor::local("test"),
            )
            .await
            .expect("update")
            .expect("exists");
    }
    let same = UpdateLead {
        status: Some(STATUSES[(6 + 2) % 5]),
        name: Some(Some("Renamed".to_owned())),
        ..UpdateLead::default()
    };
    via_app(&store)
        .update_lead(
            &a,
            Live,
            &id(&leads[8]),
            &same,
            &synaptiq_store::Actor::local("test"),
        )
        .await
        .expect("update")
        .expect("exists");
    let conflicting = UpdateLead {
        email: Some("l13@x.io".to_owned()),
        status: Some(LeadStatus::Lost),
        ..UpdateLead::default()
    };
    assert!(
        via_app(&store)
            .update_lead(
                &a,
                Live,
                &id(&leads[0]),
                &conflicting,
                &synaptiq_store::Actor::local("test")
            )
            .await
            .is_err()
    );
    assert_totals(&store, &mut raw, &a, Live).await;

    // Status and source at once, and many rows in one statement.
    raw.exec(
        "UPDATE leads SET status = 'converted', source = 'import' WHERE id = $1",
        &[RawArg::T(&leads[1].id)],
    )
    .await;
    let moved = raw
        .exec(
            "UPDATE leads SET status = 'lost' WHERE org_id = $1 AND environment = 'live' \
             AND status IN ('new', 'qualified')",
            &[RawArg::T(a.as_str())],
        )
        .await;
    assert!(moved > 1, "{moved} leads moved");
    assert_totals(&store, &mut raw, &a, Live).await;

    // Deletions: one through the store, several in one statement.
    assert!(
        store
            .delete_lead(
                &a,
                Live,
                &id(&leads[2]),
                &synaptiq_store::Actor::local("test")
            )
            .await
            .expect("delete")
    );
    assert!(
        !store
            .delete_lead(
                &a,
                Live,
                &id(&leads[2]),
                &synaptiq_store::Actor::local("test")
            )
            .await
            .expect("delete again")
    );
    let gone = raw
        .exec(
            "DELETE FROM leads WHERE org_id = $1 AND environment = 'live' AND source = 'chat'",
            &[RawArg::T(a.as_str())],
        )
        .await;
    assert!(gone > 1, "{gone} leads deleted");
    assert_totals(&store, &mut raw, &a, Live).await;
    assert_totals(&store, &mut raw, &a, Test).await;

    // Deleting an organization takes its leads and counters, and nobody else's.
    raw.exec(
        "DELETE FROM organizations WHERE id = $1",
        &[RawArg::T(b.as_str())],
    )
    .await;
    for table in ["leads", "lead_counts"] {
        let left = raw
            .count(
                &format!("SELECT COUNT(*) FROM {table} WHERE org_id = $1"),
                &[RawArg::T(b.as_str())],
            )
            .await;
        assert_eq!(left, 0, "{table} of the deleted organization");
    }
    assert_totals(&store, &mut raw, &a, Live).await;
    assert_totals(&store, &mut raw, &a, Test).await;
    assert_totals(&store, &mut raw, &b, Live).await;

    // Counters emptied to zero keep working.
    raw.exec(
        "DELETE FROM leads WHERE org_id = $1",
        &[RawArg::T(a.as_str())],
    )
    .await;
    assert_totals(&store, &mut raw, &a, Live).await;
    create(&store, &a, Live, minimal("again@x.io")).await;
    assert_totals(&store, &mut raw, &a, Live).await;
}

crate::conformance::suite! {

    ;
    raw:
    totals_stay_exact_through_changes,
    date_filtered_totals,
    deep_pages_follow_the_offset_order,
}

#[path = "lead_totals_dates.rs"]
mod dates;
pub use dates::*;
