// A node that goes DOWN remembers the operator's state (CORDONED, DRAINING),
// so a cordon survives the node dropping out and coming back.
export const sql002 = /* sql */ `
ALTER TABLE nodes ADD COLUMN state_before_down text
  CHECK (state_before_down IN ('READY', 'CORDONED', 'DRAINING'));
`;
