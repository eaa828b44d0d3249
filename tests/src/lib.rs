//! The test harness: real services on loopback ports against a real PostgreSQL, each test with
//! a database of its own.
//!
//! `make test` starts a throwaway PostgreSQL cluster and passes its superuser URL in
//! `FALLWERK_TEST_DATABASE_URL`; every [`TestDatabase`] is a new database in it. Tokens are
//! signed with a key generated for the test process. Logs go to stderr only when `TEST_LOG`
//! is set.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use chrono::{DateTime, Utc};
use fallwerk_devkey::{DevKey, TokenSpec};
use fallwerk_platform::{auth::Role, clock::Clock, migrate::Migrator};
use fallwerk_proto::{
    audit::audit_trail_service_client::AuditTrailServiceClient,
    caseplan::{
        case_plan_service_client::CasePlanServiceClient,
        case_snapshot_service_client::CaseSnapshotServiceClient,
    },
    intake::intake_service_client::IntakeServiceClient,
    partner::{
        partner_agency_service_client::PartnerAgencyServiceClient,
        partner_service_client::PartnerServiceClient,
    },
};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;
use tonic::{
    metadata::MetadataValue, service::interceptor::InterceptedService, transport::Channel,
};
use uuid::Uuid;

mod app;
pub mod attacks;
pub mod cluster;
pub mod office;
pub mod process;
pub mod proxy;
pub mod tls;
pub mod world;

pub use app::{ServiceApp, Tune, spawn_wired, spawn_wired_on};

/// The operator's first-time set-up of the database roles, as shipped (the set-up Job's).
const ROLES_SQL: &str = include_str!("../../deploy/k8s/components/database-setup/roles.sql");

/// The role that owns `schema` and runs its migrations (`roles.sql`, see [`ROLES_SQL`]).
pub fn owner_role(schema: &str) -> String {
    format!("fallwerk_{schema}_owner")
}

/// The role `schema`'s service serves as: DML on its own tables only.
pub fn runtime_role(schema: &str) -> String {
    format!("fallwerk_{schema}_runtime")
}

/// The superuser URL of the test cluster.
pub fn admin_url() -> String {
    std::env::var("FALLWERK_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("FALLWERK_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL")
    })
}

/// A database of one test's own.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    /// Its connection URL.
    pub url: String,
}

impl TestDatabase {
    /// Creates an empty database.
    pub async fn create() -> Self {
        Self::create_from(None).await
    }

    /// Creates a database with `migrator`'s schema in place: a copy of a template migrated
    /// once per test process, which is much faster than migrating every test's database.
    pub async fn migrated(migrator: &Migrator) -> Self {
        /// One migrated template database per schema, made by the first test that needs it.
        type Templates = Vec<(&'static str, Arc<OnceCell<String>>)>;
        static TEMPLATES: Mutex<Templates> = Mutex::new(Vec::new());
        let cell = {
            let mut templates = TEMPLATES.lock().expect("templates lock");
            match templates
                .iter()
                .find(|(schema, _)| *schema == migrator.schema())
            {
                Some((_, cell)) => Arc::clone(cell),
                None => {
                    let cell = Arc::new(OnceCell::new());
                    templates.push((migrator.schema(), Arc::clone(&cell)));
                    cell
                }
            }
        };
        let template = cell
            .get_or_init(|| async {
                let template = Self::create().await;
                template.migrate_as_owner(migrator).await;
                template.name().to_owned()
            })
            .await;
        Self::create_from(Some(template)).await
    }

    /// Creates an empty database on the server whose superuser URL is `admin` (a cluster of
    /// the test's own, see [`cluster::PrivateCluster`]).
    pub async fn create_on(admin: &str) -> Self {
        Self::create_at(admin, None).await
    }

    async fn create_from(template: Option<&str>) -> Self {
        Self::create_at(&admin_url(), template).await
    }

    async fn create_at(admin: &str, template: Option<&str>) -> Self {
        let name = format!("test_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(admin)
            .await
            .expect("connect to the test cluster");
        let template = template
            .map(|t| format!(" TEMPLATE {t}"))
            .unwrap_or_default();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {name}{template}"
        )))
        .execute(&mut conn)
        .await
        .expect("create test database");
        let (base, _) = admin.rsplit_once('/').expect("URL with a database name");
        TestDatabase {
            url: format!("{base}/{name}"),
        }
    }

    /// Sets up the roles and schemas as an operator does before the first deployment
    /// ([`ROLES_SQL`], as the superuser), then migrates `migrator`'s schema as its owner,
    /// granting the runtime role, as `<service> migrate` does in a cluster.
    pub async fn migrate_as_owner(&self, migrator: &Migrator) {
        self.set_up_roles().await;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.url_as(&owner_role(migrator.schema())))
            .await
            .expect("connect as the schema's owner");
        migrator.run(&pool).await.expect("migrate as the owner");
        migrator
            .grant_runtime(&pool, &runtime_role(migrator.schema()))
            .await
            .expect("grant the runtime role");
        // CREATE DATABASE ... TEMPLATE needs the template without connections.
        pool.close().await;
    }

    /// Runs [`ROLES_SQL`] on the database as the superuser (idempotent).
    pub async fn set_up_roles(&self) {
        let mut conn = PgConnection::connect(&self.url)
            .await
            .expect("connect as the superuser");
        sqlx::raw_sql(ROLES_SQL)
            .execute(&mut conn)
            .await
            .expect("roles.sql");
    }

    /// The database's URL with `role` as the user (the test clusters trust loopback, so no
    /// password).
    pub fn url_as(&self, role: &str) -> String {
        let (scheme, rest) = self.url.split_once("://").expect("URL with a scheme");
        let host = rest.split_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{role}@{host}")
    }

    /// The database's URL as the runtime role of `schema`, the one its service serves as.
    pub fn runtime_url(&self, schema: &str) -> String {
        self.url_as(&runtime_role(schema))
    }

    /// A connection holding an exclusive lock on `table` until it is dropped, so that calls
    /// touching the table wait (until their deadline, say).
    pub async fn lock(&self, table: &str) -> PgConnection {
        let mut conn = PgConnection::connect(&self.url).await.expect("connect");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"
        )))
        .execute(&mut conn)
        .await
        .expect("lock");
        conn
    }

    /// Writes into intake's outbox (this database's) an event its consumers cannot apply: a
    /// CaseOpened whose payload does not decode. Its id.
    pub async fn poison_intake_feed(&self) -> Uuid {
        let poison = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO intake.outbox (event_id, event_type, aggregate_id, payload, occurred_at)
             VALUES ($1, 'fallwerk.intake.v1.CaseOpened', $1, '\\xffff', now())",
        )
        .bind(poison)
        .execute(&self.pool().await)
        .await
        .expect("poison written");
        poison
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        self.url.rsplit_once('/').map_or("", |(_, name)| name)
    }

    /// A small pool on the database, for checking what the service wrote.
    pub async fn pool(&self) -> PgPool {
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(&self.url)
            .await
            .expect("connect to test database")
    }
}

struct Keys {
    key: DevKey,
    jwks: PathBuf,
    dir: PathBuf,
}

/// The JWKS file the services under test read (the signing key's public half).
pub fn jwks_file() -> &'static std::path::Path {
    &keys().jwks
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("fallwerk-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        // The private key too, for tools that mint their own tokens (fallwerk-load).
        let key = DevKey::load_or_create(&dir).expect("key");
        Keys {
            key,
            jwks: DevKey::jwks_path(&dir),
            dir,
        }
    })
}

/// The key the test services trust.
pub fn signing_key() -> &'static DevKey {
    &keys().key
}

/// The directory of the test key (`dev-signing-key.pem`, `jwks.json`), as `make run`'s `.dev`.
pub fn key_dir() -> &'static std::path::Path {
    &keys().dir
}

/// A valid token for `subject` with `roles` and `team`.
pub fn token(subject: &str, roles: &[Role], team: Option<Uuid>) -> String {
    signing_key().mint(&TokenSpec {
        subject: subject.to_owned(),
        roles: roles.to_vec(),
        team_id: team,
        partner_id: None,
        ttl: Duration::from_secs(600),
    })
}

/// A token of partner system `partner_id` (role `partner`).
pub fn partner_token(subject: &str, partner_id: Uuid) -> String {
    signing_key().mint(&TokenSpec {
        subject: subject.to_owned(),
        roles: vec![Role::Partner],
        team_id: None,
        partner_id: Some(partner_id.to_string()),
        ttl: Duration::from_secs(600),
    })
}

/// A clock the test sets; starts at the real now.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// Sets the time.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = at;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock(Mutex::new(Utc::now()))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// Installs tracing for the test process once: OpenTelemetry spans (so trace ids exist and
/// travel as in production, exported nowhere) and, with `TEST_LOG` set, logs to stderr.
pub fn init_tracing() {
    init_tracing_exporting_to(None);
}

/// [`init_tracing`], exporting the spans to the OTLP receiver at `endpoint` when given; the
/// first call in a test process decides.
pub fn init_tracing_exporting_to(endpoint: Option<&str>) {
    use tracing_subscriber::{Layer, layer::SubscriberExt, util::SubscriberInitExt};
    static PROVIDER: OnceLock<opentelemetry_sdk::trace::SdkTracerProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        use fallwerk_platform::telemetry;
        let provider = match endpoint {
            Some(endpoint) => telemetry::tracer_provider_exporting_to("tests", endpoint),
            None => telemetry::tracer_provider("tests"),
        };
        let (otel, provider) = telemetry::trace_layer_with("tests", provider);
        let logs = std::env::var_os("TEST_LOG").is_some().then(|| {
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(tracing_subscriber::EnvFilter::new("info"))
        });
        let _ = tracing_subscriber::registry()
            .with(otel.with_filter(tracing_subscriber::filter::LevelFilter::INFO))
            .with(logs)
            .try_init();
        provider
    });
}

/// A file holding a `service` token, as a Kubernetes Secret would mount it.
pub fn service_token_file(subject: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "fallwerk-tests-{}/{subject}.token",
        std::process::id()
    ));
    std::fs::create_dir_all(path.parent().expect("parent")).expect("token dir");
    // Written aside and renamed: a subscriber of a concurrent test may be reading it.
    let aside = path.with_extension(format!("{}.tmp", Uuid::new_v4()));
    std::fs::write(&aside, token(subject, &[Role::Service], None)).expect("write token");
    std::fs::rename(&aside, &path).expect("move token into place");
    path
}

/// A channel that sends a bearer token on every call.
pub type Authenticated = InterceptedService<Channel, Bearer>;

/// A generated gRPC client the harness builds on a service's channel.
pub trait Client {
    /// The client on `channel`.
    fn on(channel: Authenticated) -> Self;
}

/// An intake client that sends a bearer token.
pub type IntakeClient = IntakeServiceClient<Authenticated>;

impl Client for IntakeClient {
    fn on(channel: Authenticated) -> Self {
        IntakeServiceClient::new(channel)
    }
}

/// A case-plan client that sends a bearer token.
pub type CasePlanClient = CasePlanServiceClient<Authenticated>;

impl Client for CasePlanClient {
    fn on(channel: Authenticated) -> Self {
        CasePlanServiceClient::new(channel)
    }
}

/// A client of case-plan's snapshot service (other services' side) that sends a bearer token.
pub type CaseSnapshotClient = CaseSnapshotServiceClient<Authenticated>;

impl Client for CaseSnapshotClient {
    fn on(channel: Authenticated) -> Self {
        CaseSnapshotServiceClient::new(channel)
    }
}

/// A partner client (staff side) that sends a bearer token.
pub type PartnerClient = PartnerServiceClient<Authenticated>;

impl Client for PartnerClient {
    fn on(channel: Authenticated) -> Self {
        PartnerServiceClient::new(channel)
    }
}

/// A partner-agency client (partner systems' side) that sends a bearer token.
pub type AgencyClient = PartnerAgencyServiceClient<Authenticated>;

impl Client for AgencyClient {
    fn on(channel: Authenticated) -> Self {
        PartnerAgencyServiceClient::new(channel)
    }
}

/// A client of any service's audit trail that sends a bearer token.
pub type AuditClient = AuditTrailServiceClient<Authenticated>;

impl Client for AuditClient {
    fn on(channel: Authenticated) -> Self {
        AuditTrailServiceClient::new(channel)
    }
}

/// Reads `app`'s audit trail as an auditor once every record committed so far is linked
/// into its chain (the chainer links within a second when idle; a whole suite running at once
/// on two cores has been seen to need more than 10 s, so it waits at most 30 s).
pub async fn linked_audit_trail(
    app: &ServiceApp,
) -> fallwerk_proto::audit::VerifyAuditTrailResponse {
    let auditor = token("auditor-1", &[Role::Auditor], None);
    let mut client: AuditClient = app.client(&auditor).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let answer = client
            .verify_audit_trail(fallwerk_proto::audit::VerifyAuditTrailRequest {})
            .await
            .expect("verify")
            .into_inner();
        if answer.unchained_records == 0 || std::time::Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Sends `authorization: Bearer <token>` on every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl Bearer {
    /// A bearer interceptor; an empty token sends no header.
    pub fn new(token: &str) -> Self {
        Bearer((!token.is_empty()).then(|| format!("Bearer {token}").parse().expect("ASCII token")))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// The tables of `schema` with a row that holds `needle`, as text or as UTF-8 bytes (stored
/// answers, shared data). The outbox is left out: its events go when the feed retention
/// prunes them.
pub async fn tables_mentioning(pool: &PgPool, schema: &str, needle: &str) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = $1 AND table_type = 'BASE TABLE' AND table_name <> 'outbox'
         ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .expect("tables");
    let mut found = Vec::new();
    for table in tables {
        let mentions: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            r#"SELECT EXISTS (SELECT 1 FROM {schema}."{table}" t
                              WHERE strpos(t::text, $1) > 0
                                 OR strpos(t::text, encode(convert_to($1, 'UTF8'), 'hex')) > 0)"#
        )))
        .bind(needle)
        .fetch_one(pool)
        .await
        .expect("scan");
        if mentions {
            found.push(table);
        }
    }
    found
}

/// The fields named by an INVALID_ARGUMENT's `BadRequest`, sorted.
pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    let mut fields: Vec<String> = status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    fields.sort();
    fields
}

/// The `ErrorInfo` reason of a status, if any.
pub fn error_reason(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status.get_details_error_info().map(|i| i.reason)
}

/// The `ErrorInfo` domain of a status, if any: the package whose `ErrorReason` lists it.
pub fn error_domain(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status.get_details_error_info().map(|i| i.domain)
}

/// The `ErrorInfo` metadata value `key`, if any.
pub fn error_metadata(status: &tonic::Status, key: &str) -> Option<String> {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()
        .and_then(|i| i.metadata.get(key).cloned())
}
