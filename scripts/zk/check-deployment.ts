/**
 * Checks that a deployment's Groth16 verifiers are the ones this checkout generated from its final zkeys
 * (docs/trusted-setup.md, "Checking a deployment"): for every circuit, the runtime bytecode at the address that
 * `deploy/deployments/<id>/deployed_addresses.json` records under `VSSNetwork#<Name>Verifier` must equal the compiled
 * `contracts/verifiers/<Name>Verifier.sol` (no immutables, so the two are byte-equal). Run `npm run zk:check` first:
 * it ties those verifiers to the final zkeys.
 *
 *   VSS_DEPLOYMENT_ID=chain-31337 npx hardhat run scripts/zk/check-deployment.ts --network localhost
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import hre, { network } from "hardhat";

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
  const artifact = await hre.artifacts.readArtifact(`${name}Verifier`);
  const code = await ethers.provider.getCode(address);
  if (code.toLowerCase() === artifact.deployedBytecode.toLowerCase()) {
    console.log(`ok    ${future} at ${address} is contracts/verifiers/${name}Verifier.sol`);
  } else {
    console.log(
      `FAIL  ${future} at ${address}: its code (${(code.length - 2) / 2} bytes) is not the generated verifier`,
    );
    failed++;
  }
}
if (failed > 0) process.exitCode = 1;
