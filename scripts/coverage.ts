/**
 * `npm run coverage`: runs every test (Solidity and TypeScript) under Hardhat 3's coverage (`hardhat test --coverage`),
 * then reads `coverage/lcov.info` and prints the figures of `contracts/` per file and, as the last line,
 * `coverage lines=<pct> branches=<pct>`.
 *
 * Not measured: the generated Groth16 verifiers (`contracts/verifiers/`) and the test-only mocks (`contracts/mocks/`)
 * (`coverage.skipFiles` in hardhat.config.ts). Hardhat 3's coverage (EDR) records statements and lines but no
 * branches yet (its lcov writer says so and emits no BRDA records), so the branch figure is printed as `n/a` rather
 * than invented. Extra arguments are passed to `hardhat test` (e.g. `npm run coverage -- solidity`). The script fails
 * when the line figure is below COVERAGE_MIN_LINES (default 95; 0 turns the check off). `npm test` is this script
 * with no arguments, so every test run, CI's included, measures coverage.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

const args = ["hardhat", "test", "--coverage", ...process.argv.slice(2)];
const run = spawnSync("npx", args, { stdio: "inherit" });
if (run.status !== 0) {
  console.error(`coverage: \`npx ${args.join(" ")}\` exited with ${run.status}`);
  process.exit(run.status ?? 1);
}

interface FileFigures {
  path: string;
  lines: number;
  hit: number;
  branches: number;
  branchesHit: number;
}

const files: FileFigures[] = [];
let current: FileFigures | null = null;
for (const line of readFileSync("coverage/lcov.info", "utf8").split("\n")) {
  if (line.startsWith("SF:")) current = { path: line.slice(3), lines: 0, hit: 0, branches: 0, branchesHit: 0 };
  else if (current && line.startsWith("LF:")) current.lines = Number(line.slice(3));
  else if (current && line.startsWith("LH:")) current.hit = Number(line.slice(3));
  else if (current && line.startsWith("BRF:")) current.branches = Number(line.slice(4));
  else if (current && line.startsWith("BRH:")) current.branchesHit = Number(line.slice(4));
  else if (current && line === "end_of_record") {
    const p = current.path.replaceAll("\\", "/");
    if (p.startsWith("contracts/") && !p.startsWith("contracts/verifiers/") && !p.startsWith("contracts/mocks/")) {
      files.push(current);
    }
    current = null;
  }
}
if (files.length === 0) {
  console.error("coverage: no contracts/ file in coverage/lcov.info");
  process.exit(1);
}

const pct = (hit: number, total: number) => (total === 0 ? "n/a" : ((100 * hit) / total).toFixed(2));
console.log("\ncontracts/ (verifiers and mocks excluded)");
for (const f of files.sort((a, b) => a.path.localeCompare(b.path))) {
  console.log(`  ${f.path.padEnd(42)} lines ${pct(f.hit, f.lines).padStart(6)} % (${f.hit}/${f.lines})`);
}
const lines = files.reduce((s, f) => s + f.lines, 0);
const hit = files.reduce((s, f) => s + f.hit, 0);
const branches = files.reduce((s, f) => s + f.branches, 0);
const branchesHit = files.reduce((s, f) => s + f.branchesHit, 0);
const minimum = process.env.COVERAGE_MIN_LINES || "95";
if ((100 * hit) / lines < Number(minimum)) {
  console.error(`coverage: lines ${pct(hit, lines)} % is below COVERAGE_MIN_LINES=${minimum}`);
  process.exitCode = 1;
}
console.log(`coverage lines=${pct(hit, lines)} branches=${pct(branchesHit, branches)}`);
