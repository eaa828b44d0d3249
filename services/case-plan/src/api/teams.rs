//! A team's case-plan settings.

use fallwerk_platform::{ApiError, Violations, auth::Caller, wire};
use fallwerk_proto::caseplan as pb;

use super::CasePlan;
use crate::{
    domain::TeamId,
    store::{self, teams::TeamSettings},
};

impl CasePlan {
    /// GetTeamSettings: the caller's team's settings.
    pub(super) async fn get_team_settings(
        &self,
        caller: &Caller,
        _request: pb::GetTeamSettingsRequest,
    ) -> Result<pb::GetTeamSettingsResponse, ApiError> {
        let team = TeamId(caller.team()?);
        let mut read = self.changes.read().await?;
        let settings = store::teams::settings(read.conn(), team).await?;
        Ok(pb::GetTeamSettingsResponse {
            settings: Some(settings_to_wire(team, settings)),
        })
    }

    /// UpdateTeamSettings: a team lead changes their team's settings.
    pub(super) async fn update_team_settings(
        &self,
        caller: &Caller,
        request: pb::UpdateTeamSettingsRequest,
    ) -> Result<pb::UpdateTeamSettingsResponse, ApiError> {
        let mut v = Violations::new();
        // One setting so far: a valid mask names it, and it is written.
        let _ = wire::update_mask(
            &mut v,
            request.update_mask.as_ref(),
            &["plan_approval_required"],
        );
        let settings = wire::required(&mut v, "settings", request.settings.as_ref());
        let parsed = settings.and_then(|s| {
            let etag = v.check("settings.etag", wire::etag(&s.etag));
            if !s.team_id.is_empty()
                && caller.team_id.map(|t| t.to_string()) != Some(s.team_id.clone())
            {
                v.add("settings.team_id", "must be empty or the caller's team");
            }
            Some((etag?, s.plan_approval_required))
        });
        let (etag, plan_approval_required) = v.finish(parsed)?;
        let team = TeamId(caller.team()?);
        self.changes
            .update(async |change| {
                let now = self.clock.now();
                let settings = store::teams::update(
                    change.conn(),
                    team,
                    plan_approval_required,
                    etag,
                    now,
                    &caller.subject,
                )
                .await?
                .ok_or_else(|| ApiError::stale("team settings", team))?;
                Ok(pb::UpdateTeamSettingsResponse {
                    settings: Some(settings_to_wire(team, settings)),
                })
            })
            .await
    }
}

fn settings_to_wire(team: TeamId, settings: TeamSettings) -> pb::TeamSettings {
    pb::TeamSettings {
        team_id: team.to_string(),
        plan_approval_required: settings.plan_approval_required,
        etag: settings.version.to_string(),
    }
}
