//! Replays the committed cargo-fuzz corpora (`fuzz/corpus/<target>/*`) on stable, through the
//! very functions the fuzz targets call (`fuzz/src/lib.rs`, included below): every input that
//! ever found new coverage must still run without a panic and keep its invariants. Fuzzing
//! itself needs nightly; see `fuzz/README.md`.

#[path = "../../../fuzz/src/lib.rs"]
mod targets;

use std::path::{Path, PathBuf};

use synaptiq_core::key::{self, ApiKeySecret};
use synaptiq_core::scope::Environment;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = corpus(target);
    assert!(!files.is_empty(), "the {target} corpus is empty");
    for path in files {
        let bytes = std::fs::read(&path).expect("readable");
        if std::panic::catch_unwind(|| run(&bytes)).is_err() {
            panic!(
                "{} fails; reproduce with `cargo +nightly fuzz run {target} {}`",
                path.display(),
                path.display()
            );
        }
    }
}

#[test]
fn auth_header_corpus() {
    replay("auth_header", targets::auth_header);
}

#[test]
fn json_bodies_corpus() {
    replay("json_bodies", targets::json_bodies);
}

#[test]
fn query_params_corpus() {
    replay("query_params", targets::query_params);
}

/// Inputs that hold a real, checksum-valid key are generated here rather than committed (a
/// committed key would trip `synaptiq scan` and secret scanners).
#[test]
fn generated_keys_through_the_auth_target() {
    for env in [Environment::Live, Environment::Test] {
        let k = ApiKeySecret::generate(env).expect("csprng");
        let k = k.expose();
        for input in [
            format!("Bearer {k}"),
            format!("bearer    {k}"),
            format!("BEARER {k} "),
            format!("Bearer {k}\nBearer {k}"),
            format!("Basic {k}"),
            format!("Bearer {}", &k[..key::KEY_LEN - 1]),
            format!("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {k}\r\n\r\n"),
            format!("x{k}y{k}"),
        ] {
            targets::auth_header(input.as_bytes());
        }
    }
}

#[test]
fn corpora_hold_no_real_keys() {
    for target in ["auth_header", "json_bodies", "query_params"] {
        for path in corpus(target) {
            let bytes = std::fs::read(&path).expect("readable");
            let found = key::find_keys(&String::from_utf8_lossy(&bytes));
            assert!(
                found.is_empty(),
                "{} holds a checksum-valid key",
                path.display()
            );
        }
    }
}
