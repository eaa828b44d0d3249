-- case-plan's schema: cases as intake's CaseOpened events describe them, the roster they need
-- to answer "my cases", and the help plan in immutable revisions. Values are the domain's
-- (domain.rs); CHECK constraints allow exactly them.

-- The roster as intake's AdvisorChanged events say (to map a token's subject to its advisor).
CREATE TABLE caseplan.advisors (
    id uuid PRIMARY KEY,
    team_id uuid NOT NULL,
    subject text NOT NULL UNIQUE,
    display_name text NOT NULL,
    active boolean NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE caseplan.cases (
    id uuid PRIMARY KEY,
    applicant_id uuid NOT NULL,
    team_id uuid NOT NULL,
    responsible_advisor_id uuid NOT NULL,
    state text NOT NULL CHECK (state IN ('open', 'closed')),
    opened_at timestamptz NOT NULL,
    -- The client, as intake's events tell it.
    client_display_name text NOT NULL,
    client_birth_date date NOT NULL,
    client_interpreter_language text NOT NULL,
    client_single_parent boolean NOT NULL,
    client_youngest_child_age integer CHECK (client_youngest_child_age BETWEEN 0 AND 25),
    -- The first consultation at intake.
    consultation_id uuid NOT NULL,
    consulting_advisor_id uuid NOT NULL,
    consultation_started_at timestamptz NOT NULL,
    arrived_at timestamptz NOT NULL,
    same_day boolean NOT NULL,
    first_steps text[] NOT NULL,
    self_help_options text[] NOT NULL,
    office_offers text[] NOT NULL,
    capacity_to_work text NOT NULL CHECK (capacity_to_work IN ('full', 'partial', 'none')),
    activation_track text NOT NULL
        CHECK (activation_track IN ('job_placement', 'with_support', 'not_short_term')),
    barriers text[] NOT NULL
        CHECK (barriers <@ ARRAY['childcare', 'health', 'debt', 'addiction', 'housing', 'language',
                                 'qualification']::text[]),
    legal_basis text CHECK (legal_basis IN ('sgb_xii_chapter_3', 'sgb_ii', 'other')),
    -- The current help plan revision (0: none yet) and its earliest open step's due day.
    plan_revision integer NOT NULL DEFAULT 0 CHECK (plan_revision >= 0),
    next_due_date date,
    -- Closure.
    closure_outcome text CHECK (closure_outcome IN (
        'work_taken_up', 'training_started', 'independent_of_assistance', 'transferred',
        'moved_away', 'no_longer_cooperating', 'deceased', 'other')),
    closure_note text,
    follow_up_date date,
    closed_at timestamptz,
    closed_by text,
    version integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL,
    CONSTRAINT cases_closure_complete CHECK (
        (state = 'closed') = (closed_at IS NOT NULL)
        AND (closed_at IS NULL) = (closure_outcome IS NULL)
        AND (closed_at IS NULL) = (follow_up_date IS NULL))
);
CREATE INDEX cases_team ON caseplan.cases (team_id, id);
CREATE INDEX cases_responsible ON caseplan.cases (responsible_advisor_id, id);
CREATE INDEX cases_applicant ON caseplan.cases (applicant_id);

-- One row per revision of a case's help plan; never updated.
CREATE TABLE caseplan.plan_revisions (
    case_id uuid NOT NULL REFERENCES caseplan.cases (id),
    revision integer NOT NULL CHECK (revision >= 1),
    cause text NOT NULL CHECK (cause IN ('first_plan', 'review', 'client_request', 'dispute_resolution')),
    author text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (case_id, revision)
);

-- The goals of each revision; a goal keeps its id across revisions.
CREATE TABLE caseplan.plan_goals (
    case_id uuid NOT NULL,
    revision integer NOT NULL,
    id uuid NOT NULL,
    position integer NOT NULL,
    category text NOT NULL CHECK (category IN (
        'work', 'childcare', 'health', 'debt', 'housing', 'language', 'qualification',
        'social_stability', 'other')),
    own_words text NOT NULL,
    target_date date,
    status text NOT NULL CHECK (status IN ('open', 'achieved', 'dropped')),
    PRIMARY KEY (case_id, revision, id),
    FOREIGN KEY (case_id, revision) REFERENCES caseplan.plan_revisions (case_id, revision)
);

-- The steps of each revision; a step keeps its id across revisions.
CREATE TABLE caseplan.plan_steps (
    case_id uuid NOT NULL,
    revision integer NOT NULL,
    id uuid NOT NULL,
    goal_id uuid NOT NULL,
    position integer NOT NULL,
    action text NOT NULL,
    owner text NOT NULL CHECK (owner IN ('client', 'office', 'partner')),
    due_date date,
    status text NOT NULL CHECK (status IN ('planned', 'done', 'cancelled')),
    PRIMARY KEY (case_id, revision, id),
    FOREIGN KEY (case_id, revision, goal_id) REFERENCES caseplan.plan_goals (case_id, revision, id)
);
