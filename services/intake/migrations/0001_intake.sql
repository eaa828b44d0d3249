-- intake's own tables. Every name is schema-qualified; the service's role owns only `intake`.

CREATE TABLE intake.teams (
    id           uuid PRIMARY KEY,
    display_name text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL
);

CREATE TABLE intake.advisors (
    id           uuid PRIMARY KEY,
    team_id      uuid NOT NULL REFERENCES intake.teams (id),
    subject      text NOT NULL UNIQUE,
    display_name text NOT NULL,
    function     text NOT NULL,
    capacity     integer NOT NULL CHECK (capacity BETWEEN 1 AND 500),
    active       boolean NOT NULL DEFAULT true,
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX advisors_by_team ON intake.advisors (team_id);

CREATE TABLE intake.applicants (
    id                   uuid PRIMARY KEY,
    given_name           text NOT NULL,
    family_name          text NOT NULL,
    -- Folded spellings (see domain::name_key) for the duplicate check and search.
    family_key           text NOT NULL,
    given_key            text NOT NULL,
    birth_date           date NOT NULL,
    single_parent        boolean NOT NULL,
    children_ages        integer[] NOT NULL,
    interpreter_language text NOT NULL,
    version              integer NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL
);
-- Duplicate check: same family name and date of birth.
CREATE INDEX applicants_identity ON intake.applicants (family_key, birth_date);
-- Search by name prefix, in result order.
CREATE INDEX applicants_name_prefix ON intake.applicants (family_key text_pattern_ops, given_key text_pattern_ops, id);
CREATE INDEX applicants_birth_date ON intake.applicants (birth_date);

CREATE TABLE intake.visits (
    id            uuid PRIMARY KEY,
    applicant_id  uuid NOT NULL REFERENCES intake.applicants (id),
    team_id       uuid NOT NULL REFERENCES intake.teams (id),
    arrived_at    timestamptz NOT NULL,
    -- The Europe/Berlin calendar day of arrival (domain::office_day).
    arrival_day   date NOT NULL,
    concern       text NOT NULL,
    state         text NOT NULL CHECK (state IN ('WAITING', 'READY_FOR_CONSULTATION', 'IN_CONSULTATION', 'CONSULTED', 'CLOSED')),
    registered_by text NOT NULL
);
-- The day's queue and the figures' visit counts.
CREATE INDEX visits_team_day ON intake.visits (team_id, arrival_day, arrived_at);
-- A person's visit history.
CREATE INDEX visits_applicant ON intake.visits (applicant_id, arrived_at DESC, id DESC);

CREATE TABLE intake.access_checks (
    visit_id       uuid PRIMARY KEY REFERENCES intake.visits (id),
    emergency_need boolean NOT NULL,
    emergency_note text NOT NULL,
    decision       text NOT NULL,
    checked_by     text NOT NULL,
    checked_at     timestamptz NOT NULL
);

CREATE TABLE intake.access_check_claims (
    visit_id uuid NOT NULL REFERENCES intake.access_checks (visit_id),
    claim    text NOT NULL,
    outcome  text NOT NULL,
    note     text NOT NULL,
    PRIMARY KEY (visit_id, claim)
);

CREATE TABLE intake.consultations (
    id                uuid PRIMARY KEY,
    visit_id          uuid NOT NULL UNIQUE REFERENCES intake.visits (id),
    applicant_id      uuid NOT NULL REFERENCES intake.applicants (id),
    team_id           uuid NOT NULL REFERENCES intake.teams (id),
    advisor_id        uuid NOT NULL REFERENCES intake.advisors (id),
    state             text NOT NULL CHECK (state IN ('IN_PROGRESS', 'COMPLETED')),
    started_at        timestamptz NOT NULL,
    -- The Europe/Berlin day the consultation started, and whether that was the arrival day.
    start_day         date NOT NULL,
    same_day          boolean NOT NULL,
    completed_at      timestamptz,
    first_steps       text[] NOT NULL DEFAULT '{}',
    self_help_options text[] NOT NULL DEFAULT '{}',
    office_offers     text[] NOT NULL DEFAULT '{}',
    capacity_to_work  text,
    activation_track  text,
    barriers          text[] NOT NULL DEFAULT '{}',
    notes             text NOT NULL DEFAULT ''
);
-- Figures: consultations of a team per day.
CREATE INDEX consultations_team_day ON intake.consultations (team_id, start_day);

CREATE TABLE intake.case_openings (
    case_id                uuid PRIMARY KEY,
    consultation_id        uuid NOT NULL UNIQUE REFERENCES intake.consultations (id),
    applicant_id           uuid NOT NULL REFERENCES intake.applicants (id),
    team_id                uuid NOT NULL REFERENCES intake.teams (id),
    responsible_advisor_id uuid NOT NULL REFERENCES intake.advisors (id),
    opened_at              timestamptz NOT NULL,
    same_day               boolean NOT NULL,
    -- Set when case-plan reports the case closed (its event feed); open cases count as caseload.
    closed_at              timestamptz
);
CREATE INDEX case_openings_open_by_advisor ON intake.case_openings (responsible_advisor_id) WHERE closed_at IS NULL;
