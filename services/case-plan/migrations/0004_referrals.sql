-- case-plan follows partner's referrals (partner's ReferralChanged events): each plan step
-- knows the referral made for it, and the timeline shows every change of a referral.
CREATE TABLE caseplan.step_referrals (
    referral_id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES caseplan.cases (id),
    step_id uuid NOT NULL,
    partner_id uuid NOT NULL,
    state text NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX step_referrals_step ON caseplan.step_referrals (case_id, step_id, updated_at);

ALTER TABLE caseplan.timeline DROP CONSTRAINT timeline_kind_check;
ALTER TABLE caseplan.timeline ADD CONSTRAINT timeline_kind_check CHECK (kind IN (
    'opened', 'legal_basis_set', 'plan_revised', 'plan_approved', 'agreement_drafted',
    'agreement_proposed', 'agreement_commented', 'agreement_agreed', 'agreement_declined',
    'agreement_disputed', 'dispute_resolved', 'reviewed', 'reassigned', 'closed',
    'followed_up', 'reopened', 'referral_changed'));
