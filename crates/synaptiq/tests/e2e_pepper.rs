//! Pepper safety through the real binary (issue 24): a node whose pepper is not the one the
//! database's keys were hashed under refuses to run and says why, and a missing pepper file is
//! an error while keys need it, never a silently regenerated pepper.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{BIN, CliOutput, Options, Server, cli_in, cli_with_env, get};

/// A well-formed pepper that no data directory of these tests generated.
fn foreign_pepper(version: u16) -> Vec<(String, String)> {
    vec![(
        "SYNAPTIQ_KEY_PEPPER".to_owned(),
        format!("v{version}:{}", "ab".repeat(32)),
    )]
}

/// A new organization's id (the CLI makes the data directory, its database and no key).
fn create_org(dir: &Path) -> String {
    cli_in(dir, &["org", "create", "--name", "Acme", "--json"]).json()["id"]
        .as_str()
        .expect("org id")
        .to_owned()
}

fn create_key(dir: &Path, org: &str, env: &[(String, String)]) -> CliOutput {
    cli_with_env(
        dir,
        env,
        &[
            "key", "create", "--org", org, "--scope", "read", "--env", "live", "--json",
        ],
    )
}

/// Runs `synaptiq serve` on `dir` and waits for it to exit (it must, within 30 s).
fn serve_exit(dir: &Path, env: &[(String, String)]) -> (Option<i32>, String) {
    let log = dir.join("serve.stderr.log");
    let mut cmd = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SYNAPTIQ_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().cloned())
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"));
    let mut child = cmd.spawn().expect("spawn serve");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve kept running with a pepper that is not the database's");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    )
}

#[tokio::test]
async fn a_foreign_or_missing_pepper_refuses_to_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let org = create_org(dir);
    let first = create_key(dir, &org, &[]);
    assert_eq!(first.code, Some(0), "{first:#?}");

    // Another pepper under the same version: refused, by the CLI and by `serve`, naming both
    // fingerprints' prefixes and the fix; never the pepper itself.
    let foreign = foreign_pepper(1);
    let out = create_key(dir, &org, &foreign);
    assert_ne!(out.code, Some(0), "{out:#?}");
    assert!(out.stderr.contains("not this database's"), "{}", out.stderr);
    assert!(!out.stderr.contains(&"ab".repeat(32)), "the pepper leaked");
    let (code, log) = serve_exit(dir, &foreign);
    assert_ne!(code, Some(0));
    assert!(log.contains("not this database's"), "{log}");

    // Another version while keys need v1: refused.
    let out = create_key(dir, &org, &foreign_pepper(2));
    assert_ne!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stderr.contains("hashed under pepper v1"),
        "{}",
        out.stderr
    );

    // The pepper file gone: refused, and not regenerated.
    let path = dir.join("pepper");
    let saved = std::fs::read(&path).expect("pepper file");
    std::fs::remove_file(&path).expect("remove pepper");
    let out = create_key(dir, &org, &[]);
    assert_ne!(out.code, Some(0), "{out:#?}");
    assert!(out.stderr.contains("is missing"), "{}", out.stderr);
    let (code, log) = serve_exit(dir, &[]);
    assert_ne!(code, Some(0));
    assert!(log.contains("is missing"), "{log}");
    assert!(
        !path.exists(),
        "a new pepper was written over the keys' one"
    );

    // Restored: everything works again, and the first key still opens the API.
    std::fs::write(&path, &saved).expect("restore pepper");
    let again = create_key(dir, &org, &[]);
    assert_eq!(again.code, Some(0), "{again:#?}");
    let s = Server::start_with(Options::default().shared_data_dir(dir).second_node());
    let secret = first.json()["secret"].as_str().expect("secret").to_owned();
    let r = get(&s.client(), &s.url("/api/v1/me"), &secret).await;
    assert_eq!(r.status, 200, "{r:#?}");
}

#[test]
fn a_pepper_file_lost_with_no_keys_left_is_replaced_by_a_newer_version() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let org = create_org(dir);
    let key = create_key(dir, &org, &[]);
    let id = key.json()["id"].as_str().expect("id").to_owned();
    assert_eq!(cli_in(dir, &["key", "revoke", &id]).code, Some(0));
    std::fs::remove_file(dir.join("pepper")).expect("remove pepper");
    let out = create_key(dir, &org, &[]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    let pepper = std::fs::read_to_string(dir.join("pepper")).expect("new pepper");
    assert!(
        pepper.starts_with("v2:"),
        "v1's fingerprint is taken: {}",
        &pepper[..3]
    );
}

/// A rotation: the new pepper first, the old one after it. Keys made under the old one keep
/// working and move to the new one on their next use; new keys are made under the new one;
/// once no usable key needs the old pepper, it can be dropped.
#[tokio::test]
async fn a_pepper_rotation_rehashes_keys_on_use() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let org = create_org(dir);
    let first = create_key(dir, &org, &[]);
    let secret = first.json()["secret"].as_str().expect("secret").to_owned();
    let old = std::fs::read_to_string(dir.join("pepper")).expect("pepper");
    let new = format!("v2:{}", "5e".repeat(32));
    let both = vec![(
        "SYNAPTIQ_KEY_PEPPER".to_owned(),
        format!("{new},{}", old.trim()),
    )];
    let status = |env: &[(String, String)]| {
        let out = cli_with_env(dir, env, &["pepper-status", "--json"]);
        assert_eq!(out.code, Some(0), "{out:#?}");
        out.json()
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["version"].as_u64().expect("version"),
                    r["usableKeys"].as_u64().expect("keys"),
                    r["thisNode"].as_str().expect("here").to_owned(),
                )
            })
            .collect::<Vec<_>>()
    };
    let s = Server::start_with(
        Options::default()
            .shared_data_dir(dir)
            .second_node()
            .env("SYNAPTIQ_KEY_PEPPER", &both[0].1),
    );
    // Before its first use the key is still under v1.
    assert_eq!(
        status(&both),
        [(1, 1, "older".to_owned()), (2, 0, "current".to_owned())]
    );
    let r = get(&s.client(), &s.url("/api/v1/me"), &secret).await;
    assert_eq!(r.status, 200, "{r:#?}");
    assert_eq!(
        status(&both),
        [(1, 0, "older".to_owned()), (2, 1, "current".to_owned())],
        "re-hashed under v2 by its first use"
    );
    // A key made now is made under v2.
    let second = create_key(dir, &org, &both);
    assert_eq!(second.code, Some(0), "{second:#?}");
    drop(s);

    // v1 retired: only the new pepper, and both keys work.
    let only_new = vec![("SYNAPTIQ_KEY_PEPPER".to_owned(), new.clone())];
    assert_eq!(status(&only_new)[1], (2, 2, "current".to_owned()));
    let s = Server::start_with(
        Options::default()
            .shared_data_dir(dir)
            .second_node()
            .env("SYNAPTIQ_KEY_PEPPER", &new),
    );
    for k in [
        secret.as_str(),
        second.json()["secret"].as_str().expect("secret"),
    ] {
        let r = get(&s.client(), &s.url("/api/v1/me"), k).await;
        assert_eq!(r.status, 200, "{r:#?}");
    }
}
