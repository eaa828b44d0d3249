//! A case's timeline: every event in the order it happened.

use fallwerk_platform::{
    ApiError, Violations,
    auth::Caller,
    page::PageRequest,
    wire::{self, timestamp},
};
use fallwerk_proto::caseplan as pb;

use super::{CasePlan, team_case};
use crate::{domain::CaseId, store};

impl CasePlan {
    /// ListTimelineEntries: the case's events, oldest first (audited).
    pub(super) async fn list_timeline_entries(
        &self,
        caller: &Caller,
        request: pb::ListTimelineEntriesRequest,
    ) -> Result<pb::ListTimelineEntriesResponse, ApiError> {
        let mut v = Violations::new();
        let id = v.check("case_id", wire::id(&request.case_id)).map(CaseId);
        let page = PageRequest::parse(
            &mut v,
            request.page_size,
            &request.page_token,
            &[caller.method, &request.case_id],
        );
        let (id, page) = v.finish(id.zip(page))?;
        let mut read = self.changes.read().await?;
        team_case(read.conn(), caller, id, false).await?;
        let rows =
            store::timeline::list(read.conn(), id, page.after_number(), page.fetch_limit()).await?;
        let (rows, next_page_token) = page.finish_numbered(rows, |e| e.seq);
        read.audit(caller, "case", &[id.0]).await?;
        Ok(pb::ListTimelineEntriesResponse {
            entries: rows
                .into_iter()
                .map(|e| pb::TimelineEntry {
                    kind: pb::TimelineKind::from(e.kind).into(),
                    occur_time: Some(timestamp(e.occurred_at)),
                    actor: e.actor,
                    subject_id: e.subject_id,
                    summary: e.summary,
                })
                .collect(),
            next_page_token,
        })
    }
}
