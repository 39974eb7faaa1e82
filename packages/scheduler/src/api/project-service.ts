import type { Project as ProjectProto, ProjectServiceServer, Quota as QuotaProto } from "@drover/proto";
import { getProject, insertProject, listProjects, setQuota, type Project, type Quota } from "@drover/store";
import { ADMIN, guardedUnary, READ, requireProject, seesEveryProject } from "../auth/index.js";
import type { SchedulerContext } from "../context.js";
import { AlreadyExistsError, NotFoundError } from "../errors.js";
import { validateProjectName } from "./validation.js";
import { toTimestamp } from "./convert.js";

const quotaFromProto = (q: QuotaProto | undefined): Quota => ({
  vcpus: q?.vcpus ?? null,
  memoryMib: q?.memoryMib ?? null,
  diskGib: q?.diskGib ?? null,
  vms: q?.vms ?? null,
});

function projectToProto(p: Project): ProjectProto {
  const quota: QuotaProto = {};
  if (p.quota.vcpus !== null) quota.vcpus = p.quota.vcpus;
  if (p.quota.memoryMib !== null) quota.memoryMib = p.quota.memoryMib;
  if (p.quota.diskGib !== null) quota.diskGib = p.quota.diskGib;
  if (p.quota.vms !== null) quota.vms = p.quota.vms;
  return { name: p.name, quota, used: p.used, usedVms: p.usedVms, createdAt: toTimestamp(p.createdAt) };
}

/** ProjectService: admins create projects and set quotas; everyone reads what they may see. */
export function projectService(ctx: SchedulerContext): ProjectServiceServer {
  const unary = guardedUnary(ctx);
  const mustGet = async (name: string) => {
    const p = await getProject(ctx.sql, name);
    if (!p) throw new NotFoundError("project", name);
    return p;
  };
  return {
    createProject: unary(
      ADMIN,
      async (req) => {
        const p = await insertProject(ctx.sql, validateProjectName("name", req.name), quotaFromProto(req.quota));
        if (!p) throw new AlreadyExistsError("project", req.name);
        return { project: projectToProto(p) };
      },
      (req) => req.name,
    ),
    listProjects: unary(READ, async (_req, who) => {
      const all = seesEveryProject(who) ? await listProjects(ctx.sql) : [await mustGet(who.project)];
      return { projects: all.map(projectToProto) };
    }),
    getProject: unary(READ, async (req, who) => {
      validateProjectName("name", req.name);
      requireProject(who, req.name, "GetProject");
      return { project: projectToProto(await mustGet(req.name)) };
    }),
    setQuota: unary(
      ADMIN,
      async (req) => {
        const p = await setQuota(ctx.sql, validateProjectName("name", req.name), quotaFromProto(req.quota));
        if (!p) throw new NotFoundError("project", req.name);
        return { project: projectToProto(p) };
      },
      (req) => req.name,
    ),
  };
}
