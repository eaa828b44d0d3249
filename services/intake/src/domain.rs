//! intake's rules, free of I/O: identities, the visit's way through the day, the office's
//! same-day promise, what a complete consultation holds, and who becomes responsible.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Berlin;
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
        #[sqlx(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_type!(
    /// An applicant (person master data).
    ApplicantId,
    /// A visit (Vorsprache).
    VisitId,
    /// A first consultation (Erstberatung).
    ConsultationId,
    /// An activation team.
    TeamId,
    /// An advisor in the roster.
    AdvisorId,
    /// A case, from its opening on.
    CaseId,
);

/// The office's calendar day of an instant: same-day is promised in Europe/Berlin days, also
/// across the summer-time changes.
pub fn office_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Berlin).date_naive()
}

/// Whether a consultation started on the office day the person arrived.
pub fn is_same_day(arrived: DateTime<Utc>, consultation_start: DateTime<Utc>) -> bool {
    office_day(arrived) == office_day(consultation_start)
}

/// The key names are matched on for duplicates and search: case, spacing, hyphens and the
/// German spellings of umlauts do not matter (Müller = Mueller = MUELLER, Meyer-Lüdenscheid =
/// meyer lüdenscheid).
pub fn name_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len());
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => key.push_str("ae"),
            'ö' => key.push_str("oe"),
            'ü' => key.push_str("ue"),
            'ß' => key.push_str("ss"),
            '-' | '\'' | '.' => key.push(' '),
            c if c.is_whitespace() => key.push(' '),
            c => key.push(c),
        }
    }
    key.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where a visit stands. Stored as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitState {
    /// Arrived, access check pending.
    Waiting,
    /// Access check said continue: waiting for the first consultation.
    ReadyForConsultation,
    /// Consultation under way.
    InConsultation,
    /// Consultation complete.
    Consulted,
    /// Sent to a priority provider, or no need.
    Closed,
}

impl VisitState {
    /// Database name.
    pub fn as_str(self) -> &'static str {
        match self {
            VisitState::Waiting => "WAITING",
            VisitState::ReadyForConsultation => "READY_FOR_CONSULTATION",
            VisitState::InConsultation => "IN_CONSULTATION",
            VisitState::Consulted => "CONSULTED",
            VisitState::Closed => "CLOSED",
        }
    }

    /// Parses a database name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            VisitState::Waiting,
            VisitState::ReadyForConsultation,
            VisitState::InConsultation,
            VisitState::Consulted,
            VisitState::Closed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// The state after the access check decided: only `continue` leads to a consultation.
    pub fn after_access_check(self, decision: AccessDecision) -> Result<Self, StateError> {
        match self {
            VisitState::Waiting => Ok(match decision {
                AccessDecision::Continue => VisitState::ReadyForConsultation,
                AccessDecision::PriorityProvider | AccessDecision::NoNeed => VisitState::Closed,
            }),
            _ => Err(StateError::AccessCheckDone),
        }
    }

    /// The state when a consultation starts.
    pub fn start_consultation(self) -> Result<Self, StateError> {
        match self {
            VisitState::ReadyForConsultation => Ok(VisitState::InConsultation),
            VisitState::Waiting => Err(StateError::AccessCheckMissing),
            VisitState::Closed => Err(StateError::VisitClosed),
            VisitState::InConsultation | VisitState::Consulted => {
                Err(StateError::ConsultationExists)
            }
        }
    }
}

/// Read from the database; the column's CHECK constraint allows only the names above.
impl TryFrom<String> for VisitState {
    type Error = String;
    fn try_from(name: String) -> Result<Self, String> {
        VisitState::parse(&name).ok_or_else(|| format!("unknown visit state {name}"))
    }
}

/// The access check's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessDecision {
    /// Continue into case management.
    Continue,
    /// Send to the priority provider.
    PriorityProvider,
    /// No need of assistance.
    NoNeed,
}

/// A step the visit's state does not allow, with the stable reason callers see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The visit has an access check already.
    #[error("the visit's access check is already recorded")]
    AccessCheckDone,
    /// No access check yet.
    #[error("the visit needs an access check that decides to continue first")]
    AccessCheckMissing,
    /// The access check closed the visit.
    #[error("the access check closed this visit")]
    VisitClosed,
    /// A consultation exists already.
    #[error("the visit's first consultation has already started")]
    ConsultationExists,
    /// The consultation is complete.
    #[error("the consultation is already complete")]
    ConsultationComplete,
    /// The consultation is not complete.
    #[error("the consultation is not complete yet")]
    ConsultationIncomplete,
    /// A case exists for the consultation.
    #[error("a case was already opened from this consultation")]
    CaseAlreadyOpen,
}

impl StateError {
    /// The `ErrorInfo.reason` for this violation.
    pub fn reason(self) -> &'static str {
        match self {
            StateError::AccessCheckDone => "ACCESS_CHECK_ALREADY_RECORDED",
            StateError::AccessCheckMissing => "ACCESS_CHECK_REQUIRED",
            StateError::VisitClosed => "VISIT_CLOSED",
            StateError::ConsultationExists => "CONSULTATION_ALREADY_STARTED",
            StateError::ConsultationComplete => "CONSULTATION_ALREADY_COMPLETED",
            StateError::ConsultationIncomplete => "CONSULTATION_NOT_COMPLETED",
            StateError::CaseAlreadyOpen => "CASE_ALREADY_OPEN",
        }
    }
}

impl From<StateError> for fallwerk_platform::ApiError {
    fn from(error: StateError) -> Self {
        fallwerk_platform::ApiError::precondition(error.reason(), error.to_string())
    }
}

/// An advisor's current load, as the assignment sees it.
#[derive(Debug, Clone, Copy)]
pub struct AdvisorLoad {
    /// The advisor.
    pub advisor: AdvisorId,
    /// Open cases now.
    pub open_cases: i64,
    /// Capacity.
    pub capacity: i64,
    /// Active in the roster.
    pub active: bool,
}

/// The active advisor with the fewest open cases who still has room; ties go to the lower
/// relative load, then the id, so the choice is stable.
pub fn lowest_caseload(team: &[AdvisorLoad]) -> Option<AdvisorId> {
    team.iter()
        .filter(|a| a.active && a.open_cases < a.capacity)
        .min_by(|a, b| {
            a.open_cases
                .cmp(&b.open_cases)
                .then((a.open_cases * b.capacity).cmp(&(b.open_cases * a.capacity)))
                .then(a.advisor.0.cmp(&b.advisor.0))
        })
        .map(|a| a.advisor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn a_visit_at_half_past_eleven_at_night_consulted_after_midnight_is_not_same_day() {
        // 23:30 and 00:10 Berlin winter time are 22:30 and 23:10 UTC on one UTC day.
        assert!(!is_same_day(
            utc(2026, 1, 14, 22, 30),
            utc(2026, 1, 14, 23, 10)
        ));
    }

    #[test]
    fn same_day_follows_berlin_not_utc_in_summer_time() {
        // 00:30 Berlin summer time is 22:30 UTC of the day before.
        assert!(is_same_day(utc(2026, 7, 1, 22, 30), utc(2026, 7, 2, 8, 0)));
        assert!(!is_same_day(
            utc(2026, 7, 1, 21, 30),
            utc(2026, 7, 1, 22, 30)
        ));
    }

    #[test]
    fn the_night_clocks_go_forward_is_still_one_office_day() {
        // 29 March 2026: 01:30 CET and 03:30 CEST are both that Sunday.
        assert!(is_same_day(
            utc(2026, 3, 29, 0, 30),
            utc(2026, 3, 29, 1, 30)
        ));
        assert_eq!(
            office_day(utc(2026, 3, 28, 23, 30)),
            NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()
        );
    }

    #[test]
    fn names_match_across_umlaut_spellings_case_and_spacing() {
        assert_eq!(name_key("Müller"), name_key("MUELLER"));
        assert_eq!(name_key("  Meyer-Lüdenscheid "), "meyer luedenscheid");
        assert_eq!(name_key("Straße"), "strasse");
    }

    #[test]
    fn only_a_continue_decision_leads_to_a_consultation() {
        let waiting = VisitState::Waiting;
        assert_eq!(
            waiting.after_access_check(AccessDecision::Continue),
            Ok(VisitState::ReadyForConsultation)
        );
        assert_eq!(
            waiting.after_access_check(AccessDecision::NoNeed),
            Ok(VisitState::Closed)
        );
        assert_eq!(
            VisitState::Closed.start_consultation(),
            Err(StateError::VisitClosed)
        );
        assert_eq!(
            waiting.start_consultation(),
            Err(StateError::AccessCheckMissing)
        );
        assert_eq!(
            VisitState::ReadyForConsultation.after_access_check(AccessDecision::Continue),
            Err(StateError::AccessCheckDone)
        );
    }

    #[test]
    fn lowest_caseload_skips_inactive_and_full_advisors() {
        let id = |n: u128| AdvisorId(Uuid::from_u128(n));
        let team = [
            AdvisorLoad {
                advisor: id(1),
                open_cases: 0,
                capacity: 10,
                active: false,
            },
            AdvisorLoad {
                advisor: id(2),
                open_cases: 5,
                capacity: 5,
                active: true,
            },
            AdvisorLoad {
                advisor: id(3),
                open_cases: 3,
                capacity: 10,
                active: true,
            },
            AdvisorLoad {
                advisor: id(4),
                open_cases: 2,
                capacity: 40,
                active: true,
            },
        ];
        assert_eq!(lowest_caseload(&team), Some(id(4)));
        assert_eq!(lowest_caseload(&team[..2]), None);
    }
}
