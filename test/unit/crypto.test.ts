import { expect } from "chai";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { keccak256, solidityPackedKeccak256, toUtf8Bytes } from "ethers";
import { bjjKeyOf, deployNetwork, ethers, networkHelpers, type Network } from "../helpers/fixture.js";
import { gpuId, modelId, newTaskIdentity, taskIDCommitment } from "../../src/crypto/commitment.js";
import { BlobBatch, verifyInclusion } from "../../src/crypto/merkle.js";
import { hammingDistance64, isWellFormedScore, perturbScore, scoresMatch } from "../../src/crypto/simhash.js";
import { TaskType } from "../../src/types.js";
import { subgroupWitness } from "../../src/crypto/babyjub.js";

describe("unit: crypto helpers (TypeScript against the contracts)", function () {
  let net: Network;
  before(async function () {
    net = await networkHelpers.loadFixture(async function freshNetwork() {
      return deployNetwork();
    });
  });

  describe("commitment", function () {
    it("taskIDCommitment is keccak256(abi.encodePacked(guid, nonce)) and differs per member k", function () {
      const a = newTaskIdentity();
      const b = newTaskIdentity(a.taskGUID, 1);
      expect(a.nonce).to.equal(solidityPackedKeccak256(["bytes32", "uint8"], [a.taskGUID, 0]));
      expect(b.nonce).to.equal(solidityPackedKeccak256(["bytes32", "uint8"], [a.taskGUID, 1]));
      expect(a.commitment).to.equal(solidityPackedKeccak256(["bytes32", "bytes32"], [a.taskGUID, a.nonce]));
      expect(taskIDCommitment(a.taskGUID, a.nonce)).to.equal(a.commitment);
      expect(b.taskGUID).to.equal(a.taskGUID);
      expect(b.commitment).to.not.equal(a.commitment);
    });

    it("model and GPU ids are the keccak256 of the UTF-8 name, as NodeRegistry hashes gpuName", async function () {
      expect(modelId("stabilityai/sdxl-turbo")).to.equal(keccak256(toUtf8Bytes("stabilityai/sdxl-turbo")));
      const [node] = net.nodes;
      const key = bjjKeyOf(node.address).publicKey;
      await net.registry.connect(node).join("NVIDIA GeForce RTX 4090", 24, [2, 5, 0], key, subgroupWitness(key), [], {
        value: ethers.parseEther("400"),
      });
      expect((await net.registry.getNode(node.address)).gpuID).to.equal(gpuId("NVIDIA GeForce RTX 4090"));
    });
  });

  describe("merkle batches", function () {
    const hashes = Array.from({ length: 7 }, (_, i) => keccak256(toUtf8Bytes(`blob-${i}`)));

    it("builds OpenZeppelin's standard tree and its proofs verify off-chain and on-chain", async function () {
      const batch = new BlobBatch(hashes);
      expect(batch.root).to.equal(
        StandardMerkleTree.of(
          hashes.map((h) => [h]),
          ["bytes32"],
        ).root,
      );
      await (await net.relayRoots.connect(net.relay).postRoot(batch.root, batch.size)).wait();
      for (const h of hashes) {
        const inclusion = batch.inclusion(h);
        expect(verifyInclusion(inclusion)).to.equal(true);
        expect(await net.relayRoots.verifyBlob(h, inclusion.root, inclusion.proof)).to.equal(true);
      }
    });

    it("rejects a blob that is not in the batch, a wrong proof and an unposted root", async function () {
      const batch = new BlobBatch(hashes.slice(0, 4));
      const outsider = keccak256(toUtf8Bytes("outsider"));
      expect(() => batch.inclusion(outsider)).to.throw(/not in batch/);
      const inclusion = batch.inclusion(hashes[0]);
      // Not posted yet: false even with a correct proof.
      expect(await net.relayRoots.verifyBlob(hashes[0], inclusion.root, inclusion.proof)).to.equal(false);
      await (await net.relayRoots.connect(net.relay).postRoot(batch.root, batch.size)).wait();
      expect(await net.relayRoots.verifyBlob(outsider, inclusion.root, inclusion.proof)).to.equal(false);
      expect(verifyInclusion({ ...inclusion, blobHash: outsider })).to.equal(false);
      const swapped = batch.inclusion(hashes[1]).proof;
      expect(await net.relayRoots.verifyBlob(hashes[0], inclusion.root, swapped)).to.equal(false);
    });

    it("refuses an empty batch", function () {
      expect(() => new BlobBatch([])).to.throw(/at least one/);
    });
  });

  describe("sim hash comparison (same rule as SimHash.sol)", function () {
    it("hammingDistance64 counts differing bits", function () {
      expect(hammingDistance64(0n, 0n)).to.equal(0);
      expect(hammingDistance64(0n, 0xffffffffffffffffn)).to.equal(64);
      expect(hammingDistance64(0b1011n, 0b0001n)).to.equal(2);
    });

    it("agrees with TaskManager.scoresMatch on random image and text scores, including the threshold edge", async function () {
      let seed = 7;
      const random = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      const randomHex = (n: number) =>
        "0x" +
        Array.from({ length: n }, () =>
          Math.floor(random() * 256)
            .toString(16)
            .padStart(2, "0"),
        ).join("");
      const cases: Array<[TaskType, string, string]> = [];
      for (let i = 0; i < 12; i++) {
        const a = randomHex(16); // two images
        for (const bits of [0, 5, 23, 24, 30]) cases.push([TaskType.SD, a, perturbScore(a, bits, random)]);
        cases.push([TaskType.SD_FT, a, randomHex(16)]);
        cases.push([TaskType.SD, a, a.slice(0, 18)]); // different lengths
      }
      const text = randomHex(32);
      cases.push([TaskType.LLM, text, text], [TaskType.LLM, text, randomHex(32)]);
      let matches = 0;
      for (const [type, a, b] of cases) {
        const offChain = scoresMatch(type, a, b);
        expect(await net.taskManager.scoresMatch(type, a, b), `${TaskType[type]} ${a} ${b}`).to.equal(offChain);
        if (offChain) matches++;
      }
      // Both outcomes occur, so the comparison above is not vacuous.
      expect(matches).to.be.greaterThan(0).and.lessThan(cases.length);
      const a = randomHex(8);
      expect(scoresMatch(TaskType.SD, a, perturbScore(a, 23, random))).to.equal(true);
      expect(scoresMatch(TaskType.SD, a, perturbScore(a, 24, random))).to.equal(false);
    });

    it("isWellFormedScore accepts 8-byte blocks for images and 32 bytes for text", function () {
      expect(isWellFormedScore(TaskType.SD, "0x0011223344556677")).to.equal(true);
      expect(isWellFormedScore(TaskType.SD, "0x00112233")).to.equal(false);
      expect(isWellFormedScore(TaskType.SD, "0x")).to.equal(false);
      expect(isWellFormedScore(TaskType.LLM, "0x" + "ab".repeat(32))).to.equal(true);
      expect(isWellFormedScore(TaskType.LLM, "0x0011223344556677")).to.equal(false);
    });
  });
});
