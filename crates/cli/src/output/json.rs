//! Messages as JSON values, written by hand: the generated types do not derive serde, and the
//! shape (proto field names, enum names, RFC 3339 times, every field present) is decided once,
//! here.

pub mod audit;
pub mod caseplan;

use chrono::SecondsFormat;
use fallwerk_proto::{google::r#type::Date, intake as pb, types};
use prost_types::Timestamp;
use serde_json::{Value, json};

use super::{datetime, proto_name};

/// Each item of a repeated field.
pub fn list<T>(items: &[T], item: fn(&T) -> Value) -> Value {
    Value::Array(items.iter().map(item).collect())
}

/// A team.
pub fn team(team: &pb::Team) -> Value {
    json!({
        "id": team.id,
        "display_name": team.display_name,
        "postal_code_prefixes": team.postal_code_prefixes,
        "etag": team.etag,
        "create_time": timestamp(team.create_time.as_ref()),
    })
}

/// An advisor of a team's roster.
pub fn advisor(advisor: &pb::Advisor) -> Value {
    json!({
        "id": advisor.id,
        "team_id": advisor.team_id,
        "subject": advisor.subject,
        "display_name": advisor.display_name,
        "function": enum_value(advisor.function, pb::AdvisorFunction::as_str_name),
        "capacity": advisor.capacity,
        "active": advisor.active,
        "open_cases": advisor.open_cases,
        "etag": advisor.etag,
    })
}

/// An applicant with their household.
pub fn applicant(applicant: &pb::Applicant) -> Value {
    json!({
        "id": applicant.id,
        "given_name": applicant.given_name,
        "family_name": applicant.family_name,
        "birth_date": date(applicant.birth_date.as_ref()),
        "household": applicant.household.as_ref().map(|h| json!({
            "single_parent": h.single_parent,
            "single_parent_answer": enum_value(h.single_parent_answer, pb::HouseholdAnswer::as_str_name),
            "children_answer": enum_value(h.children_answer, pb::HouseholdAnswer::as_str_name),
            "children_ages": h.children_ages,
            "partner_answer": enum_value(h.partner_answer, pb::HouseholdAnswer::as_str_name),
            "member_applicant_ids": h.member_applicant_ids,
        })),
        "interpreter_language": applicant.interpreter_language,
        "contact": applicant.contact.as_ref().map(|c| json!({
            "address": c.address.as_ref().map(address),
            "no_fixed_abode": c.no_fixed_abode,
            "contact_address": c.contact_address.as_ref().map(address),
            "phone": c.phone,
            "email": c.email,
            "preferred_channel": enum_value(c.preferred_channel, types::ContactChannel::as_str_name),
        })),
        "identity_check": applicant.identity_check.as_ref().map(|i| json!({
            "document": enum_value(i.document, pb::IdentityDocument::as_str_name),
            "checked_by": i.checked_by,
            "check_time": timestamp(i.check_time.as_ref()),
        })),
        "residence_status": enum_value(applicant.residence_status, pb::ResidenceStatus::as_str_name),
        "local_responsibility": enum_value(applicant.local_responsibility, pb::LocalResponsibility::as_str_name),
        "responsible_team_id": applicant.responsible_team_id,
        "etag": applicant.etag,
        "create_time": timestamp(applicant.create_time.as_ref()),
        "update_time": timestamp(applicant.update_time.as_ref()),
    })
}

fn address(a: &types::PostalAddress) -> Value {
    json!({
        "street": a.street,
        "extra_line": a.extra_line,
        "postal_code": a.postal_code,
        "city": a.city,
    })
}

/// A search result: the basic view.
pub fn applicant_summary(applicant: &pb::ApplicantSummary) -> Value {
    json!({
        "id": applicant.id,
        "given_name": applicant.given_name,
        "family_name": applicant.family_name,
        "birth_date": date(applicant.birth_date.as_ref()),
    })
}

/// A visit with its access check, if recorded.
pub fn visit(visit: &pb::Visit) -> Value {
    json!({
        "id": visit.id,
        "applicant_id": visit.applicant_id,
        "team_id": visit.team_id,
        "arrive_time": timestamp(visit.arrive_time.as_ref()),
        "concern": visit.concern,
        "state": enum_value(visit.state, pb::VisitState::as_str_name),
        "access_check": visit.access_check.as_ref().map(access_check),
        "consultation_id": visit.consultation_id,
        "kind": enum_value(visit.kind, pb::VisitKind::as_str_name),
        "end_reason": enum_value(visit.end_reason, pb::VisitEndReason::as_str_name),
        "end_time": timestamp(visit.end_time.as_ref()),
        "end_note": visit.end_note,
    })
}

/// A visit's access check.
fn access_check(check: &pb::AccessCheck) -> Value {
    json!({
        "claims": list(&check.claims, claim_check),
        "emergency_need": check.emergency_need,
        "emergency_note": check.emergency_note,
        "decision": enum_value(check.decision, pb::AccessDecision::as_str_name),
        "checked_by": check.checked_by,
        "check_time": timestamp(check.check_time.as_ref()),
        "forwarded_to": check.forwarded_to,
        "need_known_date": date(check.need_known_date.as_ref()),
    })
}

fn claim_check(check: &pb::ClaimCheck) -> Value {
    json!({
        "claim": enum_value(check.claim, pb::PriorityClaim::as_str_name),
        "outcome": enum_value(check.outcome, pb::ClaimOutcome::as_str_name),
        "note": check.note,
    })
}

/// A visit waiting in today's queue.
pub fn queue_entry(entry: &pb::QueueEntry) -> Value {
    json!({
        "visit": entry.visit.as_ref().map(visit),
        "given_name": entry.given_name,
        "family_name": entry.family_name,
        "waiting_minutes": entry.waiting_minutes,
    })
}

/// A first consultation with its outcome, once completed.
pub fn consultation(consultation: &pb::Consultation) -> Value {
    json!({
        "id": consultation.id,
        "visit_id": consultation.visit_id,
        "applicant_id": consultation.applicant_id,
        "team_id": consultation.team_id,
        "advisor_id": consultation.advisor_id,
        "state": enum_value(consultation.state, pb::ConsultationState::as_str_name),
        "start_time": timestamp(consultation.start_time.as_ref()),
        "complete_time": timestamp(consultation.complete_time.as_ref()),
        "outcome": consultation.outcome.as_ref().map(consultation_outcome),
    })
}

fn consultation_outcome(outcome: &pb::ConsultationOutcome) -> Value {
    let barriers: Vec<Value> = outcome
        .barriers
        .iter()
        .map(|b| enum_value(*b, types::Barrier::as_str_name))
        .collect();
    json!({
        "first_steps": outcome.first_steps,
        "self_help_options": outcome.self_help_options,
        "office_offers": outcome.office_offers,
        "capacity_to_work": enum_value(outcome.capacity_to_work, types::CapacityToWork::as_str_name),
        "activation_track": enum_value(outcome.activation_track, types::ActivationTrack::as_str_name),
        "barriers": barriers,
        "notes": outcome.notes,
    })
}

/// An opened case.
pub fn case_opening(case: &pb::CaseOpening) -> Value {
    json!({
        "case_id": case.case_id,
        "applicant_id": case.applicant_id,
        "consultation_id": case.consultation_id,
        "team_id": case.team_id,
        "responsible_advisor_id": case.responsible_advisor_id,
        "open_time": timestamp(case.open_time.as_ref()),
        "arrive_time": timestamp(case.arrive_time.as_ref()),
        "consultation_start_time": timestamp(case.consultation_start_time.as_ref()),
        "same_day": case.same_day,
    })
}

/// A team's figures over a range of days.
pub fn team_figures(figures: &pb::GetTeamFiguresResponse) -> Value {
    json!({
        "visits": figures.visits,
        "consultations": figures.consultations,
        "same_day_consultations": figures.same_day_consultations,
        "same_day_rate": figures.same_day_rate,
        "median_wait_minutes": figures.median_wait_minutes,
        "p90_wait_minutes": figures.p90_wait_minutes,
        "caseloads": list(&figures.caseloads, |c| json!({
            "advisor_id": c.advisor_id,
            "display_name": c.display_name,
            "open_cases": c.open_cases,
            "capacity": c.capacity,
        })),
    })
}

/// RFC 3339 in UTC, `null` when unset.
fn timestamp(timestamp: Option<&Timestamp>) -> Value {
    datetime(timestamp).map_or(Value::Null, |t| {
        Value::from(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    })
}

/// `YYYY-MM-DD`, `null` when unset.
fn date(date: Option<&Date>) -> Value {
    date.map_or(Value::Null, |d| Value::from(super::partial_date(d)))
}

/// The proto name, or the bare number when this build does not know it.
fn enum_value<E: TryFrom<i32>>(value: i32, name: fn(&E) -> &'static str) -> Value {
    proto_name(value, name).map_or(Value::from(value), Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visit_reads_with_enum_names_rfc3339_times_and_null_for_unset() {
        let visit = pb::Visit {
            id: "v1".into(),
            state: pb::VisitState::Waiting.into(),
            arrive_time: Some(Timestamp {
                seconds: 1_741_943_640,
                nanos: 0,
            }),
            ..Default::default()
        };
        let json = super::visit(&visit);
        assert_eq!(json["state"], "VISIT_STATE_WAITING");
        assert_eq!(json["arrive_time"], "2025-03-14T09:14:00Z");
        assert_eq!(json["access_check"], Value::Null);
    }

    #[test]
    fn a_birth_date_reads_year_month_day() {
        let birth = Date {
            year: 1985,
            month: 3,
            day: 4,
        };
        assert_eq!(date(Some(&birth)), "1985-03-04");
    }
}
