import { getProject, insertToken, type ApiToken, type Db, type RoleName } from "@drover/store";
import { NotFoundError } from "../errors.js";
import { newSecret } from "./secret.js";

/**
 * Makes a token and returns it with its bearer secret, which exists only in
 * this answer (the store keeps its hash). Used by AccessService and by
 * `drover-scheduler token create` for the first admin token.
 */
export async function issueToken(
  db: Db,
  t: { role: RoleName; project: string; description: string; ttlMs?: number | undefined },
): Promise<{ token: ApiToken; bearer: string }> {
  if (!(await getProject(db, t.project))) throw new NotFoundError("project", t.project, "create it with CreateProject");
  const secret = newSecret();
  const token = await insertToken(db, { id: secret.id, secretHash: secret.hash, ...t });
  return { token, bearer: secret.bearer };
}
