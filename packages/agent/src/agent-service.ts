// The AgentService the scheduler calls: VM lifecycle on this node's libvirt.
import { setTimeout as sleep } from "node:timers/promises";
import type { ServerWritableStream } from "@grpc/grpc-js";
import {
  type AgentServiceServer,
  DomainState,
  type DomainStatus,
  type GetHostInfoResponse,
  type ReadConsoleLogRequest,
  type ReadConsoleLogResponse,
  type Image,
  type Network,
  type VmSpec,
} from "@drover/proto";
import { buildDomainXml } from "./domain-xml.js";
import { isKvmUnavailable, type DomainTypeChoice } from "./domain-type.js";
import { NotRegisteredError, ValidationError } from "./errors.js";
import { agentStreamStatus, agentUnary } from "./grpc-status.js";
import { consoleLogPath, tailFile } from "./console-log.js";
import type { DomainStates } from "./domain-states.js";
import { KeyedLock } from "./keyed-lock.js";
import { type Domain, type LibvirtHost, isActive, isNotFound } from "./libvirt.js";
import { OwnedDomains } from "./owned-domains.js";
import { checkImageRef, resolveBootFile, resolveImage, verifyImage, verifyImageBootFiles, type ResolvedImage } from "./images.js";
import { withCrashes } from "./shutoff-reasons.js";
import { prepareStorage, removeStorage } from "./storage.js";
import { networkAttachment } from "./network-attachment.js";

export interface AgentServiceDeps {
  libvirt: LibvirtHost;
  /** This node's cluster (undefined before the first registration): domains are Drover's only when marked with it. */
  clusterId: () => string | undefined;
  /** The view of libvirt to share with the agent's own listing (heartbeats, metrics); made from libvirt and clusterId when unset. */
  owned?: OwnedDomains;
  /** The type to define domains with, and why (chooseDomainType). */
  domainType: DomainTypeChoice;
  /** Called once if QEMU cannot use KVM after all, with the new choice; domains are defined as "qemu" from then on. */
  onKvmUnavailable?: (choice: DomainTypeChoice) => void;
  stateDir: string;
  /** Where catalog images live; a VM's image name resolves to a file here and nowhere else. */
  imageDir: string;
  /** Node name and capacity, as registered. */
  hostInfo: () => Promise<Omit<GetHostInfoResponse, "libvirtUri" | "domainType" | "domainTypeReason" | "hypervisor">>;
  /** How long an ACPI reboot waits for the guest to power off before it resets it (default 30 s). */
  rebootResetAfterMs?: number;
  /**
   * Where the result of every call is recorded (its generations go into the answers), so heartbeats
   * send domain states without asking libvirt; without it, answers carry generation 0.
   */
  states?: DomainStates;
  /** Where unexpected errors are logged, under the id their INTERNAL status names. */
  log?: (message: string) => void;
  /** Where Linux bridges are looked up (tests); default /sys/class/net. */
  sysNet?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** VM ids are libvirt domain UUIDs; accept any case but use lower case throughout. */
export function checkVmId(vmId: string): string {
  const id = (vmId ?? "").trim().toLowerCase();
  if (!UUID.test(id)) throw new ValidationError("vm_id", `must be a UUID like 6f1c2a9e-1b2c-4d3e-8f90-0123456789ab, got ${JSON.stringify(vmId)}`);
  return id;
}

// The agent re-checks what it needs to define a domain; the scheduler owns the
// finer naming rules (DNS labels), but nothing here may break the XML or libvirt.
export function checkSpec(spec: VmSpec | undefined): VmSpec {
  if (!spec) throw new ValidationError("spec", "is required");
  if (!spec.name) throw new ValidationError("spec.name", "is required");
  if (spec.name.length > 200) throw new ValidationError("spec.name", "is longer than 200 characters");
  if (!(spec.vcpus >= 1)) throw new ValidationError("spec.vcpus", "must be at least 1");
  if (!(spec.memoryMib >= 1)) throw new ValidationError("spec.memory_mib", "must be at least 1");
  return spec;
}

function hypervisorName(uri: string): string {
  const scheme = uri.split(":")[0]!.split("+")[0]!;
  return scheme === "qemu" ? "QEMU" : scheme === "test" ? "Test" : scheme;
}

export function createAgentService(deps: AgentServiceDeps): AgentServiceServer {
  const { libvirt, stateDir } = deps;
  const owned = deps.owned ?? new OwnedDomains(libvirt, deps.clusterId);
  // Starts as detected; drops to "qemu" for good if QEMU turns out unable to use KVM.
  let choice = deps.domainType;
  const lock = new KeyedLock();
  const unary = agentUnary(deps.log ?? console.error);
  const streamStatus = agentStreamStatus(deps.log ?? console.error);
  const states = deps.states;
  const usesFiles = choice.type !== "test";

  const status_ = async (dom: Domain): Promise<DomainStatus> => {
    const s = await libvirt.snapshot(dom);
    return states ? states.made(s) : { vmId: s.uuid, name: s.name, state: s.state, reason: s.reason ?? "", interfaces: [], reportInterfaces: false, generation: 0 };
  };

  // After a failed call the domain may be half-changed: read it again (one domain, a few calls).
  const refresh = async (vmId: string): Promise<void> => {
    if (!states) return;
    const dom = await owned.lookup(vmId);
    if (dom) await status_(dom);
    else states.gone(vmId);
  };

  /** The verified backing file of the VM's disk, or undefined for a blank disk; refused before anything is created. */
  async function backingOf(spec: VmSpec, image: Image | undefined): Promise<ResolvedImage | undefined> {
    if (!spec.image) {
      if (image) throw new ValidationError("image", "must be unset when spec.image is empty");
      return undefined;
    }
    const ref = checkImageRef(spec.image, image);
    if (!(spec.diskGib > 0)) throw new ValidationError("spec.image", "needs spec.disk_gib > 0 to hold it");
    const resolved = await resolveImage(deps.imageDir, ref);
    await verifyImage(resolved, ref);
    return resolved;
  }

  /**
   * A catalog image may carry its own direct boot (kernel, initrd, command line): used when the spec
   * names no kernel; a spec's cmdline still replaces the image's.
   */
  function withImageBoot(spec: VmSpec, image: Image | undefined): VmSpec {
    if (spec.kernel || !image?.kernel) return spec;
    return { ...spec, kernel: image.kernel, initrd: image.initrd, cmdline: spec.cmdline || image.cmdline };
  }

  /**
   * The spec with its kernel and initrd names resolved to their real paths inside the image directory;
   * the image's own boot files (bootImage: the spec took them from it) are verified against its sha256s.
   */
  async function withBootFiles(spec: VmSpec, bootImage: Image | undefined): Promise<VmSpec> {
    if (!spec.kernel && !spec.initrd) return spec;
    const kernel = spec.kernel ? await resolveBootFile(deps.imageDir, spec.kernel) : "";
    const initrd = spec.initrd ? await resolveBootFile(deps.imageDir, spec.initrd) : "";
    if (bootImage) await verifyImageBootFiles(bootImage, kernel, initrd);
    return { ...spec, kernel, initrd };
  }

  async function ensure(vmId: string, spec: VmSpec, image: Image | undefined, network: Network | undefined): Promise<DomainStatus> {
    const clusterId = deps.clusterId();
    if (!clusterId) throw new NotRegisteredError();
    // A foreign domain with this UUID throws here (NOT_FOUND), before any file is made.
    const existing = await owned.lookup(vmId);
    if (existing) {
      // Idempotent: the spec of an existing domain is not compared or changed;
      // a domain that is off is started again (Ensure means "make it run").
      const state = await libvirt.state(existing);
      if (state === DomainState.DOMAIN_STATE_SHUTOFF || state === DomainState.DOMAIN_STATE_CRASHED) {
        await libvirt.start(existing);
      }
      return status_(existing);
    }
    const backing = await backingOf(spec, image);
    const nic = networkAttachment(spec, network, deps.sysNet);
    const booted = withImageBoot(spec, backing ? image : undefined);
    // A new spec object means it took the image's kernel and initrd: those carry the catalog's sha256s.
    spec = await withBootFiles(booted, booted !== spec ? image : undefined);
    const paths = usesFiles ? await prepareStorage(stateDir, vmId, spec, backing).catch(async (err: unknown) => {
      await removeStorage(stateDir, vmId);
      throw err;
    }) : {};
    for (;;) {
      let dom: Domain | undefined;
      try {
        dom = await owned.define(buildDomainXml({ vmId, clusterId }, spec, choice.type, paths, nic), vmId);
        await libvirt.start(dom);
        return await status_(dom);
      } catch (err) {
        // Roll back so a retry starts clean instead of finding a half-made VM.
        if (dom) await owned.undefine(dom, vmId).catch(() => {});
        const message = String((err as Error).message ?? err);
        if (choice.type === "kvm" && isKvmUnavailable(message)) {
          choice = { type: "qemu", reason: `a domain start with KVM failed (${message}): software emulation from now on` };
          deps.onKvmUnavailable?.(choice);
          continue;
        }
        if (usesFiles) await removeStorage(stateDir, vmId).catch(() => {});
        throw err;
      }
    }
  }

  // Reads the log file, not the domain: the domain only has to exist when the call starts. While
  // following, the stream ends once the domain is gone (destroyed, or the VM deleted).
  async function readConsoleLog(call: ServerWritableStream<ReadConsoleLogRequest, ReadConsoleLogResponse>): Promise<void> {
    let cancelled = false;
    call.on("cancelled", () => (cancelled = true));
    try {
      const vmId = checkVmId(call.request.vmId);
      await owned.get(vmId);
      const done = async () => cancelled || (await owned.gone(vmId));
      await tailFile(consoleLogPath(stateDir, vmId), { follow: call.request.follow, done }, async (data) => {
        if (!call.write({ data })) await new Promise((r) => call.once("drain", r));
      });
      call.end();
    } catch (err) {
      // grpc-js sends a status for an 'error' event; ending the stream would report OK.
      call.emit("error", streamStatus(err, call.getPath()));
    }
  }

  const resetAfterMs = deps.rebootResetAfterMs ?? 30_000;
  async function finishReboot(vmId: string, dom: Domain): Promise<void> {
    const deadline = Date.now() + resetAfterMs;
    try {
      while (Date.now() < deadline && isActive(await libvirt.state(dom))) await sleep(100);
      if (isActive(await libvirt.state(dom))) {
        deps.log?.(`VM ${vmId}: the guest did not power off within ${resetAfterMs} ms of the ACPI reboot: resetting it`);
        await libvirt.destroy(dom);
      }
      await libvirt.start(dom);
    } catch (err) {
      // Deleted meanwhile, or libvirt failed: heartbeats report the domain's real state.
      if (!isNotFound(err)) deps.log?.(`VM ${vmId}: reboot did not finish: ${(err as Error).message}`);
    }
  }

  // The guest powers off on its own after the ACPI button: record it when it does (the kept domain
  // states would otherwise show it running until the next relist), for up to a minute.
  async function watchPowerOff(dom: Domain): Promise<void> {
    const deadline = Date.now() + 60_000;
    try {
      while (Date.now() < deadline) {
        await sleep(200);
        if (!isActive(await libvirt.state(dom))) {
          await status_(dom);
          return;
        }
      }
    } catch {
      // deleted meanwhile: DestroyDomain recorded it
    }
  }

  async function start(dom: Domain): Promise<void> {
    const state = await libvirt.state(dom);
    if (state === DomainState.DOMAIN_STATE_PAUSED) await libvirt.resume(dom);
    else if (!isActive(state)) await libvirt.start(dom);
  }

  const withVm = <Req extends { vmId: string }, Res>(fn: (vmId: string, req: Req) => Promise<Res>) =>
    unary<Req, Res>(async (req) => {
      const vmId = checkVmId(req.vmId);
      return lock.run(vmId, async () => {
        try {
          return await fn(vmId, req);
        } catch (err) {
          await refresh(vmId).catch(() => {});
          throw err;
        }
      });
    });

  return {
    getHostInfo: unary(async () => ({
      ...(await deps.hostInfo()),
      libvirtUri: libvirt.uri,
      domainType: choice.type,
      domainTypeReason: choice.fix ? `${choice.reason}. Fix: ${choice.fix}` : choice.reason,
      hypervisor: hypervisorName(libvirt.uri),
    })),

    ensureDomain: withVm(async (vmId, req) => ({ domain: await ensure(vmId, checkSpec(req.spec), req.image, req.network) })),

    startDomain: withVm(async (vmId) => {
      const dom = await owned.get(vmId);
      await start(dom);
      return { domain: await status_(dom) };
    }),

    // Graceful stop asks the guest (ACPI) and returns at once: the state may still
    // be RUNNING until the guest powers off, and heartbeats report when it does.
    // A guest without ACPI handling never stops; use force.
    stopDomain: withVm(async (vmId, req) => {
      const dom = await owned.get(vmId);
      const state = await libvirt.state(dom);
      if (isActive(state)) {
        if (req.force || state === DomainState.DOMAIN_STATE_PAUSED) await libvirt.destroy(dom);
        else {
          await libvirt.shutdown(dom);
          void watchPowerOff(dom);
        }
      }
      return { domain: await status_(dom) };
    }),

    // An ACPI reboot: the guest gets the power button and powers off, then the domain is started
    // again; a guest that is still on after rebootResetAfterMs is reset (destroyed and started). The
    // call returns once the button is pressed; the rest runs under the VM's lock, so a stop or delete
    // that comes in meanwhile waits for it. (The binding has no virDomainReboot or virDomainReset.)
    // A domain that is off is simply started; the test driver, which has no guest, is reset at once.
    rebootDomain: withVm(async (vmId) => {
      const dom = await owned.get(vmId);
      const state = await libvirt.state(dom);
      if (state === DomainState.DOMAIN_STATE_RUNNING && usesFiles) {
        // The domain is off between the guest's power-off and the start: a listing meanwhile must
        // not report it STOPPED (the VM stays RUNNING through a reboot).
        const release = states?.hold(vmId) ?? (() => {});
        try {
          await libvirt.shutdown(dom);
        } catch (err) {
          release();
          throw err;
        }
        // Once it is done, the states record what the reboot left.
        void lock
          .run(vmId, () => finishReboot(vmId, dom))
          .finally(() => refresh(vmId).catch(() => {}))
          .finally(release);
        return { domain: await status_(dom) };
      }
      if (isActive(state)) await libvirt.destroy(dom);
      await libvirt.start(dom);
      return { domain: await status_(dom) };
    }),

    // A foreign domain with the VM's UUID answers NOT_FOUND, and its files (if any) stay.
    destroyDomain: withVm(async (vmId) => {
      const dom = await owned.lookup(vmId);
      if (dom) {
        try {
          if (isActive(await libvirt.state(dom))) await libvirt.destroy(dom);
          await owned.undefine(dom, vmId);
        } catch (err) {
          // Someone else removed it between our calls: that is the goal anyway.
          if (!isNotFound(err)) throw err;
        }
      }
      states?.gone(vmId);
      if (usesFiles) await removeStorage(stateDir, vmId);
      return {};
    }),

    readConsoleLog: (call) => void readConsoleLog(call),

    listDomains: unary(async () => {
      // Read from libvirt now. With recorded states, the listing is applied to them (as the agent's
      // own relisting is) and each domain is answered with its generation there: unchanged since the
      // last report, the same one; changed behind the agent's back, a new one.
      const since = states?.mark() ?? 0;
      const listed = await owned.list();
      if (!states) return { domains: listed.map((s) => ({ vmId: s.uuid, name: s.name, state: s.state, reason: "", interfaces: [], reportInterfaces: false, generation: 0 })) };
      states.replaceAll(await withCrashes(states, libvirt.uri, usesFiles, listed), since);
      return { domains: states.list() };
    }),
  };
}
