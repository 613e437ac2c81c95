//! Organization plans and the default rate policy (the seed's table).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::scope::Scope;

/// An organization's plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// The entry plan.
    Starter,
    /// The middle plan.
    Pro,
    /// The largest plan.
    Enterprise,
}

impl Plan {
    /// All plans.
    pub const ALL: [Plan; 3] = [Plan::Starter, Plan::Pro, Plan::Enterprise];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Starter => "starter",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Plan> {
        Plan::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Requests per minute for a key, by scope and plan: the seed's table.
pub fn seed_limit_per_minute(scope: Scope, plan: Plan) -> u32 {
    match (scope, plan) {
        (Scope::Read, Plan::Starter) => 120,
        (Scope::Read, Plan::Pro) => 600,
        (Scope::Read, Plan::Enterprise) => 3000,
        (Scope::Write, Plan::Starter) => 60,
        (Scope::Write, Plan::Pro) => 300,
        (Scope::Write, Plan::Enterprise) => 1500,
        (Scope::Admin, Plan::Starter) => 30,
        (Scope::Admin, Plan::Pro) => 150,
        (Scope::Admin, Plan::Enterprise) => 750,
    }
}

/// The rate policy: requests per minute by scope and plan, and the failed-authentication
/// throttle per client IP. Defaults to the seed's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatePolicy {
    /// `per_minute[scope][plan]`, indexed by declaration order.
    per_minute: [[u32; 3]; 3],
    /// Failed authentications allowed per client IP per minute (burst of the same size).
    pub auth_failures_per_minute: u32,
}

impl Default for RatePolicy {
    fn default() -> Self {
        let mut per_minute = [[0; 3]; 3];
        for (i, scope) in Scope::ALL.into_iter().enumerate() {
            for (j, plan) in Plan::ALL.into_iter().enumerate() {
                per_minute[i][j] = seed_limit_per_minute(scope, plan);
            }
        }
        Self {
            per_minute,
            auth_failures_per_minute: 60,
        }
    }
}

impl RatePolicy {
    /// Requests per minute for a key of `scope` in an organization on `plan`.
    pub fn limit(&self, scope: Scope, plan: Plan) -> u32 {
        self.per_minute[scope as usize][plan as usize]
    }

    /// Overrides one cell.
    pub fn set_limit(&mut self, scope: Scope, plan: Plan, per_minute: u32) {
        self.per_minute[scope as usize][plan as usize] = per_minute.max(1);
    }

    /// A policy where every cell is `per_minute` (benchmarks and tests that must not be limited).
    pub fn uniform(per_minute: u32) -> Self {
        Self {
            per_minute: [[per_minute.max(1); 3]; 3],
            auth_failures_per_minute: per_minute.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_the_seed_table() {
        let p = RatePolicy::default();
        assert_eq!(p.limit(Scope::Read, Plan::Starter), 120);
        assert_eq!(p.limit(Scope::Write, Plan::Pro), 300);
        assert_eq!(p.limit(Scope::Admin, Plan::Enterprise), 750);
        assert_eq!(p.limit(Scope::Admin, Plan::Starter), 30);
    }
}

/// The rate policy file (TOML). Every key is optional; missing cells keep the seed's numbers.
///
/// ```toml
/// [plans.starter]          # requests per minute per key, by scope
/// read = 120
/// write = 60
/// admin = 30
///
/// [auth_failures]
/// per_minute = 60          # failed authentications per client IP
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    plans: std::collections::BTreeMap<String, PlanLimits>,
    #[serde(default)]
    auth_failures: Option<AuthFailures>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanLimits {
    read: Option<u32>,
    write: Option<u32>,
    admin: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFailures {
    per_minute: u32,
}

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid rate policy: {0}")]
pub struct PolicyError(String);

impl RatePolicy {
    /// Parses a policy file over the seed's defaults. Errors name the line.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| PolicyError(e.to_string()))?;
        let mut policy = RatePolicy::default();
        for (name, limits) in &file.plans {
            let plan = Plan::parse(name).ok_or_else(|| {
                PolicyError(format!(
                    "unknown plan `{name}` (expected starter, pro or enterprise)"
                ))
            })?;
            for (scope, value) in [
                (Scope::Read, limits.read),
                (Scope::Write, limits.write),
                (Scope::Admin, limits.admin),
            ] {
                match value {
                    Some(0) => {
                        return Err(PolicyError(format!(
                            "plans.{name}.{scope} must be at least 1"
                        )));
                    }
                    Some(n) => policy.set_limit(scope, plan, n),
                    None => {}
                }
            }
        }
        if let Some(a) = file.auth_failures {
            if a.per_minute == 0 {
                return Err(PolicyError(
                    "auth_failures.per_minute must be at least 1".into(),
                ));
            }
            policy.auth_failures_per_minute = a.per_minute;
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod policy_file_tests {
    use super::*;

    #[test]
    fn overrides_and_errors() {
        let p =
            RatePolicy::from_toml("[plans.pro]\nread = 1000\n[auth_failures]\nper_minute = 5\n")
                .expect("valid");
        assert_eq!(p.limit(Scope::Read, Plan::Pro), 1000);
        assert_eq!(p.limit(Scope::Write, Plan::Pro), 300);
        assert_eq!(p.auth_failures_per_minute, 5);
        let err = RatePolicy::from_toml("[plans.pro]\nreed = 1\n").expect_err("typo");
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(RatePolicy::from_toml("[plans.gold]\nread = 1\n").is_err());
        assert!(RatePolicy::from_toml("[plans.pro]\nread = 0\n").is_err());
    }
}
