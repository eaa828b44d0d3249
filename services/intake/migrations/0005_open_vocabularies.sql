-- Open lists grow: more priority claims and barriers, each with an `other`; a capacity to work
-- that is not yet determined; and what an assessed capacity rests on.
ALTER TABLE intake.access_check_claims DROP CONSTRAINT access_check_claims_claim_known;
ALTER TABLE intake.access_check_claims ADD CONSTRAINT access_check_claims_claim_known
    CHECK (claim IN ('unemployment_benefit', 'job_center', 'housing_benefit', 'child_benefit',
                     'maintenance', 'own_income', 'own_assets', 'pension',
                     'child_maintenance_advance', 'sickness_benefit', 'training_allowance',
                     'other'));
ALTER TABLE intake.consultations DROP CONSTRAINT consultations_capacity_known;
ALTER TABLE intake.consultations ADD CONSTRAINT consultations_capacity_known
    CHECK (capacity_to_work IN ('full', 'partial', 'none', 'not_yet_determined'));
ALTER TABLE intake.consultations DROP CONSTRAINT consultations_barriers_known;
ALTER TABLE intake.consultations ADD CONSTRAINT consultations_barriers_known
    CHECK (barriers <@ ARRAY['childcare', 'health', 'debt', 'addiction', 'housing', 'language',
                             'qualification', 'caring_for_relatives', 'mental_health',
                             'residence_or_work_permit', 'mobility', 'other']::text[]);
-- Consultations completed before this was asked for have no recorded basis.
ALTER TABLE intake.consultations ADD COLUMN capacity_basis text
    CHECK (capacity_basis IN ('self_report', 'medical_service', 'pension_insurance'));
