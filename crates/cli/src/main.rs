//! `fallwerk`: the command line of the social-welfare office's case management.
//!
//! Two kinds of work: minting local dev keys and tokens (`dev-key`, `dev-token`), and the
//! intake workflow at a terminal (teams, advisors, applicants, visits, the waiting queue,
//! access checks, first consultations, case opening, figures), each command one intake RPC.
//!
//! Exit codes: 0 done, 1 the service refused or could not be reached, 2 bad usage.

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
    error::CliError,
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

    /// Bearer token (JWT) sent with every intake call; `fallwerk dev-token` mints a local one.
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
            run_intake(command, cli.addr, cli.token, cli.ca_cert, &out).await
        }
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

/// Connects and runs one intake command; the token is required here and only here.
async fn run_intake(
    command: intake::IntakeCommand,
    addr: Uri,
    token: Option<AsciiMetadataValue>,
    ca_cert: Option<tonic::transport::Certificate>,
    out: &Output,
) -> Result<(), CliError> {
    let Some(token) = token else {
        return Err(CliError::Usage(
            "this command needs a token: pass --token <jwt> or set FALLWERK_TOKEN\n\
             (for a local service: export FALLWERK_TOKEN=$(fallwerk dev-token --role front_desk --team <team-id>))"
                .into(),
        ));
    };
    let client = client::connect(addr, token, ca_cert)?;
    intake::run(command, client, out).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
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
        ] {
            let error = Cli::try_parse_from(args).err();
            assert_eq!(error.map(|e| e.exit_code()), Some(2), "{args:?}");
        }
    }
}
