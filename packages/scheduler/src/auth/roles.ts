// Who may do what. A role is a set of rights; each RPC names the roles it
// needs (api/*-service.ts), and project-scoped roles see only their project.
import type { RoleName } from "@drover/store";
import { NotFoundError, PermissionDeniedError } from "../errors.js";

export type Role = RoleName;

/** The caller of one RPC, as its token says. */
export interface Principal {
  /** The token's id ("insecure" when tokens are not checked). */
  tokenId: string;
  role: Role;
  project: string;
}

/** Everything: tokens and projects too. */
export const ADMIN: readonly Role[] = ["admin"];
/** Nodes, capacity, images: the fleet. */
export const FLEET: readonly Role[] = ["admin", "operator"];
/** Create and operate VMs (members in their own project). */
export const VM_WRITE: readonly Role[] = ["admin", "operator", "member"];
/** Read VMs and projects (project-scoped roles, their own). */
export const READ: readonly Role[] = ["admin", "operator", "member", "viewer"];

/** Roles that act on every project; the others only on their token's. */
const GLOBAL: readonly Role[] = ["admin", "operator"];

export const seesEveryProject = (p: Principal): boolean => GLOBAL.includes(p.role);

/** Throws PermissionDeniedError unless the caller has one of `roles`; the message names them. */
export function requireRole(p: Principal, roles: readonly Role[], what: string): void {
  if (!roles.includes(p.role)) {
    throw new PermissionDeniedError(p, `${what} needs role ${roles.join(" or ")}`);
  }
}

/** Throws PermissionDeniedError unless the caller may act in `project`. */
export function requireProject(p: Principal, project: string, what: string): void {
  if (!seesEveryProject(p) && p.project !== project) {
    throw new PermissionDeniedError(p, `${what} in project ${project} needs a token of project ${project}, or role admin or operator`);
  }
}

/**
 * Throws NotFoundError for a VM of another project, exactly as for one that
 * does not exist, so project-scoped callers cannot probe other projects' ids.
 */
export function requireVisibleVm(p: Principal, vm: { id: string; project: string }, idAsWritten: string): void {
  if (!seesEveryProject(p) && vm.project !== p.project) throw new NotFoundError("vm", idAsWritten);
}
