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
    /// Tighter per-key caps on some routes.
    pub route_caps: Vec<RouteCap>,
    /// Requests per key per day, by plan (`None`: no daily quota).
    pub daily_quota: [Option<u32>; 3],
    /// Requests in flight at once per key, per server process (`None`: no cap).
    pub concurrency_per_key: Option<u32>,
}

/// A per-key cap on the routes matching `method` and `path`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteCap {
    /// HTTP method, or absent for every method.
    #[serde(default)]
    pub method: Option<String>,
    /// A route template (`/api/v1/leads/{id}`), or a prefix ending in `*` (`/api/v1/analytics/*`).
    pub path: String,
    /// Requests per minute per key on these routes.
    pub per_minute: u32,
}

impl RouteCap {
    /// Whether this cap covers `method` on the route template `path`.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = self
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method));
        let path_ok = match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => self.path == path,
        };
        method_ok && path_ok
    }
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
            route_caps: Vec::new(),
            daily_quota: [None; 3],
            concurrency_per_key: None,
        }
    }
}

impl RatePolicy {
    /// Requests per minute for a key of `scope` in an organization on `plan`.
    pub fn limit(&self, scope: Scope, plan: Plan) -> u32 {
        self.per_minute[scope as usize][plan as usize]
    }

    /// The daily quota of a key on `plan`, if any.
    pub fn daily(&self, plan: Plan) -> Option<u32> {
        self.daily_quota[plan as usize]
    }

    /// The index and cap of the first route cap matching, if any.
    pub fn route_cap(&self, method: &str, path: &str) -> Option<(usize, u32)> {
        self.route_caps
            .iter()
            .enumerate()
            .find(|(_, c)| c.matches(method, path))
            .map(|(i, c)| (i, c.per_minute))
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
            ..Self::default()
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
///
/// [[routes]]               # tighter per-key caps on some routes
/// method = "POST"
/// path = "/api/v1/leads"   # a route template, or a prefix ending in `*`
/// per_minute = 20
///
/// [daily_quota]            # requests per key per day, by plan
/// starter = 10000
///
/// [concurrency]
/// per_key = 10             # requests in flight per key (per server process)
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    plans: std::collections::BTreeMap<String, PlanLimits>,
    #[serde(default)]
    auth_failures: Option<AuthFailures>,
    #[serde(default)]
    routes: Vec<RouteCap>,
    #[serde(default)]
    daily_quota: std::collections::BTreeMap<String, u32>,
    #[serde(default)]
    concurrency: Option<Concurrency>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Concurrency {
    per_key: u32,
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
        for (i, cap) in file.routes.iter().enumerate() {
            if cap.per_minute == 0 {
                return Err(PolicyError(format!(
                    "routes[{i}].per_minute must be at least 1"
                )));
            }
            if !cap.path.starts_with('/') {
                return Err(PolicyError(format!("routes[{i}].path must start with /")));
            }
        }
        policy.route_caps = file.routes;
        for (name, n) in &file.daily_quota {
            let plan = Plan::parse(name).ok_or_else(|| {
                PolicyError(format!(
                    "daily_quota: unknown plan `{name}` (expected starter, pro or enterprise)"
                ))
            })?;
            if *n == 0 {
                return Err(PolicyError(format!(
                    "daily_quota.{name} must be at least 1"
                )));
            }
            policy.daily_quota[plan as usize] = Some(*n);
        }
        if let Some(c) = file.concurrency {
            if c.per_key == 0 {
                return Err(PolicyError("concurrency.per_key must be at least 1".into()));
            }
            policy.concurrency_per_key = Some(c.per_key);
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

    #[test]
    fn caps_quota_and_concurrency() {
        let text = "[[routes]]\nmethod = \"POST\"\npath = \"/api/v1/leads\"\nper_minute = 5\n\
                    [[routes]]\npath = \"/api/v1/analytics/*\"\nper_minute = 7\n\
                    [daily_quota]\nstarter = 100\n[concurrency]\nper_key = 3\n";
        let p = RatePolicy::from_toml(text).expect("valid");
        assert_eq!(p.route_cap("POST", "/api/v1/leads"), Some((0, 5)));
        assert_eq!(p.route_cap("GET", "/api/v1/leads"), None);
        assert_eq!(
            p.route_cap("GET", "/api/v1/analytics/overview"),
            Some((1, 7))
        );
        assert_eq!(p.daily(Plan::Starter), Some(100));
        assert_eq!(p.daily(Plan::Pro), None);
        assert_eq!(p.concurrency_per_key, Some(3));
        let err =
            RatePolicy::from_toml("[[routes]]\npath = \"/x\"\nper_minit = 5\n").expect_err("typo");
        assert!(err.to_string().contains("line 3"), "{err}");
    }
}
