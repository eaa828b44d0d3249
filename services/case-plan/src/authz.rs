//! Who may call which case-plan method: the one place to read it. Object-level rules (the
//! case's team) are checked in the handlers, which answer NOT_FOUND for another team's cases.

use fallwerk_platform::auth::{
    AccessPolicy, MethodRule,
    Role::{Advisor, Service, TeamLead},
};
use fallwerk_proto::caseplan::{
    case_plan_service_server::SERVICE_NAME, case_snapshot_service_server,
};

/// The method rules of `fallwerk.caseplan.v1.CasePlanService`. Case content is for the case's
/// team only: its advisors read and change, its lead reads (and later approves and reassigns).
/// Front desk, admins, partners and services see none of it.
pub const POLICY: AccessPolicy = AccessPolicy {
    service: SERVICE_NAME,
    rules: &[
        MethodRule {
            method: "GetCase",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "ListCases",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "UpdateCase",
            roles: &[Advisor],
        },
        MethodRule {
            method: "GetHelpPlan",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "ReviseHelpPlan",
            roles: &[Advisor],
        },
        MethodRule {
            method: "ListPlanRevisions",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "CloseCase",
            roles: &[Advisor],
        },
        MethodRule {
            method: "RecordFollowUp",
            roles: &[Advisor],
        },
        MethodRule {
            method: "ReopenCase",
            roles: &[Advisor],
        },
        MethodRule {
            method: "ReassignCase",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "SetLegalHold",
            roles: &[TeamLead],
        },
        MethodRule {
            method: "ListTimelineEntries",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "ListDueItems",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "GetCaseFigures",
            roles: &[TeamLead],
        },
        MethodRule {
            method: "CreateAgreement",
            roles: &[Advisor],
        },
        MethodRule {
            method: "GetAgreement",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "ListAgreements",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "UpdateAgreement",
            roles: &[Advisor],
        },
        MethodRule {
            method: "ProposeAgreement",
            roles: &[Advisor],
        },
        MethodRule {
            method: "CommentOnAgreement",
            roles: &[Advisor],
        },
        MethodRule {
            method: "AcceptAgreement",
            roles: &[Advisor],
        },
        MethodRule {
            method: "DeclineAgreement",
            roles: &[Advisor],
        },
        MethodRule {
            method: "DisputeAgreement",
            roles: &[Advisor],
        },
        MethodRule {
            method: "ResolveDispute",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "ApprovePlanRevision",
            roles: &[TeamLead],
        },
        MethodRule {
            method: "RecordReview",
            roles: &[Advisor],
        },
        MethodRule {
            method: "ListReviews",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "GetTeamSettings",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "UpdateTeamSettings",
            roles: &[TeamLead],
        },
    ],
};

/// The method rules of `fallwerk.caseplan.v1.CaseSnapshotService`: other fallwerk services
/// only (partner, under the consent it checked); never staff or partner systems.
pub const SNAPSHOT_POLICY: AccessPolicy = AccessPolicy {
    service: case_snapshot_service_server::SERVICE_NAME,
    rules: &[MethodRule {
        method: "GetCaseSnapshot",
        roles: &[Service],
    }],
};
