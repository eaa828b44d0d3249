-- The client's applicant id at intake, from CaseRegistered: lets partner answer a person's
-- access request (GDPR Art. 15). Cases registered before this stay without one until their
-- next CaseRegistered.
ALTER TABLE partner.cases ADD COLUMN applicant_id uuid;
CREATE INDEX cases_applicant ON partner.cases (applicant_id) WHERE applicant_id IS NOT NULL;
