//! Schema migrations of one service, into that service's own schema.
//!
//! Every service applies two sets, tracked in `<schema>._migrations`: the platform's tables
//! (outbox, idempotency, audit log), written once here for any schema, then the service's own
//! files. All pending migrations run in one transaction that first takes an advisory lock
//! keyed by the schema name, so replicas starting at once wait for each other and the second
//! finds nothing to do; a failing migration leaves nothing half-applied. A migration that was
//! applied and then edited is refused, not silently skipped.

use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

/// One migration: a stable id, and its SQL (several statements allowed).
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Sortable, unique id such as `0001_applicants`.
    pub id: &'static str,
    /// The SQL, with every name schema-qualified.
    pub sql: &'static str,
}

/// The migrations of one service's schema.
#[derive(Debug, Clone, Copy)]
pub struct Migrator {
    schema: &'static str,
    service: &'static [Migration],
}

/// Why migrations did not run.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// PostgreSQL refused or failed.
    #[error("migration {id} failed: {source}")]
    Failed {
        /// Migration id.
        id: String,
        /// The database's error.
        source: sqlx::Error,
    },
    /// An applied migration's text changed since.
    #[error("migration {0} was changed after it was applied; add a new migration instead")]
    Changed(String),
    /// Connecting or bookkeeping failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl Migrator {
    /// Migrations of `schema`: the platform's, then `service` in order.
    pub const fn new(schema: &'static str, service: &'static [Migration]) -> Self {
        Migrator { schema, service }
    }

    /// The schema.
    pub fn schema(&self) -> &'static str {
        self.schema
    }

    /// The ids of the service's own migrations, in order.
    pub fn service_ids(&self) -> Vec<&'static str> {
        self.service.iter().map(|m| m.id).collect()
    }

    /// Whether the `.sql` files in `dir` are exactly the service's migrations, in order (a
    /// file that is not registered would never run); for each service's unit test.
    pub fn registers_every_file_in(&self, dir: &str) -> Result<(), String> {
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| format!("{dir}: {e}"))?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".sql").map(str::to_owned)
            })
            .collect();
        files.sort();
        if files == self.service_ids() {
            Ok(())
        } else {
            Err(format!(
                "migration files {files:?}, registered {:?}",
                self.service_ids()
            ))
        }
    }

    fn all(&self) -> Vec<(String, String)> {
        let platform = PLATFORM
            .iter()
            .map(|m| (platform_id(m), m.sql.replace("{schema}", self.schema)));
        let service = self
            .service
            .iter()
            .map(|m| (m.id.to_owned(), m.sql.to_owned()));
        platform.chain(service).collect()
    }

    /// Applies what is pending. Safe to run from several processes at once.
    pub async fn run(&self, pool: &PgPool) -> Result<usize, MigrateError> {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("fallwerk.migrate.{}", self.schema))
            .execute(&mut *tx)
            .await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            // Only when missing: even CREATE SCHEMA IF NOT EXISTS needs CREATE on the
            // database, which an owner role given its schema by roles.sql does not have.
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = '{schema}') THEN
                     CREATE SCHEMA {schema};
                 END IF;
             END $$;
             CREATE TABLE IF NOT EXISTS {schema}._migrations (
                 id text PRIMARY KEY,
                 checksum bytea NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );",
            schema = self.schema
        )))
        .execute(&mut *tx)
        .await?;
        let applied: Vec<(String, Vec<u8>)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, checksum FROM {}._migrations",
            self.schema
        )))
        .fetch_all(&mut *tx)
        .await?;
        let mut count = 0;
        for (id, sql) in self.all() {
            let checksum = Sha256::digest(sql.as_bytes()).to_vec();
            if let Some((_, old)) = applied.iter().find(|(a, _)| *a == id) {
                if *old != checksum {
                    return Err(MigrateError::Changed(id));
                }
                continue;
            }
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .map_err(|source| MigrateError::Failed {
                    id: id.clone(),
                    source,
                })?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {}._migrations (id, checksum) VALUES ($1, $2)",
                self.schema
            )))
            .bind(&id)
            .bind(checksum)
            .execute(&mut *tx)
            .await?;
            tracing::info!(schema = self.schema, migration = %id, "migration applied");
            count += 1;
        }
        tx.commit().await?;
        Ok(count)
    }

    /// Grants `role`, the role the service runs as, exactly what it needs in the schema, and
    /// takes back what it must not have; run as the schema's owner after [`Self::run`], and
    /// again after every migration (a new table is granted then). `role` is a validated
    /// identifier (`config::DatabaseArgs::db_runtime_role`). Under the migrations' lock:
    /// concurrent GRANTs on one object fail in PostgreSQL.
    ///
    /// DML on every table and sequence, no DDL (the owner keeps that). The audit log and the
    /// proof of deletion are append-only: INSERT and SELECT only, except the audit log's two
    /// chain columns, which the chainer writes once per record (its trigger refuses anything
    /// else). The migrations' own bookkeeping is read (readiness), never written.
    pub async fn grant_runtime(&self, pool: &PgPool, role: &str) -> Result<(), MigrateError> {
        let schema = self.schema;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "BEGIN;
             SELECT pg_advisory_xact_lock(hashtext('fallwerk.migrate.{schema}'));
             GRANT USAGE ON SCHEMA {schema} TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};
             GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role};
             REVOKE INSERT, UPDATE, DELETE ON {schema}._migrations FROM {role};
             REVOKE UPDATE, DELETE ON {schema}.audit_log, {schema}.erasure_proof FROM {role};
             GRANT UPDATE (chain_position, chain_hash) ON {schema}.audit_log TO {role};
             COMMIT;"
        )))
        .execute(pool)
        .await?;
        tracing::info!(schema, role, "runtime role granted");
        Ok(())
    }

    /// Whether every migration is applied (readiness).
    pub async fn is_current(&self, pool: &PgPool) -> Result<bool, sqlx::Error> {
        let ids: Vec<String> = match sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id FROM {}._migrations",
            self.schema
        )))
        .fetch_all(pool)
        .await
        {
            Ok(rows) => rows.iter().map(|r| r.get(0)).collect(),
            // 42P01 undefined_table, 3F000 invalid_schema_name: nothing migrated yet.
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42P01" | "3F000")) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        let platform = PLATFORM.iter().map(platform_id);
        let service = self.service.iter().map(|m| m.id.to_owned());
        Ok(platform.chain(service).all(|id| ids.contains(&id)))
    }
}

/// Platform migrations are recorded with a prefix, apart from the service's own ids.
fn platform_id(m: &Migration) -> String {
    format!("platform_{}", m.id)
}

/// The platform's tables, created in every service schema.
const PLATFORM: &[Migration] = &[
    Migration {
        id: "0001_outbox_idempotency_audit",
        sql: include_str!("../migrations/0001_outbox_idempotency_audit.sql"),
    },
    Migration {
        id: "0002_feed",
        sql: include_str!("../migrations/0002_feed.sql"),
    },
    Migration {
        id: "0003_feed_wakeups_and_parking",
        sql: include_str!("../migrations/0003_feed_wakeups_and_parking.sql"),
    },
    Migration {
        id: "0004_audit_chain",
        sql: include_str!("../migrations/0004_audit_chain.sql"),
    },
    Migration {
        id: "0005_feed_retention",
        sql: include_str!("../migrations/0005_feed_retention.sql"),
    },
    Migration {
        id: "0006_erasure_proof",
        sql: include_str!("../migrations/0006_erasure_proof.sql"),
    },
];
