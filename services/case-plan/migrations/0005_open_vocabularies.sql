-- intake's vocabularies grew (more barriers, a capacity not yet determined): the copies of
-- the first consultation here accept them.
ALTER TABLE caseplan.cases DROP CONSTRAINT cases_capacity_to_work_check;
ALTER TABLE caseplan.cases ADD CONSTRAINT cases_capacity_to_work_check
    CHECK (capacity_to_work IN ('full', 'partial', 'none', 'not_yet_determined'));
ALTER TABLE caseplan.cases DROP CONSTRAINT cases_barriers_check;
ALTER TABLE caseplan.cases ADD CONSTRAINT cases_barriers_check
    CHECK (barriers <@ ARRAY['childcare', 'health', 'debt', 'addiction', 'housing', 'language',
                             'qualification', 'caring_for_relatives', 'mental_health',
                             'residence_or_work_permit', 'mobility', 'other']::text[]);
