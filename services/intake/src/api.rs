//! The gRPC handlers of `fallwerk.intake.v1.IntakeService`. Each one parses its request into
//! values (every bad field named), checks the object-level rule, and makes its change as one
//! platform `Change`: state, event, audit record and (for creates) the stored answer commit
//! together.

use std::{collections::HashMap, sync::Arc};

use chrono::Duration;
use fallwerk_platform::{
    ApiError, Violations,
    auth::{self, Principal, Role},
    change::{Began, Changes},
    clock::Clock,
    idempotency::RequestKey,
};
use fallwerk_proto::intake::{self as pb, intake_service_server::IntakeService};
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::{
    SCHEMA,
    convert::{self, timestamp},
    domain::{
        self, AccessDecision, AdvisorId, ApplicantId, CaseId, ConsultationId, StateError, TeamId,
        VisitId, VisitState,
    },
    store::{self, AccessCheckRow, AdvisorValues, ApplicantValues, ClaimRow, ConsultationContent},
};

/// The intake service: its database and the clock it stamps events with.
#[derive(Clone)]
pub struct Intake {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    changes: Changes,
}

impl Intake {
    /// intake on `pool`, telling time by `clock`.
    pub fn new(pool: PgPool, clock: Arc<dyn Clock>) -> Self {
        Intake {
            pool,
            clock,
            changes: Changes::new(SCHEMA),
        }
    }
}

/// Wires each RPC to its handler below: take the principal, run, map the error once.
macro_rules! handlers {
    ($($rpc:ident($request:ty) -> $response:ty;)*) => {
        #[tonic::async_trait]
        impl IntakeService for Intake {
            $(
                async fn $rpc(&self, request: Request<$request>) -> Result<Response<$response>, Status> {
                    let caller = auth::principal(&request)?;
                    Intake::$rpc(self, &caller, request.into_inner())
                        .await
                        .map(Response::new)
                        .map_err(Status::from)
                }
            )*
        }
    };
}

handlers! {
    create_applicant(pb::CreateApplicantRequest) -> pb::CreateApplicantResponse;
    get_applicant(pb::GetApplicantRequest) -> pb::GetApplicantResponse;
    search_applicants(pb::SearchApplicantsRequest) -> pb::SearchApplicantsResponse;
    update_applicant(pb::UpdateApplicantRequest) -> pb::UpdateApplicantResponse;
    register_visit(pb::RegisterVisitRequest) -> pb::RegisterVisitResponse;
    get_visit(pb::GetVisitRequest) -> pb::GetVisitResponse;
    list_waiting_queue(pb::ListWaitingQueueRequest) -> pb::ListWaitingQueueResponse;
    list_visits(pb::ListVisitsRequest) -> pb::ListVisitsResponse;
    record_access_check(pb::RecordAccessCheckRequest) -> pb::RecordAccessCheckResponse;
    start_consultation(pb::StartConsultationRequest) -> pb::StartConsultationResponse;
    complete_consultation(pb::CompleteConsultationRequest) -> pb::CompleteConsultationResponse;
    get_consultation(pb::GetConsultationRequest) -> pb::GetConsultationResponse;
    create_team(pb::CreateTeamRequest) -> pb::CreateTeamResponse;
    list_teams(pb::ListTeamsRequest) -> pb::ListTeamsResponse;
    create_advisor(pb::CreateAdvisorRequest) -> pb::CreateAdvisorResponse;
    update_advisor(pb::UpdateAdvisorRequest) -> pb::UpdateAdvisorResponse;
    list_advisors(pb::ListAdvisorsRequest) -> pb::ListAdvisorsResponse;
    open_case(pb::OpenCaseRequest) -> pb::OpenCaseResponse;
    get_team_figures(pb::GetTeamFiguresRequest) -> pb::GetTeamFiguresResponse;
}

/// Parses the idempotency key of a create.
fn request_key<M: prost::Message>(
    violations: &mut Violations,
    caller: &Principal,
    method: &'static str,
    request_id: &str,
    request: &M,
) -> Option<RequestKey> {
    violations
        .check(
            "request_id",
            RequestKey::of(caller, method, request_id, request),
        )
        .flatten()
}

/// Another team's object answers NOT_FOUND: its existence is none of the caller's business.
fn same_team(
    caller: &Principal,
    team: TeamId,
    resource: &'static str,
    id: impl ToString,
) -> Result<(), ApiError> {
    if caller.in_team(team.0) {
        Ok(())
    } else {
        Err(ApiError::not_found(resource, id))
    }
}

/// Parses applicant values; `field` is the message's path in the request.
fn applicant_values(
    v: &mut Violations,
    field: &str,
    applicant: Option<&pb::Applicant>,
    today: chrono::NaiveDate,
) -> Option<ApplicantValues> {
    let applicant = convert::required(v, field, applicant)?;
    let given_name = v.check(
        &format!("{field}.given_name"),
        convert::required_text(&applicant.given_name, 200),
    );
    let family_name = v.check(
        &format!("{field}.family_name"),
        convert::required_text(&applicant.family_name, 200),
    );
    let birth_date = v.check(
        &format!("{field}.birth_date"),
        convert::birth_date(applicant.birth_date.as_ref(), today),
    );
    let household = household(
        v,
        &format!("{field}.household"),
        applicant.household.as_ref(),
    );
    let interpreter_language = v.check(
        &format!("{field}.interpreter_language"),
        convert::language_tag(&applicant.interpreter_language),
    );
    let (single_parent, children_ages) = household?;
    Some(ApplicantValues {
        given_name: given_name?,
        family_name: family_name?,
        birth_date: birth_date?,
        single_parent,
        children_ages,
        interpreter_language: interpreter_language?,
    })
}

fn household(
    v: &mut Violations,
    field: &str,
    household: Option<&pb::Household>,
) -> Option<(bool, Vec<i32>)> {
    let Some(h) = household else {
        return Some((false, Vec::new()));
    };
    let mut ok = true;
    if h.children_ages.len() > 20 {
        v.add(
            format!("{field}.children_ages"),
            "must list at most 20 children",
        );
        ok = false;
    }
    for (i, age) in h.children_ages.iter().enumerate() {
        if *age > 25 {
            v.add(
                format!("{field}.children_ages[{i}]"),
                "must be an age from 0 to 25",
            );
            ok = false;
        }
    }
    ok.then(|| {
        (
            h.single_parent,
            h.children_ages.iter().map(|a| *a as i32).collect(),
        )
    })
}

impl Intake {
    async fn create_applicant(
        &self,
        caller: &Principal,
        request: pb::CreateApplicantRequest,
    ) -> Result<pb::CreateApplicantResponse, ApiError> {
        let now = self.clock.now();
        let mut v = Violations::new();
        let key = request_key(
            &mut v,
            caller,
            "CreateApplicant",
            &request.request_id,
            &request,
        );
        let values = applicant_values(
            &mut v,
            "applicant",
            request.applicant.as_ref(),
            domain::office_day(now),
        );
        let values = v.finish(values)?;
        let family_key = domain::name_key(&values.family_name);
        let given_key = domain::name_key(&values.given_name);

        let mut change = match self.changes.begin(&self.pool, key).await? {
            Began::Replayed(answer) => return Ok(answer),
            Began::New(change) => change,
        };
        // Serialize creates of the same identity, so two desks registering one person at the
        // same moment still see each other.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!(
                "intake.applicant:{family_key}:{}",
                values.birth_date
            ))
            .execute(change.conn())
            .await?;
        if !request.allow_duplicate {
            let candidates =
                store::likely_duplicates(change.conn(), &family_key, &given_key, values.birth_date)
                    .await?;
            if !candidates.is_empty() {
                let ids = candidates
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(",");
                return Err(ApiError::FailedPrecondition {
                    reason: "LIKELY_DUPLICATE",
                    message: format!(
                        "{} existing applicant(s) have this name and date of birth; use one of them or set allow_duplicate",
                        candidates.len()
                    ),
                    metadata: HashMap::from([("candidate_ids".to_owned(), ids)]),
                });
            }
        }
        let id = ApplicantId::generate();
        let row = store::insert_applicant(change.conn(), id, &values, &family_key, &given_key, now)
            .await?;
        change
            .event(
                id.0,
                now,
                &pb::ApplicantRegistered {
                    applicant_id: id.to_string(),
                    occur_time: Some(timestamp(now)),
                },
            )
            .await?;
        change
            .audit(caller, "CreateApplicant", "applicant", &[id.0])
            .await?;
        let answer = pb::CreateApplicantResponse {
            applicant: Some(row.into()),
        };
        change.commit(answer).await
    }

    async fn get_applicant(
        &self,
        caller: &Principal,
        request: pb::GetApplicantRequest,
    ) -> Result<pb::GetApplicantResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("id", convert::id(&request.id)).map(ApplicantId);
        let id = v.finish(id)?;
        let mut conn = self.pool.acquire().await?;
        let row = store::get_applicant(&mut conn, id)
            .await?
            .ok_or_else(|| ApiError::not_found("applicant", id))?;
        self.changes
            .audit_log()
            .record(&mut *conn, caller, "GetApplicant", "applicant", &[id.0])
            .await?;
        Ok(pb::GetApplicantResponse {
            applicant: Some(row.into()),
        })
    }

    async fn search_applicants(
        &self,
        caller: &Principal,
        request: pb::SearchApplicantsRequest,
    ) -> Result<pb::SearchApplicantsResponse, ApiError> {
        let mut v = Violations::new();
        let family = v.check(
            "family_name",
            convert::optional_text(&request.family_name, 200),
        );
        let given = v.check(
            "given_name",
            convert::optional_text(&request.given_name, 200),
        );
        let birth_date = match request.birth_date.as_ref() {
            None => Some(None),
            Some(d) => v.check("birth_date", convert::date(Some(d))).map(Some),
        };
        let limit = v.check("page_size", convert::page_size(request.page_size));
        let after = v.check(
            "page_token",
            convert::optional_id(&request.page_token)
                .map_err(|_| "is not a page token of this search".to_owned()),
        );
        if family.as_deref() == Some("")
            && given.as_deref() == Some("")
            && matches!(birth_date, Some(None))
        {
            v.add(
                "family_name",
                "give a family name, a given name or a date of birth to search by",
            );
        }
        let (family, given, birth_date, limit, after) =
            v.finish((|| Some((family?, given?, birth_date?, limit?, after?)))())?;
        let search = store::ApplicantSearch {
            family_prefix: domain::name_key(&family),
            given_prefix: domain::name_key(&given),
            birth_date,
            after: after.map(ApplicantId),
            limit: limit + 1,
        };
        let mut conn = self.pool.acquire().await?;
        let mut rows = store::search_applicants(&mut conn, &search).await?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        let ids: Vec<_> = rows.iter().map(|r| r.id.0).collect();
        self.changes
            .audit_log()
            .record(&mut *conn, caller, "SearchApplicants", "applicant", &ids)
            .await?;
        Ok(pb::SearchApplicantsResponse {
            applicants: rows.into_iter().map(Into::into).collect(),
            next_page_token,
        })
    }

    async fn update_applicant(
        &self,
        caller: &Principal,
        request: pb::UpdateApplicantRequest,
    ) -> Result<pb::UpdateApplicantResponse, ApiError> {
        const FIELDS: &[&str] = &[
            "given_name",
            "family_name",
            "birth_date",
            "household",
            "interpreter_language",
        ];
        let now = self.clock.now();
        let mut v = Violations::new();
        let paths = convert::update_mask(&mut v, request.update_mask.as_ref(), FIELDS);
        let applicant = convert::required(&mut v, "applicant", request.applicant.as_ref());
        let id = applicant.and_then(|a| v.check("applicant.id", convert::id(&a.id)));
        let version = applicant.and_then(|a| v.check("applicant.etag", convert::etag(&a.etag)));
        let masked = |name: &str| paths.iter().any(|p| p == name);
        let mut patch = PatchedApplicant::default();
        if let Some(a) = applicant {
            if masked("given_name") {
                patch.given_name = v.check(
                    "applicant.given_name",
                    convert::required_text(&a.given_name, 200),
                );
            }
            if masked("family_name") {
                patch.family_name = v.check(
                    "applicant.family_name",
                    convert::required_text(&a.family_name, 200),
                );
            }
            if masked("birth_date") {
                patch.birth_date = v.check(
                    "applicant.birth_date",
                    convert::birth_date(a.birth_date.as_ref(), domain::office_day(now)),
                );
            }
            if masked("household") {
                patch.household = household(&mut v, "applicant.household", a.household.as_ref());
            }
            if masked("interpreter_language") {
                patch.interpreter_language = v.check(
                    "applicant.interpreter_language",
                    convert::language_tag(&a.interpreter_language),
                );
            }
        }
        let (id, version) = v.finish(id.zip(version))?;
        let id = ApplicantId(id);

        let mut change = self.changes.begin_update(&self.pool).await?;
        let current = store::get_applicant(change.conn(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("applicant", id))?;
        if current.version != version {
            return Err(ApiError::StaleEtag {
                resource: "applicant",
                id: id.to_string(),
            });
        }
        let values = patch.apply(&current);
        let row = store::update_applicant(
            change.conn(),
            id,
            version,
            &values,
            &domain::name_key(&values.family_name),
            &domain::name_key(&values.given_name),
            now,
        )
        .await?
        .ok_or_else(|| ApiError::StaleEtag {
            resource: "applicant",
            id: id.to_string(),
        })?;
        change
            .event(
                id.0,
                now,
                &pb::ApplicantUpdated {
                    applicant_id: id.to_string(),
                    changed_fields: paths,
                    occur_time: Some(timestamp(now)),
                },
            )
            .await?;
        change
            .audit(caller, "UpdateApplicant", "applicant", &[id.0])
            .await?;
        change
            .commit(pb::UpdateApplicantResponse {
                applicant: Some(row.into()),
            })
            .await
    }

    async fn register_visit(
        &self,
        caller: &Principal,
        request: pb::RegisterVisitRequest,
    ) -> Result<pb::RegisterVisitResponse, ApiError> {
        let team = TeamId(caller.team()?);
        let mut v = Violations::new();
        let key = request_key(
            &mut v,
            caller,
            "RegisterVisit",
            &request.request_id,
            &request,
        );
        let applicant = v
            .check("applicant_id", convert::id(&request.applicant_id))
            .map(ApplicantId);
        let concern = v.check("concern", convert::optional_text(&request.concern, 500));
        let (applicant, concern) = v.finish(applicant.zip(concern))?;

        let mut change = match self.changes.begin(&self.pool, key).await? {
            Began::Replayed(answer) => return Ok(answer),
            Began::New(change) => change,
        };
        if !store::applicant_exists(change.conn(), applicant).await? {
            return Err(ApiError::not_found("applicant", applicant));
        }
        if !store::team_exists(change.conn(), team).await? {
            return Err(ApiError::precondition(
                "UNKNOWN_TEAM",
                "the caller's team is not in the roster",
            ));
        }
        let id = VisitId::generate();
        let now = self.clock.now();
        let visit = store::NewVisit {
            id,
            applicant,
            team,
            arrived_at: now,
            arrival_day: domain::office_day(now),
            concern: &concern,
            registered_by: &caller.subject,
        };
        store::insert_visit(change.conn(), &visit).await?;
        let row = store::VisitRow {
            id,
            applicant_id: applicant,
            team_id: team,
            arrived_at: now,
            concern,
            state: VisitState::Waiting,
            consultation_id: None,
        };
        change
            .event(
                id.0,
                now,
                &pb::VisitRegistered {
                    visit_id: id.to_string(),
                    applicant_id: applicant.to_string(),
                    team_id: team.to_string(),
                    arrive_time: Some(timestamp(now)),
                },
            )
            .await?;
        change
            .audit(caller, "RegisterVisit", "visit", &[id.0])
            .await?;
        let answer = pb::RegisterVisitResponse {
            visit: Some(convert::visit(row, None)),
        };
        change.commit(answer).await
    }

    async fn get_visit(
        &self,
        caller: &Principal,
        request: pb::GetVisitRequest,
    ) -> Result<pb::GetVisitResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("id", convert::id(&request.id)).map(VisitId);
        let id = v.finish(id)?;
        let mut conn = self.pool.acquire().await?;
        let row = store::get_visit(&mut conn, id)
            .await?
            .ok_or_else(|| ApiError::not_found("visit", id))?;
        same_team(caller, row.team_id, "visit", id)?;
        let mut checks = store::access_checks(&mut conn, &[id]).await?;
        self.changes
            .audit_log()
            .record(&mut *conn, caller, "GetVisit", "visit", &[id.0])
            .await?;
        Ok(pb::GetVisitResponse {
            visit: Some(convert::visit(row, checks.remove(&id))),
        })
    }

    async fn list_waiting_queue(
        &self,
        caller: &Principal,
        _request: pb::ListWaitingQueueRequest,
    ) -> Result<pb::ListWaitingQueueResponse, ApiError> {
        let team = TeamId(caller.team()?);
        let now = self.clock.now();
        let mut conn = self.pool.acquire().await?;
        let rows = store::waiting_queue(&mut conn, team, domain::office_day(now)).await?;
        let visit_ids: Vec<_> = rows.iter().map(|r| r.visit.id).collect();
        let mut checks = store::access_checks(&mut conn, &visit_ids).await?;
        let applicants: Vec<_> = rows.iter().map(|r| r.visit.applicant_id.0).collect();
        self.changes
            .audit_log()
            .record(
                &mut *conn,
                caller,
                "ListWaitingQueue",
                "applicant",
                &applicants,
            )
            .await?;
        let entries = rows
            .into_iter()
            .map(|r| pb::QueueEntry {
                waiting_minutes: i32::try_from((now - r.visit.arrived_at).num_minutes().max(0))
                    .unwrap_or(i32::MAX),
                given_name: r.given_name,
                family_name: r.family_name,
                visit: Some({
                    let check = checks.remove(&r.visit.id);
                    convert::visit(r.visit, check)
                }),
            })
            .collect();
        Ok(pb::ListWaitingQueueResponse { entries })
    }

    async fn list_visits(
        &self,
        caller: &Principal,
        request: pb::ListVisitsRequest,
    ) -> Result<pb::ListVisitsResponse, ApiError> {
        let team = TeamId(caller.team()?);
        let mut v = Violations::new();
        let applicant = v
            .check("applicant_id", convert::id(&request.applicant_id))
            .map(ApplicantId);
        let limit = v.check("page_size", convert::page_size(request.page_size));
        let before = v.check(
            "page_token",
            convert::optional_id(&request.page_token)
                .map_err(|_| "is not a page token of this list".to_owned()),
        );
        let (applicant, (limit, before)) = v.finish(applicant.zip(limit.zip(before)))?;
        let mut conn = self.pool.acquire().await?;
        let mut rows =
            store::visits_of_applicant(&mut conn, applicant, team, before.map(VisitId), limit + 1)
                .await?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        let ids: Vec<_> = rows.iter().map(|r| r.id).collect();
        let mut checks = store::access_checks(&mut conn, &ids).await?;
        let raw: Vec<_> = ids.iter().map(|i| i.0).collect();
        self.changes
            .audit_log()
            .record(&mut *conn, caller, "ListVisits", "visit", &raw)
            .await?;
        Ok(pb::ListVisitsResponse {
            visits: rows
                .into_iter()
                .map(|r| {
                    let c = checks.remove(&r.id);
                    convert::visit(r, c)
                })
                .collect(),
            next_page_token,
        })
    }

    async fn record_access_check(
        &self,
        caller: &Principal,
        request: pb::RecordAccessCheckRequest,
    ) -> Result<pb::RecordAccessCheckResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(
            &mut v,
            caller,
            "RecordAccessCheck",
            &request.request_id,
            &request,
        );
        let visit_id = v
            .check("visit_id", convert::id(&request.visit_id))
            .map(VisitId);
        let check = convert::required(&mut v, "access_check", request.access_check.as_ref())
            .and_then(|c| access_check(&mut v, c));
        let (visit_id, (decision, emergency_need, emergency_note, claims)) =
            v.finish(visit_id.zip(check))?;

        let mut change = match self.changes.begin(&self.pool, key).await? {
            Began::Replayed(answer) => return Ok(answer),
            Began::New(change) => change,
        };
        let visit = store::lock_visit(change.conn(), visit_id)
            .await?
            .ok_or_else(|| ApiError::not_found("visit", visit_id))?;
        same_team(caller, visit.team_id, "visit", visit_id)?;
        let next = visit.state.after_access_check(decision.0)?;
        let now = self.clock.now();
        let row = AccessCheckRow {
            visit_id,
            emergency_need,
            emergency_note,
            decision: decision.1.as_str_name().to_owned(),
            checked_by: caller.subject.clone(),
            checked_at: now,
        };
        let claims: Vec<ClaimRow> = claims
            .into_iter()
            .map(|(claim, outcome, note)| ClaimRow {
                visit_id,
                claim: claim.as_str_name().to_owned(),
                outcome: outcome.as_str_name().to_owned(),
                note,
            })
            .collect();
        store::insert_access_check(change.conn(), &row, &claims).await?;
        store::set_visit_state(change.conn(), visit_id, next).await?;
        change
            .event(
                visit_id.0,
                now,
                &pb::AccessCheckRecorded {
                    visit_id: visit_id.to_string(),
                    team_id: visit.team_id.to_string(),
                    decision: decision.1.into(),
                    emergency_need,
                    occur_time: Some(timestamp(now)),
                },
            )
            .await?;
        change
            .audit(caller, "RecordAccessCheck", "visit", &[visit_id.0])
            .await?;
        let visit = store::VisitRow {
            state: next,
            ..visit
        };
        let answer = pb::RecordAccessCheckResponse {
            visit: Some(convert::visit(visit, Some((row, claims)))),
        };
        change.commit(answer).await
    }

    async fn start_consultation(
        &self,
        caller: &Principal,
        request: pb::StartConsultationRequest,
    ) -> Result<pb::StartConsultationResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(
            &mut v,
            caller,
            "StartConsultation",
            &request.request_id,
            &request,
        );
        let visit_id = v
            .check("visit_id", convert::id(&request.visit_id))
            .map(VisitId);
        let visit_id = v.finish(visit_id)?;

        let mut change = match self.changes.begin(&self.pool, key).await? {
            Began::Replayed(answer) => return Ok(answer),
            Began::New(change) => change,
        };
        let visit = store::lock_visit(change.conn(), visit_id)
            .await?
            .ok_or_else(|| ApiError::not_found("visit", visit_id))?;
        same_team(caller, visit.team_id, "visit", visit_id)?;
        let advisor = store::advisor_by_subject(change.conn(), &caller.subject)
            .await?
            .filter(|a| a.active && a.team_id == visit.team_id)
            .ok_or_else(|| {
                ApiError::precondition(
                    "NOT_IN_ROSTER",
                    "the caller is not an active advisor of the visit's team",
                )
            })?;
        let next = visit.state.start_consultation()?;
        let now = self.clock.now();
        let id = ConsultationId::generate();
        let same_day = domain::is_same_day(visit.arrived_at, now);
        let row = store::insert_consultation(
            change.conn(),
            id,
            &visit,
            advisor.id,
            now,
            domain::office_day(now),
            same_day,
        )
        .await?;
        store::set_visit_state(change.conn(), visit_id, next).await?;
        metrics::counter!("intake_consultations_started_total", "same_day" => same_day.to_string())
            .increment(1);
        change
            .event(
                id.0,
                now,
                &pb::ConsultationStarted {
                    consultation_id: id.to_string(),
                    visit_id: visit_id.to_string(),
                    team_id: visit.team_id.to_string(),
                    advisor_id: advisor.id.to_string(),
                    start_time: Some(timestamp(now)),
                },
            )
            .await?;
        change
            .audit(caller, "StartConsultation", "consultation", &[id.0])
            .await?;
        let answer = pb::StartConsultationResponse {
            consultation: Some(row.into()),
        };
        change.commit(answer).await
    }

    async fn complete_consultation(
        &self,
        caller: &Principal,
        request: pb::CompleteConsultationRequest,
    ) -> Result<pb::CompleteConsultationResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(
            &mut v,
            caller,
            "CompleteConsultation",
            &request.request_id,
            &request,
        );
        let id = v
            .check("consultation_id", convert::id(&request.consultation_id))
            .map(ConsultationId);
        let content = convert::required(&mut v, "outcome", request.outcome.as_ref())
            .and_then(|o| consultation_content(&mut v, o));
        let (id, (content, outcome)) = v.finish(id.zip(content))?;

        let mut change = match self.changes.begin(&self.pool, key).await? {
            Began::Replayed(answer) => return Ok(answer),
            Began::New(change) => change,
        };
        let consultation = store::get_consultation(change.conn(), id, true)
            .await?
            .ok_or_else(|| ApiError::not_found("consultation", id))?;
        same_team(caller, consultation.team_id, "consultation", id)?;
        let advisor = store::advisor_by_subject(change.conn(), &caller.subject).await?;
        if advisor.map(|a| a.id) != Some(consultation.advisor_id) {
            return Err(ApiError::PermissionDenied(
                "only the consulting advisor completes a consultation".into(),
            ));
        }
        if consultation.state == "COMPLETED" {
            return Err(StateError::ConsultationComplete.into());
        }
        let now = self.clock.now();
        let row = store::complete_consultation(change.conn(), id, &content, now).await?;
        store::set_visit_state(change.conn(), consultation.visit_id, VisitState::Consulted).await?;
        change
            .event(
                id.0,
                now,
                &pb::ConsultationCompleted {
                    consultation_id: id.to_string(),
                    team_id: consultation.team_id.to_string(),
                    capacity_to_work: outcome.capacity_to_work,
                    activation_track: outcome.activation_track,
                    barriers: outcome.barriers.clone(),
                    complete_time: Some(timestamp(now)),
                },
            )
            .await?;
        change
            .audit(caller, "CompleteConsultation", "consultation", &[id.0])
            .await?;
        let answer = pb::CompleteConsultationResponse {
            consultation: Some(row.into()),
        };
        change.commit(answer).await
    }

    async fn get_consultation(
        &self,
        caller: &Principal,
        request: pb::GetConsultationRequest,
    ) -> Result<pb::GetConsultationResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("id", convert::id(&request.id)).map(ConsultationId);
        let id = v.finish(id)?;
        let mut conn = self.pool.acquire().await?;
        let row = store::get_consultation(&mut conn, id, false)
            .await?
            .ok_or_else(|| ApiError::not_found("consultation", id))?;
        same_team(caller, row.team_id, "consultation", id)?;
        self.changes
            .audit_log()
            .record(
                &mut *conn,
                caller,
                "GetConsultation",
                "consultation",
                &[id.0],
            )
            .await?;
        Ok(pb::GetConsultationResponse {
            consultation: Some(row.into()),
        })
    }

    async fn create_team(
        &self,
        caller: &Principal,
        request: pb::CreateTeamRequest,
    ) -> Result<pb::CreateTeamResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, "CreateTeam", &request.request_id, &request);
        let name = convert::required(&mut v, "team", request.team.as_ref()).and_then(|t| {
            v.check(
                "team.display_name",
                convert::required_text(&t.display_name, 200),
            )
        });
        let name = v.finish(name)?;
        let mut change = match self.changes.begin(&self.pool, key).await? {
            Began::Replayed(answer) => return Ok(answer),
            Began::New(change) => change,
        };
        let now = self.clock.now();
        let id = TeamId::generate();
        let row = store::insert_team(change.conn(), id, &name, now)
            .await?
            .ok_or_else(|| {
                ApiError::precondition("TEAM_NAME_TAKEN", format!("a team named {name:?} exists"))
            })?;
        let team: pb::Team = row.into();
        change
            .event(
                id.0,
                now,
                &pb::TeamCreated {
                    team: Some(team.clone()),
                },
            )
            .await?;
        let answer = pb::CreateTeamResponse { team: Some(team) };
        change.commit(answer).await
    }

    async fn list_teams(
        &self,
        _caller: &Principal,
        _request: pb::ListTeamsRequest,
    ) -> Result<pb::ListTeamsResponse, ApiError> {
        let mut conn = self.pool.acquire().await?;
        let rows = store::list_teams(&mut conn).await?;
        Ok(pb::ListTeamsResponse {
            teams: rows.into_iter().map(Into::into).collect(),
        })
    }

    /// Admins manage every team's roster, team leads their own; another team answers NOT_FOUND.
    fn may_manage_roster(caller: &Principal, team: TeamId) -> Result<(), ApiError> {
        if caller.has(Role::Admin) {
            return Ok(());
        }
        same_team(caller, team, "team", team)
    }

    async fn create_advisor(
        &self,
        caller: &Principal,
        request: pb::CreateAdvisorRequest,
    ) -> Result<pb::CreateAdvisorResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(
            &mut v,
            caller,
            "CreateAdvisor",
            &request.request_id,
            &request,
        );
        let parsed = convert::required(&mut v, "advisor", request.advisor.as_ref()).and_then(|a| {
            let team = v
                .check("advisor.team_id", convert::id(&a.team_id))
                .map(TeamId);
            let subject = v.check("advisor.subject", convert::required_text(&a.subject, 200));
            let values = advisor_values(&mut v, a, &["display_name", "function", "capacity"]);
            Some((team?, subject?, values?))
        });
        let (team, subject, mut values) = v.finish(parsed)?;
        values.active = true;
        Self::may_manage_roster(caller, team)?;

        let mut change = match self.changes.begin(&self.pool, key).await? {
            Began::Replayed(answer) => return Ok(answer),
            Began::New(change) => change,
        };
        if !store::team_exists(change.conn(), team).await? {
            return Err(ApiError::not_found("team", team));
        }
        let now = self.clock.now();
        let id = store::insert_advisor(
            change.conn(),
            AdvisorId::generate(),
            team,
            &subject,
            &values,
            now,
        )
        .await?
        .ok_or_else(|| {
            ApiError::precondition(
                "SUBJECT_IN_ROSTER",
                "this subject is already an advisor in the roster",
            )
        })?;
        let advisor: pb::Advisor = store::get_advisor(change.conn(), id)
            .await?
            .ok_or_else(|| ApiError::Internal("advisor vanished in its own transaction".into()))?
            .into();
        change
            .event(
                id.0,
                now,
                &pb::AdvisorChanged {
                    advisor: Some(advisor.clone()),
                },
            )
            .await?;
        let answer = pb::CreateAdvisorResponse {
            advisor: Some(advisor),
        };
        change.commit(answer).await
    }

    async fn update_advisor(
        &self,
        caller: &Principal,
        request: pb::UpdateAdvisorRequest,
    ) -> Result<pb::UpdateAdvisorResponse, ApiError> {
        const FIELDS: &[&str] = &["display_name", "function", "capacity", "active"];
        let mut v = Violations::new();
        let paths = convert::update_mask(&mut v, request.update_mask.as_ref(), FIELDS);
        let masked: Vec<&str> = paths.iter().map(String::as_str).collect();
        let parsed = convert::required(&mut v, "advisor", request.advisor.as_ref()).and_then(|a| {
            let id = v.check("advisor.id", convert::id(&a.id)).map(AdvisorId);
            let version = v.check("advisor.etag", convert::etag(&a.etag));
            let values = advisor_values(&mut v, a, &masked);
            Some((id?, version?, values?, a.active))
        });
        let (id, version, patch, active) = v.finish(parsed)?;

        let mut change = self.changes.begin_update(&self.pool).await?;
        let current = store::get_advisor(change.conn(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("advisor", id))?;
        Self::may_manage_roster(caller, current.team_id)
            .map_err(|_| ApiError::not_found("advisor", id))?;
        if current.version != version {
            return Err(ApiError::StaleEtag {
                resource: "advisor",
                id: id.to_string(),
            });
        }
        let has = |f: &str| masked.contains(&f);
        let values = AdvisorValues {
            display_name: if has("display_name") {
                patch.display_name
            } else {
                current.display_name.clone()
            },
            function: if has("function") {
                patch.function
            } else {
                current.function.clone()
            },
            capacity: if has("capacity") {
                patch.capacity
            } else {
                current.capacity
            },
            active: if has("active") {
                active
            } else {
                current.active
            },
        };
        let now = self.clock.now();
        if !store::update_advisor(change.conn(), id, version, &values, now).await? {
            return Err(ApiError::StaleEtag {
                resource: "advisor",
                id: id.to_string(),
            });
        }
        let advisor: pb::Advisor = store::get_advisor(change.conn(), id)
            .await?
            .ok_or_else(|| ApiError::Internal("advisor vanished in its own transaction".into()))?
            .into();
        change
            .event(
                id.0,
                now,
                &pb::AdvisorChanged {
                    advisor: Some(advisor.clone()),
                },
            )
            .await?;
        change
            .commit(pb::UpdateAdvisorResponse {
                advisor: Some(advisor),
            })
            .await
    }

    async fn list_advisors(
        &self,
        caller: &Principal,
        request: pb::ListAdvisorsRequest,
    ) -> Result<pb::ListAdvisorsResponse, ApiError> {
        let mut v = Violations::new();
        let team = v
            .check("team_id", convert::id(&request.team_id))
            .map(TeamId);
        let team = v.finish(team)?;
        Self::may_manage_roster(caller, team)?;
        let mut conn = self.pool.acquire().await?;
        let rows = store::advisors_of_team(&mut conn, team).await?;
        Ok(pb::ListAdvisorsResponse {
            advisors: rows.into_iter().map(Into::into).collect(),
        })
    }

    async fn open_case(
        &self,
        caller: &Principal,
        request: pb::OpenCaseRequest,
    ) -> Result<pb::OpenCaseResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, "OpenCase", &request.request_id, &request);
        let id = v
            .check("consultation_id", convert::id(&request.consultation_id))
            .map(ConsultationId);
        let assignment = v.check(
            "assignment",
            pb::AdvisorAssignment::try_from(request.assignment)
                .map_err(|_| "must be one of the enum's values".to_owned()),
        );
        let (id, assignment) = v.finish(id.zip(assignment))?;

        let mut change = match self.changes.begin(&self.pool, key).await? {
            Began::Replayed(answer) => return Ok(answer),
            Began::New(change) => change,
        };
        let consultation = store::get_consultation(change.conn(), id, true)
            .await?
            .ok_or_else(|| ApiError::not_found("consultation", id))?;
        same_team(caller, consultation.team_id, "consultation", id)?;
        if consultation.state != "COMPLETED" {
            return Err(StateError::ConsultationIncomplete.into());
        }
        if store::case_of_consultation(change.conn(), id)
            .await?
            .is_some()
        {
            return Err(StateError::CaseAlreadyOpen.into());
        }
        let responsible = match assignment {
            pb::AdvisorAssignment::LowestCaseload => {
                let loads = store::lock_team_loads(change.conn(), consultation.team_id).await?;
                domain::lowest_caseload(&loads).ok_or_else(|| ApiError::ResourceExhausted {
                    reason: "NO_ADVISOR_CAPACITY",
                    message: "no active advisor of the team has room for another case".into(),
                })?
            }
            pb::AdvisorAssignment::Unspecified | pb::AdvisorAssignment::ConsultingAdvisor => {
                consultation.advisor_id
            }
        };
        let visit = store::get_visit(change.conn(), consultation.visit_id)
            .await?
            .ok_or_else(|| ApiError::Internal("consultation without visit".into()))?;
        let now = self.clock.now();
        let opening = store::CaseOpeningRow {
            case_id: CaseId::generate(),
            consultation_id: id,
            applicant_id: consultation.applicant_id,
            team_id: consultation.team_id,
            responsible_advisor_id: responsible,
            opened_at: now,
            same_day: consultation.same_day,
        };
        store::insert_case_opening(change.conn(), &opening).await?;
        let case_opening = pb::CaseOpening {
            case_id: opening.case_id.to_string(),
            applicant_id: opening.applicant_id.to_string(),
            consultation_id: id.to_string(),
            team_id: opening.team_id.to_string(),
            responsible_advisor_id: responsible.to_string(),
            open_time: Some(timestamp(now)),
            arrive_time: Some(timestamp(visit.arrived_at)),
            consultation_start_time: Some(timestamp(consultation.started_at)),
            same_day: consultation.same_day,
        };
        let outcome: pb::Consultation = consultation.into();
        let outcome = outcome.outcome.unwrap_or_default();
        change
            .event(
                opening.case_id.0,
                now,
                &pb::CaseOpened {
                    case_opening: Some(case_opening.clone()),
                    activation_track: outcome.activation_track,
                    capacity_to_work: outcome.capacity_to_work,
                    barriers: outcome.barriers,
                },
            )
            .await?;
        change
            .audit(caller, "OpenCase", "case", &[opening.case_id.0])
            .await?;
        let answer = pb::OpenCaseResponse {
            case_opening: Some(case_opening),
        };
        let answer = change.commit(answer).await?;
        metrics::counter!("intake_cases_opened_total", "same_day" => opening.same_day.to_string())
            .increment(1);
        Ok(answer)
    }

    async fn get_team_figures(
        &self,
        caller: &Principal,
        request: pb::GetTeamFiguresRequest,
    ) -> Result<pb::GetTeamFiguresResponse, ApiError> {
        let mut v = Violations::new();
        let team = v
            .check("team_id", convert::id(&request.team_id))
            .map(TeamId);
        let start = v.check("start_date", convert::date(request.start_date.as_ref()));
        let end = v.check("end_date", convert::date(request.end_date.as_ref()));
        if let (Some(s), Some(e)) = (start, end) {
            if e < s {
                v.add("end_date", "must not be before start_date");
            } else if e - s > Duration::days(366) {
                v.add("end_date", "must be at most 366 days after start_date");
            }
        }
        let (team, (start, end)) = v.finish(team.zip(start.zip(end)))?;
        same_team(caller, team, "team", team)?;
        let mut conn = self.pool.acquire().await?;
        let figures = store::team_figures(&mut conn, team, start, end).await?;
        let advisors = store::advisors_of_team(&mut conn, team).await?;
        let rate = if figures.consultations > 0 {
            figures.same_day as f64 / figures.consultations as f64
        } else {
            0.0
        };
        Ok(pb::GetTeamFiguresResponse {
            visits: figures.visits as i32,
            consultations: figures.consultations as i32,
            same_day_consultations: figures.same_day as i32,
            same_day_rate: rate,
            median_wait_minutes: figures.median_wait_minutes.unwrap_or(0.0),
            p90_wait_minutes: figures.p90_wait_minutes.unwrap_or(0.0),
            caseloads: advisors
                .into_iter()
                .map(|a| pb::AdvisorCaseload {
                    advisor_id: a.id.to_string(),
                    display_name: a.display_name,
                    open_cases: a.open_cases as i32,
                    capacity: a.capacity,
                })
                .collect(),
        })
    }
}

/// The fields of an applicant an update may replace; `None` keeps the current value.
#[derive(Default)]
struct PatchedApplicant {
    given_name: Option<String>,
    family_name: Option<String>,
    birth_date: Option<chrono::NaiveDate>,
    household: Option<(bool, Vec<i32>)>,
    interpreter_language: Option<String>,
}

impl PatchedApplicant {
    fn apply(self, current: &store::ApplicantRow) -> ApplicantValues {
        let (single_parent, children_ages) = self
            .household
            .unwrap_or_else(|| (current.single_parent, current.children_ages.clone()));
        ApplicantValues {
            given_name: self
                .given_name
                .unwrap_or_else(|| current.given_name.clone()),
            family_name: self
                .family_name
                .unwrap_or_else(|| current.family_name.clone()),
            birth_date: self.birth_date.unwrap_or(current.birth_date),
            single_parent,
            children_ages,
            interpreter_language: self
                .interpreter_language
                .unwrap_or_else(|| current.interpreter_language.clone()),
        }
    }
}

/// Parses the named advisor fields; unnamed ones get placeholders the caller replaces.
fn advisor_values(v: &mut Violations, a: &pb::Advisor, fields: &[&str]) -> Option<AdvisorValues> {
    let has = |f: &str| fields.contains(&f);
    let display_name = if has("display_name") {
        v.check(
            "advisor.display_name",
            convert::required_text(&a.display_name, 200),
        )
    } else {
        Some(String::new())
    };
    let function = if has("function") {
        v.check(
            "advisor.function",
            convert::enum_value::<pb::AdvisorFunction>(a.function),
        )
        .map(|f| f.as_str_name().to_owned())
    } else {
        Some(String::new())
    };
    let capacity = if has("capacity") {
        v.check(
            "advisor.capacity",
            if (1..=500).contains(&a.capacity) {
                Ok(a.capacity)
            } else {
                Err("must be from 1 to 500".to_owned())
            },
        )
    } else {
        Some(0)
    };
    Some(AdvisorValues {
        display_name: display_name?,
        function: function?,
        capacity: capacity?,
        active: a.active,
    })
}

type ParsedAccessCheck = (
    (AccessDecision, pb::AccessDecision),
    bool,
    String,
    Vec<(pb::PriorityClaim, pb::ClaimOutcome, String)>,
);

fn access_check(v: &mut Violations, check: &pb::AccessCheck) -> Option<ParsedAccessCheck> {
    let mut claims = Vec::new();
    let mut ok = true;
    for (i, c) in check.claims.iter().enumerate() {
        let claim = v.check(
            &format!("access_check.claims[{i}].claim"),
            convert::enum_value::<pb::PriorityClaim>(c.claim),
        );
        let outcome = v.check(
            &format!("access_check.claims[{i}].outcome"),
            convert::enum_value::<pb::ClaimOutcome>(c.outcome),
        );
        let note = v.check(
            &format!("access_check.claims[{i}].note"),
            convert::optional_text(&c.note, 500),
        );
        match (claim, outcome, note) {
            (Some(claim), Some(outcome), Some(note)) => {
                if claims.iter().any(|(c, _, _)| *c == claim) {
                    v.add(
                        format!("access_check.claims[{i}].claim"),
                        "is checked twice",
                    );
                    ok = false;
                }
                claims.push((claim, outcome, note));
            }
            _ => ok = false,
        }
    }
    let note = v.check(
        "access_check.emergency_note",
        convert::optional_text(&check.emergency_note, 1000),
    );
    if check.emergency_need && note.as_deref() == Some("") {
        v.add(
            "access_check.emergency_note",
            "is required when emergency_need is set",
        );
        ok = false;
    }
    let decision = v.check(
        "access_check.decision",
        convert::enum_value::<pb::AccessDecision>(check.decision),
    );
    let decision = decision.map(|d| {
        let domain = match d {
            pb::AccessDecision::PriorityProvider => AccessDecision::PriorityProvider,
            pb::AccessDecision::NoNeed => AccessDecision::NoNeed,
            _ => AccessDecision::Continue,
        };
        (domain, d)
    });
    if let Some((AccessDecision::PriorityProvider, _)) = decision {
        let has_claim = claims.iter().any(|(_, o, _)| {
            matches!(
                o,
                pb::ClaimOutcome::Received | pb::ClaimOutcome::ToBeApplied
            )
        });
        if !has_claim {
            v.add(
                "access_check.decision",
                "sending to a priority provider needs a claim found RECEIVED or TO_BE_APPLIED",
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    Some((decision?, check.emergency_need, note?, claims))
}

fn consultation_content(
    v: &mut Violations,
    o: &pb::ConsultationOutcome,
) -> Option<(ConsultationContent, pb::ConsultationOutcome)> {
    let first_steps = convert::text_list(v, "outcome.first_steps", &o.first_steps, 50, 500);
    if o.first_steps.is_empty() {
        v.add("outcome.first_steps", "must name at least one first step");
    }
    let self_help_options = convert::text_list(
        v,
        "outcome.self_help_options",
        &o.self_help_options,
        50,
        500,
    );
    let office_offers = convert::text_list(v, "outcome.office_offers", &o.office_offers, 50, 500);
    let capacity = v.check(
        "outcome.capacity_to_work",
        convert::enum_value::<pb::CapacityToWork>(o.capacity_to_work),
    );
    let track = v.check(
        "outcome.activation_track",
        convert::enum_value::<pb::ActivationTrack>(o.activation_track),
    );
    if capacity == Some(pb::CapacityToWork::None)
        && track == Some(pb::ActivationTrack::JobPlacement)
    {
        v.add(
            "outcome.activation_track",
            "job placement now needs a capacity to work of FULL or PARTIAL",
        );
    }
    let mut barriers: Vec<pb::Barrier> = Vec::new();
    for (i, b) in o.barriers.iter().enumerate() {
        if let Some(b) = v.check(
            &format!("outcome.barriers[{i}]"),
            convert::enum_value::<pb::Barrier>(*b),
        ) {
            if barriers.contains(&b) {
                v.add(format!("outcome.barriers[{i}]"), "is listed twice");
            }
            barriers.push(b);
        }
    }
    let notes = v.check("outcome.notes", convert::optional_text(&o.notes, 4000));
    if !v.is_empty() {
        return None;
    }
    let (capacity, track, notes) = (capacity?, track?, notes?);
    let content = ConsultationContent {
        first_steps: first_steps.clone(),
        self_help_options: self_help_options.clone(),
        office_offers: office_offers.clone(),
        capacity_to_work: capacity.as_str_name().to_owned(),
        activation_track: track.as_str_name().to_owned(),
        barriers: barriers
            .iter()
            .map(|b| b.as_str_name().to_owned())
            .collect(),
        notes: notes.clone(),
    };
    let cleaned = pb::ConsultationOutcome {
        first_steps,
        self_help_options,
        office_offers,
        capacity_to_work: capacity.into(),
        activation_track: track.into(),
        barriers: barriers.into_iter().map(Into::into).collect(),
        notes,
    };
    Some((content, cleaned))
}
