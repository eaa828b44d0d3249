//! Messages as short aligned lines for a person: one `label  value` block per object, one
//! table per list, times in the terminal's local time, enums in plain words.

pub mod audit;
pub mod caseplan;

use fallwerk_platform::clock::OFFICE_ZONE;
use fallwerk_proto::{google::r#type::Date, intake as pb, types};
use prost_types::Timestamp;

use super::{datetime, short_name};

/// A team.
pub fn team(team: &pb::Team) -> String {
    fields(&[
        ("id", team.id.clone()),
        ("name", team.display_name.clone()),
        (
            "serves",
            dash_if_empty(&team.postal_code_prefixes.join(", ")),
        ),
        ("created", time(team.create_time.as_ref())),
        ("etag", team.etag.clone()),
    ])
}

/// All teams.
pub fn teams(teams: &[pb::Team]) -> String {
    if teams.is_empty() {
        return "No teams yet.\n".into();
    }
    let rows = teams
        .iter()
        .map(|t| {
            vec![
                t.display_name.clone(),
                t.id.clone(),
                time(t.create_time.as_ref()),
            ]
        })
        .collect();
    table(&["NAME", "ID", "CREATED"], rows)
}

/// An advisor.
pub fn advisor(advisor: &pb::Advisor) -> String {
    fields(&[
        ("id", advisor.id.clone()),
        ("name", advisor.display_name.clone()),
        ("subject", advisor.subject.clone()),
        ("team", advisor.team_id.clone()),
        (
            "function",
            short_name(advisor.function, pb::AdvisorFunction::as_str_name),
        ),
        (
            "open cases",
            format!("{} of {}", advisor.open_cases, advisor.capacity),
        ),
        ("active", yes_no(advisor.active)),
    ])
}

/// A team's advisors.
pub fn advisors(advisors: &[pb::Advisor]) -> String {
    if advisors.is_empty() {
        return "No advisors in this team.\n".into();
    }
    let rows = advisors
        .iter()
        .map(|a| {
            vec![
                a.display_name.clone(),
                short_name(a.function, pb::AdvisorFunction::as_str_name),
                format!("{}/{}", a.open_cases, a.capacity),
                yes_no(a.active),
                a.subject.clone(),
                a.id.clone(),
            ]
        })
        .collect();
    table(
        &["NAME", "FUNCTION", "CASES", "ACTIVE", "SUBJECT", "ID"],
        rows,
    )
}

/// An applicant with their household.
pub fn applicant(applicant: &pb::Applicant) -> String {
    let household = applicant.household.clone().unwrap_or_default();
    let children = if household.children_ages.is_empty() {
        answer(household.children_answer)
    } else {
        let ages: Vec<_> = household.children_ages.iter().map(u32::to_string).collect();
        format!("aged {}", ages.join(", "))
    };
    let interpreter = match applicant.interpreter_language.as_str() {
        "" => "not needed".to_owned(),
        language => language.to_owned(),
    };
    fields(&[
        ("id", applicant.id.clone()),
        (
            "name",
            full_name(&applicant.given_name, &applicant.family_name),
        ),
        ("born", date(applicant.birth_date.as_ref())),
        ("single parent", answer(household.single_parent_answer)),
        ("children", children),
        ("partner in household", answer(household.partner_answer)),
        (
            "household members",
            dash_if_empty(&household.member_applicant_ids.join(", ")),
        ),
        ("interpreter", interpreter),
        ("lives at", residence(applicant.contact.as_ref())),
        ("contact", contact(applicant.contact.as_ref())),
        (
            "locally responsible",
            responsibility(
                applicant.local_responsibility,
                &applicant.responsible_team_id,
            ),
        ),
        (
            "identity checked",
            identity(applicant.identity_check.as_ref()),
        ),
        (
            "residence status",
            named(applicant.residence_status, pb::ResidenceStatus::as_str_name)
                .unwrap_or_else(|| "not asked".into()),
        ),
        ("registered", time(applicant.create_time.as_ref())),
        ("changed", time(applicant.update_time.as_ref())),
    ])
}

/// A page of search results (the basic view: `applicant get ID` shows the record).
pub fn applicants(applicants: &[pb::ApplicantSummary], next_page_token: &str) -> String {
    if applicants.is_empty() {
        return "No applicant matches.\n".into();
    }
    let rows = applicants
        .iter()
        .map(|a| {
            vec![
                full_name(&a.given_name, &a.family_name),
                date(a.birth_date.as_ref()),
                a.id.clone(),
            ]
        })
        .collect();
    table(&["NAME", "BORN", "ID"], rows) + &more(next_page_token)
}

/// A visit with its access check, if recorded.
pub fn visit(visit: &pb::Visit) -> String {
    let mut rows = vec![
        ("id", visit.id.clone()),
        ("applicant", visit.applicant_id.clone()),
        ("team", visit.team_id.clone()),
        ("arrived", time(visit.arrive_time.as_ref())),
        (
            "state",
            short_name(visit.state, pb::VisitState::as_str_name),
        ),
        ("kind", short_name(visit.kind, pb::VisitKind::as_str_name)),
        ("concern", dash_if_empty(&visit.concern)),
        ("consultation", dash_if_empty(&visit.consultation_id)),
    ];
    if visit.end_reason != 0 {
        rows.push((
            "ended",
            format!(
                "{}, {}",
                short_name(visit.end_reason, pb::VisitEndReason::as_str_name),
                time(visit.end_time.as_ref())
            ),
        ));
        if !visit.end_note.is_empty() {
            rows.push(("note", visit.end_note.clone()));
        }
    }
    if let Some(check) = &visit.access_check {
        let claims: Vec<_> = check
            .claims
            .iter()
            .map(|c| {
                let claim = short_name(c.claim, pb::PriorityClaim::as_str_name);
                let outcome = short_name(c.outcome, pb::ClaimOutcome::as_str_name);
                match c.note.as_str() {
                    "" => format!("{claim}: {outcome}"),
                    note => format!("{claim}: {outcome} ({note})"),
                }
            })
            .collect();
        let emergency = if check.emergency_need {
            format!("yes: {}", check.emergency_note)
        } else {
            "no".to_owned()
        };
        rows.extend([
            (
                "decision",
                short_name(check.decision, pb::AccessDecision::as_str_name),
            ),
            ("claims", lines_or_none(&claims)),
            ("emergency", emergency),
        ]);
        if !check.forwarded_to.is_empty() {
            rows.push((
                "forwarded to",
                format!(
                    "{} (need known since {})",
                    check.forwarded_to,
                    date(check.need_known_date.as_ref())
                ),
            ));
        }
        rows.extend([(
            "checked",
            format!(
                "by {} at {}",
                check.checked_by,
                time(check.check_time.as_ref())
            ),
        )]);
    }
    fields(&rows)
}

/// A page of one applicant's visits.
pub fn visits(visits: &[pb::Visit], next_page_token: &str) -> String {
    if visits.is_empty() {
        return "No visits.\n".into();
    }
    let rows = visits
        .iter()
        .map(|v| {
            vec![
                time(v.arrive_time.as_ref()),
                short_name(v.state, pb::VisitState::as_str_name),
                v.id.clone(),
                dash_if_empty(&v.concern),
            ]
        })
        .collect();
    table(&["ARRIVED", "STATE", "ID", "CONCERN"], rows) + &more(next_page_token)
}

/// Today's waiting queue, longest waiting first.
pub fn queue(entries: &[pb::QueueEntry]) -> String {
    if entries.is_empty() {
        return "No one is waiting.\n".into();
    }
    let rows = entries
        .iter()
        .map(|e| {
            let visit = e.visit.clone().unwrap_or_default();
            vec![
                format!("{} min", e.waiting_minutes),
                full_name(&e.given_name, &e.family_name),
                short_name(visit.state, pb::VisitState::as_str_name),
                visit.id,
                dash_if_empty(&visit.concern),
            ]
        })
        .collect();
    table(&["WAITING", "NAME", "STATE", "VISIT", "CONCERN"], rows)
}

/// A first consultation with its outcome, once completed.
pub fn consultation(consultation: &pb::Consultation) -> String {
    let mut rows = vec![
        ("id", consultation.id.clone()),
        ("visit", consultation.visit_id.clone()),
        ("applicant", consultation.applicant_id.clone()),
        ("team", consultation.team_id.clone()),
        ("advisor", consultation.advisor_id.clone()),
        (
            "state",
            short_name(consultation.state, pb::ConsultationState::as_str_name),
        ),
        ("started", time(consultation.start_time.as_ref())),
        ("completed", time(consultation.complete_time.as_ref())),
    ];
    if let Some(outcome) = &consultation.outcome {
        let barriers: Vec<_> = outcome
            .barriers
            .iter()
            .map(|b| short_name(*b, types::Barrier::as_str_name))
            .collect();
        rows.extend([
            (
                "capacity",
                short_name(outcome.capacity_to_work, types::CapacityToWork::as_str_name),
            ),
            (
                "track",
                short_name(
                    outcome.activation_track,
                    types::ActivationTrack::as_str_name,
                ),
            ),
            (
                "barriers",
                if barriers.is_empty() {
                    "none".to_owned()
                } else {
                    barriers.join(", ")
                },
            ),
            ("first steps", lines_or_none(&outcome.first_steps)),
            ("self-help", lines_or_none(&outcome.self_help_options)),
            ("offers", lines_or_none(&outcome.office_offers)),
            ("notes", dash_if_empty(&outcome.notes)),
        ]);
    }
    fields(&rows)
}

/// An opened case, and how to read it in case-plan at once.
pub fn case_opening(case: &pb::CaseOpening, feed_position: i64) -> String {
    let text = fields(&[
        ("case", case.case_id.clone()),
        ("applicant", case.applicant_id.clone()),
        ("consultation", case.consultation_id.clone()),
        ("team", case.team_id.clone()),
        ("advisor", case.responsible_advisor_id.clone()),
        ("opened", time(case.open_time.as_ref())),
        ("arrived", time(case.arrive_time.as_ref())),
        ("consulted", time(case.consultation_start_time.as_ref())),
        ("same day", yes_no(case.same_day)),
    ]);
    // 0: not known; case-plan shows the case a moment later without waiting.
    match feed_position {
        0 => text,
        position => {
            text + &format!(
                "Show it: fallwerk case show {} --at-position {position}\n",
                case.case_id
            )
        }
    }
}

/// A team's figures over a range of days, then its caseload per advisor.
pub fn team_figures(figures: &pb::GetTeamFiguresResponse) -> String {
    // Without consultations the rates and waits are zeros that mean nothing.
    let consulted = figures.consultations > 0;
    let rate = |text: String| if consulted { text } else { "-".to_owned() };
    let summary = fields(&[
        ("visits", figures.visits.to_string()),
        ("consultations", figures.consultations.to_string()),
        (
            "same day",
            rate(format!(
                "{} ({:.0}%)",
                figures.same_day_consultations,
                figures.same_day_rate * 100.0
            )),
        ),
        (
            "median wait",
            rate(format!("{:.0} min", figures.median_wait_minutes)),
        ),
        (
            "90% wait",
            rate(format!("{:.0} min", figures.p90_wait_minutes)),
        ),
    ]);
    if figures.caseloads.is_empty() {
        return summary + "\nNo advisors in this team.\n";
    }
    let rows = figures
        .caseloads
        .iter()
        .map(|c| {
            vec![
                c.display_name.clone(),
                c.open_cases.to_string(),
                c.capacity.to_string(),
                c.advisor_id.clone(),
            ]
        })
        .collect();
    summary + "\n" + &table(&["ADVISOR", "OPEN CASES", "CAPACITY", "ID"], rows)
}

/// `label  value` lines with the values lined up; a value's further lines are indented to
/// the same column.
fn fields(rows: &[(&str, String)]) -> String {
    let width = rows
        .iter()
        .map(|(label, _)| label.chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for (label, value) in rows {
        let mut lines = value.lines();
        text += &format!("{label:<width$}  {}\n", lines.next().unwrap_or("-"));
        for line in lines {
            text += &format!("{:width$}  {line}\n", "");
        }
    }
    text
}

/// A header and rows, each column as wide as its widest cell; the last column is not padded,
/// so lines carry no trailing blanks.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = header.iter().map(|h| (*h).to_owned()).collect();
    let mut text = String::new();
    for row in std::iter::once(header).chain(rows) {
        let last = row.len().saturating_sub(1);
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i == last {
                text += cell;
            } else {
                text += &format!("{cell:<width$}  ");
            }
        }
        text += "\n";
    }
    text
}

/// How to ask for the next page, when there is one.
fn more(next_page_token: &str) -> String {
    match next_page_token {
        "" => String::new(),
        token => format!("More: repeat with --page-token {token}\n"),
    }
}

fn full_name(given: &str, family: &str) -> String {
    format!("{family}, {given}")
}

/// Date and time to the minute on the office's clock (Europe/Berlin, whatever the machine's
/// zone), `-` when unset; `--json` keeps RFC 3339 UTC.
fn time(timestamp: Option<&Timestamp>) -> String {
    datetime(timestamp).map_or_else(
        || "-".to_owned(),
        |t| {
            t.with_timezone(&OFFICE_ZONE)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        },
    )
}

fn date(date: Option<&Date>) -> String {
    date.map_or_else(|| "-".to_owned(), super::partial_date)
}

/// A household answer: yes, no, or not asked.
fn answer(value: i32) -> String {
    match pb::HouseholdAnswer::try_from(value) {
        Ok(pb::HouseholdAnswer::Yes) => "yes",
        Ok(pb::HouseholdAnswer::No) => "no",
        _ => "not asked",
    }
    .to_owned()
}

fn address(a: &types::PostalAddress) -> String {
    let extra = if a.extra_line.is_empty() {
        String::new()
    } else {
        format!("{}, ", a.extra_line)
    };
    format!("{extra}{}, {} {}", a.street, a.postal_code, a.city)
}

fn residence(contact: Option<&types::Contact>) -> String {
    match contact {
        None => "not recorded".into(),
        Some(c) if c.no_fixed_abode => match &c.contact_address {
            Some(post) => format!("no fixed abode; post to {}", address(post)),
            None => "no fixed abode; post held at the office".into(),
        },
        Some(c) => c.address.as_ref().map_or_else(|| "-".into(), address),
    }
}

fn contact(contact: Option<&types::Contact>) -> String {
    let Some(c) = contact else {
        return "-".into();
    };
    let by = named(c.preferred_channel, types::ContactChannel::as_str_name)
        .unwrap_or_else(|| "post".into());
    let mut parts = vec![format!("prefers {by}")];
    if !c.phone.is_empty() {
        parts.push(format!("phone {}", c.phone));
    }
    if !c.email.is_empty() {
        parts.push(format!("e-mail {}", c.email));
    }
    parts.join("; ")
}

fn responsibility(value: i32, team: &str) -> String {
    match pb::LocalResponsibility::try_from(value) {
        Ok(pb::LocalResponsibility::Responsible) if team.is_empty() => "yes".into(),
        Ok(pb::LocalResponsibility::Responsible) => format!("yes (team {team})"),
        Ok(pb::LocalResponsibility::NotResponsible) => {
            "no: another office; forward the application".into()
        }
        _ => "not decided".into(),
    }
}

fn identity(check: Option<&pb::IdentityCheck>) -> String {
    check.map_or_else(
        || "no".into(),
        |c| {
            let document =
                named(c.document, pb::IdentityDocument::as_str_name).unwrap_or_else(|| "?".into());
            format!(
                "{document}, by {} at {}",
                c.checked_by,
                time(c.check_time.as_ref())
            )
        },
    )
}

/// An optional enum value for a person; `None` when unspecified.
fn named<E: TryFrom<i32> + Default>(value: i32, name: fn(&E) -> &'static str) -> Option<String> {
    (value != 0).then(|| short_name(value, name))
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

fn dash_if_empty(text: &str) -> String {
    if text.is_empty() { "-" } else { text }.to_owned()
}

/// One item a line, each with a bullet; `none` for no items.
fn lines_or_none(items: &[String]) -> String {
    if items.is_empty() {
        return "none".to_owned();
    }
    items
        .iter()
        .map(|i| format!("- {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_line_up_and_continue_under_their_value() {
        let text = fields(&[
            ("id", "a1".to_owned()),
            ("first steps", "- one\n- two".to_owned()),
        ]);
        assert_eq!(
            text,
            "id           a1\nfirst steps  - one\n             - two\n"
        );
    }

    #[test]
    fn a_table_pads_all_but_the_last_column() {
        let text = table(
            &["NAME", "ID"],
            vec![vec!["Müller, Anna".to_owned(), "a1".to_owned()]],
        );
        assert_eq!(text, "NAME          ID\nMüller, Anna  a1\n");
    }
}

#[cfg(test)]
mod office_clock_tests {
    use super::*;

    #[test]
    fn times_are_shown_on_the_office_clock_whatever_the_machines_zone() {
        // 23:30 UTC on 14 January is 00:30 on 15 January in Berlin (winter time).
        let winter = Timestamp {
            seconds: 1_768_433_400,
            nanos: 0,
        };
        assert_eq!(time(Some(&winter)), "2026-01-15 00:30");
        assert_eq!(time(None), "-");
    }
}
