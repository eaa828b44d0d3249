-- A partner system's change stream reads partner's own feed: ReferralChanged events are
-- written about the partner (aggregate_id = partner id), in commit order by feed position.
CREATE INDEX outbox_agency_stream ON partner.outbox (aggregate_id, position)
    WHERE position IS NOT NULL;
