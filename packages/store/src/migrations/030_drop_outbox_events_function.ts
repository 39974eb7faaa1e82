// drover_outbox_events (migration 024) fanned an outbox row out a second way, next to the readers'
// own (outbox-fan-out.ts), and only tests called it: they now read through the readers' code
// (testing.ts outboxEvents), so a fan-out defect cannot pass the tests by being absent from theirs.
export const sql030 = /* sql */ `
DROP FUNCTION drover_outbox_events(bigint, jsonb, uuid[], text[], bigint, integer);
`;
