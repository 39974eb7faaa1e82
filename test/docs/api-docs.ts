// Readers for api-docs.test.ts: what the proto files and grpc-status.ts define, and what
// README's API section says about them. Pure text functions.

type Rpcs = Record<string, string[]>;

const sorted = (rpcs: Rpcs): Rpcs =>
  Object.fromEntries(Object.entries(rpcs).sort(([a], [b]) => a.localeCompare(b)).map(([s, r]) => [s, [...r].sort()]));

/** Each `service` of the proto files (package drover.v1) with its RPC names; comments ignored. */
export function protoRpcs(files: string[]): Rpcs {
  const rpcs: Rpcs = {};
  for (const file of files) {
    const text = file.replace(/\/\/.*$/gm, "");
    for (const m of text.matchAll(/service\s+(\w+)\s*\{([^}]*)\}/g)) {
      rpcs[`drover.v1.${m[1]}`] = [...m[2]!.matchAll(/rpc\s+(\w+)\s*\(/g)].map((r) => r[1]!);
    }
  }
  return sorted(rpcs);
}

/** README's services table: each row's service and the bare `CamelCase` names in its RPC cell. */
export function documentedRpcs(readme: string): Rpcs {
  const rpcs: Rpcs = {};
  for (const m of readme.matchAll(/^\| `(drover\.v1\.\w+)` \| (.*) \|$/gm)) {
    rpcs[m[1]!] = [...m[2]!.matchAll(/`([A-Z][A-Za-z0-9]*)`/g)].map((r) => r[1]!);
  }
  return sorted(rpcs);
}

/** The `status.CODE`s a source file names. */
export function statusCodesIn(source: string): string[] {
  return [...new Set([...source.matchAll(/\bstatus\.([A-Z_]+)\b/g)].map((m) => m[1]!))].sort();
}

/** The `CODE`s README's Errors paragraph names. */
export function documentedErrorCodes(readme: string): Set<string> {
  const start = readme.indexOf("- **Errors** are gRPC statuses");
  if (start < 0) throw new Error("README has no Errors paragraph");
  const end = readme.indexOf("\n- ", start + 1);
  return new Set([...readme.slice(start, end).matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!));
}
