//! The audit commands' answers as lines for a person: the client's access report a clerk can
//! hand over, and each service's audit-trail verification.

use fallwerk_proto::{audit as pb, partner, types::DataCategory};

use super::{short_name, table, time};

/// The client's access report: every service's records about the person in one timeline,
/// then what was shared with partners and every read of it by a partner system.
pub fn access_report(
    person: &str,
    trails: &[crate::audit::Trail],
    sharing: &partner::GetDataSharingRecordResponse,
) -> String {
    let mut entries: Vec<(&str, &pb::AuditRecord)> = trails
        .iter()
        .flat_map(|t| t.records.iter().map(move |r| (t.service, r)))
        .collect();
    entries
        .sort_by_key(|(service, r)| (r.occur_time.map(|t| (t.seconds, t.nanos)), *service, r.id));
    let mut text = format!(
        "Access report (GDPR Art. 15) for applicant {person}\n\
         Made {} (office time).\n\n",
        time(Some(&crate::output::now()))
    );
    text += &format!(
        "Who saw or changed this person's data ({} entries):\n",
        entries.len()
    );
    if entries.is_empty() {
        text += "none\n";
    } else {
        let rows = entries
            .iter()
            .map(|(service, r)| {
                vec![
                    time(r.occur_time.as_ref()),
                    (*service).to_owned(),
                    format!("{} ({})", r.subject, r.roles.join(", ")),
                    r.action.clone(),
                    format!("{} {}", r.resource_type.replace('_', " "), r.resource_id),
                ]
            })
            .collect();
        text += &table(&["WHEN", "SERVICE", "WHO (ROLES)", "WHAT", "RECORD"], rows);
    }
    text += &format!(
        "\nShared with cooperation partners ({} referrals):\n",
        sharing.shared.len()
    );
    if sharing.shared.is_empty() {
        text += "none\n";
    } else {
        let rows = sharing
            .shared
            .iter()
            .map(|s| {
                let categories: Vec<String> = s
                    .categories
                    .iter()
                    .map(|c| short_name::<DataCategory>(*c, DataCategory::as_str_name))
                    .collect();
                vec![
                    time(s.share_time.as_ref()),
                    s.partner_id.clone(),
                    s.consent_id.clone(),
                    categories.join(", "),
                    s.shared_by.clone(),
                    s.redact_time
                        .as_ref()
                        .map_or_else(|| "-".to_owned(), |t| time(Some(t))),
                ]
            })
            .collect();
        text += &table(
            &["WHEN", "PARTNER", "CONSENT", "DATA", "BY", "REDACTED"],
            rows,
        );
    }
    text += &format!(
        "\nRead by partner systems ({}):\n",
        sharing.partner_reads.len()
    );
    if sharing.partner_reads.is_empty() {
        text += "none\n";
    } else {
        let rows = sharing
            .partner_reads
            .iter()
            .map(|r| {
                vec![
                    time(r.read_time.as_ref()),
                    r.subject.clone(),
                    r.method.clone(),
                    r.referral_id.clone(),
                ]
            })
            .collect();
        text += &table(&["WHEN", "SYSTEM", "WHAT", "REFERRAL"], rows);
    }
    text
}

/// Each service's audit-trail verification.
pub fn audit_verification(found: &[(&str, pb::VerifyAuditTrailResponse)]) -> String {
    let rows = found
        .iter()
        .map(|(service, v)| {
            vec![
                (*service).to_owned(),
                if v.intact {
                    "intact".to_owned()
                } else {
                    format!("BROKEN at {}: {}", v.broken_position, v.problem)
                },
                v.chained_records.to_string(),
                v.unchained_records.to_string(),
                v.head_hash.clone(),
            ]
        })
        .collect();
    table(
        &["SERVICE", "CHAIN", "LINKED", "PENDING", "HEAD HASH"],
        rows,
    )
}
