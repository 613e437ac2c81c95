//! A PostgreSQL outage through a private cluster: 503s (never 500s or hangs), fast once the
//! database is known down, healing by itself.

use super::*;

/// A private PostgreSQL cluster (initdb + pg_ctl as the `postgres` user), stopped on drop.
struct PrivateCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl PrivateCluster {
    fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let dir = std::env::temp_dir().join(format!("synaptiq-pg-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).ok()?;
        let chown = Command::new("chown")
            .arg("postgres:postgres")
            .arg(&dir)
            .status()
            .ok()?;
        if !chown.success() {
            return None;
        }
        let initdb = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(dir.join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()?;
        if !initdb.success() {
            return None;
        }
        let c = Self { bin, dir, port };
        c.ctl("start").then_some(c)
    }

    fn ctl(&self, action: &str) -> bool {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-m", "fast"]);
        if action == "start" {
            cmd.args(["-o", &opts, "-l"]).arg(self.dir.join("log"));
        }
        cmd.arg(action)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        self.ctl("stop");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_outage_gives_503_and_heals() {
    if std::env::var(PG_VAR).is_err() {
        eprintln!("PostgreSQL outage test SKIPPED: set {PG_VAR} to run the PostgreSQL suites");
        return;
    }
    let Some(cluster) = PrivateCluster::start() else {
        eprintln!(
            "PostgreSQL outage test SKIPPED: cannot start a private cluster (needs root and Debian's postgresql)"
        );
        return;
    };
    let s = Server::start_with(node_env(&cluster.url(), &pepper()));
    let key = s.bootstrap_key.clone();
    let leads = |s: &Server| {
        let (c, u, k) = (s.client(), s.url("/api/v1/leads"), key.clone());
        async move {
            let t = Instant::now();
            let r = c.get(u).bearer_auth(k).send().await.expect("request");
            (
                r.status().as_u16(),
                r.headers().get("retry-after").is_some(),
                t.elapsed(),
            )
        }
    };
    assert_eq!(leads(&s).await.0, 200);

    assert!(cluster.ctl("stop"), "stop the private cluster");
    let mut outage = Vec::new();
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        outage.push(leads(&s).await);
    }
    let ready = s
        .client()
        .get(s.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(
        ready.status(),
        503,
        "/readyz fails while PostgreSQL is down"
    );
    let slowest = outage.iter().map(|o| o.2).max().unwrap_or_default();
    eprintln!(
        "outage: {} requests, statuses {:?}, slowest {slowest:?}",
        outage.len(),
        outage
            .iter()
            .map(|o| o.0)
            .collect::<std::collections::BTreeSet<_>>()
    );
    assert!(
        outage.iter().all(|o| o.0 == 503 && o.1),
        "every outage answer is 503 with Retry-After"
    );
    assert!(
        slowest < Duration::from_secs(10),
        "no request hangs past the timeout"
    );
    // Once the first request has found the database down, the breaker answers the rest at
    // once (a 50 ms budget, plus a TLS round trip here), not after the pool's 5-s acquire
    // timeout each.
    let mut after_first: Vec<Duration> = outage.iter().skip(2).map(|o| o.2).collect();
    after_first.sort();
    let p90 = after_first
        .get(after_first.len() * 9 / 10)
        .copied()
        .unwrap_or_default();
    eprintln!(
        "outage: {} answers after the first two, p90 {p90:?}",
        after_first.len()
    );
    assert!(
        after_first.len() >= 10 && p90 < Duration::from_millis(100),
        "503s were not fast once the database was known down: {} answers, p90 {p90:?}",
        after_first.len()
    );
    // What needs no database still works: the key is cached, `/api/v1/me` is answered from
    // memory.
    let me = s
        .client()
        .get(s.url("/api/v1/me"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("me");
    assert_eq!(
        me.status(),
        200,
        "a cached key's /api/v1/me during the outage"
    );

    assert!(cluster.ctl("start"), "restart the private cluster");
    let back = Instant::now();
    loop {
        if leads(&s).await.0 == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(1),
            "service did not resume within 1 s of PostgreSQL's return"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "service resumed {} ms after PostgreSQL came back",
        back.elapsed().as_millis()
    );
}
