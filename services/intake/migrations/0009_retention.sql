-- Retention: an erased applicant or visit keeps what the figures count (states, days, times,
-- decisions, ids) and loses every name, fact and text about the person. Erased NOT NULL
-- columns hold fixed placeholders ('' and 1900-01-01); `erased_at` says so, and no read serves
-- an erased applicant.
ALTER TABLE intake.applicants ADD COLUMN erased_at timestamptz;
ALTER TABLE intake.visits ADD COLUMN erased_at timestamptz;
-- Set when case-plan reports the case erased (CaseErased): the client may go once every case
-- of theirs has.
ALTER TABLE intake.case_openings ADD COLUMN erased_at timestamptz;

-- The retention run's searches.
CREATE INDEX visits_retention ON intake.visits (arrived_at) WHERE erased_at IS NULL;
CREATE INDEX applicants_retention ON intake.applicants (updated_at) WHERE erased_at IS NULL;
CREATE INDEX case_openings_applicant ON intake.case_openings (applicant_id);
