-- Agreements in their legal forms, reviews, follow-up, reassignment and reopening, the team's
-- settings, and the case's timeline.

ALTER TABLE caseplan.cases
    ADD COLUMN next_review_date date,
    -- The agreement in force (agreed, not superseded or ended).
    ADD COLUMN agreement_id uuid,
    ADD COLUMN follow_up_result text CHECK (follow_up_result IN ('lasting', 'not_lasting', 'unreachable')),
    ADD COLUMN follow_up_note text,
    ADD COLUMN followed_up_at timestamptz,
    ADD COLUMN followed_up_by text,
    ADD CONSTRAINT cases_follow_up_after_closure
        CHECK (followed_up_at IS NULL OR closed_at IS NOT NULL),
    ADD CONSTRAINT cases_follow_up_complete
        CHECK ((followed_up_at IS NULL) = (follow_up_result IS NULL));
CREATE INDEX cases_next_review ON caseplan.cases (team_id, next_review_date) WHERE state = 'open';
CREATE INDEX cases_follow_up ON caseplan.cases (team_id, follow_up_date)
    WHERE state = 'closed' AND followed_up_at IS NULL;

ALTER TABLE caseplan.plan_revisions
    ADD COLUMN approved_by text,
    ADD COLUMN approved_at timestamptz,
    ADD CONSTRAINT plan_revisions_approval_complete CHECK ((approved_by IS NULL) = (approved_at IS NULL));

CREATE TABLE caseplan.team_settings (
    team_id uuid PRIMARY KEY,
    plan_approval_required boolean NOT NULL,
    version integer NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL
);

CREATE TABLE caseplan.agreements (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES caseplan.cases (id),
    plan_revision integer NOT NULL,
    form text NOT NULL CHECK (form IN ('signed_agreement', 'cooperation_plan', 'written_agreement')),
    -- Stored states; ACTIVE and EXPIRED are AGREED read against the Europe/Berlin day.
    state text NOT NULL CHECK (state IN ('draft', 'proposed', 'agreed', 'declined', 'disputed',
                                         'superseded', 'ended')),
    text text NOT NULL,
    review_date date NOT NULL,
    start_date date,
    end_date date CHECK (end_date IS NULL OR start_date IS NULL OR end_date >= start_date),
    ack_channel text CHECK (ack_channel IN ('in_person', 'letter', 'email', 'portal')),
    ack_client_signed boolean,
    ack_office_signed boolean,
    ack_client_assent boolean,
    agreed_at timestamptz,
    agreed_by text,
    decline_reason text,
    dispute_objection text,
    disputed_at timestamptz,
    -- The state a resolved dispute with outcome KEEP returns to.
    disputed_from text CHECK (disputed_from IN ('proposed', 'agreed')),
    dispute_resolution text,
    dispute_outcome text CHECK (dispute_outcome IN ('keep', 'end')),
    dispute_resolved_at timestamptz,
    supersedes_id uuid REFERENCES caseplan.agreements (id),
    version integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    FOREIGN KEY (case_id, plan_revision) REFERENCES caseplan.plan_revisions (case_id, revision),
    CONSTRAINT agreements_agreed_has_acknowledgement
        CHECK ((agreed_at IS NULL) = (ack_channel IS NULL)),
    CONSTRAINT agreements_disputed_has_objection
        CHECK (state <> 'disputed' OR (dispute_objection IS NOT NULL AND disputed_from IS NOT NULL))
);
CREATE INDEX agreements_case ON caseplan.agreements (case_id, created_at);
-- At most one agreement of a case is being worked out at a time.
CREATE UNIQUE INDEX agreements_one_in_progress ON caseplan.agreements (case_id)
    WHERE state IN ('draft', 'proposed') OR (state = 'disputed' AND disputed_from = 'proposed');

CREATE TABLE caseplan.agreement_comments (
    agreement_id uuid NOT NULL REFERENCES caseplan.agreements (id),
    seq integer NOT NULL,
    author text NOT NULL CHECK (author IN ('client', 'office')),
    text text NOT NULL,
    counter_proposal boolean NOT NULL,
    created_at timestamptz NOT NULL,
    recorded_by text NOT NULL,
    PRIMARY KEY (agreement_id, seq)
);

CREATE TABLE caseplan.reviews (
    id uuid PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES caseplan.cases (id),
    plan_revision integer NOT NULL,
    notes text NOT NULL,
    next_review_date date NOT NULL,
    -- The review date that was due when this review was recorded (NULL: none was due).
    due_date date,
    author text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX reviews_case ON caseplan.reviews (case_id, created_at);

CREATE TABLE caseplan.review_goals (
    review_id uuid NOT NULL REFERENCES caseplan.reviews (id),
    goal_id uuid NOT NULL,
    position integer NOT NULL,
    progress text NOT NULL CHECK (progress IN ('none', 'some', 'reached')),
    note text NOT NULL,
    PRIMARY KEY (review_id, goal_id)
);

-- Every event of a case in order, as the advisor's timeline shows it.
CREATE TABLE caseplan.timeline (
    seq bigserial PRIMARY KEY,
    case_id uuid NOT NULL REFERENCES caseplan.cases (id),
    kind text NOT NULL CHECK (kind IN (
        'opened', 'legal_basis_set', 'plan_revised', 'plan_approved', 'agreement_drafted',
        'agreement_proposed', 'agreement_commented', 'agreement_agreed', 'agreement_declined',
        'agreement_disputed', 'dispute_resolved', 'reviewed', 'reassigned', 'closed',
        'followed_up', 'reopened')),
    occurred_at timestamptz NOT NULL,
    actor text NOT NULL,
    subject_id text NOT NULL,
    summary text NOT NULL
);
CREATE INDEX timeline_case ON caseplan.timeline (case_id, seq);

-- The cases that arrived before the timeline existed start with their opening.
INSERT INTO caseplan.timeline (case_id, kind, occurred_at, actor, subject_id, summary)
SELECT id, 'opened', opened_at, 'intake', '', 'Fall bei der Erstberatung eröffnet'
FROM caseplan.cases ORDER BY opened_at;
