//! `fallwerk audit ...` (role auditor): the client's access report across the three services,
//! and the verification of each service's audit trail.

use clap::Subcommand;
use fallwerk_proto::{
    audit::{self as pb, AuditRecord},
    partner,
};
use serde_json::json;
use tonic::transport::{Certificate, Uri};
use uuid::Uuid;

use crate::{
    client::{self, AuditClient},
    error::{CliError, Service},
    output::{Output, human, json},
};

/// `fallwerk audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The client's access report (GDPR Art. 15): who saw or changed which of this person's
    /// data in any service, when, and what was shared with which partner under which consent,
    /// in one time-ordered report a clerk can hand over (`--json` for machines).
    Person {
        /// The person's applicant id.
        applicant_id: Uuid,
    },
    /// Recomputes each service's audit-trail hash chain; exits 1 when one is broken.
    Verify,
}

/// Where the three services are.
pub struct Addresses {
    /// intake (`--addr`).
    pub intake: Uri,
    /// case-plan (`--case-plan-addr`).
    pub case_plan: Uri,
    /// partner (`--partner-addr`).
    pub partner: Uri,
}

/// One service's audit records about the person.
pub struct Trail {
    /// The service.
    pub service: &'static str,
    /// Its records, oldest first.
    pub records: Vec<AuditRecord>,
}

/// Runs an audit command against all three services.
pub async fn run(
    command: AuditCommand,
    at: Addresses,
    token: tonic::metadata::AsciiMetadataValue,
    ca_cert: Option<Certificate>,
    out: &Output,
) -> Result<(), CliError> {
    let trails = [
        ("intake", "--addr", at.intake.clone(), Service::Intake),
        (
            "case-plan",
            "--case-plan-addr",
            at.case_plan.clone(),
            Service::CasePlan,
        ),
        (
            "partner",
            "--partner-addr",
            at.partner.clone(),
            Service::Partner,
        ),
    ];
    match command {
        AuditCommand::Person { applicant_id } => {
            let person = applicant_id.to_string();
            let mut report = Vec::new();
            for (service, flag, addr, answered_by) in trails {
                let mut client = client::audit(flag, addr, token.clone(), ca_cert.clone())?;
                let records = person_records(&mut client, &person)
                    .await
                    .map_err(|e| CliError::from(e).answered_by(answered_by))?;
                report.push(Trail { service, records });
            }
            let mut partner = client::partner(at.partner, token, ca_cert)?;
            let sharing = partner
                .get_data_sharing_record(partner::GetDataSharingRecordRequest {
                    applicant_id: person.clone(),
                    ..Default::default()
                })
                .await
                .map_err(|e| CliError::from(e).answered_by(Service::Partner))?
                .into_inner();
            out.show(
                || json::audit::access_report(&person, &report, &sharing),
                || human::audit::access_report(&person, &report, &sharing),
            )
        }
        AuditCommand::Verify => {
            let mut found = Vec::new();
            for (service, flag, addr, answered_by) in trails {
                let mut client = client::audit(flag, addr, token.clone(), ca_cert.clone())?;
                let answer = client
                    .verify_audit_trail(pb::VerifyAuditTrailRequest {})
                    .await
                    .map_err(|e| CliError::from(e).answered_by(answered_by))?
                    .into_inner();
                found.push((service, answer));
            }
            out.show(
                || {
                    json!({ "trails": found.iter().map(|(s, v)| json!({
                        "service": s,
                        "intact": v.intact,
                        "chained_records": v.chained_records,
                        "unchained_records": v.unchained_records,
                        "head_hash": v.head_hash,
                        "broken_position": v.broken_position,
                        "problem": v.problem,
                    })).collect::<Vec<_>>() })
                },
                || human::audit::audit_verification(&found),
            )?;
            match found.iter().all(|(_, v)| v.intact) {
                true => Ok(()),
                false => Err(CliError::AuditBroken),
            }
        }
    }
}

/// Every page of `client`'s records about `person`.
async fn person_records(
    client: &mut AuditClient,
    person: &str,
) -> Result<Vec<AuditRecord>, tonic::Status> {
    let mut records = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_audit_records(pb::ListAuditRecordsRequest {
                person_id: person.to_owned(),
                page_size: 200,
                page_token,
                ..Default::default()
            })
            .await?
            .into_inner();
        records.extend(page.records);
        if page.next_page_token.is_empty() {
            return Ok(records);
        }
        page_token = page.next_page_token;
    }
}
