//! What an admin does to an endpoint from the dashboard: a test delivery appearing in the
//! deliveries view (and, once an attempt is recorded, its answer), Redeliver, rotating the
//! secret, disabling, enabling and deleting, checked against the store and the API.

use crate::common;
use crate::dashboard_webhooks::{URL, add, admin, endpoints};

use axum::http::StatusCode;
use common::TestApp;
use common::dashboard::{html, secret_of};
use synaptiq_store::{AttemptOutcome, Next};
use synaptiq_types::time::Timestamp;

#[tokio::test]
async fn a_test_delivery_appears_in_the_deliveries_view_and_can_be_redelivered() {
    let t = TestApp::new().await;
    let (b, csrf) = admin(&t).await;
    let r = add(&t, &b, &csrf, &[("url", URL), ("events", "*")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    let e = endpoints(&t).await.remove(0);
    let id = e.id.to_string();
    let view = format!("/dashboard/webhooks/{id}/deliveries?env=live");
    let empty = t.browse(&view, &b.cookies()).await;
    assert!(html(&empty).contains("Nothing sent to this endpoint yet."));
    // Send test: back to the deliveries, the new one on top, due now.
    let r = t
        .submit(
            &format!("/dashboard/webhooks/{id}/test"),
            &b.cookies(),
            &[("csrf", &csrf), ("env", "live")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let location = r.header("location").to_owned();
    assert!(
        location.starts_with(&format!("{view}&sent=evt_")),
        "{location}"
    );
    let evt = location.rsplit('=').next().unwrap_or_default().to_owned();
    let page = t.browse(&location, &b.cookies()).await;
    assert_eq!(page.status, StatusCode::OK);
    let page = html(&page);
    assert!(
        page.contains(&format!("Test delivery {evt} queued")),
        "{page}"
    );
    assert!(page.contains(&format!("<code>{evt}</code>")));
    assert!(page.contains("webhook.test"));
    assert!(page.contains("badge-pending"));
    assert!(page.contains(">Redeliver<"));
    // The API's log holds the same delivery.
    let api = t
        .get(
            &format!("/api/v1/webhooks/{id}/deliveries"),
            &t.keys.a_live_admin,
        )
        .await;
    assert_eq!(api.body["data"][0]["id"], evt.as_str());
    assert_eq!(api.body["data"][0]["type"], "webhook.test");
    // The worker records an answer: status, latency, error and the body (escaped).
    let outcome = |status: u16, next| AttemptOutcome {
        endpoint_id: e.id.clone(),
        event_id: evt.clone(),
        at: Timestamp::now(),
        attempts: 1,
        http_status: Some(status),
        error: (status >= 300).then(|| "http_status".to_owned()),
        latency_ms: 42,
        response: Some("<b>try later</b>".to_owned()),
        next,
    };
    let later = Timestamp::now().plus_seconds(60);
    t.store
        .finish_attempts(&[outcome(503, Next::RetryAt(later))])
        .await
        .expect("finish");
    let page = html(&t.browse(&view, &b.cookies()).await).to_owned();
    for part in [
        "http-bad\">503</code>",
        "42 ms",
        "<code class=\"text-danger\">http_status</code>",
        "<summary>Response body",
        "&#60;b&#62;try later&#60;/b&#62;",
        "1 failed attempt in a row",
    ] {
        assert!(page.contains(part), "{part} missing in {page}");
    }
    assert!(!page.contains("<b>try later"));
    // Filtering by status.
    let failed = t
        .browse(&format!("{view}&status=delivered"), &b.cookies())
        .await;
    assert!(html(&failed).contains("No delivered deliveries."));
    // Redeliver: due again now, its schedule afresh.
    let r = t
        .submit(
            &format!("/dashboard/webhooks/{id}/deliveries/{evt}/redeliver"),
            &b.cookies(),
            &[("csrf", &csrf), ("env", "live")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location"), format!("{view}&redelivered={evt}"));
    let page = t.browse(r.header("location"), &b.cookies()).await;
    assert!(html(&page).contains("will be sent again now"));
    let api = t
        .get(
            &format!("/api/v1/webhooks/{id}/deliveries"),
            &t.keys.a_live_admin,
        )
        .await;
    assert_eq!(api.body["data"][0]["status"], "pending");
    assert_eq!(api.body["data"][0]["attempts"], 0);
    // An unknown delivery, or another environment's endpoint, is not found.
    let r = t
        .submit(
            &format!(
                "/dashboard/webhooks/{id}/deliveries/evt_01HQ3VXK9BWMN4F6T2P8R5GYSC/redeliver"
            ),
            &b.cookies(),
            &[("csrf", &csrf), ("env", "live")],
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .browse(
            &format!("/dashboard/webhooks/{id}/deliveries?env=test"),
            &b.cookies(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rotate_disable_enable_and_delete() {
    let t = TestApp::new().await;
    let (b, csrf) = admin(&t).await;
    let first = secret_of(html(
        &add(&t, &b, &csrf, &[("url", URL), ("events", "*")]).await,
    ));
    let id = endpoints(&t).await[0].id.to_string();
    let post = |path: String, fields: Vec<(&'static str, &'static str)>| {
        let (t, b, csrf) = (&t, &b, &csrf);
        async move {
            let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str()), ("env", "live")];
            all.extend(fields);
            t.submit(&path, &b.cookies(), &all, &[]).await
        }
    };
    // Rotate: choose the grace period, then the new secret is shown once.
    let confirm = t
        .browse(
            &format!("/dashboard/webhooks/{id}/rotate?env=live"),
            &b.cookies(),
        )
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(html(&confirm).contains("value=\"86400\" checked"));
    let r = post(
        format!("/dashboard/webhooks/{id}/rotate"),
        vec![("grace", "5")],
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "a grace period not offered"
    );
    let r = post(
        format!("/dashboard/webhooks/{id}/rotate"),
        vec![("grace", "3600")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", html(&r));
    let second = secret_of(html(&r));
    assert!(second.starts_with("whsec_") && second != first);
    assert!(html(&r).contains("The old secret keeps signing too until"));
    assert!(html(&r).contains("data-countdown"));
    let e = endpoints(&t).await.remove(0);
    assert_eq!(e.secret.encoded(), second);
    let (old, _) = e
        .previous_secret
        .expect("the old secret signs during the grace period");
    assert_eq!(old.encoded(), first);
    let list = html(&t.browse("/dashboard/webhooks", &b.cookies()).await).to_owned();
    assert!(!list.contains(&second) && !list.contains(&first));
    assert!(list.contains("previous secret signs until"));
    // Disable: no test can be sent; enable again.
    let r = post(
        format!("/dashboard/webhooks/{id}/enabled"),
        vec![("enabled", "false")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = t.browse(r.header("location"), &b.cookies()).await;
    assert!(html(&page).contains("Disabled https://93.184.216.34/hook."));
    assert!(html(&page).contains("Disabled by a user of this organization."));
    assert!(html(&page).contains("badge-disabled"));
    assert!(!html(&page).contains("Send test"));
    assert!(!endpoints(&t).await[0].enabled);
    let r = post(format!("/dashboard/webhooks/{id}/test"), vec![]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(html(&r).contains("This endpoint is disabled"));
    let r = post(
        format!("/dashboard/webhooks/{id}/enabled"),
        vec![("enabled", "true"), ("from", "deliveries")],
    )
    .await;
    assert_eq!(
        r.header("location"),
        format!("/dashboard/webhooks/{id}/deliveries?env=live")
    );
    assert!(endpoints(&t).await[0].enabled);
    // Delete: without the confirmation, to the confirmation page; with it, gone.
    let confirm = t
        .browse(
            &format!("/dashboard/webhooks/{id}/delete?env=live"),
            &b.cookies(),
        )
        .await;
    assert!(html(&confirm).contains("Delete this endpoint?"));
    let r = post(format!("/dashboard/webhooks/{id}/delete"), vec![]).await;
    assert_eq!(
        r.header("location"),
        format!("/dashboard/webhooks/{id}/delete?env=live")
    );
    assert_eq!(endpoints(&t).await.len(), 1);
    let r = post(
        format!("/dashboard/webhooks/{id}/delete"),
        vec![("confirm", "yes")],
    )
    .await;
    assert_eq!(
        r.header("location"),
        "/dashboard/webhooks?env=live&deleted=1"
    );
    assert!(endpoints(&t).await.is_empty());
    let page = t.browse(r.header("location"), &b.cookies()).await;
    assert!(html(&page).contains("Endpoint deleted"));
    let api = t
        .get(&format!("/api/v1/webhooks/{id}"), &t.keys.a_live_admin)
        .await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
}
