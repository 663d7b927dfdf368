/**
 * Checks that a deployment's Groth16 verifiers carry this checkout's final verification keys (docs/trusted-setup.md,
 * "Checking a deployment"): for every circuit, the runtime code at the address that
 * `deploy/deployments/<id>/deployed_addresses.json` records under `VSSNetwork#<Name>Verifier` must contain every
 * constant of `build/zk/<Name>/verification_key.json` (α, β, γ, δ coordinates and every ICᵢ, in the order the
 * snarkjs template writes them) as a PUSH32 immediate. This reads the key out of
 * the bytecode, so it holds whatever compiler profile the deployment used. Run `npm run zk:check` first: it ties
 * verification_key.json to the final zkey and the ptau.
 *
 *   VSS_DEPLOYMENT_ID=chain-31337 npx hardhat run --no-compile scripts/zk/check-deployment.ts --network localhost
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { network } from "hardhat";

const id = process.env.VSS_DEPLOYMENT_ID;
if (!id) throw new Error("set VSS_DEPLOYMENT_ID to the deployment's id (deploy/deployments/<id>/)");
const file = path.resolve("deploy", "deployments", id, "deployed_addresses.json");
const recorded = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;

const circuits = readdirSync("circuits")
  .filter(
    (f) => f.endsWith(".circom") && /^\s*component\s+main\b/m.test(readFileSync(path.join("circuits", f), "utf8")),
  )
  .map((f) => f.replace(/\.circom$/, ""))
  .sort();

const { ethers } = await network.getOrCreate();
let failed = 0;
for (const name of circuits) {
  const future = `VSSNetwork#${name}Verifier`;
  const address = recorded[future];
  if (!address) {
    console.log(`FAIL  ${future} is not in ${file}`);
    failed++;
    continue;
  }
  const vk = JSON.parse(readFileSync(path.join("build", "zk", name, "verification_key.json"), "utf8")) as {
    nPublic: number;
    vk_alpha_1: string[];
    vk_beta_2: string[][];
    vk_gamma_2: string[][];
    vk_delta_2: string[][];
    IC: string[][];
  };
  const g2 = (p: string[][]) => [p[0][1], p[0][0], p[1][1], p[1][0]];
  const expected = [
    vk.vk_alpha_1[0],
    vk.vk_alpha_1[1],
    ...g2(vk.vk_beta_2),
    ...g2(vk.vk_gamma_2),
    ...g2(vk.vk_delta_2),
    ...vk.IC.flatMap((p) => [p[0], p[1]]),
  ];
  const code = (await ethers.provider.getCode(address)).slice(2).toLowerCase();
  // PUSH32 immediates, at instruction boundaries (PUSHn data is skipped while walking the code).
  const pushed = new Set<string>();
  for (let i = 0; i < code.length;) {
    const op = parseInt(code.slice(i, i + 2), 16);
    const size = op >= 0x60 && op <= 0x7f ? op - 0x5f : 0;
    if (op === 0x7f) pushed.add(BigInt(`0x${code.slice(i + 2, i + 66)}`).toString());
    i += 2 + 2 * size;
  }
  const missing = expected.filter((v) => !pushed.has(v));
  if (vk.IC.length !== vk.nPublic + 1) missing.push(`IC count ${vk.IC.length} for ${vk.nPublic} inputs`);
  if (code.length > 0 && missing.length === 0) {
    console.log(
      `ok    ${future} at ${address} carries build/zk/${name}/verification_key.json (${expected.length} constants)`,
    );
  } else {
    console.log(`FAIL  ${future} at ${address}: ${missing.length} constants of the final key are not in its code`);
    failed++;
  }
}
if (failed > 0) process.exitCode = 1;
