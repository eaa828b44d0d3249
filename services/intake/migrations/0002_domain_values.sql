-- Store domain values (domain.rs) instead of protobuf enum names, and let the database refuse
-- anything else: the contract's names may evolve without touching stored data, and a value
-- this build does not know is an error when read, never a silent default.

UPDATE intake.access_checks SET decision = lower(substr(decision, length('ACCESS_DECISION_') + 1));
ALTER TABLE intake.access_checks ADD CONSTRAINT access_checks_decision_known
    CHECK (decision IN ('continue', 'priority_provider', 'no_need'));

UPDATE intake.access_check_claims SET
    claim = lower(substr(claim, length('PRIORITY_CLAIM_') + 1)),
    outcome = lower(substr(outcome, length('CLAIM_OUTCOME_') + 1));
ALTER TABLE intake.access_check_claims ADD CONSTRAINT access_check_claims_claim_known
    CHECK (claim IN ('unemployment_benefit', 'job_center', 'housing_benefit', 'child_benefit',
                     'maintenance', 'own_income', 'own_assets'));
ALTER TABLE intake.access_check_claims ADD CONSTRAINT access_check_claims_outcome_known
    CHECK (outcome IN ('none', 'received', 'to_be_applied', 'unclear'));

UPDATE intake.consultations SET
    capacity_to_work = lower(substr(capacity_to_work, length('CAPACITY_TO_WORK_') + 1)),
    activation_track = lower(substr(activation_track, length('ACTIVATION_TRACK_') + 1)),
    barriers = ARRAY(SELECT lower(substr(b, length('BARRIER_') + 1)) FROM unnest(barriers) AS b);
ALTER TABLE intake.consultations ADD CONSTRAINT consultations_capacity_known
    CHECK (capacity_to_work IN ('full', 'partial', 'none'));
ALTER TABLE intake.consultations ADD CONSTRAINT consultations_track_known
    CHECK (activation_track IN ('job_placement', 'with_support', 'not_short_term'));
ALTER TABLE intake.consultations ADD CONSTRAINT consultations_barriers_known
    CHECK (barriers <@ ARRAY['childcare', 'health', 'debt', 'addiction', 'housing', 'language',
                             'qualification']::text[]);
-- A completed consultation has its assessment.
ALTER TABLE intake.consultations ADD CONSTRAINT consultations_complete_has_outcome
    CHECK (state = 'IN_PROGRESS' OR (capacity_to_work IS NOT NULL AND activation_track IS NOT NULL));

UPDATE intake.advisors SET function = lower(substr(function, length('ADVISOR_FUNCTION_') + 1));
ALTER TABLE intake.advisors ADD CONSTRAINT advisors_function_known
    CHECK (function IN ('administrative', 'social_work', 'job_placement'));
