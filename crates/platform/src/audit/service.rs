//! `fallwerk.audit.v1.AuditTrailService`: every service's audit trail, verified and queried by
//! auditors. An auditor's query is itself recorded.

use std::{future::Future, pin::Pin, sync::Arc};

use chrono::{DateTime, Utc};
use fallwerk_proto::audit::{
    self as pb,
    audit_trail_service_server::{AuditTrailService, AuditTrailServiceServer},
};
use sqlx::PgPool;
use uuid::Uuid;

use super::{AuditLog, chain};
use crate::{
    ApiError, Violations,
    auth::{AccessPolicy, Caller, MethodRule, Role},
    grpc_handlers,
    page::PageRequest,
    wire::{self, timestamp},
};

/// Who may call the audit trail.
pub const POLICY: AccessPolicy = AccessPolicy {
    service: "fallwerk.audit.v1.AuditTrailService",
    rules: &[
        MethodRule {
            method: "VerifyAuditTrail",
            roles: &[Role::Auditor],
        },
        MethodRule {
            method: "ListAuditRecords",
            roles: &[Role::Auditor],
        },
    ],
};

/// Finds the ids of every record a service holds about a person (an applicant id).
pub type PersonRecords =
    fn(PgPool, Uuid) -> Pin<Box<dyn Future<Output = Result<Vec<Uuid>, sqlx::Error>> + Send>>;

/// The audit trail of one schema.
#[derive(Clone)]
pub struct AuditTrail {
    pool: PgPool,
    schema: &'static str,
    log: AuditLog,
    list: Arc<str>,
    person_records: PersonRecords,
}

impl AuditTrail {
    /// The gRPC service over `schema`'s audit log.
    pub fn server(
        pool: PgPool,
        schema: &'static str,
        person_records: PersonRecords,
    ) -> AuditTrailServiceServer<AuditTrail> {
        AuditTrailServiceServer::new(AuditTrail {
            pool,
            schema,
            log: AuditLog::new(schema),
            person_records,
            list: format!(
                "SELECT id, occurred_at, subject, roles, action, resource_type, resource_id,
                        trace_id, coalesce(chain_position, 0) AS chain_position
                 FROM {schema}.audit_log
                 WHERE ($1 = '' OR subject = $1) AND ($2 = '' OR resource_type = $2)
                   AND ($3 = '' OR resource_id = $3)
                   AND ($4::timestamptz IS NULL OR occurred_at >= $4)
                   AND ($5::timestamptz IS NULL OR occurred_at < $5)
                   AND ($6::bigint IS NULL OR id > $6)
                   AND ($8::text[] IS NULL OR resource_id = ANY($8))
                 ORDER BY id LIMIT $7"
            )
            .into(),
        })
    }

    /// VerifyAuditTrail: the whole chain recomputed.
    async fn verify_audit_trail(
        &self,
        _caller: &Caller,
        _request: pb::VerifyAuditTrailRequest,
    ) -> Result<pb::VerifyAuditTrailResponse, ApiError> {
        let found = chain::verify(&self.pool, self.schema).await?;
        let (broken_position, problem) = found.broken.clone().unwrap_or_default();
        Ok(pb::VerifyAuditTrailResponse {
            intact: found.broken.is_none(),
            chained_records: found.chained,
            unchained_records: found.unchained,
            head_hash: found.head_hash,
            broken_position,
            problem,
        })
    }

    /// ListAuditRecords: the records matching the filters, oldest first (the query audited).
    async fn list_audit_records(
        &self,
        caller: &Caller,
        request: pb::ListAuditRecordsRequest,
    ) -> Result<pb::ListAuditRecordsResponse, ApiError> {
        let mut v = Violations::new();
        let subject = v.check("subject", wire::optional_text(&request.subject, 200));
        let kind = v.check(
            "resource_type",
            wire::optional_text(&request.resource_type, 100),
        );
        let id = v.check(
            "resource_id",
            wire::optional_text(&request.resource_id, 200),
        );
        let person = v.check("person_id", wire::optional_id(&request.person_id));
        let start = request
            .start_time
            .as_ref()
            .map(|t| time(&mut v, "start_time", t));
        let end = request
            .end_time
            .as_ref()
            .map(|t| time(&mut v, "end_time", t));
        if let (Some(Some(start)), Some(Some(end))) = (start, end)
            && end <= start
        {
            v.add("end_time", "must be after start_time");
        }
        let start_text = format!("{:?}", request.start_time);
        let end_text = format!("{:?}", request.end_time);
        let filters = [
            caller.method,
            &request.subject,
            &request.resource_type,
            &request.resource_id,
            &start_text,
            &end_text,
            &request.person_id,
        ];
        let page = PageRequest::parse(&mut v, request.page_size, &request.page_token, &filters);
        let parsed = (|| Some((subject?, kind?, id?, person?, page?)))();
        let (subject, kind, id, person, page) = v.finish(parsed)?;
        // A person's records: the person and every record of theirs this service holds.
        let person_records: Option<Vec<String>> = match person {
            None => None,
            Some(person) => Some(
                (self.person_records)(self.pool.clone(), person)
                    .await?
                    .into_iter()
                    .chain(std::iter::once(person))
                    .map(|id| id.to_string())
                    .collect(),
            ),
        };
        let (start, end) = (start.flatten(), end.flatten());

        let mut tx = self.pool.begin().await?;
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(Arc::clone(&self.list)))
            .bind(&subject)
            .bind(&kind)
            .bind(&id)
            .bind(start)
            .bind(end)
            .bind(page.after_number())
            .bind(page.fetch_limit())
            .bind(person_records)
            .fetch_all(&mut *tx)
            .await?;
        let (rows, next_page_token) = page.finish_numbered(rows, |r| r.id);
        let asked = format!(
            "subject={subject};resource={kind}/{id};person={}",
            request.person_id
        );
        self.log
            .record_text(&mut *tx, caller, "audit_trail", &asked)
            .await?;
        tx.commit().await?;
        Ok(pb::ListAuditRecordsResponse {
            records: rows.into_iter().map(Row::into_wire).collect(),
            next_page_token,
        })
    }
}

fn time(v: &mut Violations, field: &str, t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    let parsed = wire::datetime(Some(t));
    if parsed.is_none() {
        v.add(field, "is not a valid time");
    }
    parsed
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    occurred_at: DateTime<Utc>,
    subject: String,
    roles: Vec<String>,
    action: String,
    resource_type: String,
    resource_id: String,
    trace_id: String,
    chain_position: i64,
}

impl Row {
    fn into_wire(self) -> pb::AuditRecord {
        pb::AuditRecord {
            id: self.id,
            occur_time: Some(timestamp(self.occurred_at)),
            subject: self.subject,
            roles: self.roles,
            action: self.action,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            trace_id: self.trace_id,
            chain_position: self.chain_position,
        }
    }
}

grpc_handlers! { AuditTrail: AuditTrailService {
    verify_audit_trail(pb::VerifyAuditTrailRequest) -> pb::VerifyAuditTrailResponse;
    list_audit_records(pb::ListAuditRecordsRequest) -> pb::ListAuditRecordsResponse;
} }
