//! The roster: teams and their advisors. Advisors are staff identity (a name, a sign-in
//! subject), so every write and read of them is audited like personal data.

use fallwerk_platform::{
    ApiError, Violations,
    auth::{Caller, Role},
    idempotency::request_key,
    page::PageRequest,
    wire::{self, enum_value, timestamp},
};
use fallwerk_proto::intake as pb;

use super::Intake;
use crate::{
    domain::{AdvisorFunction, AdvisorId, TeamId},
    store::roster::{self, AdvisorRow, AdvisorValues, TeamRow},
};

impl Intake {
    /// CreateTeam: a new activation team with a unique name.
    pub(super) async fn create_team(
        &self,
        caller: &Caller,
        request: pb::CreateTeamRequest,
    ) -> Result<pb::CreateTeamResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let team = wire::required(&mut v, "team", request.team.as_ref());
        let name = team.and_then(|t| {
            v.check(
                "team.display_name",
                wire::required_text(&t.display_name, 200),
            )
        });
        let area = team.and_then(|t| service_area(&mut v, &t.postal_code_prefixes));
        let (name, area) = v.finish(name.zip(area))?;
        self.changes
            .create(key, async |change| {
                let now = self.clock.now();
                let id = TeamId::generate();
                let team: pb::Team = roster::insert_team(change.conn(), id, &name, &area, now)
                    .await?
                    .ok_or_else(|| name_taken(&name))?
                    .into();
                let event = pb::TeamCreated {
                    team_id: id.to_string(),
                    display_name: name.clone(),
                    create_time: Some(timestamp(now)),
                };
                change.event(id, now, &event).await?;
                Ok(pb::CreateTeamResponse { team: Some(team) })
            })
            .await
    }

    /// UpdateTeam: renames a team or changes its service area, if the etag is current.
    pub(super) async fn update_team(
        &self,
        caller: &Caller,
        request: pb::UpdateTeamRequest,
    ) -> Result<pb::UpdateTeamResponse, ApiError> {
        const FIELDS: &[&str] = &["display_name", "postal_code_prefixes"];
        let mut v = Violations::new();
        let paths = wire::update_mask(&mut v, request.update_mask.as_ref(), FIELDS);
        let named = |f: &str| paths.iter().any(|p| p == f);
        let parsed = wire::required(&mut v, "team", request.team.as_ref()).and_then(|t| {
            let id = v.check("team.id", wire::id(&t.id)).map(TeamId);
            let version = v.check("team.etag", wire::etag(&t.etag));
            let name = named("display_name").then(|| {
                v.check(
                    "team.display_name",
                    wire::required_text(&t.display_name, 200),
                )
            });
            let area = named("postal_code_prefixes")
                .then(|| service_area(&mut v, &t.postal_code_prefixes));
            Some((id?, version?, name, area))
        });
        let (id, version, name, area) = v.finish(parsed)?;
        // A bad named field is in the violations already, so `finish` refused it.
        let (name, area) = (name.flatten(), area.flatten());

        self.changes
            .update(async |change| {
                let current = roster::lock_team(change.conn(), id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("team", id))?;
                if current.version != version {
                    return Err(ApiError::stale("team", id));
                }
                let name = name.unwrap_or(current.display_name);
                let area = area.unwrap_or(current.postal_code_prefixes);
                let team: pb::Team = roster::update_team(change.conn(), id, &name, &area)
                    .await?
                    .ok_or_else(|| name_taken(&name))?
                    .into();
                let now = self.clock.now();
                let event = pb::TeamUpdated {
                    team_id: id.to_string(),
                    display_name: name,
                    changed_fields: paths,
                    occur_time: Some(timestamp(now)),
                };
                change.event(id, now, &event).await?;
                change.audit(caller, "team", &[id.0]).await?;
                Ok(pb::UpdateTeamResponse { team: Some(team) })
            })
            .await
    }

    /// GetTeam: one team (no personal data, so every staff role reads every team).
    pub(super) async fn get_team(
        &self,
        _caller: &Caller,
        request: pb::GetTeamRequest,
    ) -> Result<pb::GetTeamResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("id", wire::id(&request.id)).map(TeamId);
        let id = v.finish(id)?;
        let mut read = self.changes.read().await?;
        let team = roster::team(read.conn(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("team", id))?;
        Ok(pb::GetTeamResponse {
            team: Some(team.into()),
        })
    }

    /// ListTeams: every team by name, a page at a time (no personal data).
    pub(super) async fn list_teams(
        &self,
        caller: &Caller,
        request: pb::ListTeamsRequest,
    ) -> Result<pb::ListTeamsResponse, ApiError> {
        let mut v = Violations::new();
        let page = PageRequest::parse(
            &mut v,
            request.page_size,
            &request.page_token,
            &[caller.method],
        );
        let page = v.finish(page)?;
        let mut read = self.changes.read().await?;
        let rows = roster::teams(read.conn(), page.after, page.fetch_limit()).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.0);
        Ok(pb::ListTeamsResponse {
            teams: rows.into_iter().map(Into::into).collect(),
            next_page_token,
        })
    }

    /// CreateAdvisor: puts a staff member into a team's roster, active.
    pub(super) async fn create_advisor(
        &self,
        caller: &Caller,
        request: pb::CreateAdvisorRequest,
    ) -> Result<pb::CreateAdvisorResponse, ApiError> {
        let mut v = Violations::new();
        let key = request_key(&mut v, caller, &request.request_id, &request);
        let parsed = wire::required(&mut v, "advisor", request.advisor.as_ref()).and_then(|a| {
            let team = v.check("advisor.team_id", wire::id(&a.team_id)).map(TeamId);
            let subject = v.check("advisor.subject", wire::required_text(&a.subject, 200));
            let display_name = display_name(&mut v, a);
            let function = function(&mut v, a);
            let capacity = capacity(&mut v, a);
            let values = AdvisorValues {
                display_name: display_name?,
                function: function?,
                capacity: capacity?,
                active: true,
            };
            Some((team?, subject?, values))
        });
        let (team, subject, values) = v.finish(parsed)?;
        may_manage_roster(caller, team)?;

        self.changes
            .create(key, async |change| {
                if !roster::team_exists(change.conn(), team).await? {
                    return Err(ApiError::not_found("team", team));
                }
                let now = self.clock.now();
                let id = AdvisorId::generate();
                let advisor: pb::Advisor =
                    roster::insert_advisor(change.conn(), id, team, &subject, &values, now)
                        .await?
                        .ok_or_else(|| {
                            ApiError::precondition(
                                pb::ErrorReason::SubjectInRoster,
                                "this subject is already an advisor in the roster",
                            )
                        })?
                        .into();
                change.event(id, now, &advisor_changed(&advisor)).await?;
                change.audit(caller, "advisor", &[id.0]).await?;
                Ok(pb::CreateAdvisorResponse {
                    advisor: Some(advisor),
                })
            })
            .await
    }

    /// UpdateAdvisor: replaces the fields named in the mask, if the etag is current.
    pub(super) async fn update_advisor(
        &self,
        caller: &Caller,
        request: pb::UpdateAdvisorRequest,
    ) -> Result<pb::UpdateAdvisorResponse, ApiError> {
        const FIELDS: &[&str] = &["display_name", "function", "capacity", "active"];
        let mut v = Violations::new();
        let paths = wire::update_mask(&mut v, request.update_mask.as_ref(), FIELDS);
        let named = |f: &str| paths.iter().any(|p| p == f);
        let parsed = wire::required(&mut v, "advisor", request.advisor.as_ref()).and_then(|a| {
            let id = v.check("advisor.id", wire::id(&a.id)).map(AdvisorId);
            let version = v.check("advisor.etag", wire::etag(&a.etag));
            let patch = Patch {
                display_name: named("display_name").then(|| display_name(&mut v, a)),
                function: named("function").then(|| function(&mut v, a)),
                capacity: named("capacity").then(|| capacity(&mut v, a)),
                active: named("active").then_some(a.active),
            };
            Some((id?, version?, patch))
        });
        let (id, version, patch) = v.finish(parsed)?;

        self.changes
            .update(async |change| {
                let current = roster::lock_advisor(change.conn(), id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("advisor", id))?;
                may_manage_roster(caller, current.team_id)
                    .map_err(|_| ApiError::not_found("advisor", id))?;
                if current.version != version {
                    return Err(ApiError::stale("advisor", id));
                }
                let values = patch.apply(&current);
                let now = self.clock.now();
                let advisor: pb::Advisor = roster::update_advisor(change.conn(), id, &values, now)
                    .await?
                    .into();
                change.event(id, now, &advisor_changed(&advisor)).await?;
                change.audit(caller, "advisor", &[id.0]).await?;
                Ok(pb::UpdateAdvisorResponse {
                    advisor: Some(advisor),
                })
            })
            .await
    }

    /// GetAdvisor: one advisor of a team the caller may see, with their caseload (audited).
    pub(super) async fn get_advisor(
        &self,
        caller: &Caller,
        request: pb::GetAdvisorRequest,
    ) -> Result<pb::GetAdvisorResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("id", wire::id(&request.id)).map(AdvisorId);
        let id = v.finish(id)?;
        let mut read = self.changes.read().await?;
        let advisor = roster::advisor(read.conn(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("advisor", id))?;
        may_manage_roster(caller, advisor.team_id)
            .map_err(|_| ApiError::not_found("advisor", id))?;
        read.audit(caller, "advisor", &[id.0]).await?;
        Ok(pb::GetAdvisorResponse {
            advisor: Some(advisor.into()),
        })
    }

    /// ListAdvisors: a team's roster with caseloads, a page at a time (audited).
    pub(super) async fn list_advisors(
        &self,
        caller: &Caller,
        request: pb::ListAdvisorsRequest,
    ) -> Result<pb::ListAdvisorsResponse, ApiError> {
        let mut v = Violations::new();
        let team = v.check("team_id", wire::id(&request.team_id)).map(TeamId);
        let filters = [caller.method, request.team_id.as_str()];
        let page = PageRequest::parse(&mut v, request.page_size, &request.page_token, &filters);
        let (team, page) = v.finish(team.zip(page))?;
        may_manage_roster(caller, team)?;
        let mut read = self.changes.read().await?;
        let rows =
            roster::advisors_of_team(read.conn(), team, page.after, page.fetch_limit()).await?;
        let (rows, next_page_token) = page.finish(rows, |r| r.id.0);
        let ids: Vec<_> = rows.iter().map(|r| r.id.0).collect();
        read.audit(caller, "advisor", &ids).await?;
        Ok(pb::ListAdvisorsResponse {
            advisors: rows.into_iter().map(Into::into).collect(),
            next_page_token,
        })
    }
}

/// Admins manage every team's roster, team leads and advisors their own; another team answers
/// NOT_FOUND.
fn may_manage_roster(caller: &Caller, team: TeamId) -> Result<(), ApiError> {
    if caller.has(Role::Admin) {
        return Ok(());
    }
    caller.same_team(team, "team", team)
}

fn display_name(v: &mut Violations, a: &pb::Advisor) -> Option<String> {
    v.check(
        "advisor.display_name",
        wire::required_text(&a.display_name, 200),
    )
}

fn function(v: &mut Violations, a: &pb::Advisor) -> Option<AdvisorFunction> {
    v.check(
        "advisor.function",
        enum_value::<pb::AdvisorFunction, _>(a.function),
    )
}

fn capacity(v: &mut Violations, a: &pb::Advisor) -> Option<i32> {
    let capacity = if (1..=500).contains(&a.capacity) {
        Ok(a.capacity)
    } else {
        Err("must be from 1 to 500".to_owned())
    };
    v.check("advisor.capacity", capacity)
}

/// The fields an update names: `None` keeps the current value; `Some(None)` is a bad field
/// (already named in the violations).
struct Patch {
    display_name: Option<Option<String>>,
    function: Option<Option<AdvisorFunction>>,
    capacity: Option<Option<i32>>,
    active: Option<bool>,
}

impl Patch {
    fn apply(self, current: &AdvisorRow) -> AdvisorValues {
        AdvisorValues {
            display_name: self
                .display_name
                .flatten()
                .unwrap_or_else(|| current.display_name.clone()),
            function: self.function.flatten().unwrap_or(current.function),
            capacity: self.capacity.flatten().unwrap_or(current.capacity),
            active: self.active.unwrap_or(current.active),
        }
    }
}

impl From<TeamRow> for pb::Team {
    fn from(row: TeamRow) -> Self {
        pb::Team {
            id: row.id.to_string(),
            display_name: row.display_name,
            create_time: Some(timestamp(row.created_at)),
            postal_code_prefixes: row.postal_code_prefixes,
            etag: row.version.to_string(),
        }
    }
}

impl From<AdvisorRow> for pb::Advisor {
    fn from(row: AdvisorRow) -> Self {
        pb::Advisor {
            id: row.id.to_string(),
            team_id: row.team_id.to_string(),
            subject: row.subject,
            display_name: row.display_name,
            function: pb::AdvisorFunction::from(row.function).into(),
            capacity: row.capacity,
            active: row.active,
            open_cases: i32::try_from(row.open_cases).unwrap_or(i32::MAX),
            etag: row.version.to_string(),
        }
    }
}

/// The roster event for `advisor` as it is now.
fn advisor_changed(advisor: &pb::Advisor) -> pb::AdvisorChanged {
    pb::AdvisorChanged {
        advisor_id: advisor.id.clone(),
        team_id: advisor.team_id.clone(),
        subject: advisor.subject.clone(),
        display_name: advisor.display_name.clone(),
        function: advisor.function,
        capacity: advisor.capacity,
        active: advisor.active,
    }
}

/// FAILED_PRECONDITION `TEAM_NAME_TAKEN`.
fn name_taken(name: &str) -> ApiError {
    ApiError::precondition(
        pb::ErrorReason::TeamNameTaken,
        format!("a team named {name:?} exists"),
    )
}

/// A team's service area: postal-code prefixes of 1 to 5 digits, each once.
fn service_area(v: &mut Violations, prefixes: &[String]) -> Option<Vec<String>> {
    const FIELD: &str = "team.postal_code_prefixes";
    if prefixes.len() > 200 {
        v.add(FIELD, "must list at most 200 prefixes");
        return None;
    }
    let mut area: Vec<String> = Vec::with_capacity(prefixes.len());
    let mut ok = true;
    for (i, p) in prefixes.iter().enumerate() {
        let p = p.trim();
        if !(1..=5).contains(&p.len()) || !p.chars().all(|c| c.is_ascii_digit()) {
            v.add(
                format!("{FIELD}[{i}]"),
                "must be 1 to 5 digits of a postal code",
            );
            ok = false;
        } else if area.iter().any(|a| a == p) {
            v.add(format!("{FIELD}[{i}]"), "is listed twice");
            ok = false;
        } else {
            area.push(p.to_owned());
        }
    }
    ok.then_some(area)
}
