//! The assessment vocabulary every service speaks (`fallwerk.type.v1`): what the first
//! consultation found, carried on into the help plan and the partners' offers. Stored as the
//! same lowercase values in every schema.

use fallwerk_proto::types as pb;

use crate::{stored_enum, wire_enum};

stored_enum!(
    /// Capacity to work as assessed in the first consultation.
    CapacityToWork {
        /// Six hours a day or more.
        Full = "full",
        /// Three to six hours a day.
        Partial = "partial",
        /// Less than three hours a day.
        None = "none",
        /// Not yet determined: an assessment is to follow.
        NotYetDetermined = "not_yet_determined",
    }
);

stored_enum!(
    /// What an assessment of the capacity to work rests on.
    CapacityBasis {
        /// The person's own account.
        SelfReport = "self_report",
        /// A medical service's opinion.
        MedicalService = "medical_service",
        /// The pension insurance's assessment.
        PensionInsurance = "pension_insurance",
    }
);

stored_enum!(
    /// The activation track.
    ActivationTrack {
        /// Ready for job placement now.
        JobPlacement = "job_placement",
        /// Activatable with support.
        WithSupport = "with_support",
        /// Not activatable in the short term (advised too).
        NotShortTerm = "not_short_term",
    }
);

stored_enum!(
    /// A barrier to a life independent of assistance.
    Barrier {
        /// Childcare.
        Childcare = "childcare",
        /// Health.
        Health = "health",
        /// Debt.
        Debt = "debt",
        /// Addiction.
        Addiction = "addiction",
        /// Housing.
        Housing = "housing",
        /// Language.
        Language = "language",
        /// Qualification.
        Qualification = "qualification",
        /// Caring for relatives.
        CaringForRelatives = "caring_for_relatives",
        /// Mental health.
        MentalHealth = "mental_health",
        /// Residence or work permit.
        ResidenceOrWorkPermit = "residence_or_work_permit",
        /// Mobility.
        Mobility = "mobility",
        /// Another barrier.
        Other = "other",
    }
);

impl Barrier {
    /// Special-category data (Art. 9 GDPR): health, addiction, mental health.
    pub fn is_health(self) -> bool {
        matches!(
            self,
            Barrier::Health | Barrier::Addiction | Barrier::MentalHealth
        )
    }
}

stored_enum!(
    /// The law the assistance rests on; it decides the legal form of the help agreement.
    LegalBasis {
        /// SGB XII chapter 3 (Hilfe zum Lebensunterhalt).
        SgbXiiChapter3 = "sgb_xii_chapter_3",
        /// SGB II (Bürgergeld).
        SgbIi = "sgb_ii",
        /// Another basis.
        Other = "other",
    }
);

wire_enum!(
    CapacityToWork,
    pb::CapacityToWork,
    [Full, Partial, None, NotYetDetermined]
);
wire_enum!(
    CapacityBasis,
    pb::CapacityBasis,
    [SelfReport, MedicalService, PensionInsurance]
);
wire_enum!(
    ActivationTrack,
    pb::ActivationTrack,
    [JobPlacement, WithSupport, NotShortTerm]
);
wire_enum!(
    Barrier,
    pb::Barrier,
    [
        Childcare,
        Health,
        Debt,
        Addiction,
        Housing,
        Language,
        Qualification,
        CaringForRelatives,
        MentalHealth,
        ResidenceOrWorkPermit,
        Mobility,
        Other
    ]
);
wire_enum!(LegalBasis, pb::LegalBasis, [SgbXiiChapter3, SgbIi, Other]);

/// Stored barrier values as their wire numbers (events and API carry them as `i32`).
pub fn barrier_numbers(barriers: &[Barrier]) -> Vec<i32> {
    barriers
        .iter()
        .map(|b| pb::Barrier::from(*b) as i32)
        .collect()
}
