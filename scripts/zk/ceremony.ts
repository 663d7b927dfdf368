/**
 * Phase 2 of the Groth16 trusted setup (the circuit-specific part), as a chain of steps that any number of
 * participants can extend. Each step reads a zkey and writes the next one; nothing secret is ever written.
 *
 *   tsx scripts/zk/ceremony.ts init       <circuit.r1cs> <phase1.ptau> <out.zkey>
 *   tsx scripts/zk/ceremony.ts contribute <in.zkey> <out.zkey> [--name <text>]
 *   tsx scripts/zk/ceremony.ts beacon     <in.zkey> <out.zkey> <beaconHashHex> <iterationsExp> [--name <text>]
 *   tsx scripts/zk/ceremony.ts verify     <circuit.r1cs> <phase1.ptau> <zkey>
 *   tsx scripts/zk/ceremony.ts finalize   <circuit.r1cs> <phase1.ptau> <zkey> <out/verification_key.json>
 *                                         <out/NameVerifier.sol> [--skip-verify]
 *   tsx scripts/zk/ceremony.ts export-vk  <zkey> <out.json>
 *   tsx scripts/zk/ceremony.ts check      <circuit.r1cs> <phase1.ptau> <zkey> <verification_key.json>
 *                                         <NameVerifier.sol>
 *
 * - `init` is `snarkjs groth16 setup`: it starts with δ = 1, which anyone can recompute, so a zkey with no
 *   `contribute` after it lets anyone forge proofs (docs/trusted-setup.md).
 * - `contribute` multiplies δ by a fresh secret: 64 bytes read from /dev/urandom inside this process, handed to
 *   snarkjs's `zKey.contribute` in memory (snarkjs hashes them together with 64 bytes of its own from Node's CSPRNG).
 *   The entropy never appears on the command line, in the environment, on disk or in a log, and the secret scalar
 *   dies with the process. Whoever knows it could forge proofs; after this step nobody does.
 * - `beacon` applies a public random value (for example a future block hash) last, so that no participant could
 *   choose the final δ; it adds no secrecy.
 * - `verify` is `snarkjs zkey verify`: it recomputes the setup from the r1cs and the ptau and checks every
 *   contribution of the chain, without learning any secret.
 * - `finalize` verifies (unless `--skip-verify`) and exports the verification key and the Solidity verifier (the
 *   contract is named after the output file, with a do-not-edit header). It refuses a zkey without a secret
 *   contribution.
 * - `check` (what `npm run zk:check` runs per circuit) changes nothing: `zkey verify`, at least one contribution
 *   that is not a beacon, the verification key file equal to the zkey's, and the constants of the Solidity verifier
 *   (α, β, γ, δ, every ICᵢ, the number of public signals) equal to that key.
 *
 * Transcript: every step writes `<out>.transcript.json` next to its output zkey: the input's transcript (if there is
 * one) plus this step (contribution hash and name, sha256 of the files it read and wrote, wall time). `verify` and
 * `finalize` add the list of contributions that `zkey verify` printed, and the sha256 of the r1cs, the ptau, the
 * final zkey, the verification key and the verifier. Each participant checks that their contribution hash is in it.
 */
import { createHash } from "node:crypto";
import { createReadStream, closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import * as snarkjs from "snarkjs";

const require = createRequire(import.meta.url);

/** Bytes of fresh entropy per contribution (snarkjs adds 64 of its own). */
const ENTROPY_BYTES = 64;

export interface TranscriptFile {
  path: string;
  sha256: string;
}

export interface TranscriptStep {
  step: "init" | "contribute" | "beacon" | "verify" | "finalize";
  at: string;
  seconds: number;
  name?: string;
  contributionHash?: string;
  beacon?: { hash: string; iterationsExp: number };
  inputs: TranscriptFile[];
  outputs: TranscriptFile[];
  /** `verify`/`finalize`: the chain as `zkey verify` printed it (circuit hash, then each contribution). */
  verified?: {
    ok: boolean;
    circuitHash?: string;
    contributions: { index: number; name: string; hash: string; beacon?: { hash: string; iterationsExp: number } }[];
  };
}

export interface Transcript {
  format: "vss-zk-ceremony-transcript/1";
  steps: TranscriptStep[];
}

/** The transcript file that belongs to a zkey: `x.zkey` -> `x.transcript.json`. */
export function transcriptPath(zkey: string): string {
  return zkey.replace(/\.zkey$/, "") + ".transcript.json";
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

async function described(file: string): Promise<TranscriptFile> {
  return { path: file, sha256: await sha256File(file) };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** A snarkjs logger that keeps every info/warn/error message and echoes progress to stderr. */
function makeLogger(quiet = false) {
  const messages: { level: string; text: string }[] = [];
  const log = (level: string) => (text: string) => {
    messages.push({ level, text: String(text) });
    if (!quiet) process.stderr.write(`  [${level}] ${String(text).replace(/\n/g, "\n  ")}\n`);
  };
  return { messages, logger: { info: log("info"), warn: log("warn"), error: log("error"), debug: () => {} } };
}

/** 64 bytes from /dev/urandom, as hex, kept only in this process's memory; the read buffer is wiped. */
function freshEntropy(): string {
  const buf = Buffer.alloc(ENTROPY_BYTES);
  const fd = openSync("/dev/urandom", "r");
  try {
    const n = readSync(fd, buf, 0, ENTROPY_BYTES, null);
    if (n !== ENTROPY_BYTES) throw new Error(`short read from /dev/urandom: ${n} bytes`);
  } finally {
    closeSync(fd);
  }
  const entropy = buf.toString("hex");
  buf.fill(0);
  return entropy;
}

function readTranscript(zkey: string): Transcript {
  const file = transcriptPath(zkey);
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as Transcript;
  return { format: "vss-zk-ceremony-transcript/1", steps: [] };
}

function writeTranscript(zkey: string, transcript: Transcript): string {
  const file = transcriptPath(zkey);
  writeFileSync(file, JSON.stringify(transcript, null, 2) + "\n");
  return file;
}

/** Parses the messages of `zkey verify` into the circuit hash and the list of contributions. */
function parseVerifyLog(messages: { level: string; text: string }[]): NonNullable<TranscriptStep["verified"]> {
  const hashOf = (text: string) => text.split("\n").slice(1).join("").replace(/\s+/g, "");
  const result: NonNullable<TranscriptStep["verified"]> = { ok: false, contributions: [] };
  for (const { text } of messages) {
    const contribution = /^contribution #(\d+) ?(.*):\n/.exec(text);
    if (text.startsWith("Circuit Hash:")) result.circuitHash = hashOf(text);
    else if (contribution) {
      result.contributions.push({ index: Number(contribution[1]), name: contribution[2], hash: hashOf(text) });
    } else if (text.startsWith("Beacon generator: ")) {
      result.contributions[result.contributions.length - 1].beacon = {
        hash: text.slice("Beacon generator: ".length),
        iterationsExp: NaN,
      };
    } else if (text.startsWith("Beacon iterations Exp: ")) {
      const last = result.contributions[result.contributions.length - 1];
      if (last.beacon) last.beacon.iterationsExp = Number(text.slice("Beacon iterations Exp: ".length));
    }
  }
  result.contributions.sort((a, b) => a.index - b.index);
  return result;
}

async function zkeyVerify(r1cs: string, ptau: string, zkey: string) {
  const { messages, logger } = makeLogger(true);
  const ok = await snarkjs.zKey.verifyFromR1cs(r1cs, ptau, zkey, logger);
  const verified = { ...parseVerifyLog(messages), ok };
  if (!ok) {
    for (const m of messages) if (m.level !== "info") console.error(`  ${m.text}`);
    throw new Error(`zkey verify FAILED for ${zkey} against ${r1cs} and ${ptau}`);
  }
  if (!verified.contributions.some((c) => c.beacon === undefined)) {
    throw new Error(`${zkey} has no secret contribution (only setup and beacons: anyone can forge proofs)`);
  }
  return verified;
}

type G1 = [string, string, string?];
type G2 = [[string, string], [string, string], [string, string]?];
interface VerificationKey {
  protocol: string;
  curve: string;
  nPublic: number;
  vk_alpha_1: G1;
  vk_beta_2: G2;
  vk_gamma_2: G2;
  vk_delta_2: G2;
  IC: G1[];
}

/**
 * The differences between a verification key and the constants of a snarkjs Groth16 Solidity verifier (the
 * template's mapping: G2 coordinates are written (c1, c0)); empty when they describe the same key.
 */
function verifierMismatches(vk: VerificationKey, solidity: string): string[] {
  const constants = new Map<string, string>();
  for (const m of solidity.matchAll(/uint256 constant (\w+)\s*=\s*(\d+);/g)) constants.set(m[1], m[2]);
  const expected = new Map<string, string>([
    ["alphax", vk.vk_alpha_1[0]],
    ["alphay", vk.vk_alpha_1[1]],
  ]);
  for (const [label, point] of [
    ["beta", vk.vk_beta_2],
    ["gamma", vk.vk_gamma_2],
    ["delta", vk.vk_delta_2],
  ] as const) {
    expected.set(`${label}x1`, point[0][1]);
    expected.set(`${label}x2`, point[0][0]);
    expected.set(`${label}y1`, point[1][1]);
    expected.set(`${label}y2`, point[1][0]);
  }
  vk.IC.forEach((p, i) => {
    expected.set(`IC${i}x`, p[0]);
    expected.set(`IC${i}y`, p[1]);
  });
  const problems: string[] = [];
  for (const [name, value] of expected) {
    const got = constants.get(name);
    if (got !== value) problems.push(`${name}: verifier has ${got ?? "nothing"}, key has ${value}`);
  }
  const extraIC = [...constants.keys()].filter((k) => /^IC\d+[xy]$/.test(k) && !expected.has(k));
  if (extraIC.length > 0) problems.push(`verifier has IC constants the key lacks: ${extraIC.join(", ")}`);
  const arity = /uint\[(\d+)\] calldata _pubSignals/.exec(solidity)?.[1];
  if (Number(arity) !== vk.nPublic) problems.push(`verifier takes ${arity} public signals, key has ${vk.nPublic}`);
  if (vk.IC.length !== vk.nPublic + 1) problems.push(`key has ${vk.IC.length} IC points for ${vk.nPublic} inputs`);
  return problems;
}

/** JSON equality of two verification keys (after a round trip, so key order and number formats do not matter). */
function sameKey(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === "object"
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>)
              .sort(([x], [y]) => (x < y ? -1 : 1))
              .map(([k, x]) => [k, canonical(x)]),
          )
        : v;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** The Solidity verifier that snarkjs exports for `zkey`, renamed to `contractName`, with a do-not-edit header. */
async function solidityVerifier(zkey: string, contractName: string, zkeySha256: string): Promise<string> {
  // The CLI's own template: snarkjs/templates/ (the package's main is snarkjs/build/main.cjs).
  const templateDir = path.join(path.dirname(require.resolve("snarkjs")), "..", "templates");
  const templates = { groth16: readFileSync(path.join(templateDir, "verifier_groth16.sol.ejs"), "utf8") };
  const code = (await snarkjs.zKey.exportSolidityVerifier(zkey, templates)) as string;
  const lines = code.split("\n");
  if (!lines.some((l) => l.startsWith("contract Groth16Verifier "))) throw new Error("unexpected verifier template");
  return [
    lines[0], // SPDX line
    "// GENERATED by scripts/zk/ceremony.ts finalize — do not edit, do not commit (docs/trusted-setup.md).",
    `// Groth16 verifier exported by snarkjs from the final zkey with sha256 ${zkeySha256}.`,
    "// Regenerate with `npm run zk:build`; check it with `npm run zk:check`.",
    ...lines.slice(1).map((l) => l.replace(/^contract Groth16Verifier /, `contract ${contractName} `)),
  ].join("\n");
}

function takeOption(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined) throw new Error(`${flag} needs a value`);
  args.splice(i, 2);
  return value;
}

function takeFlag(args: string[], flag: string): boolean {
  const i = args.indexOf(flag);
  if (i >= 0) args.splice(i, 1);
  return i >= 0;
}

function need(args: string[], n: number, usage: string): string[] {
  if (args.length !== n) throw new Error(`usage: ${usage}`);
  return args;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  const started = Date.now();
  const step = (s: Omit<TranscriptStep, "at" | "seconds">): TranscriptStep => ({
    ...s,
    at: new Date().toISOString(),
    seconds: Math.round((Date.now() - started) / 100) / 10,
  });

  switch (command) {
    case "init": {
      const [r1cs, ptau, out] = need(args, 3, "init <circuit.r1cs> <phase1.ptau> <out.zkey>");
      const { logger } = makeLogger(true);
      await snarkjs.zKey.newZKey(r1cs, ptau, out, logger);
      const transcript: Transcript = { format: "vss-zk-ceremony-transcript/1", steps: [] };
      transcript.steps.push(
        step({ step: "init", inputs: [await described(r1cs), await described(ptau)], outputs: [await described(out)] }),
      );
      writeTranscript(out, transcript);
      console.log(`init: ${out} (δ = 1: not usable before a contribution)`);
      break;
    }
    case "contribute": {
      const name = takeOption(args, "--name") ?? "anonymous";
      const [input, out] = need(args, 2, "contribute <in.zkey> <out.zkey> [--name <text>]");
      const transcript = readTranscript(input);
      const hash = (await snarkjs.zKey.contribute(input, out, name, freshEntropy())) as Uint8Array;
      transcript.steps.push(
        step({
          step: "contribute",
          name,
          contributionHash: hex(hash),
          inputs: [await described(input)],
          outputs: [await described(out)],
        }),
      );
      writeTranscript(out, transcript);
      console.log(`contribute: ${out}, contribution "${name}", hash ${hex(hash)}`);
      break;
    }
    case "beacon": {
      const name = takeOption(args, "--name") ?? "public beacon";
      const usage = "beacon <in.zkey> <out.zkey> <beaconHashHex> <iterationsExp> [--name <text>]";
      const [input, out, beaconHash, iterationsExp] = need(args, 4, usage);
      if (!/^([0-9a-f]{2})+$/i.test(beaconHash)) throw new Error(`beacon hash must be hex without 0x: ${beaconHash}`);
      const transcript = readTranscript(input);
      const { logger } = makeLogger(true);
      const exp = Number(iterationsExp);
      const hash = await snarkjs.zKey.beacon(input, out, name, beaconHash, exp, logger);
      if (!(hash instanceof Uint8Array)) throw new Error("zkey beacon failed (iterationsExp must be 10..63)");
      transcript.steps.push(
        step({
          step: "beacon",
          name,
          contributionHash: hex(hash),
          beacon: { hash: beaconHash.toLowerCase(), iterationsExp: exp },
          inputs: [await described(input)],
          outputs: [await described(out)],
        }),
      );
      writeTranscript(out, transcript);
      console.log(`beacon: ${out}, hash ${hex(hash)}`);
      break;
    }
    case "verify": {
      const [r1cs, ptau, zkey] = need(args, 3, "verify <circuit.r1cs> <phase1.ptau> <zkey>");
      const transcript = readTranscript(zkey);
      const verified = await zkeyVerify(r1cs, ptau, zkey);
      transcript.steps.push(
        step({
          step: "verify",
          verified,
          inputs: [await described(r1cs), await described(ptau), await described(zkey)],
          outputs: [],
        }),
      );
      writeTranscript(zkey, transcript);
      console.log(`zkey verify OK: ${zkey}, ${verified.contributions.length} contribution(s):`);
      for (const c of verified.contributions) console.log(`  #${c.index} ${c.name}: ${c.hash}`);
      break;
    }
    case "finalize": {
      const skipVerify = takeFlag(args, "--skip-verify");
      const usage =
        "finalize <circuit.r1cs> <phase1.ptau> <zkey> <verification_key.json> <NameVerifier.sol> [--skip-verify]";
      const [r1cs, ptau, zkey, vkOut, solOut] = need(args, 5, usage);
      const transcript = readTranscript(zkey);
      const contributions = transcript.steps.filter((s) => s.step === "contribute").length;
      if (skipVerify && contributions === 0) {
        throw new Error(`${zkey} has no secret contribution in its transcript: refusing (verify it instead)`);
      }
      const verified = skipVerify ? undefined : await zkeyVerify(r1cs, ptau, zkey);
      const vk = await snarkjs.zKey.exportVerificationKey(zkey);
      await mkdir(path.dirname(path.resolve(vkOut)), { recursive: true });
      writeFileSync(vkOut, JSON.stringify(vk, null, 1));
      const zkeyFile = await described(zkey);
      const contractName = path.basename(solOut, ".sol");
      await mkdir(path.dirname(path.resolve(solOut)), { recursive: true });
      writeFileSync(solOut, await solidityVerifier(zkey, contractName, zkeyFile.sha256));
      transcript.steps.push(
        step({
          step: "finalize",
          verified,
          inputs: [await described(r1cs), await described(ptau), zkeyFile],
          outputs: [await described(vkOut), await described(solOut)],
        }),
      );
      writeTranscript(zkey, transcript);
      console.log(`finalize: ${vkOut}, ${solOut}${skipVerify ? " (zkey verify skipped)" : " (zkey verify OK)"}`);
      break;
    }
    case "check": {
      const usage = "check <circuit.r1cs> <phase1.ptau> <zkey> <verification_key.json> <NameVerifier.sol>";
      const [r1cs, ptau, zkey, vkFile, solFile] = need(args, 5, usage);
      const verified = await zkeyVerify(r1cs, ptau, zkey);
      const vk = (await snarkjs.zKey.exportVerificationKey(zkey)) as VerificationKey;
      const problems: string[] = [];
      if (!sameKey(vk, JSON.parse(readFileSync(vkFile, "utf8")))) problems.push(`${vkFile} is not the key of ${zkey}`);
      problems.push(...verifierMismatches(vk, readFileSync(solFile, "utf8")).map((p) => `${solFile}: ${p}`));
      const recorded = readTranscript(zkey)
        .steps.flatMap((s) => s.outputs)
        .filter((f) => path.basename(f.path) === path.basename(zkey)); // the cache folder may have moved
      const actual = await sha256File(zkey);
      if (recorded.length > 0 && recorded[recorded.length - 1].sha256 !== actual) {
        problems.push(`${zkey} has sha256 ${actual}, its transcript records ${recorded[recorded.length - 1].sha256}`);
      }
      if (problems.length > 0) throw new Error(`check FAILED:\n  ${problems.join("\n  ")}`);
      const list = verified.contributions.map((c) => `#${c.index} ${c.name}${c.beacon ? " (beacon)" : ""}`);
      console.log(`ok    ${solFile}: zkey verify passed (${list.join(", ")}), verifier constants = ${vkFile}`);
      console.log(`      zkey sha256 ${actual}, ${vk.nPublic} public signals`);
      break;
    }
    case "export-vk": {
      const [zkey, out] = need(args, 2, "export-vk <zkey> <out.json>");
      writeFileSync(out, JSON.stringify(await snarkjs.zKey.exportVerificationKey(zkey), null, 1));
      break;
    }
    default:
      throw new Error(
        `unknown command ${command ?? "(none)"}: init | contribute | beacon | verify | finalize | export-vk (see the header)`,
      );
  }
}

main(process.argv.slice(2))
  .then(async () => {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  })
  .catch(async (e: unknown) => {
    console.error(`ceremony: ${e instanceof Error ? e.message : String(e)}`);
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
    process.exit(1);
  });
