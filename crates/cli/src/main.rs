//! `fallwerk`: the command line of the social-welfare office's case management.
//!
//! Three kinds of work: minting local dev keys and tokens (`dev-key`, `dev-token`); the intake
//! workflow at a terminal (teams, advisors, applicants, visits, the waiting queue, access
//! checks, first consultations, case opening, figures), each command one intake RPC; and the
//! case-plan workflow (cases, help plans, agreements, reviews, closure and follow-up), each
//! command one case-plan RPC.
//!
//! Exit codes: 0 done, 1 the service refused or could not be reached, 2 bad usage.

mod audit;
mod caseplan;
mod client;
mod dev;
mod error;
mod intake;
mod output;
mod parse;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, error::ErrorKind};
use tonic::{metadata::AsciiMetadataValue, transport::Uri};

use crate::{
    error::{CliError, Service},
    output::{Format, Output},
};

/// Help heading of the options every command takes, kept apart from each command's own.
const GLOBAL: &str = "Global options";

/// The fallwerk command line.
#[derive(Debug, Parser)]
#[command(name = "fallwerk", version, about, max_term_width = 100)]
struct Cli {
    /// Address of the intake service (http:// or https://).
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "FALLWERK_INTAKE_ADDR",
        default_value = "http://127.0.0.1:50051",
        value_parser = parse::address
    )]
    addr: Uri,

    /// Address of the case-plan service (http:// or https://).
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        value_name = "ADDR",
        env = "FALLWERK_CASE_PLAN_ADDR",
        default_value = "http://127.0.0.1:50052",
        value_parser = parse::address
    )]
    case_plan_addr: Uri,

    /// Address of the partner service (http:// or https://).
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        value_name = "ADDR",
        env = "FALLWERK_PARTNER_ADDR",
        default_value = "http://127.0.0.1:50053",
        value_parser = parse::address
    )]
    partner_addr: Uri,

    /// Bearer token (JWT) sent with every service call; `fallwerk dev-token` mints a local one.
    // The env value is hidden so `--help` never prints a live token onto the screen.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "FALLWERK_TOKEN",
        hide_env_values = true,
        value_parser = parse::bearer
    )]
    token: Option<AsciiMetadataValue>,

    /// PEM file of the CA that signed the service's certificate, for an https:// address.
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        value_name = "FILE",
        env = "FALLWERK_CA_CERT",
        value_parser = parse::ca_certificate
    )]
    ca_cert: Option<tonic::transport::Certificate>,

    /// Print one JSON document on stdout instead of lines for a person.
    #[arg(long, global = true, help_heading = GLOBAL)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

/// Everything `fallwerk` can do.
#[derive(Debug, Subcommand)]
enum Command {
    /// Ensures the local dev signing key exists and prints the path of its JWKS file.
    DevKey(dev::DevKeyArgs),
    /// Prints a JWT signed with the local dev key (created if missing).
    DevToken(dev::DevTokenArgs),
    /// The intake workflow.
    #[command(flatten)]
    Intake(intake::IntakeCommand),
    /// Cases: opened at intake, carried on in case-plan.
    #[command(subcommand)]
    Case(caseplan::CaseCommand),
    /// The case-plan workflow.
    #[command(flatten)]
    CasePlan(caseplan::CasePlanCommand),
    /// The audit trails of all three services (auditor).
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output::new(if cli.json {
        Format::Json
    } else {
        Format::Human
    });
    let result = match cli.command {
        Command::DevKey(args) => dev::key(&args, &out),
        Command::DevToken(args) => dev::token(&args, &out),
        Command::Intake(command) => {
            async {
                let client = intake_client(cli.addr, cli.token, cli.ca_cert)?;
                intake::run(command, client, &out).await
            }
            .await
        }
        // `case open` is intake's; every other `case` command is case-plan's.
        Command::Case(caseplan::CaseCommand::Open(args)) => {
            async {
                let client = intake_client(cli.addr, cli.token, cli.ca_cert)?;
                intake::open_case(args, client, &out).await
            }
            .await
        }
        Command::Case(command) => async {
            let client = case_plan_client(cli.case_plan_addr, cli.token, cli.ca_cert)?;
            caseplan::case(command, client, &out).await
        }
        .await
        .map_err(|error| error.answered_by(Service::CasePlan)),
        Command::Audit(command) => {
            async {
                let token = required_token(cli.token, "auditor")?;
                let at = audit::Addresses {
                    intake: cli.addr,
                    case_plan: cli.case_plan_addr,
                    partner: cli.partner_addr,
                };
                audit::run(command, at, token, cli.ca_cert, &out).await
            }
            .await
        }
        Command::CasePlan(command) => async {
            let client = case_plan_client(cli.case_plan_addr, cli.token, cli.ca_cert)?;
            caseplan::run(command, client, &out).await
        }
        .await
        .map_err(|error| error.answered_by(Service::CasePlan)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Usage problems found after parsing look and exit exactly like clap's own (exit 2).
        Err(CliError::Usage(message)) => Cli::command()
            .error(ErrorKind::ValueValidation, message)
            .exit(),
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// The intake client; the token is required for service calls and only for them.
fn intake_client(
    addr: Uri,
    token: Option<AsciiMetadataValue>,
    ca_cert: Option<tonic::transport::Certificate>,
) -> Result<client::IntakeClient, CliError> {
    let token = required_token(token, "front_desk")?;
    client::intake(addr, token, ca_cert)
}

/// The case-plan client.
fn case_plan_client(
    addr: Uri,
    token: Option<AsciiMetadataValue>,
    ca_cert: Option<tonic::transport::Certificate>,
) -> Result<client::CasePlanClient, CliError> {
    let token = required_token(token, "advisor")?;
    client::case_plan(addr, token, ca_cert)
}

/// The token, or how to get one; `role` is the one the example mints.
fn required_token(
    token: Option<AsciiMetadataValue>,
    role: &str,
) -> Result<AsciiMetadataValue, CliError> {
    token.ok_or_else(|| {
        CliError::Usage(format!(
            "this command needs a token: pass --token <jwt> or set FALLWERK_TOKEN\n\
             (for a local service: export FALLWERK_TOKEN=$(fallwerk dev-token --role {role} --team <team-id>))"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    const CASE: &str = "3f2c0d9e-5a4b-4c1d-8e7f-001122334455";

    #[test]
    fn case_open_goes_to_intake_and_every_other_case_command_to_case_plan() {
        let open = Cli::try_parse_from(["fallwerk", "case", "open", CASE]).map(|c| c.command);
        assert!(
            matches!(open, Ok(Command::Case(caseplan::CaseCommand::Open(_)))),
            "{open:?}"
        );
        let show = Cli::try_parse_from(["fallwerk", "case", "show", CASE, "--at-position", "42"])
            .map(|c| c.command);
        assert!(
            matches!(
                show,
                Ok(Command::Case(caseplan::CaseCommand::Show {
                    at_position: Some(42),
                    ..
                }))
            ),
            "{show:?}"
        );
        let close = Cli::try_parse_from([
            "fallwerk",
            "close",
            CASE,
            "--outcome",
            "independent",
            "--follow-up",
            "2026-09-01",
            "--etag",
            "3",
        ])
        .map(|c| c.command);
        assert!(matches!(close, Ok(Command::CasePlan(_))), "{close:?}");
    }

    #[test]
    fn plan_revise_reads_the_goals_of_its_file() {
        let path = std::env::temp_dir().join(format!("fallwerk-plan-{}.json", std::process::id()));
        let written = std::fs::write(&path, r#"[{"category": "work", "own_words": "Arbeit"}]"#);
        assert!(written.is_ok(), "{written:?}");
        let parsed = Cli::try_parse_from([
            "fallwerk",
            "plan",
            "revise",
            CASE,
            "--cause",
            "first-plan",
            "--etag",
            "0",
            "--file",
            &path.to_string_lossy(),
        ]);
        let _ = std::fs::remove_file(&path);
        let text = format!("{parsed:?}");
        assert!(parsed.is_ok(), "{text}");
        assert!(text.contains("own_words: \"Arbeit\""), "{text}");
    }

    #[test]
    fn a_bad_role_or_team_is_a_usage_error() {
        for args in [
            ["fallwerk", "dev-token", "--role", "boss"].as_slice(),
            &[
                "fallwerk",
                "dev-token",
                "--role",
                "advisor",
                "--team",
                "nord",
            ],
            &["fallwerk", "applicant", "search"],
            &[
                "fallwerk",
                "case",
                "set-basis",
                CASE,
                "--basis",
                "sgb-iii",
                "--etag",
                "1",
            ],
            &[
                "fallwerk",
                "close",
                CASE,
                "--outcome",
                "retired",
                "--follow-up",
                "2026-09-01",
                "--etag",
                "1",
            ],
            &[
                "fallwerk",
                "review",
                "record",
                CASE,
                "--next",
                "2026-09-01",
                "--goal",
                "kita=some",
            ],
        ] {
            let error = Cli::try_parse_from(args).err();
            assert_eq!(error.map(|e| e.exit_code()), Some(2), "{args:?}");
        }
    }
}
