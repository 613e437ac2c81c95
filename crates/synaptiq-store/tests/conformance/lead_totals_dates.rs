//! Totals with date filters, and deep pages in the offset order.

use super::*;

/// Ids of a plain list query: `extra` conditions use `$3`, `$4`, … from `args`.
async fn reference_ids(
    raw: &mut Raw,
    org: &OrgId,
    extra: &str,
    args: &[RawArg<'_>],
    order: &str,
) -> Vec<String> {
    let mut all = vec![RawArg::T(org.as_str()), RawArg::T("live")];
    all.extend_from_slice(args);
    raw.texts(
        &format!(
            "SELECT id FROM leads WHERE org_id = $1 AND environment = $2 {extra} ORDER BY {order}"
        ),
        &all,
    )
    .await
}

pub async fn date_filtered_totals(store: Arc<dyn Store>, url: String) {
    let mut raw = Raw::connect(&url).await;
    let a = org(&store, "Acme").await;
    let mut marks = Vec::new();
    for i in 0..8 {
        marks.push(Timestamp::now());
        tick().await;
        create(
            &store,
            &a,
            Live,
            with_status(&format!("d{i}@x.io"), STATUSES[i % 2]),
        )
        .await;
        create(&store, &a, Test, minimal(&format!("d{i}@x.io"))).await;
        tick().await;
    }
    marks.push(Timestamp::now());
    for (after, before) in [
        (Some(2), None),
        (None, Some(5)),
        (Some(1), Some(6)),
        (Some(4), Some(4)),
        (Some(0), Some(8)),
        (Some(8), None),
    ] {
        for status in [None, Some(LeadStatus::New), Some(LeadStatus::Qualified)] {
            let q = LeadListQuery {
                status,
                created_after: after.map(|i: usize| marks[i]),
                created_before: before.map(|i: usize| marks[i]),
                ..LeadListQuery::default()
            };
            let (leads, total) = store
                .list_leads(&a, Live, &q, page(1, 100))
                .await
                .expect("list");
            let expected = reference_ids(
                &mut raw,
                &a,
                "AND ($3 = '' OR status = $3) AND created_at >= $4 AND created_at < $5",
                &[
                    RawArg::T(status.map_or("", LeadStatus::as_str)),
                    RawArg::I(after.map_or(i64::MIN, |i| marks[i].millis())),
                    RawArg::I(before.map_or(i64::MAX, |i| marks[i].millis())),
                ],
                "created_at DESC, id DESC",
            )
            .await;
            let got: Vec<String> = leads.into_iter().map(|l| l.id.into()).collect();
            assert_eq!(got, expected, "{after:?}..{before:?} {status:?}");
            assert_eq!(
                total,
                expected.len() as u64,
                "{after:?}..{before:?} {status:?}"
            );
        }
    }
}

pub async fn deep_pages_follow_the_offset_order(store: Arc<dyn Store>, url: String) {
    let mut raw = Raw::connect(&url).await;
    let a = org(&store, "Acme").await;
    let mut leads = Vec::new();
    // Few distinct scores and creations in bursts, so ties on the sort column are common
    // and the id decides.
    for i in 0..31u8 {
        let new = CreateLead {
            status: Some(STATUSES[usize::from(i) % 3]),
            score: Some((i % 3) * 5),
            ..minimal(&format!("p{i}@x.io"))
        };
        leads.push(create(&store, &a, Live, new).await);
        if i % 4 == 0 {
            tick().await;
        }
    }
    create(&store, &a, Test, minimal("p0@x.io")).await;
    for lead in leads.iter().step_by(3) {
        let patch = UpdateLead {
            score: Some(5),
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
    let middle = leads[12].created_at;
    for (sort_by, column) in [
        (LeadSortBy::CreatedAt, "created_at"),
        (LeadSortBy::UpdatedAt, "updated_at"),
        (LeadSortBy::Score, "score"),
    ] {
        for (order, dir) in [(SortOrder::Asc, "ASC"), (SortOrder::Desc, "DESC")] {
            for (status, after) in [
                (None, None),
                (Some(LeadStatus::New), None),
                (None, Some(middle)),
                (Some(LeadStatus::Qualified), Some(middle)),
            ] {
                let q = LeadListQuery {
                    status,
                    created_after: after,
                    sort_by: Some(sort_by),
                    sort_order: Some(order),
                    ..LeadListQuery::default()
                };
                let expected = reference_ids(
                    &mut raw,
                    &a,
                    "AND ($3 = '' OR status = $3) AND created_at >= $4",
                    &[
                        RawArg::T(status.map_or("", LeadStatus::as_str)),
                        RawArg::I(after.map_or(i64::MIN, Timestamp::millis)),
                    ],
                    &format!("{column} {dir}, id {dir}"),
                )
                .await;
                let mut got = Vec::new();
                for p in 1..=9 {
                    let (leads, total) = store
                        .list_leads(&a, Live, &q, page(p, 4))
                        .await
                        .expect("page");
                    assert_eq!(total, expected.len() as u64);
                    assert!(leads.len() <= 4);
                    got.extend(leads.into_iter().map(|l| String::from(l.id)));
                }
                assert_eq!(got, expected, "{column} {dir} {status:?} {after:?}");
            }
        }
    }
}
