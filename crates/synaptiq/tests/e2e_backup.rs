//! `synaptiq backup` under write load and `synaptiq restore` (issue 24): every write
//! acknowledged before the backup began is in the restored database.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{Options, Server, cli_in, cli_with_env, get, post_json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_write_load_restores_every_acknowledged_write() {
    let s = Server::start();
    let key = s.bootstrap_key.clone();
    let stop = Arc::new(AtomicBool::new(false));
    // Two writers creating leads as fast as they are answered; each remembers when each
    // creation was acknowledged.
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (c, url, key, stop) = (
                s.client(),
                s.url("/api/v1/leads"),
                key.clone(),
                stop.clone(),
            );
            tokio::spawn(async move {
                let mut acked = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let email = format!("w{w}-{n}@backup.test");
                    let r = post_json(&c, &url, &key, &json!({ "email": email })).await;
                    if r.status == 201 {
                        acked.push((email, Instant::now()));
                    }
                }
                acked
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let backup = s.temp_dir().join("synaptiq.backup.db");
    let began = Instant::now();
    let out = {
        let (dir, backup) = (s.temp_dir().join("data"), backup.clone());
        tokio::task::spawn_blocking(move || {
            cli_in(&dir, &["backup", "--to", backup.to_str().expect("utf-8")])
        })
        .await
        .expect("backup task")
    };
    assert_eq!(out.code, Some(0), "{out:#?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut before = BTreeSet::new();
    let mut after = 0;
    for w in writers {
        for (email, at) in w.await.expect("writer") {
            if at < began {
                before.insert(email);
            } else {
                after += 1;
            }
        }
    }
    assert!(
        before.len() >= 20 && after >= 1,
        "load around the backup: {} acknowledged before it, {after} after",
        before.len()
    );

    // A new data directory: the pepper of the old one (kept apart from backups), the backup.
    let restored = tempfile::tempdir().expect("tempdir");
    let data = restored.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    std::fs::copy(
        s.temp_dir().join("data").join("pepper"),
        data.join("pepper"),
    )
    .expect("pepper");
    let backup_arg = backup.to_str().expect("utf-8").to_owned();
    let out = cli_in(&data, &["restore", "--from", &backup_arg]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let again = cli_in(&data, &["restore", "--from", &backup_arg]);
    assert_ne!(
        again.code,
        Some(0),
        "a second restore without --force must refuse"
    );
    drop(s);

    let r = Server::start_with(Options::default().shared_data_dir(&data).second_node());
    let mut found = BTreeSet::new();
    for page in 1.. {
        let url = r.url(&format!("/api/v1/leads?limit=100&page={page}"));
        let list = get(&r.client(), &url, &key).await;
        assert_eq!(list.status, 200, "{list:#?}");
        let data = list.json["data"].as_array().expect("data").clone();
        found.extend(
            data.iter()
                .filter_map(|l| l["email"].as_str().map(str::to_owned)),
        );
        if data.len() < 100 {
            break;
        }
    }
    let missing: Vec<_> = before.difference(&found).collect();
    assert!(
        missing.is_empty(),
        "{} of {} writes acknowledged before the backup are missing, e.g. {:?}",
        missing.len(),
        before.len(),
        missing.first()
    );
    // Not a database: refused, nothing left behind. PostgreSQL: pointed at pg_dump.
    let junk = restored.path().join("junk.db");
    std::fs::write(&junk, b"not a database").expect("junk");
    let other = restored.path().join("other");
    let out = cli_in(
        &other,
        &["restore", "--from", junk.to_str().expect("utf-8")],
    );
    assert_ne!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stderr.contains("is not a Synaptiq database"),
        "{}",
        out.stderr
    );
    assert!(!other.join("synaptiq.db").exists());
    let pg = [(
        "SYNAPTIQ_DATABASE_URL".to_owned(),
        "postgres://nobody@127.0.0.1:1/none".to_owned(),
    )];
    let out = cli_with_env(&other, &pg, &["backup", "--to", "x.db"]);
    assert!(out.stderr.contains("pg_dump"), "{out:#?}");

    eprintln!(
        "backup under load: {} acknowledged before it, all restored; {} found in all; {after} acknowledged after",
        before.len(),
        found.len()
    );
}
