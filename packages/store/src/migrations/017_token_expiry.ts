// API tokens may expire: a token past expires_at is refused like a revoked one
// (UNAUTHENTICATED "token expired"); NULL means it never expires.
export const sql017 = /* sql */ `
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
`;
