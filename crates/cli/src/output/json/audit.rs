//! The audit commands' answers as JSON: the client's access report.

use fallwerk_proto::{audit as pb, partner, types::DataCategory};
use serde_json::{Value, json};

use super::{enum_value, timestamp};

/// The client's access report: every service's records about the person, oldest first, what
/// was shared with partners and every read of it by a partner system.
pub fn access_report(
    person: &str,
    trails: &[crate::audit::Trail],
    sharing: &partner::GetDataSharingRecordResponse,
) -> Value {
    let mut accesses: Vec<(&str, &pb::AuditRecord)> = trails
        .iter()
        .flat_map(|t| t.records.iter().map(move |r| (t.service, r)))
        .collect();
    accesses
        .sort_by_key(|(service, r)| (r.occur_time.map(|t| (t.seconds, t.nanos)), *service, r.id));
    json!({
        "person_id": person,
        "report_time": timestamp(Some(&crate::output::now())),
        "accesses": accesses.iter().map(|(service, r)| json!({
            "service": service,
            "occur_time": timestamp(r.occur_time.as_ref()),
            "subject": r.subject,
            "roles": r.roles,
            "action": r.action,
            "resource_type": r.resource_type,
            "resource_id": r.resource_id,
            "trace_id": r.trace_id,
        })).collect::<Vec<_>>(),
        "shared": sharing.shared.iter().map(|s| json!({
            "referral_id": s.referral_id,
            "case_id": s.case_id,
            "partner_id": s.partner_id,
            "consent_id": s.consent_id,
            "categories": s.categories.iter().map(|c| enum_value::<DataCategory>(*c, DataCategory::as_str_name)).collect::<Vec<_>>(),
            "share_time": timestamp(s.share_time.as_ref()),
            "shared_by": s.shared_by,
            "redact_time": timestamp(s.redact_time.as_ref()),
        })).collect::<Vec<_>>(),
        "partner_reads": sharing.partner_reads.iter().map(|r| json!({
            "referral_id": r.referral_id,
            "subject": r.subject,
            "method": r.method,
            "read_time": timestamp(r.read_time.as_ref()),
        })).collect::<Vec<_>>(),
    })
}
