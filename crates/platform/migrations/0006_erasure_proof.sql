-- The proof of deletion: one row per record whose personal data a retention run or an erasure
-- event removed. It holds no personal data: the record's class and id (a pseudonym that no
-- longer leads to anyone), the rule that applied, what caused it, and when.
CREATE TABLE {schema}.erasure_proof (
    seq          bigserial PRIMARY KEY,
    -- One retention run, or the event that carried the erasure here.
    run_id       uuid NOT NULL,
    record_class text NOT NULL,
    record_id    uuid NOT NULL,
    -- The rule in words with its period, e.g. 'closed_case: 10y after the follow-up'.
    rule         text NOT NULL,
    -- 'retention' or the full name of the event that propagated the erasure.
    cause        text NOT NULL,
    erased_at    timestamptz NOT NULL
);
CREATE INDEX erasure_proof_record ON {schema}.erasure_proof (record_id);

CREATE OR REPLACE FUNCTION {schema}.erasure_proof_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the proof of deletion is append-only';
END;
$$;
CREATE TRIGGER erasure_proof_append_only BEFORE UPDATE OR DELETE ON {schema}.erasure_proof
    FOR EACH ROW EXECUTE FUNCTION {schema}.erasure_proof_is_append_only();
CREATE TRIGGER erasure_proof_no_truncate BEFORE TRUNCATE ON {schema}.erasure_proof
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.erasure_proof_is_append_only();
