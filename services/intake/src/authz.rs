//! Who may call which intake method: the one place to read it. Object-level rules (same
//! team, the consulting advisor) are checked in the handlers, which answer NOT_FOUND for
//! another team's objects.

use fallwerk_platform::auth::{
    AccessPolicy, MethodRule,
    Role::{self, *},
};
use fallwerk_proto::intake::intake_service_server::SERVICE_NAME;

const STAFF: &[Role] = &[FrontDesk, Advisor, TeamLead];

/// The method rules of `fallwerk.intake.v1.IntakeService`.
pub const POLICY: AccessPolicy = AccessPolicy {
    service: SERVICE_NAME,
    rules: &[
        // Identity data: the whole office's staff, to find people and catch duplicates.
        MethodRule {
            method: "CreateApplicant",
            roles: STAFF,
        },
        MethodRule {
            method: "GetApplicant",
            roles: STAFF,
        },
        MethodRule {
            method: "SearchApplicants",
            roles: STAFF,
        },
        MethodRule {
            method: "UpdateApplicant",
            roles: STAFF,
        },
        // Contact for another fallwerk service holding the client's consent (partner).
        MethodRule {
            method: "GetApplicantContact",
            roles: &[Service],
        },
        // Visits: the caller's team only.
        MethodRule {
            method: "RegisterVisit",
            roles: &[FrontDesk, Advisor],
        },
        MethodRule {
            method: "GetVisit",
            roles: STAFF,
        },
        MethodRule {
            method: "ListWaitingQueue",
            roles: STAFF,
        },
        MethodRule {
            method: "ListVisits",
            roles: STAFF,
        },
        MethodRule {
            method: "EndVisit",
            roles: &[FrontDesk, Advisor],
        },
        MethodRule {
            method: "RecordAccessCheck",
            roles: &[FrontDesk, Advisor],
        },
        // Consultation content: advisors of the team (and its lead reads it), never front desk.
        MethodRule {
            method: "StartConsultation",
            roles: &[Advisor],
        },
        MethodRule {
            method: "CompleteConsultation",
            roles: &[Advisor],
        },
        MethodRule {
            method: "GetConsultation",
            roles: &[Advisor, TeamLead],
        },
        // Roster.
        MethodRule {
            method: "CreateTeam",
            roles: &[Admin],
        },
        MethodRule {
            method: "UpdateTeam",
            roles: &[Admin],
        },
        MethodRule {
            method: "GetTeam",
            roles: &[FrontDesk, Advisor, TeamLead, Admin],
        },
        MethodRule {
            method: "ListTeams",
            roles: &[FrontDesk, Advisor, TeamLead, Admin],
        },
        MethodRule {
            method: "CreateAdvisor",
            roles: &[Admin, TeamLead],
        },
        MethodRule {
            method: "UpdateAdvisor",
            roles: &[Admin, TeamLead],
        },
        MethodRule {
            method: "GetAdvisor",
            roles: &[Admin, TeamLead, Advisor],
        },
        MethodRule {
            method: "ListAdvisors",
            roles: &[Admin, TeamLead, Advisor],
        },
        // Cases and figures.
        MethodRule {
            method: "OpenCase",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "GetTeamFigures",
            roles: &[TeamLead],
        },
    ],
};
