/**
 * Issue 17, "a setup nobody alone can forge": the forgery that broke the old setup, performed against every circuit.
 *
 * The old phase 2 was `groth16 setup` (δ = 1) plus a public `zkey beacon`, so δ was public. snarkjs fixes γ to the
 * G2 generator, and then A = α, B = β, C = −δ⁻¹·vk_x with vk_x = IC₀ + Σ pubᵢ·ICᵢ passes the Groth16 check
 * e(A, B) = e(α, β)·e(vk_x, γ)·e(C, δ) for ANY public inputs: e(vk_x, g₂)·e(−δ⁻¹·vk_x, δ·g₂) = 1.
 *
 * For each circuit (every circuits/*.circom with a `component main`; the number of public inputs comes from its key):
 *  (a) non-vacuity: the forgery built from the key that `groth16 setup` alone gives (δ = 1, kept by the build as
 *      setup_verification_key.json) verifies under that key, for random public inputs;
 *  (b) the same forgery is rejected by the Solidity verifier generated from the final zkey, deployed on the Hardhat
 *      network, and by snarkjs under the final key (the verifiers accept honest proofs: test/circuits/*.test.ts);
 *  (c) the final δ is neither the G2 generator nor the δ that the old derivation gave (setup + `zkey beacon` with the
 *      old fixed beacon hash, 2^10 iterations), recomputed here through snarkjs on a one-constraint circuit: a beacon
 *      multiplies δ by a scalar drawn only from the beacon hash, so a beacon-only δ is the same for every circuit;
 *      and scripts/zk/ceremony.ts refuses to finalize those setup-only and beacon-only zkeys.
 *
 * Needs the artefacts of `npm run zk:build` (run by the npm pre-scripts). Runtime: about 15 s (the beacon
 * derivation compiles and sets up a one-constraint circuit).
 */
import { expect } from "chai";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { bn254, bn254_Fr } from "@noble/curves/bn254.js";
import { network } from "hardhat";
import * as snarkjs from "snarkjs";

/** The beacon of the old build (sha256 of "vss-task-network beacon v1") and its iteration exponent. */
const OLD_BEACON_HASH = "7a67e61e43f94e728481ebf10d5e4b977f18760c27078076ef32db1c27863dd0";
const OLD_BEACON_ITERATIONS_EXP = 10;
const PTAU = path.resolve(process.env.VSS_ZK_PTAU ?? "circuits/ptau/pot16_final.ptau");

type G1Json = string[];
type G2Json = string[][];
interface VerificationKey {
  protocol: string;
  curve: string;
  nPublic: number;
  vk_alpha_1: G1Json;
  vk_beta_2: G2Json;
  vk_gamma_2: G2Json;
  vk_delta_2: G2Json;
  vk_alphabeta_12: unknown;
  IC: G1Json[];
}

/** Every circuit of the protocol, as the build finds them. */
const CIRCUITS = readdirSync("circuits")
  .filter(
    (f) => f.endsWith(".circom") && /^\s*component\s+main\b/m.test(readFileSync(path.join("circuits", f), "utf8")),
  )
  .map((f) => f.replace(/\.circom$/, ""))
  .sort();

const G1 = bn254.G1.Point;
const FR = bn254_Fr.ORDER;

function g1(p: G1Json) {
  return G1.fromAffine({ x: BigInt(p[0]), y: BigInt(p[1]) });
}

/** The G2 generator in snarkjs's JSON form ([x, y, z] with x = [c0, c1]). */
function g2Generator(): G2Json {
  const { x, y } = bn254.G2.Point.BASE.toAffine();
  return [
    [x.c0.toString(), x.c1.toString()],
    [y.c0.toString(), y.c1.toString()],
    ["1", "0"],
  ];
}

function sameG2(a: G2Json, b: G2Json): boolean {
  return a[0][0] === b[0][0] && a[0][1] === b[0][1] && a[1][0] === b[1][0] && a[1][1] === b[1][1];
}

/** vk_x = IC₀ + Σ pubᵢ·ICᵢ, the public-input point of the Groth16 check. */
function publicInputPoint(vk: VerificationKey, publicSignals: bigint[]) {
  expect(vk.IC.length).to.equal(publicSignals.length + 1);
  return publicSignals.reduce((acc, s, i) => (s === 0n ? acc : acc.add(g1(vk.IC[i + 1]).multiply(s))), g1(vk.IC[0]));
}

/**
 * The forged proof for `publicSignals` under a key whose δ is `deltaScalar`·g₂ (known to the forger): A = α, B = β,
 * C = −δ⁻¹·vk_x. No witness, no secret.
 */
function forge(vk: VerificationKey, publicSignals: bigint[], deltaScalar: bigint): snarkjs.Groth16Proof {
  const inv = bn254_Fr.inv(deltaScalar);
  const c = publicInputPoint(vk, publicSignals).multiply(inv).negate().toAffine();
  return {
    protocol: "groth16",
    curve: "bn128",
    pi_a: [vk.vk_alpha_1[0], vk.vk_alpha_1[1], "1"],
    pi_b: vk.vk_beta_2.map((xs) => [...xs]),
    pi_c: [c.x.toString(), c.y.toString(), "1"],
  };
}

/** `n` random public signals, each in [1, r) (any values will do: that is the point of the attack). */
function randomSignals(n: number): bigint[] {
  return Array.from({ length: n }, () => (BigInt(`0x${randomBytes(32).toString("hex")}`) % (FR - 1n)) + 1n);
}

function readKey(file: string): VerificationKey {
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run zk:build\` first`);
  return JSON.parse(readFileSync(file, "utf8")) as VerificationKey;
}

/**
 * The old derivation, recomputed with snarkjs in a temporary folder: a one-constraint circuit, `groth16 setup` with
 * the project's ptau, then `zkey beacon` with the old beacon. Beacon-only δ does not depend on the circuit (see the
 * header).
 */
async function oldDerivation(dir: string) {
  writeFileSync(
    path.join(dir, "Tiny.circom"),
    "pragma circom 2.1.6;\ntemplate Tiny() { signal input a; signal input b; signal output c; c <== a * b; }\n" +
      "component main { public [a] } = Tiny();\n",
  );
  execFileSync(process.execPath, ["node_modules/circom2/cli.js", path.join(dir, "Tiny.circom"), "--r1cs", "-o", dir], {
    stdio: "pipe",
  });
  const r1cs = path.join(dir, "Tiny.r1cs");
  const setup = path.join(dir, "Tiny_0000.zkey");
  const beacon = path.join(dir, "Tiny_beacon.zkey");
  await snarkjs.zKey.newZKey(r1cs, PTAU, setup);
  await snarkjs.zKey.beacon(setup, beacon, "old beacon", OLD_BEACON_HASH, OLD_BEACON_ITERATIONS_EXP);
  return { r1cs, setup, beacon };
}

describe("security: forged Groth16 proofs (issue 17, trusted setup)", function () {
  this.timeout(300_000);

  after(async () => {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  });

  it("finds the circuits", () => {
    expect(CIRCUITS.length).to.be.greaterThan(0);
  });

  for (const name of CIRCUITS) {
    it(`${name}: the δ = 1 forgery verifies under the setup-only key and is rejected by the deployed verifier`, async () => {
      const dir = path.resolve("build/zk", name);
      const setupVk = readKey(path.join(dir, "setup_verification_key.json"));
      const finalVk = readKey(path.join(dir, "verification_key.json"));

      // Premises: `groth16 setup` leaves δ = g₂, γ is g₂, and phase 2 changes nothing but δ.
      expect(sameG2(setupVk.vk_delta_2, g2Generator())).to.equal(true);
      expect(sameG2(finalVk.vk_gamma_2, g2Generator())).to.equal(true);
      expect({ ...finalVk, vk_delta_2: null }).to.deep.equal({ ...setupVk, vk_delta_2: null });

      const { ethers } = await network.getOrCreate();
      const verifier = await ethers.deployContract(`${name}Verifier`);
      for (let round = 0; round < 2; round++) {
        const signals = randomSignals(finalVk.nPublic);
        const pub = signals.map(String);
        const forged = forge(setupVk, signals, 1n);

        // (a) the attack works against δ = 1 ...
        expect(await snarkjs.groth16.verify(setupVk, pub, forged)).to.equal(true);
        // (b) ... and fails against the final key, off-chain and on-chain.
        expect(await snarkjs.groth16.verify(finalVk, pub, forged)).to.equal(false);
        const [a, b, c, input] = JSON.parse(`[${await snarkjs.groth16.exportSolidityCallData(forged, pub)}]`);
        expect(input).to.have.length(finalVk.nPublic);
        expect(await verifier.verifyProof(a, b, c, input)).to.equal(false);
      }
    });
  }

  describe("the old derivation (setup + public beacon), recomputed on a one-constraint circuit", () => {
    let dir: string;
    let old: Awaited<ReturnType<typeof oldDerivation>>;
    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), "vss-old-beacon-"));
      old = await oldDerivation(dir);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("the final δ of every circuit is neither g₂ nor the δ of the old public beacon", async () => {
      const setupDelta = ((await snarkjs.zKey.exportVerificationKey(old.setup)) as VerificationKey).vk_delta_2;
      const beaconDelta = ((await snarkjs.zKey.exportVerificationKey(old.beacon)) as VerificationKey).vk_delta_2;
      expect(sameG2(setupDelta, g2Generator())).to.equal(true);
      expect(sameG2(beaconDelta, setupDelta)).to.equal(false);
      for (const name of CIRCUITS) {
        const finalVk = readKey(path.resolve("build/zk", name, "verification_key.json"));
        expect(sameG2(finalVk.vk_delta_2, g2Generator()), `${name}: δ = g₂`).to.equal(false);
        expect(sameG2(finalVk.vk_delta_2, beaconDelta), `${name}: δ = old beacon δ`).to.equal(false);
      }
    });

    it("the ceremony refuses to finalize a setup-only or beacon-only zkey", () => {
      for (const zkey of [old.setup, old.beacon]) {
        const sol = path.join(dir, "TinyVerifier.sol");
        const run = spawnSync(
          process.execPath,
          [
            "node_modules/tsx/dist/cli.mjs",
            "scripts/zk/ceremony.ts",
            "finalize",
            old.r1cs,
            PTAU,
            zkey,
            path.join(dir, "vk.json"),
            sol,
          ],
          { encoding: "utf8" },
        );
        expect(run.status, run.stderr).to.equal(1);
        expect(run.stderr).to.contain("has no secret contribution");
        expect(existsSync(sol)).to.equal(false);
      }
    });
  });
});
