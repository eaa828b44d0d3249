//! What needs the caller today, and the team's case figures.

use chrono::Duration;
use fallwerk_platform::{
    ApiError, Violations,
    auth::{Caller, Role},
    clock::office_day,
    page::PageRequest,
    wire::{self, wire_date},
};
use fallwerk_proto::caseplan as pb;

use super::CasePlan;
use crate::{domain::TeamId, store};

/// Default look-ahead for expiring agreements.
const DEFAULT_WITHIN_DAYS: i32 = 14;

impl CasePlan {
    /// ListDueItems: reviews, overdue steps, expiring agreements and follow-ups, most urgent
    /// first, on the Europe/Berlin calendar (audited: it names clients).
    pub(super) async fn list_due_items(
        &self,
        caller: &Caller,
        request: pb::ListDueItemsRequest,
    ) -> Result<pb::ListDueItemsResponse, ApiError> {
        let mut v = Violations::new();
        let within = match request.within_days {
            0 => Some(DEFAULT_WITHIN_DAYS),
            d @ 1..=90 => Some(d),
            _ => {
                v.add("within_days", "must be 0 (the default, 14) to 90");
                None
            }
        };
        let scope = match pb::CaseScope::try_from(request.scope) {
            Ok(scope) => Some(scope),
            Err(_) => {
                v.add("scope", "must be MINE or TEAM");
                None
            }
        };
        let within_text = within.map(|w| w.to_string()).unwrap_or_default();
        let scope_text = request.scope.to_string();
        let filters = [caller.method, &scope_text, &within_text];
        let page = PageRequest::parse(&mut v, request.page_size, &request.page_token, &filters);
        let ((within, scope), page) = v.finish(within.zip(scope).zip(page))?;
        let team = TeamId(caller.team()?);
        let today = office_day(self.clock.now());

        let mut read = self.changes.read().await?;
        let team_wide = caller.has(Role::TeamLead) || scope == pb::CaseScope::Team;
        let responsible = if team_wide {
            None
        } else {
            match store::advisors::by_subject(read.conn(), &caller.subject).await? {
                Some(advisor) => Some(advisor),
                None => return Ok(pb::ListDueItemsResponse::default()),
            }
        };
        // A computed list pages by position: the token carries how many items came before.
        let offset = page.after_number().unwrap_or(0);
        let rows = store::agenda::due(
            read.conn(),
            team,
            responsible,
            today,
            today + Duration::days(i64::from(within)),
            offset,
            page.fetch_limit(),
        )
        .await?;
        let numbered = rows.into_iter().zip(offset + 1..).collect();
        let (numbered, next_page_token) = page.finish_numbered(numbered, |(_, n)| *n);
        let rows: Vec<_> = numbered.into_iter().map(|(row, _)| row).collect();
        let mut cases: Vec<_> = rows.iter().map(|r| r.case_id).collect();
        cases.sort_unstable();
        cases.dedup();
        read.audit(caller, "case", &cases).await?;
        Ok(pb::ListDueItemsResponse {
            items: rows
                .into_iter()
                .map(|r| pb::DueItem {
                    case_id: r.case_id.to_string(),
                    client_display_name: r.client_display_name,
                    kind: pb::DueKind::from(r.kind).into(),
                    due_date: Some(wire_date(r.due_date)),
                    subject_id: r.subject_id,
                    summary: r.summary,
                    responsible_advisor_id: r.responsible_advisor_id.to_string(),
                })
                .collect(),
            next_page_token,
        })
    }

    /// GetCaseFigures: the team's cases opened and closed, durations, early agreements,
    /// reviews on time and lasting effects over up to 366 office days.
    pub(super) async fn get_case_figures(
        &self,
        caller: &Caller,
        request: pb::GetCaseFiguresRequest,
    ) -> Result<pb::GetCaseFiguresResponse, ApiError> {
        let mut v = Violations::new();
        let start = v.check("start_date", wire::date(request.start_date.as_ref()));
        let end = v.check("end_date", wire::date(request.end_date.as_ref()));
        if let (Some(start), Some(end)) = (start, end)
            && (end < start || (end - start).num_days() > 366)
        {
            v.add(
                "end_date",
                "must be on or after start_date, at most 366 days later",
            );
        }
        let within = match request.agreement_within_days {
            0 => Some(30),
            d @ 1..=365 => Some(d),
            _ => {
                v.add(
                    "agreement_within_days",
                    "must be 0 (the default, 30) to 365",
                );
                None
            }
        };
        let ((start, end), within) = v.finish(start.zip(end).zip(within))?;
        let team = TeamId(caller.team()?);

        let mut read = self.changes.read().await?;
        let f = store::agenda::figures(read.conn(), team, start, end, within).await?;
        let outcomes = store::agenda::closed_by_outcome(read.conn(), team, start, end).await?;
        let count = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(pb::GetCaseFiguresResponse {
            cases_opened: count(f.opened),
            cases_closed: count(f.closed),
            closed_by_outcome: outcomes
                .into_iter()
                .map(|(outcome, cases)| pb::OutcomeCount {
                    outcome: pb::CaseOutcome::from(outcome).into(),
                    cases: count(cases),
                })
                .collect(),
            median_case_days: f.median_case_days.unwrap_or(0.0),
            agreement_early_rate: if f.opened == 0 {
                0.0
            } else {
                f.opened_with_early_agreement as f64 / f.opened as f64
            },
            reviews: count(f.reviews),
            reviews_on_time: count(f.reviews_on_time),
            follow_ups: count(f.follow_ups),
            follow_ups_lasting: count(f.follow_ups_lasting),
        })
    }
}
