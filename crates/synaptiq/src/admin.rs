//! Operator commands on the database: `org`, `key`, `user`, `migrate`.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use synaptiq_app::keys::{KeySpec, MAX_GRACE_SECS, RotateError, created};
use synaptiq_app::{Actor, NoAuthCache, Services};
use synaptiq_core::ids::{KeyId, OrgId};
use synaptiq_core::plan::Plan;
use synaptiq_core::scope::{Environment, Scope};
use synaptiq_store::{Role, Store};
use synaptiq_types::pagination::PageRequest;
use synaptiq_types::time::Timestamp;

use crate::cli::{Global, KeyCommand, OrgCommand, UserCommand};
use crate::setup;

fn plan(s: &str) -> Result<Plan> {
    Plan::parse(s).ok_or_else(|| anyhow!("unknown plan `{s}`: use starter, pro or enterprise"))
}

/// The use cases as the CLI runs them: it caches no keys (running servers see its changes
/// through the store's change epoch).
fn cli_services(store: &Arc<dyn Store>) -> Services {
    Services::new(store.clone(), Arc::new(NoAuthCache))
}

fn org_id(s: &str) -> Result<OrgId> {
    OrgId::parse(s).map_err(|e| anyhow!("{e}"))
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `synaptiq org …`.
pub async fn org(g: &Global, cmd: OrgCommand) -> Result<ExitCode> {
    let store = setup::open_store(g).await?;
    match cmd {
        OrgCommand::Create {
            name,
            plan: p,
            json,
        } => {
            if name.trim().is_empty() {
                bail!("--name must not be empty");
            }
            let org = store.create_org(name.trim(), plan(&p)?).await?;
            if json {
                print_json(&org.to_wire())?;
            } else {
                println!(
                    "created organization {} \"{}\" on the {} plan",
                    org.id, org.name, org.plan
                );
            }
        }
        OrgCommand::List { json } => {
            let orgs = store.list_orgs().await?;
            if json {
                print_json(&orgs.iter().map(|o| o.to_wire()).collect::<Vec<_>>())?;
            } else {
                for o in orgs {
                    println!("{}  {:<10}  {}", o.id, o.plan, o.name);
                }
            }
        }
        OrgCommand::SetPlan { org, plan: p } => {
            let id = org_id(&org)?;
            if !store.set_plan(&id, plan(&p)?).await? {
                bail!("no organization {id}");
            }
            println!(
                "organization {id} is now on the {p} plan (running servers apply it within 2 s)"
            );
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `synaptiq key …` (except `check`, which needs no database).
pub async fn key(g: &Global, cmd: KeyCommand) -> Result<ExitCode> {
    let store = setup::open_store(g).await?;
    match cmd {
        KeyCommand::Create {
            org,
            scope,
            env,
            name,
            expires_at,
            json,
        } => {
            let org_id = org_id(&org)?;
            if store.get_org(&org_id).await?.is_none() {
                bail!("no organization {org_id}");
            }
            let scope = Scope::parse(&scope)
                .ok_or_else(|| anyhow!("unknown scope `{scope}`: use read, write or admin"))?;
            let environment = Environment::parse(&env)
                .ok_or_else(|| anyhow!("unknown environment `{env}`: use live or test"))?;
            let expires_at = expires_at
                .map(|t| {
                    Timestamp::parse(&t).ok_or_else(|| {
                        anyhow!("--expires-at must be RFC 3339, e.g. 2027-01-01T00:00:00Z")
                    })
                })
                .transpose()?;
            if expires_at.is_some_and(|t| t <= Timestamp::now()) {
                bail!("--expires-at must be in the future");
            }
            let spec = KeySpec {
                org_id,
                environment,
                scope,
                name,
                expires_at,
                allowed_ips: vec![],
                rotated_from: None,
            };
            let pepper = setup::pepper(g, &store).await?;
            let (rec, secret) = cli_services(&store)
                .issue_key(&pepper, spec, &Actor::local("cli"))
                .await?;
            if json {
                print_json(&created(&rec, &secret))?;
            } else {
                println!(
                    "created {} {} key {} \"{}\"",
                    rec.environment, rec.scope, rec.id, rec.name
                );
                println!("secret (shown once, store it now): {}", secret.expose());
            }
        }
        KeyCommand::List { org, json } => {
            let org_id = org_id(&org)?;
            let mut all = Vec::new();
            let mut page = 1;
            loop {
                let (keys, total) = store
                    .list_keys(
                        &org_id,
                        None,
                        None,
                        Timestamp::now(),
                        PageRequest::new(Some(page), Some(100))?,
                    )
                    .await?;
                let n = keys.len();
                all.extend(keys);
                if n == 0 || all.len() as u64 >= total {
                    break;
                }
                page += 1;
            }
            let now = Timestamp::now();
            if json {
                print_json(&all.iter().map(|k| k.to_wire(now)).collect::<Vec<_>>())?;
            } else {
                for k in all {
                    println!(
                        "{}  {}  {:<5} {:<4} {:<8}  {}",
                        k.id,
                        k.hint,
                        k.scope,
                        k.environment,
                        k.status(now).as_str(),
                        k.name
                    );
                }
            }
        }
        KeyCommand::Revoke { id } => {
            let id = KeyId::parse(&id).map_err(|e| anyhow!("{e}"))?;
            let (org, env) = store
                .locate_key(&id)
                .await?
                .ok_or_else(|| anyhow!("no key {id}"))?;
            cli_services(&store)
                .revoke_key(&org, env, &id, &Actor::local("cli"))
                .await?;
            println!("revoked {id} (running servers refuse it within 2 s)");
        }
        KeyCommand::Rotate { id, grace } => {
            let id = KeyId::parse(&id).map_err(|e| anyhow!("{e}"))?;
            if !(0..=MAX_GRACE_SECS).contains(&grace) {
                bail!("--grace must be between 0 and 604800 seconds");
            }
            let (org, env) = store
                .locate_key(&id)
                .await?
                .ok_or_else(|| anyhow!("no key {id}"))?;
            let pepper = setup::pepper(g, &store).await?;
            let (old, new, secret) = cli_services(&store)
                .rotate_key(&pepper, &org, env, &id, grace, &Actor::local("cli"))
                .await
                .map_err(|e| match e {
                    RotateError::NotFound => anyhow!("no key {id}"),
                    RotateError::NotUsable(s) => {
                        anyhow!(
                            "key {id} is {}; only active or rotating keys can be rotated",
                            s.as_str()
                        )
                    }
                    RotateError::Store(e) => anyhow!(e),
                })?;
            let deadline = old.expires_at.map(|t| t.to_iso()).unwrap_or_default();
            println!(
                "rotated {id} -> {} (old key works until {deadline})",
                new.id
            );
            println!("new secret (shown once, store it now): {}", secret.expose());
        }
        KeyCommand::Check { .. } => unreachable_check()?,
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

fn unreachable_check() -> Result<()> {
    bail!("`key check` runs offline; it is dispatched before opening the database")
}

/// `synaptiq user create`.
pub async fn user(g: &Global, cmd: UserCommand) -> Result<ExitCode> {
    let UserCommand::Create { org, email, role } = cmd;
    let role = Role::parse(&role)
        .ok_or_else(|| anyhow!("unknown role `{role}`: use owner, admin or viewer"))?;
    synaptiq_types::validate::email("email", &email).map_err(|e| anyhow!("{}", e.message))?;
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\n', '\r']);
    if password.chars().count() < synaptiq_core::password::MIN_LEN {
        bail!(
            "the password (read from stdin) must be at least {} characters",
            synaptiq_core::password::MIN_LEN
        );
    }
    let store = setup::open_store(g).await?;
    let org_id = org_id(&org)?;
    if store.get_org(&org_id).await?.is_none() {
        bail!("no organization {org_id}");
    }
    let user = store
        .create_user(
            &org_id,
            &email,
            role,
            synaptiq_core::password::hash(password)?.as_str(),
        )
        .await?;
    println!(
        "created {} user {} ({})",
        role.as_str(),
        user.email,
        user.id
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `synaptiq migrate`.
pub async fn migrate(g: &Global) -> Result<ExitCode> {
    let store = setup::open_store(g).await?;
    println!("migrations applied ({})", store.backend());
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
