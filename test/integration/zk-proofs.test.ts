/**
 * The two Groth16 proofs on-chain (DESIGN §4), end to end with real keys, real encrypted blobs and real proofs:
 *
 * - `validateTaskGroup` checks a ParamsConsistency proof over the three selected nodes' registered keys and the
 *   blob hashes recorded when each member's parameters were reported uploaded; nothing computable from the
 *   parameters alone is published (issue 17: the former public `paramsHash` let anyone confirm a guessed prompt);
 * - `reportTaskResultUploaded` checks a ResultAvailability proof over the task type, the application's key, the
 *   result blob hash (which must be in an unrevoked relay root), the stored score and the task binding (this
 *   deployment, the task, its selected node).
 *
 * And the negative cases, each a named custom error with nothing changed (task states, escrow, every balance and
 * node record, see `expectUnchanged`): a valid proof of another task (including issue 17's attack: another node's
 * blob and proof for a task of the same app with the same score), swapped or changed public inputs (members in
 * another order, a result proof of another score, of another blob, for another application), tampered proof
 * points, and a stale (revoked) relay root.
 */
import { expect } from "chai";
import { getBytes, keccak256, sha256, toUtf8Bytes, type Wallet } from "ethers";
import {
  DEFAULT_PARAMS,
  IMAGE_A,
  SCORE_A,
  SCORE_A_NEAR,
  SCORE_B,
  TEXT_A,
  TEXT_SCORE_A,
  bjjKeyOf,
  createTask,
  deployNetwork,
  ethers,
  expectSolvent,
  joinNode,
  networkHelpers,
  paramsProof,
  proveParams,
  publishBlobs,
  resultBlob,
  samplingProof,
  selectedNode,
  taskBinding,
  uploadParameters,
  uploadResult,
  uploadedParameters,
  type Network,
  type TaskOptions,
} from "../helpers/fixture.js";
import { createGroup, expectUnchanged, type Group } from "../helpers/actors.js";
import {
  PARAMS_CAPACITY,
  RESULT_CAPACITY,
  decryptBytes,
  packBytes,
  paramsHash,
  spongeHash,
} from "../../src/crypto/blob.js";
import type { Bytes32 } from "../../src/crypto/commitment.js";
import type { Groth16ProofStruct } from "../../src/zk/proofs.js";
import { TaskStatus, TaskType } from "../../src/types.js";

/** The BN254 base field prime: the coordinates of the proof points live below it. */
const BN254_P = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;

type Triple<T> = [T, T, T];

/** Three ways to tamper with valid proof points: negate A (still on the curve), move C off the curve, swap B's halves. */
function tampered(proof: Groth16ProofStruct): Groth16ProofStruct[] {
  return [
    { ...proof, a: [proof.a[0], BN254_P - proof.a[1]] },
    { ...proof, c: [proof.c[0] + 1n, proof.c[1]] },
    {
      ...proof,
      b: [
        [proof.b[0][1], proof.b[0][0]],
        [proof.b[1][0], proof.b[1][1]],
      ],
    },
  ];
}

async function networkWithSixNodes(): Promise<Network> {
  const net = await deployNetwork();
  for (const node of net.nodes.slice(0, 6)) await joinNode(net, node);
  return net;
}

/** A sampled group, parameters uploaded (`params[i]` to member i) and every member scored `scores[i]`. */
async function scoredGroup(
  net: Network,
  app: Wallet,
  scores: Triple<string>,
  params: Triple<string> = [DEFAULT_PARAMS, DEFAULT_PARAMS, DEFAULT_PARAMS],
): Promise<Group> {
  const group = await createGroup(net, app);
  for (let i = 0; i < 3; ++i) {
    await uploadParameters(net, app, group.commitments[i], params[i]);
    await (await net.taskManager.connect(group.nodes[i]).submitTaskScore(group.commitments[i], scores[i])).wait();
  }
  return group;
}

function validate(net: Network, app: Wallet, group: Group, ids: Triple<Bytes32>, proof: Groth16ProofStruct) {
  return net.taskManager
    .connect(app)
    .validateTaskGroup(ids[0], ids[1], ids[2], group.taskGUID, samplingProof(app, group.tasks[0].seed), proof);
}

/** A task that was not sampled, with parameters uploaded, scored `score` and validated alone. */
async function validatedTask(net: Network, app: Wallet, score: string, options: TaskOptions = {}) {
  const task = await createTask(net, app, { ...options, sampled: false });
  const node = await selectedNode(net, task.commitment);
  await uploadParameters(net, app, task.commitment);
  await (await net.taskManager.connect(node).submitTaskScore(task.commitment, score)).wait();
  await (await net.taskManager.connect(app).validateSingleTask(task.commitment, samplingProof(app, task.seed))).wait();
  expect(await net.taskManager.taskStatus(task.commitment)).to.equal(TaskStatus.Validated);
  return { task, node, commitment: task.commitment };
}

describe("integration: Groth16 proofs on-chain (DESIGN §4)", function () {
  describe("ParamsConsistency in validateTaskGroup", function () {
    async function twoScoredGroups() {
      const net = await networkWithSixNodes();
      const [app] = net.apps;
      const x = await scoredGroup(net, app, [SCORE_A, SCORE_A, SCORE_A]);
      const y = await scoredGroup(net, app, [SCORE_A, SCORE_A, SCORE_A]);
      return { net, app, x, y };
    }

    it("a real proof validates the group; the verifier contract accepts it and rejects any other public signal", async function () {
      const { net, app, x } = await networkHelpers.loadFixture(twoScoredGroups);
      const ids = x.commitments;
      // Each node can read its parameters with its own key; the three blobs differ but hold the same parameters.
      const uploads = await Promise.all(ids.map((c) => uploadedParameters(net, c)));
      expect(new Set(uploads.map((u) => u.blobHash)).size).to.equal(3);
      for (const [i, u] of uploads.entries()) {
        const bytes = decryptBytes(u.blob, bjjKeyOf(x.nodes[i].address).secretKey, PARAMS_CAPACITY);
        expect(new TextDecoder().decode(bytes)).to.equal(DEFAULT_PARAMS);
      }

      const proof = await paramsProof(net, ids);
      const signals: bigint[] = [];
      for (const node of x.nodes) signals.push(...(await net.registry.nodePublicKey(node.address)));
      for (const c of ids) signals.push(BigInt((await net.taskManager.getTask(c)).paramsHash));
      expect(signals.length).to.equal(9);
      const asTuple = (s: bigint[]) => s as unknown as Parameters<typeof net.paramsVerifier.verifyProof>[3];
      expect(await net.paramsVerifier.verifyProof(proof.a, proof.b, proof.c, asTuple(signals))).to.equal(true);
      for (let i = 0; i < signals.length; ++i) {
        const changed = [...signals];
        changed[i] += 1n;
        expect(
          await net.paramsVerifier.verifyProof(proof.a, proof.b, proof.c, asTuple(changed)),
          `signal ${i}`,
        ).to.equal(false);
      }

      await expect(validate(net, app, x, ids, proof)).to.emit(net.taskManager, "TaskValidated");
      expect(await net.taskManager.taskStatus(ids[0])).to.equal(TaskStatus.GroupValidated);
      await expectSolvent(net);
    });

    it("a valid proof of another group → TaskParamsProofInvalid, nothing changes; its own proof then works", async function () {
      const { net, app, x, y } = await networkHelpers.loadFixture(twoScoredGroups);
      const proofX = await paramsProof(net, x.commitments);
      const scope = { commitments: [...x.commitments, ...y.commitments] };
      await expectUnchanged(net, scope, () =>
        expect(validate(net, app, y, y.commitments, proofX))
          .to.be.revertedWithCustomError(net.taskManager, "TaskParamsProofInvalid")
          .withArgs(y.commitments[0]),
      );
      for (const c of y.commitments) expect(await net.taskManager.taskStatus(c)).to.equal(TaskStatus.ScoreReady);
      await expect(validate(net, app, y, y.commitments, await paramsProof(net, y.commitments))).to.emit(
        net.taskManager,
        "TaskValidated",
      );
      await expect(validate(net, app, x, x.commitments, proofX)).to.emit(net.taskManager, "TaskValidated");
    });

    it("members out of their k order → TaskGroupNonceMismatch; a proof over swapped keys and blob hashes → TaskParamsProofInvalid", async function () {
      const { net, app, x } = await networkHelpers.loadFixture(twoScoredGroups);
      const [c1, c2, c3] = x.commitments;
      const proof = await paramsProof(net, [c1, c2, c3]);
      const scope = { commitments: x.commitments };
      // The proof is for (c1, c2, c3); the validation tasks cannot be passed as (c1, c3, c2) at all: each member's
      // position is fixed by its nonce k (DESIGN §13.2).
      await expectUnchanged(net, scope, () =>
        expect(validate(net, app, x, [c1, c3, c2], proof))
          .to.be.revertedWithCustomError(net.taskManager, "TaskGroupNonceMismatch")
          .withArgs(c3, 1),
      );
      // A valid proof whose signals put members 2 and 3 the other way round does not fit the members' own order.
      const swapped = await paramsProof(net, [c1, c3, c2]);
      await expectUnchanged(net, scope, () =>
        expect(validate(net, app, x, [c1, c2, c3], swapped))
          .to.be.revertedWithCustomError(net.taskManager, "TaskParamsProofInvalid")
          .withArgs(c1),
      );
      // The proof for the members' own order is accepted.
      await expect(validate(net, app, x, [c1, c2, c3], proof)).to.emit(net.taskManager, "TaskValidated");
    });

    it("a tampered proof → TaskParamsProofInvalid, nothing changes", async function () {
      const { net, app, x } = await networkHelpers.loadFixture(twoScoredGroups);
      const proof = await paramsProof(net, x.commitments);
      for (const bad of tampered(proof)) {
        await expectUnchanged(net, { commitments: x.commitments }, () =>
          expect(validate(net, app, x, x.commitments, bad))
            .to.be.revertedWithCustomError(net.taskManager, "TaskParamsProofInvalid")
            .withArgs(x.commitments[0]),
        );
      }
    });

    it("parameters that differ between members cannot be proven: the group cannot be validated (nobody slashed)", async function () {
      const net = await networkHelpers.loadFixture(networkWithSixNodes);
      const [app] = net.apps;
      const other = JSON.stringify({ ...JSON.parse(DEFAULT_PARAMS), prompt: "something else entirely" });
      // The app sends other parameters to the third node, whose honest result then disagrees (AAB would slash it).
      const g = await scoredGroup(net, app, [SCORE_A, SCORE_A, SCORE_B], [DEFAULT_PARAMS, DEFAULT_PARAMS, other]);
      const uploads = (await Promise.all(g.commitments.map((c) => uploadedParameters(net, c)))) as Triple<
        Awaited<ReturnType<typeof uploadedParameters>>
      >;
      let error: unknown;
      try {
        await proveParams(uploads);
      } catch (e) {
        error = e;
      }
      expect(String(error)).to.match(/do not hold the same parameters/);
      // Proving consistency of the first member's blob three times gives a valid proof, but of other blob hashes.
      const fake = await proveParams([uploads[0], uploads[0], uploads[0]]);
      await expectUnchanged(net, { commitments: g.commitments }, () =>
        expect(validate(net, app, g, g.commitments, fake))
          .to.be.revertedWithCustomError(net.taskManager, "TaskParamsProofInvalid")
          .withArgs(g.commitments[0]),
      );
      expect(await net.taskManager.taskStatus(g.commitments[2])).to.equal(TaskStatus.ScoreReady);
    });

    it("nothing computable from the parameters alone is published: a guessed prompt cannot be confirmed", async function () {
      const { net, app, x } = await networkHelpers.loadFixture(twoScoredGroups);
      await expect(validate(net, app, x, x.commitments, await paramsProof(net, x.commitments))).to.emit(
        net.taskManager,
        "TaskValidated",
      );
      // What an observer who guessed the parameters (here: knows them) can compute without any key: the packed
      // elements, their Poseidon hashes (the former public paramsHash among them), keccak256 and sha256 of the bytes.
      const bytes = toUtf8Bytes(DEFAULT_PARAMS);
      const message = packBytes(bytes, PARAMS_CAPACITY);
      const guesses = [
        paramsHash(message),
        spongeHash(message),
        spongeHash(message.slice(1)),
        BigInt(keccak256(bytes)),
        BigInt(sha256(bytes)),
        ...message.slice(1).filter((m) => m !== 0n),
      ];
      const hex = (v: bigint) => v.toString(16).padStart(64, "0");
      // Everything public about the network from deployment to the validation: every transaction's calldata,
      // every log, and the public signals the contract rebuilds (registered node keys, stored blob hashes).
      const published: string[] = [];
      for (let n = 0; n <= (await ethers.provider.getBlockNumber()); n++) {
        const block = await ethers.provider.getBlock(n, true);
        for (const tx of block!.prefetchedTransactions) {
          published.push(tx.data.toLowerCase());
          const receipt = await ethers.provider.getTransactionReceipt(tx.hash);
          for (const log of receipt!.logs) published.push([...log.topics, log.data].join("").toLowerCase());
        }
      }
      for (const node of x.nodes) published.push((await net.registry.nodePublicKey(node.address)).map(hex).join(""));
      for (const c of x.commitments) published.push((await net.taskManager.getTask(c)).paramsHash.toLowerCase());
      const all = published.join("|");
      // The check can fail: the validation's own calldata does contain, e.g., the group's GUID.
      expect(all).to.contain(x.taskGUID.slice(2).toLowerCase());
      for (const g of guesses)
        expect(all, `published value computable from the prompt: ${hex(g)}`).to.not.contain(hex(g));
      // The parameters are still what each node decrypts.
      const upload = await uploadedParameters(net, x.commitments[0]);
      expect(decryptBytes(upload.blob, bjjKeyOf(x.nodes[0].address).secretKey, PARAMS_CAPACITY)).to.deep.equal(
        getBytes(bytes),
      );
    });
  });

  describe("ResultAvailability in reportTaskResultUploaded", function () {
    async function validatedTasks() {
      const net = await networkWithSixNodes();
      const [app, otherApp] = net.apps;
      const a = await validatedTask(net, app, SCORE_A);
      const near = await validatedTask(net, app, SCORE_A_NEAR);
      const b = await validatedTask(net, app, SCORE_B);
      const foreign = await validatedTask(net, otherApp, SCORE_A);
      // Same app, same score as a, another node.
      const twin = await validatedTask(net, app, SCORE_A);
      const all = [a, near, b, foreign, twin].map((t) => t.commitment);
      return { net, app, otherApp, a, near, b, foreign, twin, all };
    }

    it("a real proof settles the task; the app decrypts the image whose pHash is the score", async function () {
      const { net, app, a } = await networkHelpers.loadFixture(validatedTasks);
      const result = await resultBlob(net, a.commitment);
      expect(result.publicSignals).to.deep.equal([
        0n,
        ...bjjKeyOf(app.address).publicKey,
        BigInt(result.blobHash),
        BigInt(SCORE_A),
        await taskBinding(net, a.commitment, a.node.address),
      ]);
      const asTuple = (s: bigint[]) => s as unknown as Parameters<typeof net.resultVerifier.verifyProof>[3];
      const p = result.proof;
      expect(await net.resultVerifier.verifyProof(p.a, p.b, p.c, asTuple(result.publicSignals))).to.equal(true);
      expect(decryptBytes(result.blob, bjjKeyOf(app.address).secretKey, RESULT_CAPACITY)).to.deep.equal(IMAGE_A);

      const hash = await uploadResult(net, a.node, a.commitment);
      expect(hash).to.equal(result.blobHash);
      const stored = await net.taskManager.getTask(a.commitment);
      expect(stored.status).to.equal(TaskStatus.EndSuccess);
      expect(stored.resultHash).to.equal(result.blobHash);
      await expectSolvent(net);
    });

    it("a valid proof of another task (another score, another app) → TaskResultProofInvalid, nothing changes", async function () {
      const { net, a, b, foreign, all } = await networkHelpers.loadFixture(validatedTasks);
      const proofA = await resultBlob(net, a.commitment);
      const [inclusion] = await publishBlobs(net, [proofA.blobHash]);
      // b has score B (another sim hash); foreign has score A but another application's key.
      for (const target of [b, foreign]) {
        await expectUnchanged(net, { commitments: all, roots: [inclusion.root] }, () =>
          expect(
            net.taskManager
              .connect(target.node)
              .reportTaskResultUploaded(
                target.commitment,
                inclusion.blobHash,
                inclusion.root,
                inclusion.proof,
                proofA.proof,
              ),
          )
            .to.be.revertedWithCustomError(net.taskManager, "TaskResultProofInvalid")
            .withArgs(target.commitment),
        );
      }
      // Each one's own proof works, and so does a's.
      for (const t of [b, foreign, a]) await uploadResult(net, t.node, t.commitment);
      for (const t of [b, foreign, a])
        expect(await net.taskManager.taskStatus(t.commitment)).to.equal(TaskStatus.EndSuccess);
      await expectSolvent(net);
    });

    it("issue 17: node 2 reuses node 1's blob and proof for a task of the same app with the same score → TaskResultProofInvalid", async function () {
      const { net, a, twin, all } = await networkHelpers.loadFixture(validatedTasks);
      expect(twin.node.address).to.not.equal(a.node.address);
      const stolen = await resultBlob(net, a.commitment);
      // Every other public signal of task twin is the same as a's: kind, app key, score, and the blob (public on
      // the relay) is a valid result for it. Only the binding differs.
      const own = await resultBlob(net, twin.commitment);
      expect(own.publicSignals.slice(0, 5)).to.deep.equal(stolen.publicSignals.slice(0, 5));
      expect(own.publicSignals[5]).to.not.equal(stolen.publicSignals[5]);
      const [inclusion] = await publishBlobs(net, [stolen.blobHash]);
      await expectUnchanged(net, { commitments: all, roots: [inclusion.root] }, () =>
        expect(
          net.taskManager
            .connect(twin.node)
            .reportTaskResultUploaded(
              twin.commitment,
              inclusion.blobHash,
              inclusion.root,
              inclusion.proof,
              stolen.proof,
            ),
        )
          .to.be.revertedWithCustomError(net.taskManager, "TaskResultProofInvalid")
          .withArgs(twin.commitment),
      );
      expect(await net.taskManager.withdrawable(twin.node.address)).to.equal(0n);
      // The verifier itself rejects a's proof with the binding of a for another node (the node is bound too).
      const asTuple = (s: bigint[]) => s as unknown as Parameters<typeof net.resultVerifier.verifyProof>[3];
      const p = stolen.proof;
      const forOtherNode = [
        ...stolen.publicSignals.slice(0, 5),
        await taskBinding(net, a.commitment, twin.node.address),
      ];
      expect(await net.resultVerifier.verifyProof(p.a, p.b, p.c, asTuple(stolen.publicSignals))).to.equal(true);
      expect(await net.resultVerifier.verifyProof(p.a, p.b, p.c, asTuple(forOtherNode))).to.equal(false);
      // The proof works for the task it was made for, and the twin's node settles its own with its own proof.
      await expect(
        net.taskManager
          .connect(a.node)
          .reportTaskResultUploaded(a.commitment, inclusion.blobHash, inclusion.root, inclusion.proof, stolen.proof),
      ).to.emit(net.taskManager, "TaskSuccess");
      await uploadResult(net, twin.node, twin.commitment);
      expect(await net.taskManager.taskStatus(twin.commitment)).to.equal(TaskStatus.EndSuccess);
      await expectSolvent(net);
    });

    it("swapped public inputs (a proof of a matching but different score, another blob hash) → TaskResultProofInvalid", async function () {
      const { net, a, near, all } = await networkHelpers.loadFixture(validatedTasks);
      // near's node submitted A' (which matches A in a group), but the result proof must be of A' itself.
      const proofA = await resultBlob(net, a.commitment);
      const own = await resultBlob(net, near.commitment);
      const [incA, incOwn] = await publishBlobs(net, [proofA.blobHash, own.blobHash]);
      const attempts: [Bytes32, typeof incA, Groth16ProofStruct][] = [
        [proofA.blobHash, incA, proofA.proof], // a proof of sim hash A for a task whose score is A'
        [proofA.blobHash, incA, own.proof], // its own proof, with another (posted) blob hash
        [own.blobHash, incOwn, proofA.proof], // its own blob, with the proof of another blob and score
      ];
      for (const [hash, inclusion, proof] of attempts) {
        await expectUnchanged(net, { commitments: all, roots: [inclusion.root] }, () =>
          expect(
            net.taskManager
              .connect(near.node)
              .reportTaskResultUploaded(near.commitment, hash, inclusion.root, inclusion.proof, proof),
          )
            .to.be.revertedWithCustomError(net.taskManager, "TaskResultProofInvalid")
            .withArgs(near.commitment),
        );
      }
      await expect(
        net.taskManager
          .connect(near.node)
          .reportTaskResultUploaded(near.commitment, own.blobHash, incOwn.root, incOwn.proof, own.proof),
      ).to.emit(net.taskManager, "TaskSuccess");
    });

    it("a tampered proof → TaskResultProofInvalid, nothing changes", async function () {
      const { net, a, all } = await networkHelpers.loadFixture(validatedTasks);
      const result = await resultBlob(net, a.commitment);
      const [inclusion] = await publishBlobs(net, [result.blobHash]);
      for (const bad of tampered(result.proof)) {
        await expectUnchanged(net, { commitments: all, roots: [inclusion.root] }, () =>
          expect(
            net.taskManager
              .connect(a.node)
              .reportTaskResultUploaded(a.commitment, result.blobHash, inclusion.root, inclusion.proof, bad),
          )
            .to.be.revertedWithCustomError(net.taskManager, "TaskResultProofInvalid")
            .withArgs(a.commitment),
        );
      }
    });

    it("a stale (revoked) root → TaskBlobNotInRoot, nothing changes; the blob in a fresh root is accepted", async function () {
      const { net, a, all } = await networkHelpers.loadFixture(validatedTasks);
      const result = await resultBlob(net, a.commitment);
      const [stale] = await publishBlobs(net, [result.blobHash]);
      await expect(net.relayRoots.connect(net.governor).revokeRoot(stale.root))
        .to.emit(net.relayRoots, "RootRevoked")
        .withArgs(stale.root, await net.timelock.getAddress());
      await expectUnchanged(net, { commitments: all, roots: [stale.root] }, () =>
        expect(
          net.taskManager
            .connect(a.node)
            .reportTaskResultUploaded(a.commitment, result.blobHash, stale.root, stale.proof, result.proof),
        )
          .to.be.revertedWithCustomError(net.taskManager, "TaskBlobNotInRoot")
          .withArgs(a.commitment, result.blobHash, stale.root),
      );
      expect(await net.taskManager.withdrawable(a.node.address)).to.equal(0n);
      const [fresh] = await publishBlobs(net, [result.blobHash]);
      expect(fresh.root).to.not.equal(stale.root);
      await expect(
        net.taskManager
          .connect(a.node)
          .reportTaskResultUploaded(a.commitment, result.blobHash, fresh.root, fresh.proof, result.proof),
      ).to.emit(net.taskManager, "TaskSuccess");
    });

    it("text tasks prove the Poseidon hash of the output (isText = 1); an image proof does not fit them", async function () {
      const net = await networkHelpers.loadFixture(networkWithSixNodes);
      const [app] = net.apps;
      const text = await validatedTask(net, app, TEXT_SCORE_A, { taskType: TaskType.LLM });
      const image = await validatedTask(net, app, SCORE_A);
      const result = await resultBlob(net, text.commitment);
      expect(result.isText).to.equal(true);
      expect(result.publicSignals[0]).to.equal(1n);
      expect(decryptBytes(result.blob, bjjKeyOf(app.address).secretKey, RESULT_CAPACITY)).to.deep.equal(TEXT_A);
      const imageProof = await resultBlob(net, image.commitment);
      const [inclusion] = await publishBlobs(net, [imageProof.blobHash]);
      await expectUnchanged(net, { commitments: [text.commitment] }, () =>
        expect(
          net.taskManager
            .connect(text.node)
            .reportTaskResultUploaded(
              text.commitment,
              inclusion.blobHash,
              inclusion.root,
              inclusion.proof,
              imageProof.proof,
            ),
        )
          .to.be.revertedWithCustomError(net.taskManager, "TaskResultProofInvalid")
          .withArgs(text.commitment),
      );
      await uploadResult(net, text.node, text.commitment);
      expect(await net.taskManager.taskStatus(text.commitment)).to.equal(TaskStatus.EndSuccess);
    });
  });
});
