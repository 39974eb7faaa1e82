import { credentials, Metadata, type ChannelCredentials, type Client, type ServiceError } from "@grpc/grpc-js";
import {
  CapacityServiceClient,
  ImageServiceClient,
  NetworkServiceClient,
  NetworkType,
  NodeServiceClient,
  VmServiceClient,
  type CreateVmsRequest,
  type CreateVmsResponse,
  type GetCapacityResponse,
  type Image,
  type Network,
  type Node,
  type Vm,
  type ListNodesRequest,
  type ListNodesResponse,
  type ListVmsRequest,
  type ListVmsResponse,
  type UpdateNodeRequest,
} from "@drover/proto";

type Callback<Res> = (err: ServiceError | null, res: Res) => void;

/** Call metadata presenting `token` as a bearer token (none when undefined). */
export function bearer(token?: string): Metadata {
  const m = new Metadata();
  if (token) m.set("authorization", `Bearer ${token}`);
  return m;
}

/** A typed, promise-based client of the scheduler's public API; `token` goes with every call. */
export function apiClient(address: string, creds: ChannelCredentials = credentials.createInsecure(), token?: string) {
  const metadata = bearer(token);
  /** Promise form of a generated unary method. */
  const call = <Req, Res>(client: Client, method: (req: Req, md: Metadata, cb: Callback<Res>) => unknown, req: Req): Promise<Res> =>
    new Promise((resolve, reject) => method.call(client, req, metadata, (err, res) => (err ? reject(err) : resolve(res))));
  const vms = new VmServiceClient(address, creds);
  const nodes = new NodeServiceClient(address, creds);
  const capacity = new CapacityServiceClient(address, creds);
  const images = new ImageServiceClient(address, creds);
  const networks = new NetworkServiceClient(address, creds);
  return {
    vms,
    nodes,
    createVms: (req: Partial<CreateVmsRequest>): Promise<CreateVmsResponse> =>
      call(vms, vms.createVms as never, { count: 0, minCount: 0, idempotencyKey: "", groups: [], dryRun: false, project: "", ...req }),
    getVm: async (id: string): Promise<Vm> => (await call<{ id: string }, { vm: Vm }>(vms, vms.getVm as never, { id })).vm,
    listVms: (req: Partial<ListVmsRequest> = {}): Promise<ListVmsResponse> =>
      call(vms, vms.listVms as never, { state: 0, node: "", pageSize: 0, pageToken: "", project: "", ...req }),
    deleteVm: async (id: string): Promise<Vm> => (await call<{ id: string }, { vm: Vm }>(vms, vms.deleteVm as never, { id })).vm,
    startVm: async (id: string): Promise<Vm> => (await call<{ id: string }, { vm: Vm }>(vms, vms.startVm as never, { id })).vm,
    stopVm: async (id: string, force = false): Promise<Vm> => (await call<{ id: string; force: boolean }, { vm: Vm }>(vms, vms.stopVm as never, { id, force })).vm,
    rebootVm: async (id: string): Promise<Vm> => (await call<{ id: string }, { vm: Vm }>(vms, vms.rebootVm as never, { id })).vm,
    listNodes: async (): Promise<Node[]> =>
      (await call<ListNodesRequest, ListNodesResponse>(nodes, nodes.listNodes, { state: 0, pageSize: 0, pageToken: "" })).nodes,
    listNodesPage: (req: Partial<ListNodesRequest> = {}): Promise<ListNodesResponse> =>
      call<ListNodesRequest, ListNodesResponse>(nodes, nodes.listNodes, { state: 0, pageSize: 0, pageToken: "", ...req }),
    getNode: async (name: string): Promise<Node> => (await call<{ name: string }, { node: Node }>(nodes, nodes.getNode as never, { name })).node,
    cordonNode: async (name: string): Promise<Node> => (await call<{ name: string }, { node: Node }>(nodes, nodes.cordonNode as never, { name })).node,
    uncordonNode: async (name: string): Promise<Node> => (await call<{ name: string }, { node: Node }>(nodes, nodes.uncordonNode as never, { name })).node,
    updateNode: async (req: Partial<UpdateNodeRequest> & { name: string }): Promise<Node> =>
      (await call<UpdateNodeRequest, { node: Node }>(nodes, nodes.updateNode as never, req)).node,
    getCapacity: (node = ""): Promise<GetCapacityResponse> => call(capacity, capacity.getCapacity as never, { node }),
    createImage: async (image: Image): Promise<Image> => (await call<{ image: Image }, { image: Image }>(images, images.createImage as never, { image })).image,
    listImages: async (): Promise<Image[]> => (await call<object, { images: Image[] }>(images, images.listImages, {})).images,
    getImage: async (name: string): Promise<Image> => (await call<{ name: string }, { image: Image }>(images, images.getImage as never, { name })).image,
    deleteImage: (name: string): Promise<unknown> => call(images, images.deleteImage as never, { name }),
    createNetwork: async (name: string, description = "", type = NetworkType.NETWORK_TYPE_UNSPECIFIED): Promise<Network> =>
      (await call<{ network: Partial<Network> }, { network: Network }>(networks, networks.createNetwork as never, { network: { name, description, type } })).network,
    listNetworks: async (): Promise<Network[]> => (await call<object, { networks: Network[] }>(networks, networks.listNetworks, {})).networks,
    deleteNetwork: (name: string): Promise<unknown> => call(networks, networks.deleteNetwork as never, { name }),
    close() {
      images.close();
      networks.close();
      vms.close();
      nodes.close();
      capacity.close();
    },
  };
}

export type ApiClient = ReturnType<typeof apiClient>;
