-- partner's schema: partners and their offers with capacity, the open cases it may refer
-- (from case-plan's feed), the client's consents, and referrals with the data they carry.
-- Values are the domain's (domain.rs); CHECK constraints allow exactly them.

CREATE TABLE partner.partners (
    id uuid PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('job_center', 'public_health_office',
                                       'welfare_association', 'municipal_service', 'other')),
    display_name text NOT NULL,
    contact text NOT NULL,
    active boolean NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE partner.offers (
    id uuid PRIMARY KEY,
    partner_id uuid NOT NULL REFERENCES partner.partners (id),
    category text NOT NULL CHECK (category IN (
        'job_placement', 'qualification', 'debt_counselling', 'addiction_counselling',
        'childcare', 'health_assessment', 'housing_support', 'psychosocial_support',
        'language_course', 'other')),
    title text NOT NULL,
    places integer NOT NULL CHECK (places BETWEEN 0 AND 10000),
    places_taken integer NOT NULL DEFAULT 0 CHECK (places_taken >= 0 AND places_taken <= places),
    eligibility text NOT NULL,
    location text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX offers_category ON partner.offers (category);

-- The cases partner may refer, as case-plan's feed tells them.
CREATE TABLE partner.cases (
    id uuid PRIMARY KEY,
    team_id uuid NOT NULL,
    open boolean NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE partner.consents (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES partner.cases (id),
    partner_id uuid NOT NULL REFERENCES partner.partners (id),
    purpose text NOT NULL,
    categories text[] NOT NULL CHECK (cardinality(categories) > 0 AND categories <@ ARRAY[
        'identity', 'contact', 'household', 'plan_steps', 'employment_history', 'health',
        'finances', 'notes']::text[]),
    form text NOT NULL CHECK (form IN ('written', 'electronic')),
    evidence text NOT NULL,
    given_date date NOT NULL,
    valid_until date NOT NULL CHECK (valid_until > given_date),
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_by text
);
CREATE INDEX consents_case ON partner.consents (case_id, partner_id);

CREATE TABLE partner.referrals (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES partner.cases (id),
    offer_id uuid NOT NULL REFERENCES partner.offers (id),
    partner_id uuid NOT NULL REFERENCES partner.partners (id),
    step_id uuid NOT NULL,
    reason text NOT NULL,
    state text NOT NULL CHECK (state IN ('sent', 'waiting', 'accepted', 'declined', 'completed',
                                         'ended_early', 'withdrawn', 'closed')),
    consent_id uuid NOT NULL REFERENCES partner.consents (id),
    categories text[] NOT NULL,
    -- The shared data (fallwerk.partner.v1.SharedData, protobuf); NULL once redacted.
    shared bytea,
    redacted_at timestamptz,
    decline_reason text,
    outcome text CHECK (outcome IN ('completed', 'stopped_attending', 'not_suitable', 'other')),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT referrals_redacted_has_no_data CHECK (redacted_at IS NULL OR shared IS NULL)
);
CREATE INDEX referrals_case ON partner.referrals (case_id, id);
CREATE INDEX referrals_partner ON partner.referrals (partner_id, id);
-- The waiting list of each offer, oldest first.
CREATE INDEX referrals_waiting ON partner.referrals (offer_id, created_at) WHERE state = 'waiting';
