-- The person as a front desk records them: address and contact, identity checked (the kind of
-- document only), residence status, household questions that can be "not asked" (NULL), links
-- between applicants of one household, birth dates that documents leave partly unknown, and
-- the teams' service areas that decide local responsibility.

ALTER TABLE intake.applicants
    -- 'day': birth_date is the date; 'month': its month is known (birth_date is the 1st);
    -- 'year': only its year (birth_date is 1 January).
    ADD COLUMN birth_date_precision text NOT NULL DEFAULT 'day'
        CHECK (birth_date_precision IN ('day', 'month', 'year')),
    ADD COLUMN address_street text,
    ADD COLUMN address_extra_line text,
    ADD COLUMN address_postal_code text CHECK (address_postal_code ~ '^[0-9]{5}$'),
    ADD COLUMN address_city text,
    ADD COLUMN no_fixed_abode boolean NOT NULL DEFAULT false,
    ADD COLUMN contact_street text,
    ADD COLUMN contact_extra_line text,
    ADD COLUMN contact_postal_code text CHECK (contact_postal_code ~ '^[0-9]{5}$'),
    ADD COLUMN contact_city text,
    ADD COLUMN phone text NOT NULL DEFAULT '',
    ADD COLUMN email text NOT NULL DEFAULT '',
    ADD COLUMN preferred_channel text NOT NULL DEFAULT 'post'
        CHECK (preferred_channel IN ('post', 'phone', 'email', 'in_person')),
    ADD COLUMN identity_document text
        CHECK (identity_document IN ('id_card', 'passport', 'residence_permit',
            'arrival_certificate', 'id_substitute', 'other')),
    ADD COLUMN identity_checked_by text,
    ADD COLUMN identity_checked_at timestamptz,
    ADD COLUMN residence_status text
        CHECK (residence_status IN ('german', 'eu_freedom_of_movement', 'settlement_permit',
            'residence_permit', 'asylum_procedure', 'tolerated', 'other')),
    ADD COLUMN has_children boolean,
    ADD COLUMN partner_in_household boolean,
    ALTER COLUMN single_parent DROP NOT NULL,
    ADD CONSTRAINT applicants_one_residence CHECK (NOT (no_fixed_abode AND address_street IS NOT NULL)),
    ADD CONSTRAINT applicants_identity_stamped CHECK (
        (identity_document IS NULL) = (identity_checked_at IS NULL)
        AND (identity_document IS NULL) = (identity_checked_by IS NULL));

-- Recorded children were an answer "yes"; none recorded was never asked as such.
UPDATE intake.applicants SET has_children = true WHERE cardinality(children_ages) > 0;

-- Applicants living in one household; each link is stored in both directions.
CREATE TABLE intake.household_links (
    applicant_id uuid NOT NULL REFERENCES intake.applicants (id),
    member_id    uuid NOT NULL REFERENCES intake.applicants (id),
    PRIMARY KEY (applicant_id, member_id),
    CHECK (applicant_id <> member_id)
);

-- A team's service area: leading digits of the postal codes it serves.
ALTER TABLE intake.teams ADD COLUMN postal_code_prefixes text[] NOT NULL DEFAULT '{}';

-- Where an access check forwarded an application another office is responsible for.
ALTER TABLE intake.access_checks ADD COLUMN forwarded_to text NOT NULL DEFAULT '';
ALTER TABLE intake.access_checks DROP CONSTRAINT access_checks_decision_known,
    ADD CONSTRAINT access_checks_decision_known
        CHECK (decision IN ('continue', 'priority_provider', 'no_need', 'not_locally_responsible'));
