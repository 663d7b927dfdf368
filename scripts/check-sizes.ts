/**
 * Prints the runtime and init code size of every deployable contract and linked library under contracts/ (mocks
 * excluded) from Hardhat's artifacts, and fails when one exceeds the project's limits:
 *
 *   runtime code ≤ 20,480 bytes (20 KiB: 4 KiB of headroom under EIP-170's 24,576, docs/cost.md)
 *   init code    ≤ 49,152 bytes (EIP-3860; `TaskManager`'s holds `TaskQueue`'s and `TaskSettlement`'s)
 *
 *   npm run size:check            (after `npx hardhat build`; CI runs it)
 *   npx tsx scripts/check-sizes.ts --limit 24576
 *
 * Exit code 1 when a contract is over a limit, 2 when there are no artifacts to read.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const RUNTIME_LIMIT = Number(argValue("--limit") ?? 20_480);
const INIT_LIMIT = 49_152;
const ROOT = join(import.meta.dirname, "..");
const ARTIFACTS = join(ROOT, "artifacts", "contracts");

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function* artifactFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* artifactFiles(path);
    else if (entry.endsWith(".json") && !entry.endsWith(".dbg.json") && entry !== "artifacts.d.ts") yield path;
  }
}

/** Bytes of a hex string; link placeholders (`__$…$__`, 40 characters) count as the 20-byte address they become. */
const byteLength = (hex: string) => (hex.startsWith("0x") ? hex.length - 2 : hex.length) / 2;

if (!existsSync(ARTIFACTS)) {
  console.error(`no artifacts in ${relative(ROOT, ARTIFACTS)}: run \`npx hardhat build\` first`);
  process.exit(2);
}

type Artifact = {
  contractName?: string;
  sourceName?: string;
  bytecode?: string;
  deployedBytecode?: string;
  abi?: { type: string }[];
  linkReferences?: Record<string, Record<string, unknown>>;
};
const artifacts: { file: string; artifact: Artifact }[] = [];
for (const file of artifactFiles(ARTIFACTS)) {
  if (relative(ARTIFACTS, file).startsWith("mocks")) continue;
  try {
    artifacts.push({ file, artifact: JSON.parse(readFileSync(file, "utf8")) });
  } catch {
    continue;
  }
}
// External libraries are deployed and linked: any library another artifact links to counts as deployable.
const linked = new Set<string>(
  artifacts.flatMap(({ artifact }) =>
    Object.entries(artifact.linkReferences ?? {}).flatMap(([source, libs]) =>
      Object.keys(libs).map((l) => `${source.replace(/^project\//, "")}:${l}`),
    ),
  ),
);
const rows: { name: string; runtime: number; init: number }[] = [];
for (const { file, artifact } of artifacts) {
  if (typeof artifact.deployedBytecode !== "string" || typeof artifact.bytecode !== "string") continue;
  const runtime = byteLength(artifact.deployedBytecode);
  if (runtime === 0) continue; // interfaces and abstract contracts
  // No function in the ABI and nobody links it: a library of internal functions only, never deployed.
  const callable = (artifact.abi ?? []).some((entry) => entry.type === "function");
  if (!callable && !linked.has(`${artifact.sourceName}:${artifact.contractName}`)) continue;
  rows.push({ name: artifact.contractName ?? file, runtime, init: byteLength(artifact.bytecode) });
}
if (rows.length === 0) {
  console.error("no deployable contracts found in the artifacts: run `npx hardhat build` first");
  process.exit(2);
}

rows.sort((a, b) => b.runtime - a.runtime);
const over = rows.filter((r) => r.runtime > RUNTIME_LIMIT || r.init > INIT_LIMIT);
const pad = Math.max(...rows.map((r) => r.name.length));
console.log(`${"contract".padEnd(pad)}  runtime bytes  init bytes  (limits ${RUNTIME_LIMIT} / ${INIT_LIMIT})`);
for (const r of rows) {
  const flag = r.runtime > RUNTIME_LIMIT || r.init > INIT_LIMIT ? "  OVER THE LIMIT" : "";
  console.log(`${r.name.padEnd(pad)}  ${String(r.runtime).padStart(13)}  ${String(r.init).padStart(10)}${flag}`);
}
if (over.length > 0) {
  console.error(`${over.length} contract(s) over the limit: ${over.map((r) => r.name).join(", ")}`);
  process.exit(1);
}
console.log(`sizes ok: ${rows.length} contracts, largest ${rows[0].name} ${rows[0].runtime} bytes`);
