//! Local dev keys and tokens: the signing key that `make run` and the tests share, and tokens
//! for any role signed with it, so the intake workflow can be tried at a terminal without an
//! identity provider. A deployed service never trusts this key.

use std::{
    path::PathBuf,
    time::{Duration, SystemTime},
};

use chrono::{DateTime, SecondsFormat, Utc};
use clap::Args;
use fallwerk_devkey::{DevKey, TokenSpec};
use fallwerk_platform::auth::Role;
use serde_json::json;
use uuid::Uuid;

use crate::{error::CliError, output::Output, parse};

/// Where the dev key lives.
#[derive(Debug, Args)]
pub struct DevKeyArgs {
    /// Directory of the dev key (`dev-signing-key.pem` and `jwks.json`); created if missing.
    #[arg(long, env = "FALLWERK_DEV_DIR", default_value = ".dev")]
    dir: PathBuf,
}

/// What a dev token says.
#[derive(Debug, Args)]
pub struct DevTokenArgs {
    /// Role granted: front_desk, advisor, team_lead, partner, admin, auditor or service. Repeat
    /// for several.
    #[arg(long = "role", value_name = "ROLE", required = true, value_parser = parse::role)]
    roles: Vec<Role>,

    /// Team the token belongs to (`team_id` claim), needed for team-scoped work.
    #[arg(long)]
    team: Option<Uuid>,

    /// Cooperation partner (`partner_id` claim), for the partner role.
    #[arg(long)]
    partner: Option<String>,

    /// Identity (`sub` claim); an advisor's must match their roster subject. Default:
    /// `dev-<first role>`.
    #[arg(long)]
    subject: Option<String>,

    /// Lifetime in minutes (at most a year).
    // The cap keeps `now + ttl` far from overflowing when the token is signed.
    #[arg(long, default_value_t = 480, value_parser = clap::value_parser!(u64).range(1..=525_600))]
    ttl_minutes: u64,

    #[command(flatten)]
    key: DevKeyArgs,
}

/// `fallwerk dev-key`: creates the key if needed and prints where the services find its JWKS.
pub fn key(args: &DevKeyArgs, out: &Output) -> Result<(), CliError> {
    load(args)?;
    let path = DevKey::jwks_path(&args.dir);
    out.show(
        || json!({ "jwks_path": path.display().to_string() }),
        || format!("{}\n", path.display()),
    )
}

/// `fallwerk dev-token`: prints a token signed with the dev key. Human output is the bare
/// token, so `export FALLWERK_TOKEN=$(fallwerk dev-token ...)` works.
pub fn token(args: &DevTokenArgs, out: &Output) -> Result<(), CliError> {
    let key = load(&args.key)?;
    let spec = spec(args);
    let token = key.mint(&spec);
    let expires: DateTime<Utc> = (SystemTime::now() + spec.ttl).into();
    out.show(
        || {
            json!({
                "token": token,
                "subject": spec.subject,
                "roles": spec.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "team_id": spec.team_id.map(|t| t.to_string()),
                "partner_id": spec.partner_id,
                "expire_time": expires.to_rfc3339_opts(SecondsFormat::Secs, true),
            })
        },
        || format!("{token}\n"),
    )
}

fn load(args: &DevKeyArgs) -> Result<DevKey, CliError> {
    DevKey::load_or_create(&args.dir).map_err(|source| CliError::DevKey {
        dir: args.dir.clone(),
        source,
    })
}

fn spec(args: &DevTokenArgs) -> TokenSpec {
    let subject = match (&args.subject, args.roles.first()) {
        (Some(subject), _) => subject.clone(),
        (None, Some(role)) => format!("dev-{}", role.as_str()),
        // clap requires a role, so this only guards against that rule being dropped.
        (None, None) => "dev".to_owned(),
    };
    TokenSpec {
        subject,
        roles: args.roles.clone(),
        team_id: args.team,
        partner_id: args.partner.clone(),
        ttl: Duration::from_secs(args.ttl_minutes * 60),
    }
}
