//! The case snapshot other services take under the client's consent (partner, for a
//! referral): exactly the categories asked for, audited.

use fallwerk_platform::{ApiError, Violations, auth::Caller, vocabulary::barrier_numbers, wire};
use fallwerk_proto::{caseplan as pb, types};

use super::CasePlan;
use crate::{
    domain::{Barrier, CaseId, StepId},
    store,
};

impl CasePlan {
    /// GetCaseSnapshot: a case's data in the categories asked for, as of now (audited under the
    /// calling service's subject).
    pub(super) async fn get_case_snapshot(
        &self,
        caller: &Caller,
        request: pb::GetCaseSnapshotRequest,
    ) -> Result<pb::GetCaseSnapshotResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let mut categories = Vec::with_capacity(request.categories.len());
        for (i, c) in request.categories.iter().enumerate() {
            match types::DataCategory::try_from(*c) {
                Ok(types::DataCategory::Unspecified) | Err(_) => v.add(
                    format!("categories[{i}]"),
                    "must be one of the data categories",
                ),
                Ok(category) => categories.push(category),
            }
        }
        if request.categories.is_empty() {
            v.add("categories", "must name at least one category");
        }
        let wants = |c: types::DataCategory| categories.contains(&c);
        let step = if wants(types::DataCategory::PlanSteps) {
            v.check("step_id", wire::id(&request.step_id))
                .map(|s| Some(StepId(s)))
        } else {
            Some(None)
        };
        let (id, step) = v.finish(id.zip(step))?;

        let mut read = self.changes.read().await?;
        let case = store::cases::get(read.conn(), id)
            .await?
            .ok_or_else(|| ApiError::not_found("case", id))?;
        let mut answer = pb::GetCaseSnapshotResponse {
            case_id: id.to_string(),
            team_id: case.team_id.to_string(),
            state: pb::CaseState::from(case.state).into(),
            ..Default::default()
        };
        if wants(types::DataCategory::Identity) {
            answer.display_name = case.client.display_name.clone();
            answer.birth_date = Some(case.client.birth_date.to_wire());
        }
        if wants(types::DataCategory::Contact) {
            // case-plan keeps no contact; intake does, under this id.
            answer.applicant_id = case.applicant_id.to_string();
        }
        if wants(types::DataCategory::Household) {
            answer.single_parent = case.client.single_parent;
            answer.youngest_child_age = case
                .client
                .youngest_child_age
                .and_then(|age| u32::try_from(age).ok());
        }
        if let Some(step) = step {
            let plan = store::plans::list(read.conn(), id, Some(case.plan_revision + 1), 1).await?;
            if let Some((goal, found)) = plan.first().and_then(|r| {
                r.goals
                    .iter()
                    .find_map(|g| g.steps.iter().find(|s| s.id == step).map(|s| (g, s)))
            }) {
                answer.step_action = found.action.clone();
                answer.goal = goal.own_words.clone();
            }
        }
        let barriers = &case.consultation.barriers;
        if wants(types::DataCategory::Health) {
            let health: Vec<Barrier> = barriers.iter().copied().filter(|b| b.is_health()).collect();
            answer.health_barriers = barrier_numbers(&health);
        }
        if wants(types::DataCategory::Finances) {
            answer.debt = barriers.contains(&Barrier::Debt);
        }
        read.audit(caller, "case_snapshot", &[id.0]).await?;
        Ok(answer)
    }
}
