-- A client's birth date may be partly unknown, as intake records it: 'month' or 'year' mean
-- client_birth_date is the first day of that month or year.
ALTER TABLE caseplan.cases ADD COLUMN client_birth_date_precision text NOT NULL DEFAULT 'day'
    CHECK (client_birth_date_precision IN ('day', 'month', 'year'));
