//! Who may call which partner method: the one place to read it. Object-level rules (the
//! case's team for staff, the token's partner for partner systems) are checked in the
//! handlers, which answer NOT_FOUND for what is not the caller's.

use fallwerk_platform::auth::{
    AccessPolicy, MethodRule,
    Role::{Admin, Advisor, Auditor, Partner, TeamLead},
};
use fallwerk_proto::partner::{partner_agency_service_server, partner_service_server};

/// The method rules of `fallwerk.partner.v1.PartnerService` (the office's staff). Partner
/// systems have no method here.
pub const POLICY: AccessPolicy = AccessPolicy {
    service: partner_service_server::SERVICE_NAME,
    rules: &[
        MethodRule {
            method: "CreatePartner",
            roles: &[Admin],
        },
        MethodRule {
            method: "UpdatePartner",
            roles: &[Admin],
        },
        MethodRule {
            method: "ListPartners",
            roles: &[Admin, Advisor, TeamLead],
        },
        MethodRule {
            method: "CreateOffer",
            roles: &[Admin],
        },
        MethodRule {
            method: "SearchOffers",
            roles: &[Admin, Advisor, TeamLead],
        },
        MethodRule {
            method: "RecordConsent",
            roles: &[Advisor],
        },
        MethodRule {
            method: "RevokeConsent",
            roles: &[Advisor],
        },
        MethodRule {
            method: "ListConsents",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "CreateReferral",
            roles: &[Advisor],
        },
        MethodRule {
            method: "GetReferral",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "ListReferrals",
            roles: &[Advisor, TeamLead],
        },
        MethodRule {
            method: "WithdrawReferral",
            roles: &[Advisor],
        },
        MethodRule {
            method: "GetDataSharingRecord",
            roles: &[Advisor, TeamLead, Auditor],
        },
    ],
};

/// The method rules of `fallwerk.partner.v1.PartnerAgencyService`: partner systems only.
pub const AGENCY_POLICY: AccessPolicy = AccessPolicy {
    service: partner_agency_service_server::SERVICE_NAME,
    rules: &[
        MethodRule {
            method: "ListMyReferrals",
            roles: &[Partner],
        },
        MethodRule {
            method: "GetMyReferral",
            roles: &[Partner],
        },
        MethodRule {
            method: "AcceptReferral",
            roles: &[Partner],
        },
        MethodRule {
            method: "DeclineReferral",
            roles: &[Partner],
        },
        MethodRule {
            method: "ReportProgress",
            roles: &[Partner],
        },
        MethodRule {
            method: "CompleteReferral",
            roles: &[Partner],
        },
        MethodRule {
            method: "UpdateOfferCapacity",
            roles: &[Partner],
        },
        MethodRule {
            method: "StreamMyReferralChanges",
            roles: &[Partner],
        },
    ],
};
