-- Set when case-plan erased the case (CaseErased): the referrals' and consents' texts and the
-- shared data are gone; states, categories, outcomes and dates stay for the figures and the
-- data-sharing record.
ALTER TABLE partner.cases ADD COLUMN erased_at timestamptz;
