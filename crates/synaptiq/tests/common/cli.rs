//! Running another `synaptiq` command on a server's data directory, and what it printed.

use super::*;

/// Result of a CLI run.
#[derive(Debug)]
pub struct CliOutput {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CliOutput {
    /// stdout as JSON; panics with the whole output if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("CLI output is not JSON ({e}): {self:#?}"))
    }
}

/// Runs `synaptiq --data-dir DIR ARGS…` and collects its output.
pub fn cli_in(data_dir: &Path, args: &[&str]) -> CliOutput {
    cli_with_env(data_dir, &[], args)
}

/// Runs `synaptiq --data-dir DIR ARGS…` with extra environment variables.
pub fn cli_with_env(data_dir: &Path, env: &[(String, String)], args: &[&str]) -> CliOutput {
    let mut cmd = Command::new(BIN);
    clean_env(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.arg("--data-dir").arg(data_dir).args(args);
    cmd.stdin(Stdio::null());
    let out = cmd.output().expect("run synaptiq");
    CliOutput {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
