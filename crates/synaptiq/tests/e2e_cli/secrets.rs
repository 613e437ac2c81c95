//! No secret on disk or in logs; the scanner finds keys in encoded contexts.

use super::*;

/// Every distinct form under which a secret could be stored: the whole key and its random
/// part without the prefix.
fn secret_forms(secret: &str) -> [String; 2] {
    [secret.to_owned(), secret[8..].to_owned()]
}

fn assert_no_secret_on_disk(s: &Server, secrets: &[String], when: &str) {
    let files = files_under(&s.data_dir);
    assert!(
        files
            .iter()
            .any(|f| f.file_name().is_some_and(|n| n == "synaptiq.db")),
        "{files:?}"
    );
    for f in &files {
        let bytes = std::fs::read(f).expect("read data file");
        for secret in secrets {
            for form in secret_forms(secret) {
                assert!(
                    !contains_bytes(&bytes, form.as_bytes()),
                    "{when}: a key secret is stored in {}",
                    f.display()
                );
            }
        }
    }
}

/// 9. No full key reaches the database files or the logs; the bootstrap lines are the one
/// place the first key is printed.
#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_disk_or_logs() {
    let mut s = Server::start_with(Options::default().env("SYNAPTIQ_LOG", "debug"));
    let c = s.client();
    let org = s.create_org("Secrets", "starter");
    let mut secrets = vec![s.bootstrap_key.clone()];
    let mut cli_outputs = Vec::new();
    for (scope, env) in [("admin", "live"), ("read", "live"), ("write", "test")] {
        let (_, secret) = s.create_key(&org, scope, env);
        secrets.push(secret);
    }
    let (revoked_id, revoked) = s.create_key(&org, "read", "live");
    secrets.push(revoked.clone());

    // Use the keys every way: success, scope failure, malformed, revoked, plain HTTP.
    for key in &secrets {
        let r = get(&c, &s.url("/api/v1/me"), key).await;
        assert_eq!(r.status, 200, "{r:#?}");
        let r = post_json(
            &c,
            &s.url("/api/v1/leads"),
            key,
            &json!({"email": format!("{}@example.com", &key[8..16]).to_lowercase()}),
        )
        .await;
        assert!(matches!(r.status, 201 | 403), "{r:#?}");
        let r = get(&c, &s.url("/api/v1/me"), &one_char_changed(key)).await;
        r.assert_error(401, "unauthorized");
        for form in secret_forms(key) {
            assert!(!r.text.contains(&form));
        }
    }
    let out = s.cli(&["key", "revoke", &revoked_id]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    cli_outputs.push(out.stdout + &out.stderr);
    poll_until(Duration::from_secs(10), || {
        let (c, url, k) = (c.clone(), s.url("/api/v1/me"), revoked.clone());
        async move { get(&c, &url, &k).await.status == 401 }
    })
    .await
    .expect("revoked key refused");
    let mut tcp = s.tcp();
    std::io::Write::write_all(
        &mut tcp,
        format!(
            "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
            secrets[1]
        )
        .as_bytes(),
    )
    .expect("write");
    let (raw, _) = read_until_closed(&mut tcp, Duration::from_secs(30));
    assert!(String::from_utf8_lossy(&raw).starts_with("HTTP/1.1 403"));
    let list = s.cli(&["key", "list", "--org", &org, "--json"]);
    assert_eq!(list.code, Some(0), "{list:#?}");
    cli_outputs.push(list.stdout + &list.stderr);
    cli_outputs.push({
        let o = s.cli(&["key", "list", "--org", &org]);
        o.stdout + &o.stderr
    });

    // While running (WAL and shared memory present) …
    assert_no_secret_on_disk(&s, &secrets, "while running");

    // … and after a clean stop.
    s.terminate();
    let status = s.wait_exit(Duration::from_secs(30)).expect("server exits");
    assert_eq!(status.code(), Some(0));
    assert_no_secret_on_disk(&s, &secrets, "after shutdown");

    let stderr = s.stderr_text();
    assert!(
        stderr.contains("DEBUG") || stderr.contains("debug"),
        "debug logging was on: {stderr}"
    );
    assert!(
        stderr.contains(&revoked_id) || stderr.contains("exposed"),
        "the logs mention key events (by id): {stderr}"
    );
    for secret in &secrets {
        for form in secret_forms(secret) {
            assert!(!stderr.contains(&form), "a key secret is in the server log");
            for out in &cli_outputs {
                assert!(!out.contains(&form), "a key secret is in CLI output");
            }
        }
    }
    // Server stdout: only the bootstrap lines carry the bootstrap key; nothing else.
    let lines = s.stdout_lines();
    for line in &lines {
        for (i, secret) in secrets.iter().enumerate() {
            if line.contains(&secret[8..]) {
                let allowed = i == 0
                    && (line.trim_start().starts_with("Test admin API key (")
                        || line.trim_start().starts_with("curl "));
                assert!(allowed, "secret #{i} printed on stdout: {line:?}");
            }
        }
    }
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains(&s.bootstrap_key))
            .count(),
        2,
        "{lines:#?}"
    );
}

/// `scan` is a secret scanner: a key with a valid checksum must be found whatever precedes or
/// follows it, including the encodings keys travel in (URL-encoded quotes or `=`, escaped
/// newlines and tabs in JSON or string literals). The checksum already rules out false
/// positives.
#[test]
fn scan_finds_keys_in_encoded_contexts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let org = cli_in(&data, &["org", "create", "--name", "Scan", "--json"]).json()["id"]
        .as_str()
        .expect("org id")
        .to_owned();
    let created = cli_in(
        &data,
        &[
            "key", "create", "--org", &org, "--scope", "read", "--env", "live", "--json",
        ],
    )
    .json();
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let contexts = [
        format!("https://api.example.com/hook?auth=%22{secret}%22"),
        format!("https://api.example.com/hook?q=token%3D{secret}"),
        format!(r#"{{"log": "request failed\n{secret}\n"}}"#),
        format!(r#"let header = "Bearer\t{secret}";"#),
    ];
    for (i, line) in contexts.iter().enumerate() {
        let file = dir.path().join(format!("leak{i}.txt"));
        std::fs::write(&file, format!("{line}\n")).expect("write");
        let out = cli_in(&data, &["scan", file.to_str().expect("path")]);
        assert_eq!(out.code, Some(1), "key not found in {line:?}: {out:#?}");
    }
}
