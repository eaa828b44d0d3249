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
    }
);

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

wire_enum!(CapacityToWork, pb::CapacityToWork, [Full, Partial, None]);
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
        Qualification
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
