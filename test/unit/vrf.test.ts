import { readFileSync } from "node:fs";
import { expect } from "chai";
import { network } from "hardhat";
import { AbiCoder, Wallet, ZeroAddress, getAddress, keccak256, solidityPackedKeccak256, toUtf8Bytes } from "ethers";
import type { SamplingVerifier } from "../../typechain-types/index.js";
import {
  GROUP_ORDER,
  VRFVerificationError,
  hashToCurve,
  isSampled,
  proveVRF,
  toSolidityProof,
  verifyVRF,
  vrfAddress,
  vrfOutput,
  vrfPublicKey,
  type VRFProof,
} from "../../src/crypto/vrf.js";

// ---------------------------------------------------------------------------------------------------------------
// Fixtures: proofs made by Chainlink's Go prover, copied from @chainlink/contracts' own Foundry tests.
// ---------------------------------------------------------------------------------------------------------------

type Dec = string;
interface RawProof {
  pk: [Dec, Dec];
  gamma: [Dec, Dec];
  c: Dec;
  s: Dec;
  seed: Dec;
  uWitness: string;
  cGammaWitness: [Dec, Dec];
  sHashWitness: [Dec, Dec];
  zInv: Dec;
}
interface ChainlinkVector {
  source: string;
  line: number;
  function: string;
  preSeed: Dec;
  blockHash: string;
  proof: RawProof;
}
interface ChainlinkFixture {
  secretKey: { value: Dec; source: string };
  vectors: ChainlinkVector[];
}

const fixture = JSON.parse(
  readFileSync(new URL("../fixtures/chainlink-vrf-vectors.json", import.meta.url), "utf8"),
) as ChainlinkFixture;

const pair = (p: [Dec, Dec]): [bigint, bigint] => [BigInt(p[0]), BigInt(p[1])];
const parseProof = (p: RawProof): VRFProof => ({
  pk: pair(p.pk),
  gamma: pair(p.gamma),
  c: BigInt(p.c),
  s: BigInt(p.s),
  seed: BigInt(p.seed),
  uWitness: p.uWitness,
  cGammaWitness: pair(p.cGammaWitness),
  sHashWitness: pair(p.sHashWitness),
  zInv: BigInt(p.zInv),
});
const chainlinkVectors = fixture.vectors.map((v) => ({ ...v, parsed: parseProof(v.proof) }));
const CHAINLINK_SECRET_KEY = BigInt(fixture.secretKey.value);
/** keyHash of the Chainlink test key (VRFV2Plus.t.sol `vrfKeyHash`), keccak256(abi.encode(pk)). */
const CHAINLINK_KEY_HASH = "0x9f2353bde94264dbc3d554a94cceba2d7d2b4fdce4304d3e09a1fea9fbeb1528";

/** What VRF.sol computes as the output, done independently with ethers' ABI coder. */
const solidityOutput = (gamma: [bigint, bigint]): bigint =>
  BigInt(keccak256(AbiCoder.defaultAbiCoder().encode(["uint256", "uint256[2]"], [3n, gamma])));

/** Runs verifyVRF and returns the VRFVerificationError reason (fails the test if it does not throw one). */
function rejectionReason(proof: VRFProof): string {
  try {
    verifyVRF(proof);
  } catch (error) {
    expect(error).to.be.instanceOf(VRFVerificationError);
    return (error as VRFVerificationError).reason;
  }
  expect.fail("verifyVRF accepted a tampered proof");
}

/** Tampered variants of a valid proof, each with the revert string VRF.sol gives for it. */
function tamperings(proof: VRFProof, other: VRFProof): { name: string; proof: VRFProof; reason: string }[] {
  return [
    { name: "c + 1", proof: { ...proof, c: proof.c + 1n }, reason: "addr(c*pk+s*g)!=_uWitness" },
    { name: "s + 1", proof: { ...proof, s: proof.s + 1n }, reason: "addr(c*pk+s*g)!=_uWitness" },
    { name: "seed + 1", proof: { ...proof, seed: proof.seed + 1n }, reason: "Second mul check failed" },
    { name: "gamma of another proof", proof: { ...proof, gamma: other.gamma }, reason: "First mul check failed" },
    { name: "zInv + 1", proof: { ...proof, zInv: proof.zInv + 1n }, reason: "invZ must be inverse of z" },
    {
      name: "uWitness of another proof",
      proof: { ...proof, uWitness: other.uWitness },
      reason: "addr(c*pk+s*g)!=_uWitness",
    },
    { name: "zero uWitness", proof: { ...proof, uWitness: ZeroAddress }, reason: "bad witness" },
    {
      name: "pk off curve",
      proof: { ...proof, pk: [proof.pk[0], proof.pk[1] + 1n] },
      reason: "public key is not on curve",
    },
    {
      name: "gamma off curve",
      proof: { ...proof, gamma: [proof.gamma[0], proof.gamma[1] + 1n] },
      reason: "gamma is not on curve",
    },
    {
      name: "equal witnesses",
      proof: { ...proof, cGammaWitness: proof.sHashWitness },
      reason: "points in sum must be distinct",
    },
  ];
}

// Deterministic "random" keys and seeds, so runs are reproducible.
const TEST_KEYS = Array.from({ length: 12 }, (_, i) => new Wallet(keccak256(toUtf8Bytes(`vrf.test key #${i}`))));
const TEST_SEEDS = Array.from({ length: 12 }, (_, i) => keccak256(toUtf8Bytes(`vrf.test seed #${i}`)));

describe("VRF (Chainlink-compatible prover/verifier)", function () {
  describe("Chainlink's published proofs", function () {
    it("has at least two vectors, whose seed is keccak256(preSeed ‖ blockHash) as VRFCoordinatorV2_5 derives it", function () {
      expect(chainlinkVectors.length).to.be.greaterThanOrEqual(2);
      for (const v of chainlinkVectors) {
        expect(v.source).to.match(/^@chainlink\/contracts@1\.5\.0\/src\/v0\.8\/vrf\/test\/.+\.t\.sol$/);
        const actualSeed = BigInt(solidityPackedKeccak256(["uint256", "bytes32"], [BigInt(v.preSeed), v.blockHash]));
        expect(v.parsed.seed).to.equal(actualSeed);
      }
    });

    it("verifyVRF accepts every vector and returns VRF.sol's output", function () {
      for (const v of chainlinkVectors) {
        const output = verifyVRF(v.parsed);
        expect(output, `${v.function}:${v.line}`).to.equal(solidityOutput(v.parsed.gamma));
        expect(output).to.equal(vrfOutput(v.parsed.gamma));
      }
    });

    it("rejects tampered vectors with VRF.sol's revert reason", function () {
      const [a, b] = chainlinkVectors;
      for (const t of tamperings(a.parsed, b.parsed)) {
        expect(rejectionReason(t.proof), t.name).to.equal(t.reason);
      }
      // The pre-seed (the proof.seed field before the coordinator mixes in the block hash) is the wrong input.
      expect(rejectionReason({ ...a.parsed, seed: BigInt(a.preSeed) })).to.equal("Second mul check failed");
    });

    it("the published secret key (10) gives Chainlink's pk, keyHash and, for each seed, the same gamma and output", function () {
      const pk = vrfPublicKey(CHAINLINK_SECRET_KEY);
      expect(pk).to.deep.equal(chainlinkVectors[0].parsed.pk);
      expect(keccak256(AbiCoder.defaultAbiCoder().encode(["uint256[2]"], [pk]))).to.equal(CHAINLINK_KEY_HASH);
      // The address is the low 20 bytes of that same hash.
      expect(vrfAddress(pk)).to.equal(getAddress("0x" + CHAINLINK_KEY_HASH.slice(-40)));
      for (const v of chainlinkVectors) {
        const mine = proveVRF(CHAINLINK_SECRET_KEY, v.parsed.seed);
        expect(mine.pk).to.deep.equal(v.parsed.pk);
        expect(mine.gamma, `${v.function}:${v.line}`).to.deep.equal(v.parsed.gamma);
        expect(verifyVRF(mine)).to.equal(verifyVRF(v.parsed));
      }
    });
  });

  describe("prover", function () {
    it("is deterministic and accepts hex or bigint inputs", function () {
      const wallet = TEST_KEYS[0];
      const a = proveVRF(wallet.privateKey, TEST_SEEDS[0]);
      const b = proveVRF(BigInt(wallet.privateKey), BigInt(TEST_SEEDS[0]));
      expect(a).to.deep.equal(b);
      expect(a.seed).to.equal(BigInt(TEST_SEEDS[0]));
      expect(a.uWitness).to.equal(getAddress(a.uWitness)); // checksummed
      const other = proveVRF(wallet.privateKey, TEST_SEEDS[1]);
      expect(other.gamma).to.not.deep.equal(a.gamma);
      expect(verifyVRF(other)).to.not.equal(verifyVRF(a));
    });

    it("gamma is sk·hashToCurve(pk, seed), so two keys give different outputs for one seed", function () {
      const p0 = proveVRF(TEST_KEYS[0].privateKey, TEST_SEEDS[0]);
      const p1 = proveVRF(TEST_KEYS[1].privateKey, TEST_SEEDS[0]);
      expect(hashToCurve(p0.pk, p0.seed)).to.not.deep.equal(hashToCurve(p1.pk, p1.seed));
      expect(verifyVRF(p0)).to.not.equal(verifyVRF(p1));
    });

    it("rejects invalid secret keys and seeds", function () {
      expect(() => proveVRF(0n, 1n)).to.throw(RangeError);
      expect(() => proveVRF(GROUP_ORDER, 1n)).to.throw(RangeError);
      expect(() => proveVRF("0x1234", 1n)).to.throw(TypeError);
      expect(() => proveVRF(1n, -1n)).to.throw(RangeError);
      expect(() => proveVRF(1n, 1n << 256n)).to.throw(RangeError);
      expect(() => proveVRF(1n, "not hex")).to.throw(TypeError);
    });

    it("produces proofs that fail verification once tampered", function () {
      const a = proveVRF(TEST_KEYS[2].privateKey, TEST_SEEDS[2]);
      const b = proveVRF(TEST_KEYS[3].privateKey, TEST_SEEDS[3]);
      for (const t of tamperings(a, b)) expect(rejectionReason(t.proof), t.name).to.equal(t.reason);
      expect(rejectionReason({ ...a, c: 1n << 256n })).to.equal("c is not a uint256");
    });
  });

  describe("helpers", function () {
    it("isSampled is output % divisor == 0", function () {
      expect(isSampled(0n)).to.equal(true);
      expect(isSampled(30n)).to.equal(true);
      expect(isSampled(31n)).to.equal(false);
      expect(isSampled(21n, 7n)).to.equal(true);
      expect(isSampled(22n, 7n)).to.equal(false);
      expect(() => isSampled(1n, 0n)).to.throw(RangeError);
    });

    it("vrfAddress is the Ethereum address of the secret key", function () {
      for (const wallet of TEST_KEYS) expect(vrfAddress(vrfPublicKey(wallet.privateKey))).to.equal(wallet.address);
    });

    it("toSolidityProof copies every field in struct order", function () {
      const proof = proveVRF(TEST_KEYS[4].privateKey, TEST_SEEDS[4]);
      const sol = toSolidityProof(proof);
      expect(Object.keys(sol)).to.deep.equal([
        "pk",
        "gamma",
        "c",
        "s",
        "seed",
        "uWitness",
        "cGammaWitness",
        "sHashWitness",
        "zInv",
      ]);
      expect(sol).to.deep.equal(proof);
      expect(sol.pk).to.not.equal(proof.pk); // fresh arrays
    });
  });

  describe("on-chain SamplingVerifier (Chainlink VRF.sol)", function () {
    let verifier: SamplingVerifier;
    const proofs: { wallet: Wallet; proof: VRFProof }[] = TEST_KEYS.map((wallet, i) => ({
      wallet,
      proof: proveVRF(wallet.privateKey, TEST_SEEDS[i]),
    }));

    before(async function () {
      const { ethers } = await network.getOrCreate();
      verifier = await ethers.deployContract("SamplingVerifier");
      await verifier.waitForDeployment();
    });

    it("accepts Chainlink's vectors with the same output as verifyVRF", async function () {
      for (const v of chainlinkVectors) {
        expect(await verifier.samplingNumber(toSolidityProof(v.parsed))).to.equal(verifyVRF(v.parsed));
      }
    });

    it(`accepts ${proofs.length} proofs from proveVRF, with samplingNumber == verifyVRF and addressOf(pk) == wallet address`, async function () {
      expect(proofs.length).to.be.greaterThanOrEqual(10);
      for (const { wallet, proof } of proofs) {
        const output = verifyVRF(proof);
        expect(await verifier.samplingNumber(toSolidityProof(proof))).to.equal(output);
        expect(await verifier.addressOf(proof.pk)).to.equal(wallet.address);
        expect(vrfAddress(proof.pk)).to.equal(wallet.address);
      }
    });

    it("reverts on tampered proofs with the reason verifyVRF reports", async function () {
      const [a, b] = [proofs[0].proof, proofs[1].proof];
      for (const t of tamperings(a, b)) {
        expect(rejectionReason(t.proof), t.name).to.equal(t.reason);
        await expect(verifier.samplingNumber(toSolidityProof(t.proof)), t.name).to.be.revertedWith(t.reason);
      }
    });

    it("rejects a proof presented for a different seed", async function () {
      const { proof } = proofs[5];
      const forOtherSeed = { ...proof, seed: BigInt(TEST_SEEDS[6]) };
      const reason = rejectionReason(forOtherSeed);
      await expect(verifier.samplingNumber(toSolidityProof(forOtherSeed))).to.be.revertedWith(reason);
      // A genuine proof for that seed verifies, with a different output.
      const genuine = proveVRF(proofs[5].wallet.privateKey, TEST_SEEDS[6]);
      expect(await verifier.samplingNumber(toSolidityProof(genuine))).to.equal(verifyVRF(genuine));
      expect(verifyVRF(genuine)).to.not.equal(verifyVRF(proof));
    });

    it("reports the gas of samplingNumber (not asserted)", async function () {
      const gas: bigint[] = [];
      for (const { proof } of proofs) gas.push(await verifier.samplingNumber.estimateGas(toSolidityProof(proof)));
      const min = gas.reduce((x, y) => (y < x ? y : x));
      const max = gas.reduce((x, y) => (y > x ? y : x));
      const avg = gas.reduce((x, y) => x + y, 0n) / BigInt(gas.length);
      // estimateGas of a call includes the 21,000 intrinsic transaction gas and the calldata cost.
      console.log(`      samplingNumber estimateGas over ${gas.length} proofs: min ${min}, avg ${avg}, max ${max}`);
    });
  });
});
