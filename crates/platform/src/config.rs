//! Settings every service shares, from flags or the environment (12-factor). Each service
//! flattens these into its own command line beside its own settings (listen addresses).
//!
//! clap rejects a malformed setting with a message naming it and exit code 2; settings that
//! parse but cannot be used (an unreadable key file) end the same way through
//! [`ConfigError::exit`].

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

/// Database settings.
#[derive(clap::Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL. Give this or `--database-url-file`.
    #[arg(
        long,
        env = "DATABASE_URL",
        required_unless_present = "database_url_file",
        conflicts_with = "database_url_file"
    )]
    pub database_url: Option<String>,
    /// File holding the PostgreSQL connection URL (a mounted Secret), so that the password is
    /// in no environment variable; read at start.
    #[arg(long, env = "DATABASE_URL_FILE")]
    pub database_url_file: Option<PathBuf>,
    /// The role `serve` runs as, when migrations run as the schema's owner: after migrating,
    /// `migrate` (and `serve --migrate`) grants it exactly what the service needs at run time
    /// (DML on the service's tables; the audit log and the proof of deletion append-only; no
    /// DDL). Unset: no grants (one role does both, as on a developer's machine).
    #[arg(long, env = "DB_RUNTIME_ROLE", value_parser = role_name)]
    pub db_runtime_role: Option<String>,
    /// Most connections the pool keeps open (the read audit writer keeps one more of its own).
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub db_max_connections: u32,
    /// Seconds a request waits for a free connection before it answers UNAVAILABLE.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub db_acquire_timeout_secs: u64,
}

impl DatabaseArgs {
    /// The connection URL, from `--database-url` or the file `--database-url-file` names.
    pub fn url(&self) -> Result<String, ConfigError> {
        match (&self.database_url, &self.database_url_file) {
            (Some(url), _) => Ok(url.clone()),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map(|text| text.trim().to_owned())
                .map_err(|e| ConfigError {
                    setting: "DATABASE_URL_FILE",
                    problem: format!("{}: {e}", file.display()),
                }),
            (None, None) => Err(ConfigError {
                setting: "DATABASE_URL",
                problem: "give DATABASE_URL or DATABASE_URL_FILE".to_owned(),
            }),
        }
    }
}

/// A PostgreSQL role name the grants can use unquoted: lower-case letters, digits and `_`.
fn role_name(value: &str) -> Result<String, String> {
    let valid = value.len() <= 63
        && value.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(value.to_owned())
    } else {
        Err("expected a role name of lower-case letters, digits and _ (at most 63)".to_owned())
    }
}

/// The upstream event feeds a service consumes (see `feed::upstream`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FeedArgs {
    /// An upstream service's gRPC address by name, `name=url` (e.g.
    /// `intake=http://intake:50051`); repeat the flag, or separate pairs with commas.
    #[arg(long = "upstream", env = "UPSTREAMS", value_delimiter = ',', value_parser = upstream)]
    pub upstreams: Vec<(String, String)>,
    /// File holding the `service` token presented to upstream feeds (a mounted Secret; read
    /// again on every reconnect, so a rotated token is picked up).
    #[arg(long, env = "SERVICE_TOKEN_FILE")]
    pub service_token_file: Option<PathBuf>,
    /// PEM file with the CA certificate of the upstreams' TLS certificates (for `https://`
    /// upstreams signed by a private CA).
    #[arg(long, env = "UPSTREAM_CA_FILE")]
    pub upstream_ca_file: Option<PathBuf>,
    /// PEM certificate this service presents to its upstreams, for upstreams with mutual TLS
    /// (`TLS_CLIENT_CA_FILE`): valid for `<token subject>.service.fallwerk`; with
    /// `--upstream-key-file`.
    #[arg(long, env = "UPSTREAM_CERT_FILE", requires = "upstream_key_file")]
    pub upstream_cert_file: Option<PathBuf>,
    /// PEM private key of `--upstream-cert-file`.
    #[arg(long, env = "UPSTREAM_KEY_FILE", requires = "upstream_cert_file")]
    pub upstream_key_file: Option<PathBuf>,
}

impl FeedArgs {
    /// The configured address of upstream `name`.
    pub fn address_of(&self, name: &str) -> Option<&str> {
        self.upstreams
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, url)| url.as_str())
    }
}

fn upstream(value: &str) -> Result<(String, String), String> {
    let (name, url) = value
        .split_once('=')
        .ok_or("expected name=url, e.g. intake=http://intake:50051")?;
    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(format!("{url}: expected an http:// or https:// address"));
    }
    Ok((name.trim().to_owned(), url.to_owned()))
}

/// Token verification settings.
#[derive(clap::Args, Debug, Clone)]
pub struct AuthArgs {
    /// JWKS file with the public keys tokens are signed with; re-read when it changes (a
    /// mounted Secret or ConfigMap). Give this or `--jwks-url`.
    #[arg(
        long,
        env = "JWKS_FILE",
        required_unless_present = "jwks_url",
        conflicts_with = "jwks_url"
    )]
    pub jwks_file: Option<PathBuf>,
    /// JWKS URL of the identity provider (http:// or https://, checked against the web PKI
    /// roots).
    #[arg(long, env = "JWKS_URL")]
    pub jwks_url: Option<String>,
    /// Seconds between fetches of `--jwks-url` (an unknown key id also triggers one).
    #[arg(long, env = "JWKS_REFRESH_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(10..))]
    pub jwks_refresh_secs: u64,
    /// Required `iss` claim.
    #[arg(long, env = "JWT_ISSUER", default_value = "fallwerk-dev")]
    pub jwt_issuer: String,
    /// Required `aud` claim.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "fallwerk")]
    pub jwt_audience: String,
}

/// How the gRPC server behaves.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// PEM certificate chain for TLS; with `--tls-key`. Without it the service refuses to
    /// start unless `--plaintext` says plaintext is meant.
    #[arg(long, env = "TLS_CERT_FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    #[arg(long, env = "TLS_KEY_FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA for mutual TLS: client certificates signed by it are verified. Staff clients may
    /// present none; a partner system must present one valid for the DNS name
    /// `<partner-id>.partner.fallwerk`, the partner of its token.
    #[arg(long, env = "TLS_CLIENT_CA_FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Seconds between reads of the TLS files: a renewed certificate, key or client CA is
    /// served from the next connection on, without a restart.
    #[arg(long, env = "TLS_RELOAD_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub tls_reload_secs: u64,
    /// Serve gRPC without TLS: on a developer's machine, or where a mesh terminates TLS in
    /// front of the pod. Logged as a warning at every start. (Not a clap conflict with
    /// `--tls-cert`: to clap, `GRPC_PLAINTEXT=false` in the environment is "given".)
    #[arg(long, env = "GRPC_PLAINTEXT")]
    pub plaintext: bool,
    /// Seconds an RPC may take before it is cancelled with DEADLINE_EXCEEDED; a client's
    /// shorter `grpc-timeout` bounds it further, and every call it makes to another service.
    #[arg(long, env = "GRPC_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Calls worked on at once; as many more may wait for a slot. Beyond that, or after
    /// `GRPC_QUEUE_WAIT_MS`, a call is answered UNAVAILABLE at once (admission.rs).
    #[arg(long, env = "GRPC_MAX_IN_FLIGHT", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_in_flight: u32,
    /// Milliseconds a call may wait for a slot while the service is full.
    #[arg(long, env = "GRPC_QUEUE_WAIT_MS", default_value_t = 500)]
    pub queue_wait_ms: u64,
    /// Calls one caller (a partner's systems together, else a token subject) may have in
    /// flight; more answer RESOURCE_EXHAUSTED, so one caller cannot starve the others.
    #[arg(long, env = "GRPC_MAX_IN_FLIGHT_PER_CALLER", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_in_flight_per_caller: u32,
    /// Largest request or response message in bytes.
    #[arg(long, env = "GRPC_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_bytes: usize,
    /// Seconds in-flight RPCs get to finish after SIGTERM; keep below the pod's
    /// terminationGracePeriodSeconds.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,
    /// Seconds after which a client connection is asked to reconnect, so clients behind a
    /// Kubernetes Service spread over new replicas.
    #[arg(long, env = "GRPC_MAX_CONNECTION_AGE_SECS", default_value_t = 300)]
    pub max_connection_age_secs: u64,
    /// A second, plaintext port serving only `grpc.health.v1` (the same statuses as the gRPC
    /// port): for the kubelet's gRPC probe, which speaks no TLS, so readiness can follow the
    /// database when the gRPC port is TLS-only. Unset: no such port.
    #[arg(long, env = "HEALTH_LISTEN")]
    pub health_listen: Option<std::net::SocketAddr>,
    /// Days the service's event feed keeps an event, and at least until every subscriber heard
    /// from within that time has applied it; 0 keeps events forever.
    #[arg(long, env = "FEED_RETENTION_DAYS", default_value_t = 30)]
    pub feed_retention_days: u32,
}

impl ServerArgs {
    /// RPC timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The overload limits.
    pub fn limits(&self) -> crate::admission::Limits {
        crate::admission::Limits {
            max_in_flight: self.max_in_flight as usize,
            queue_wait: Duration::from_millis(self.queue_wait_ms),
            max_per_caller: self.max_in_flight_per_caller as usize,
        }
    }

    /// Shutdown grace period.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

/// Log and metrics output.
#[derive(clap::Args, Debug, Clone)]
pub struct TelemetryArgs {
    /// `json` (default: one object a line, with trace id) or `text` for people.
    #[arg(long, env = "RUST_LOG_FORMAT", default_value = "json")]
    pub log_format: LogFormat,
    /// Address of the Prometheus `/metrics` listener; `off` disables it.
    #[arg(long, env = "METRICS_LISTEN")]
    pub metrics_listen: Option<MetricsListen>,
}

/// Log line format.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// JSON, one object a line (for collectors).
    Json,
    /// Human-readable text.
    Text,
}

/// Where `/metrics` listens, or nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsListen {
    /// Serve on this address.
    Addr(SocketAddr),
    /// No metrics listener.
    Off,
}

impl std::str::FromStr for MetricsListen {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            return Ok(MetricsListen::Off);
        }
        s.parse()
            .map(MetricsListen::Addr)
            .map_err(|e| format!("expected host:port or `off`: {e}"))
    }
}

/// A setting that parsed but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {setting}: {problem}")]
pub struct ConfigError {
    /// The flag / environment variable at fault.
    pub setting: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    /// Prints the error and returns exit code 2, the code clap uses for bad settings.
    pub fn exit(&self) -> ExitCode {
        eprintln!("error: {self}");
        ExitCode::from(2)
    }
}
