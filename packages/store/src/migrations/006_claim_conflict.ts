// A create commits its request rows, claims, VM rows and events in one
// autocommit statement (one round trip instead of BEGIN, statements, COMMIT).
// A statement cannot roll itself back, but an error aborts it whole: this
// function is that error, raised when a conditional claim was refused.
// SQLSTATE DR001 is Drover's own class, so callers can tell it from any other.
export const sql006 = /* sql */ `
CREATE FUNCTION drover_claim_conflict(refused text[]) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION 'claim conflict on %', array_to_string(refused, ', ')
    USING ERRCODE = 'DR001', DETAIL = array_to_string(refused, ',');
END $$;
`;
