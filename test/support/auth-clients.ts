// Clients of the access and project services, and raw calls of any unary RPC
// with a given token (or none), for the authorization suites.
import { status, type ChannelCredentials, type Client, type Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  AccessServiceClient,
  Event,
  ProjectServiceClient,
  Role,
  VmServiceClient,
  type Project,
  type Quota,
  type Token,
} from "@drover/proto";
import { bearer } from "./clients.js";

type Method<Req, Res> = (req: Req, md: Metadata, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** Calls one unary method presenting `token` (none when undefined). */
export function callWith<Req, Res>(client: Client, method: Method<Req, Res>, req: Req, token?: string): Promise<Res> {
  return new Promise((resolve, reject) => method.call(client, req, bearer(token), (err, res) => (err ? reject(err) : resolve(res))));
}

export function adminClients(address: string, creds: ChannelCredentials, token?: string) {
  const access = new AccessServiceClient(address, creds);
  const projects = new ProjectServiceClient(address, creds);
  return {
    access,
    projects,
    createToken: async (role: Role, project = "", t = token): Promise<{ token: Token; secret: string }> => {
      return callWith<unknown, { token: Token; secret: string }>(access, access.createToken as never, { role, project, description: "test", ttlSeconds: 0 }, t);
    },
    revokeToken: (id: string, t = token) => callWith(access, access.revokeToken as never, { id }, t),
    listTokens: async (t = token): Promise<Token[]> => (await callWith<unknown, { tokens: Token[] }>(access, access.listTokens as never, { project: "" }, t)).tokens,
    createProject: async (name: string, quota?: Quota, t = token): Promise<Project> =>
      (await callWith<unknown, { project: Project }>(projects, projects.createProject as never, { name, quota }, t)).project,
    getProject: async (name: string, t = token): Promise<Project> =>
      (await callWith<unknown, { project: Project }>(projects, projects.getProject as never, { name }, t)).project,
    listProjects: async (t = token): Promise<Project[]> => (await callWith<unknown, { projects: Project[] }>(projects, projects.listProjects as never, {}, t)).projects,
    setQuota: async (name: string, quota: Quota, t = token): Promise<Project> =>
      (await callWith<unknown, { project: Project }>(projects, projects.setQuota as never, { name, quota }, t)).project,
    close() {
      access.close();
      projects.close();
    },
  };
}

/** Reads WatchEvents from the start for `ms`, presenting `token`; the events seen, or the stream's error. */
export function watchFromStart(address: string, creds: ChannelCredentials, token: string | undefined, ms: number): Promise<{ events: Event[]; error?: ServiceError }> {
  const vms = new VmServiceClient(address, creds);
  const events: Event[] = [];
  return new Promise((resolve) => {
    const stream = vms.watchEvents({ afterId: 0, fromStart: true, subjectPrefix: "" }, bearer(token));
    const timer = setTimeout(() => stream.cancel(), ms);
    stream.on("data", (r: { event: Event }) => events.push(r.event));
    stream.on("error", (error: ServiceError) => {
      clearTimeout(timer);
      vms.close();
      resolve(error.code === status.CANCELLED ? { events } : { events, error });
    });
    stream.on("end", () => {
      clearTimeout(timer);
      vms.close();
      resolve({ events });
    });
  });
}
