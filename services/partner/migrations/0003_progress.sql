-- Progress reports of partners on accepted referrals; a started measure is IN_PROGRESS.
ALTER TABLE partner.referrals
    ADD COLUMN progress text CHECK (progress IN ('attended', 'started', 'interrupted')),
    ADD COLUMN next_contact date,
    ADD COLUMN feedback_note text;
ALTER TABLE partner.referrals DROP CONSTRAINT referrals_state_check;
ALTER TABLE partner.referrals ADD CONSTRAINT referrals_state_check CHECK (state IN (
    'sent', 'waiting', 'accepted', 'in_progress', 'declined', 'completed', 'ended_early',
    'withdrawn', 'closed'));
