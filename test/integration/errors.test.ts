/**
 * Every custom error of `ITaskManager`, `INodeRegistry`, `IRelayRoots` and `IPullPayments`, plus OpenZeppelin's
 * `AccessControlUnauthorizedAccount`, triggered at least once with its exact arguments; after each revert, no
 * observable state has changed (both contracts' totals, balances, queue, configs, every node, and the tasks, nonces
 * and roots involved). The group-validation errors are covered in depth by `group-validation.test.ts`; each one is
 * triggered here once too.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { ZeroAddress, ZeroHash, keccak256, parseEther, toUtf8Bytes, type BaseContract } from "ethers";
import {
  FEE,
  GPU_4090,
  BJJ_KEY,
  MODEL_LLAMA,
  MODEL_SDXL,
  NO_PARAMS_PROOF,
  NO_PROOF,
  SCORE_A,
  STAKE,
  TIMEOUTS,
  blobHash,
  bjjKeyOf,
  createTask,
  deliverWord,
  deployNetwork,
  expectSolvent,
  joinNode,
  networkHelpers,
  paramsProof,
  publishBlobs,
  resultBlob,
  samplingProof,
  selectedNode,
  taskInput,
  uploadParameters,
  uploadResult,
  type Network,
  witnessOrAny,
} from "../helpers/fixture.js";
import {
  DEFAULT_ADMIN_ROLE,
  RELAY_ROLE,
  TASK_MANAGER_ROLE,
  at,
  createGroup,
  deployRevertingReceiver,
  driveTask,
  playMember,
  validateGroup,
  expectUnchanged,
  type SnapshotScope,
} from "../helpers/actors.js";
import {
  INodeRegistry__factory,
  IPullPayments__factory,
  IRelayRoots__factory,
  ITaskManager__factory,
  NodeRegistry__factory,
} from "../../typechain-types/index.js";
import { gpuId, newTaskIdentity } from "../../src/crypto/commitment.js";
import { dispatchPending } from "../../src/chain/dispatch.js";
import { proveVRF, verifyVRF } from "../../src/crypto/vrf.js";
import { FIELD_SIZE } from "../../src/crypto/blob.js";
import { subgroupWitness, type PublicKey } from "../../src/crypto/babyjub.js";
import { DEFAULT_REGISTRY_PARAMETERS, DEFAULT_TASK_PARAMETERS } from "../../src/config.js";
import { NodeStatus, TaskAbortReason, TaskError, TaskStatus, TaskType } from "../../src/types.js";

/** Asserts that `call` reverts with `name(...args)` (no `withArgs` when `args` is omitted) and changes nothing. */
async function expectRevert(
  net: Network,
  scope: SnapshotScope,
  call: () => Promise<unknown>,
  contract: BaseContract,
  name: string,
  args?: readonly unknown[],
): Promise<void> {
  await expectUnchanged(net, scope, async () => {
    const assertion = expect(call()).to.be.revertedWithCustomError(contract, name);
    if (args) await assertion.withArgs(...args);
    else await assertion;
  });
}

/** A GPU nobody in the fixture has: tasks requiring it stay queued. */
const UNSERVED_GPU = gpuId("NVIDIA H100 80GB HBM3");

/** The default task parameters as a `TaskConfig` argument. */
function taskConfig(overrides: Partial<typeof DEFAULT_TASK_PARAMETERS> = {}) {
  return { ...DEFAULT_TASK_PARAMETERS, ...overrides };
}

describe("integration: every custom error", function () {
  async function networkWithThreeNodes(): Promise<Network> {
    const net = await deployNetwork();
    for (const node of net.nodes.slice(0, 3)) await joinNode(net, node);
    return net;
  }

  async function networkWithQueueOfOne(): Promise<Network> {
    return deployNetwork({ minQueueCapacity: 1n, queueSizeFactor: 0n });
  }

  // =============================================================================================================
  // ITaskManager: creation
  // =============================================================================================================

  describe("ITaskManager: createTask", function () {
    it("TaskFeeZero", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const id = newTaskIdentity();
      await expectRevert(
        net,
        { commitments: [id.commitment], nonces: [id.nonce] },
        () => net.taskManager.connect(net.apps[0]).createTask(taskInput(id.commitment, id.nonce), { value: 0n }),
        net.taskManager,
        "TaskFeeZero",
      );
    });

    it("TaskFeeTooHigh(fee) above 2^96 - 1 wei; 2^96 - 1 itself is accepted", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app] = net.apps;
      const tooHigh = 2n ** 96n;
      await networkHelpers.setBalance(app.address, 2n * tooHigh + parseEther("10"));
      const id = newTaskIdentity();
      await expectRevert(
        net,
        { commitments: [id.commitment], nonces: [id.nonce] },
        () => tm.connect(app).createTask(taskInput(id.commitment, id.nonce), { value: tooHigh }),
        tm,
        "TaskFeeTooHigh",
        [tooHigh],
      );
      await (await tm.connect(app).createTask(taskInput(id.commitment, id.nonce), { value: tooHigh - 1n })).wait();
      expect((await tm.getTask(id.commitment)).fee).to.equal(tooHigh - 1n);
      await expectSolvent(net);
    });

    it("TaskAppKeyInvalid(commitment) for an application key the result circuit cannot use", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const id = newTaskIdentity();
      const bad: [bigint, bigint][] = [
        [0n, 0n],
        [0n, 1n], // on the curve, but x = 0 makes the shared key public
        [BJJ_KEY[0], BJJ_KEY[1] + 1n], // off the curve
        [BJJ_KEY[0] + FIELD_SIZE, BJJ_KEY[1]], // not a field element
      ];
      for (const appPublicKey of bad) {
        await expectRevert(
          net,
          { commitments: [id.commitment], nonces: [id.nonce] },
          () =>
            net.taskManager
              .connect(net.apps[0])
              .createTask(taskInput(id.commitment, id.nonce, { appPublicKey }), { value: FEE }),
          net.taskManager,
          "TaskAppKeyInvalid",
          [id.commitment],
        );
      }
      // A valid key that nobody registered is refused too: createTask accepts only registered keys.
      const unregistered = subgroupWitness(BJJ_KEY); // a point of the curve, registered by nobody
      await expectRevert(
        net,
        { commitments: [id.commitment], nonces: [id.nonce] },
        () =>
          net.taskManager
            .connect(net.apps[0])
            .createTask(taskInput(id.commitment, id.nonce, { appPublicKey: unregistered }), { value: FEE }),
        net.taskManager,
        "TaskAppKeyInvalid",
        [id.commitment],
      );
    });

    it("TaskAppKeyNotInSubgroup(key) for registerAppKey of a key outside the prime-order subgroup", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      // (1/√a, 0): on the curve, x ≠ 0, order 4.
      const order4: PublicKey = [2957874849018779266517920829765869116077630550401372566248359756137677864698n, 0n];
      for (const witness of [subgroupWitness(BJJ_KEY), order4]) {
        await expectRevert(
          net,
          {},
          () => net.taskManager.connect(net.apps[0]).registerAppKey(order4, witness),
          net.taskManager,
          "TaskAppKeyNotInSubgroup",
          [order4],
        );
      }
    });

    it("TaskCommitmentZero", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const id = newTaskIdentity();
      await expectRevert(
        net,
        { commitments: [ZeroHash], nonces: [id.nonce] },
        () => net.taskManager.connect(net.apps[0]).createTask(taskInput(ZeroHash, id.nonce), { value: FEE }),
        net.taskManager,
        "TaskCommitmentZero",
      );
    });

    it("TaskAlreadyExists(commitment)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const task = await createTask(net, net.apps[0]);
      const nonce = newTaskIdentity().nonce;
      await expectRevert(
        net,
        { commitments: [task.commitment], nonces: [task.nonce, nonce] },
        () => net.taskManager.connect(net.apps[1]).createTask(taskInput(task.commitment, nonce), { value: FEE }),
        net.taskManager,
        "TaskAlreadyExists",
        [task.commitment],
      );
    });

    it("TaskNonceUsed(nonce), whoever reuses it", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const task = await createTask(net, net.apps[0]);
      const other = newTaskIdentity();
      for (const app of net.apps) {
        await expectRevert(
          net,
          { commitments: [task.commitment, other.commitment], nonces: [task.nonce] },
          () => net.taskManager.connect(app).createTask(taskInput(other.commitment, task.nonce), { value: FEE }),
          net.taskManager,
          "TaskNonceUsed",
          [task.nonce],
        );
      }
    });

    it("a task a full queue would not take ends at its dispatch (EndAborted, TaskFeeTooLow, refunded), not with a revert", async function () {
      // Dispatch must never revert (it would hold every task behind this one), so what createTask used to refuse with
      // TaskQueueFull now ends, refunded, when its word lands; the queue keeps its task.
      const net = await networkHelpers.loadFixture(networkWithQueueOfOne);
      const tm = net.taskManager;
      const queued = await createTask(net, net.apps[0], { fee: FEE });
      for (const fee of [FEE, FEE / 2n]) {
        const before = await tm.withdrawable(net.apps[1].address);
        const task = await createTask(net, net.apps[1], { fee });
        const info = await tm.getTask(task.commitment);
        expect(info.status).to.equal(TaskStatus.EndAborted);
        expect(info.abortReason).to.equal(TaskAbortReason.TaskFeeTooLow);
        expect(await tm.withdrawable(net.apps[1].address)).to.equal(before + fee);
      }
      expect(await tm.queuedTasks()).to.deep.equal([queued.commitment]);
      await expectSolvent(net);
    });
  });

  // =============================================================================================================
  // ITaskManager: lookups, access and state guards
  // =============================================================================================================

  describe("ITaskManager: lookups, access and the state guard", function () {
    it("TaskNotFound(commitment) from every entry point", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app] = net.apps;
      const node = net.nodes[0];
      const unknown = newTaskIdentity().commitment;
      const [blob] = await publishBlobs(net, [blobHash()]);
      const proof = samplingProof(app, unknown);
      const scope = { commitments: [unknown] };
      const calls: Array<() => Promise<unknown>> = [
        () => tm.getTask(unknown),
        () => tm.taskStatus(unknown),
        () => tm.deadlineOf(unknown),
        () => tm.connect(net.stranger).abortTask(unknown),
        () => tm.connect(app).reportTaskParametersUploaded(unknown, blob.blobHash, blob.root, blob.proof),
        () => tm.connect(node).submitTaskScore(unknown, SCORE_A),
        () => tm.connect(node).reportTaskError(unknown, TaskError.ParametersValidationFailed),
        () => tm.connect(app).validateSingleTask(unknown, proof),
        () => tm.connect(node).reportTaskResultUploaded(unknown, blob.blobHash, blob.root, blob.proof, NO_PROOF),
        () =>
          tm
            .connect(app)
            .validateTaskGroup(
              unknown,
              newTaskIdentity().commitment,
              newTaskIdentity().commitment,
              ZeroHash,
              proof,
              ...NO_PARAMS_PROOF,
            ),
      ];
      for (const call of calls) await expectRevert(net, scope, call, tm, "TaskNotFound", [unknown]);
    });

    it("TaskNotCreator(commitment, caller, creator)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app, otherApp] = net.apps;
      const { task, node } = await driveTask(net, app, TaskStatus.Started);
      const [params] = await publishBlobs(net, [blobHash("params")]);
      const scope = { commitments: [task.commitment] };
      for (const caller of [net.stranger, otherApp, node]) {
        await expectRevert(
          net,
          scope,
          () =>
            tm
              .connect(caller)
              .reportTaskParametersUploaded(task.commitment, params.blobHash, params.root, params.proof),
          tm,
          "TaskNotCreator",
          [task.commitment, caller.address, app.address],
        );
      }
      await uploadParameters(net, app, task.commitment);
      await (await tm.connect(node).submitTaskScore(task.commitment, SCORE_A)).wait();
      await expectRevert(
        net,
        scope,
        () => tm.connect(otherApp).validateSingleTask(task.commitment, samplingProof(app, task.seed)),
        tm,
        "TaskNotCreator",
        [task.commitment, otherApp.address, app.address],
      );
    });

    it("TaskNotSelectedNode(commitment, caller, selectedNode), also while queued (selected node zero)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app] = net.apps;
      const { task, node } = await driveTask(net, app, TaskStatus.ParametersUploaded);
      const other = net.nodes.find((n) => n.address !== node.address && n !== net.nodes[3])!;
      const scope = { commitments: [task.commitment] };
      for (const caller of [other, net.stranger, app]) {
        await expectRevert(
          net,
          scope,
          () => tm.connect(caller).submitTaskScore(task.commitment, SCORE_A),
          tm,
          "TaskNotSelectedNode",
          [task.commitment, caller.address, node.address],
        );
        await expectRevert(
          net,
          scope,
          () => tm.connect(caller).reportTaskError(task.commitment, TaskError.ParametersValidationFailed),
          tm,
          "TaskNotSelectedNode",
          [task.commitment, caller.address, node.address],
        );
      }
      await (await tm.connect(node).submitTaskScore(task.commitment, SCORE_A)).wait();
      await (await tm.connect(app).validateSingleTask(task.commitment, samplingProof(app, task.seed))).wait();
      const [result] = await publishBlobs(net, [blobHash("result")]);
      await expectRevert(
        net,
        scope,
        () =>
          tm
            .connect(other)
            .reportTaskResultUploaded(task.commitment, result.blobHash, result.root, result.proof, NO_PROOF),
        tm,
        "TaskNotSelectedNode",
        [task.commitment, other.address, node.address],
      );

      const queued = await createTask(net, app, { requiredGPU: UNSERVED_GPU, requiredGPUVRAM: 80 });
      expect(await tm.taskStatus(queued.commitment)).to.equal(TaskStatus.Queued);
      await expectRevert(
        net,
        { commitments: [queued.commitment] },
        () => tm.connect(other).submitTaskScore(queued.commitment, SCORE_A),
        tm,
        "TaskNotSelectedNode",
        [queued.commitment, other.address, ZeroAddress],
      );
    });

    it("TaskInvalidState(commitment, current) for every out-of-order call", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app] = net.apps;
      const { task, node } = await driveTask(net, app, TaskStatus.Started);
      const c = task.commitment;
      const scope = { commitments: [c] };
      const [blob] = await publishBlobs(net, [blobHash()]);
      const proof = samplingProof(app, task.seed);

      // Started: no score, no error, no validation, no result yet.
      await expectRevert(net, scope, () => tm.connect(node).submitTaskScore(c, SCORE_A), tm, "TaskInvalidState", [
        c,
        TaskStatus.Started,
      ]);
      await expectRevert(
        net,
        scope,
        () => tm.connect(node).reportTaskError(c, TaskError.ParametersValidationFailed),
        tm,
        "TaskInvalidState",
        [c, TaskStatus.Started],
      );
      await expectRevert(net, scope, () => tm.connect(app).validateSingleTask(c, proof), tm, "TaskInvalidState", [
        c,
        TaskStatus.Started,
      ]);
      await expectRevert(
        net,
        scope,
        () => tm.connect(node).reportTaskResultUploaded(c, blob.blobHash, blob.root, blob.proof, NO_PROOF),
        tm,
        "TaskInvalidState",
        [c, TaskStatus.Started],
      );

      // ParametersUploaded: no second upload, no validation.
      await uploadParameters(net, app, c);
      await expectRevert(
        net,
        scope,
        () => tm.connect(app).reportTaskParametersUploaded(c, blob.blobHash, blob.root, blob.proof),
        tm,
        "TaskInvalidState",
        [c, TaskStatus.ParametersUploaded],
      );
      await expectRevert(net, scope, () => tm.connect(app).validateSingleTask(c, proof), tm, "TaskInvalidState", [
        c,
        TaskStatus.ParametersUploaded,
      ]);

      // ScoreReady: no second score, no error, no result before validation.
      await (await tm.connect(node).submitTaskScore(c, SCORE_A)).wait();
      await expectRevert(net, scope, () => tm.connect(node).submitTaskScore(c, SCORE_A), tm, "TaskInvalidState", [
        c,
        TaskStatus.ScoreReady,
      ]);
      await expectRevert(
        net,
        scope,
        () => tm.connect(node).reportTaskError(c, TaskError.ParametersValidationFailed),
        tm,
        "TaskInvalidState",
        [c, TaskStatus.ScoreReady],
      );
      await expectRevert(
        net,
        scope,
        () => tm.connect(node).reportTaskResultUploaded(c, blob.blobHash, blob.root, blob.proof, NO_PROOF),
        tm,
        "TaskInvalidState",
        [c, TaskStatus.ScoreReady],
      );

      // Validated: no second validation.
      await (await tm.connect(app).validateSingleTask(c, proof)).wait();
      await expectRevert(net, scope, () => tm.connect(app).validateSingleTask(c, proof), tm, "TaskInvalidState", [
        c,
        TaskStatus.Validated,
      ]);

      // EndSuccess: nothing more, not even an abort.
      await uploadResult(net, node, c);
      await expectRevert(
        net,
        scope,
        () => tm.connect(node).reportTaskResultUploaded(c, blob.blobHash, blob.root, blob.proof, NO_PROOF),
        tm,
        "TaskInvalidState",
        [c, TaskStatus.EndSuccess],
      );
      await expectRevert(net, scope, () => tm.connect(net.stranger).abortTask(c), tm, "TaskInvalidState", [
        c,
        TaskStatus.EndSuccess,
      ]);
    });

    it("TaskDeadlineNotReached(commitment, deadline, now)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const { task } = await driveTask(net, net.apps[0], TaskStatus.Started);
      const startedAt = (await tm.getTask(task.commitment)).startedAt;
      await at(startedAt + 10n);
      await expectRevert(
        net,
        { commitments: [task.commitment] },
        () => tm.connect(net.stranger).abortTask(task.commitment),
        tm,
        "TaskDeadlineNotReached",
        [task.commitment, startedAt + BigInt(TIMEOUTS.execution), startedAt + 10n],
      );
    });

    it("TaskCallerNotRegistry(caller) for onNodeAvailable", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const queued = await createTask(net, net.apps[0], { requiredGPU: UNSERVED_GPU, requiredGPUVRAM: 80 });
      for (const caller of [net.stranger, net.nodes[0]]) {
        await expectRevert(
          net,
          { commitments: [queued.commitment] },
          () => tm.connect(caller).onNodeAvailable(net.nodes[0].address),
          tm,
          "TaskCallerNotRegistry",
          [caller.address],
        );
      }
      const adminAddress = await net.admin.getAddress();
      await expectRevert(
        net,
        {},
        () => tm.connect(net.admin).onNodeAvailable(net.nodes[0].address),
        tm,
        "TaskCallerNotRegistry",
        [adminAddress],
      );
    });

    it("TaskConfigInvalid for each unusable parameter", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const bad: Array<Partial<typeof DEFAULT_TASK_PARAMETERS>> = [
        { samplingDivisor: 0n },
        { distanceThreshold: 0n },
        { distanceThreshold: 65n },
        { minQueueCapacity: 0n },
        { queueTimeout: 0n },
        { executionTimeout: 0n },
        { validationTimeout: 0n },
        { resultUploadTimeout: 0n },
      ];
      for (const overrides of bad) {
        await expectRevert(
          net,
          {},
          () => net.taskManager.connect(net.governor).setConfig(taskConfig(overrides)),
          net.taskManager,
          "TaskConfigInvalid",
        );
      }
      // The boundary is accepted.
      await expect(net.taskManager.connect(net.governor).setConfig(taskConfig({ distanceThreshold: 64n }))).to.emit(
        net.taskManager,
        "TaskConfigUpdated",
      );
    });
  });

  // =============================================================================================================
  // ITaskManager: proofs, scores and sampling
  // =============================================================================================================

  describe("ITaskManager: blobs, scores and errors", function () {
    it("TaskBlobNotInRoot(commitment, blobHash, root) for an unposted root and for a blob outside a posted root", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app] = net.apps;
      const { task, node } = await driveTask(net, app, TaskStatus.Started);
      const c = task.commitment;
      const [posted] = await publishBlobs(net, [blobHash("posted")]);
      const outsider = blobHash("outsider");
      const unposted = keccak256(toUtf8Bytes("never posted"));
      const scope = { commitments: [c], roots: [posted.root, unposted] };

      await expectRevert(
        net,
        scope,
        () => tm.connect(app).reportTaskParametersUploaded(c, posted.blobHash, unposted, posted.proof),
        tm,
        "TaskBlobNotInRoot",
        [c, posted.blobHash, unposted],
      );
      await expectRevert(
        net,
        scope,
        () => tm.connect(app).reportTaskParametersUploaded(c, outsider, posted.root, posted.proof),
        tm,
        "TaskBlobNotInRoot",
        [c, outsider, posted.root],
      );

      await uploadParameters(net, app, c);
      await (await tm.connect(node).submitTaskScore(c, SCORE_A)).wait();
      await (await tm.connect(app).validateSingleTask(c, samplingProof(app, task.seed))).wait();
      await expectRevert(
        net,
        scope,
        () => tm.connect(node).reportTaskResultUploaded(c, outsider, posted.root, posted.proof, NO_PROOF),
        tm,
        "TaskBlobNotInRoot",
        [c, outsider, posted.root],
      );
      await expectRevert(
        net,
        scope,
        () => tm.connect(node).reportTaskResultUploaded(c, posted.blobHash, unposted, [], NO_PROOF),
        tm,
        "TaskBlobNotInRoot",
        [c, posted.blobHash, unposted],
      );
    });

    it("TaskBlobNotInRoot(commitment, blobHash, root) under a revoked (stale) root", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app] = net.apps;
      const { task, node } = await driveTask(net, app, TaskStatus.Started);
      const c = task.commitment;
      const [params] = await publishBlobs(net, [blobHash("params")]);
      await (await net.relayRoots.connect(net.governor).revokeRoot(params.root)).wait();
      const scope = { commitments: [c], roots: [params.root] };
      await expectRevert(
        net,
        scope,
        () => tm.connect(app).reportTaskParametersUploaded(c, params.blobHash, params.root, params.proof),
        tm,
        "TaskBlobNotInRoot",
        [c, params.blobHash, params.root],
      );
      await uploadParameters(net, app, c);
      await (await tm.connect(node).submitTaskScore(c, SCORE_A)).wait();
      await (await tm.connect(app).validateSingleTask(c, samplingProof(app, task.seed))).wait();
      const result = await resultBlob(net, c);
      const [inclusion] = await publishBlobs(net, [result.blobHash]);
      await (await net.relayRoots.connect(net.governor).revokeRoot(inclusion.root)).wait();
      await expectRevert(
        net,
        { commitments: [c], roots: [inclusion.root] },
        () =>
          tm.connect(node).reportTaskResultUploaded(c, result.blobHash, inclusion.root, inclusion.proof, result.proof),
        tm,
        "TaskBlobNotInRoot",
        [c, result.blobHash, inclusion.root],
      );
    });

    it("TaskResultProofInvalid(commitment) for a proof the verifier rejects", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const { task, node } = await driveTask(net, net.apps[0], TaskStatus.Validated);
      const c = task.commitment;
      const result = await resultBlob(net, c);
      const [inclusion] = await publishBlobs(net, [result.blobHash]);
      await expectRevert(
        net,
        { commitments: [c], roots: [inclusion.root] },
        () => tm.connect(node).reportTaskResultUploaded(c, result.blobHash, inclusion.root, inclusion.proof, NO_PROOF),
        tm,
        "TaskResultProofInvalid",
        [c],
      );
    });

    it("TaskScoreInvalid(commitment, length) for image and text scores of the wrong shape", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app] = net.apps;
      const image = await driveTask(net, app, TaskStatus.ParametersUploaded);
      for (const score of ["0x", "0x0123456789abcd", "0x0123456789abcdef01"]) {
        await expectRevert(
          net,
          { commitments: [image.task.commitment] },
          () => tm.connect(image.node).submitTaskScore(image.task.commitment, score),
          tm,
          "TaskScoreInvalid",
          [image.task.commitment, (score.length - 2) / 2],
        );
      }
      const text = await driveTask(net, app, TaskStatus.ParametersUploaded, {
        taskType: TaskType.LLM,
        models: [MODEL_LLAMA],
      });
      for (const score of [SCORE_A, "0x" + "ab".repeat(33)]) {
        await expectRevert(
          net,
          { commitments: [text.task.commitment] },
          () => tm.connect(text.node).submitTaskScore(text.task.commitment, score),
          tm,
          "TaskScoreInvalid",
          [text.task.commitment, (score.length - 2) / 2],
        );
      }
      await expect(tm.connect(text.node).submitTaskScore(text.task.commitment, "0x" + "ab".repeat(32))).to.emit(
        tm,
        "TaskScoreReady",
      );
    });

    it("TaskErrorInvalid(commitment) for TaskError.None", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const { task, node } = await driveTask(net, net.apps[0], TaskStatus.ParametersUploaded);
      await expectRevert(
        net,
        { commitments: [task.commitment] },
        () => net.taskManager.connect(node).reportTaskError(task.commitment, TaskError.None),
        net.taskManager,
        "TaskErrorInvalid",
        [task.commitment],
      );
    });

    it("TaskDeclineReasonInvalid(commitment, reason) and TaskDeclineTooLate(commitment, deadline, now)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const { task, node } = await driveTask(net, net.apps[0], TaskStatus.ParametersUploaded);
      const scope = { commitments: [task.commitment] };
      for (const reason of [TaskAbortReason.None, TaskAbortReason.Timeout, TaskAbortReason.QueueTimeout]) {
        await expectRevert(
          net,
          scope,
          () => tm.connect(node).declineTask(task.commitment, reason),
          tm,
          "TaskDeclineReasonInvalid",
          [task.commitment, reason],
        );
      }
      const deadline = await tm.deadlineOf(task.commitment);
      await at(deadline);
      await expectRevert(
        net,
        scope,
        () => tm.connect(node).declineTask(task.commitment, TaskAbortReason.AppKeyInvalid),
        tm,
        "TaskDeclineTooLate",
        [task.commitment, deadline, deadline],
      );
    });
  });

  describe("ITaskManager: sampling proofs", function () {
    it("TaskSamplingSeedMismatch(commitment, expected, provided)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const [app] = net.apps;
      const { task } = await driveTask(net, app, TaskStatus.ScoreReady);
      const otherSeed = keccak256(toUtf8Bytes("some other seed"));
      await expectRevert(
        net,
        { commitments: [task.commitment] },
        () => net.taskManager.connect(app).validateSingleTask(task.commitment, samplingProof(app, otherSeed)),
        net.taskManager,
        "TaskSamplingSeedMismatch",
        [task.commitment, task.seed, BigInt(otherSeed)],
      );
    });

    it("TaskSamplingKeyNotCreator(commitment, keyOwner, creator)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const [app, otherApp] = net.apps;
      const { task } = await driveTask(net, app, TaskStatus.ScoreReady);
      await expectRevert(
        net,
        { commitments: [task.commitment] },
        () => net.taskManager.connect(app).validateSingleTask(task.commitment, samplingProof(otherApp, task.seed)),
        net.taskManager,
        "TaskSamplingKeyNotCreator",
        [task.commitment, otherApp.address, app.address],
      );
    });

    it("TaskSamplingProofInvalid(commitment) for a tampered proof", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const [app] = net.apps;
      const { task } = await driveTask(net, app, TaskStatus.ScoreReady);
      const proof = samplingProof(app, task.seed);
      for (const tampered of [
        { ...proof, c: proof.c ^ 1n },
        { ...proof, gamma: [proof.gamma[0], proof.gamma[1] + 1n] as [bigint, bigint] },
        { ...proof, zInv: proof.zInv ^ 1n },
      ]) {
        await expectRevert(
          net,
          { commitments: [task.commitment] },
          () => net.taskManager.connect(app).validateSingleTask(task.commitment, tampered),
          net.taskManager,
          "TaskSamplingProofInvalid",
          [task.commitment],
        );
      }
    });

    it("TaskSampled(commitment, samplingNumber) when validating a sampled task alone", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app] = net.apps;
      const task = await createTask(net, app, { sampled: true });
      const node = await selectedNode(net, task.commitment);
      await uploadParameters(net, app, task.commitment);
      await (await tm.connect(node).submitTaskScore(task.commitment, SCORE_A)).wait();
      const number = verifyVRF(proveVRF(app.privateKey, task.seed));
      expect(number % 10n).to.equal(0n);
      await expectRevert(
        net,
        { commitments: [task.commitment] },
        () => tm.connect(app).validateSingleTask(task.commitment, samplingProof(app, task.seed)),
        tm,
        "TaskSampled",
        [task.commitment, number],
      );
    });
  });

  describe("ITaskManager: the game rules of DESIGN §13 (in depth in test/solidity/AttacksGame.t.sol)", function () {
    it("TaskFeeBelowMinimum(fee, minimumFee) and TaskSizeZero(commitment)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app] = net.apps;
      const id = newTaskIdentity();
      const minimum = DEFAULT_TASK_PARAMETERS.minimumFee[0];
      const scope = { commitments: [id.commitment], nonces: [id.nonce] };
      await expectRevert(
        net,
        scope,
        () => tm.connect(app).createTask(taskInput(id.commitment, id.nonce), { value: minimum - 1n }),
        tm,
        "TaskFeeBelowMinimum",
        [minimum - 1n, minimum],
      );
      await expectRevert(
        net,
        scope,
        () => tm.connect(app).createTask(taskInput(id.commitment, id.nonce, { taskSize: 0 }), { value: FEE }),
        tm,
        "TaskSizeZero",
        [id.commitment],
      );
    });

    it("TaskConfigSiblingWindowTooShort(window, latestScoreTime) and TaskConfigNoShowShareTooHigh(share)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const c = DEFAULT_TASK_PARAMETERS;
      const latest = c.queueTimeout + c.uploadTimeout + c.executionTimeout;
      await expectRevert(
        net,
        {},
        () => tm.connect(net.governor).setConfig({ ...c, siblingWindow: latest - 1n }),
        tm,
        "TaskConfigSiblingWindowTooShort",
        [latest - 1n, latest],
      );
      await expectRevert(
        net,
        {},
        () => tm.connect(net.governor).setConfig({ ...c, noShowShare: 10_001n }),
        tm,
        "TaskConfigNoShowShareTooHigh",
        [10_001n],
      );
    });

    it("TaskGroupNonceMismatch, TaskGroupOutsideWindow and TaskGroupRequirementsMismatch", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      await joinNode(net, net.nodes[3]);
      const tm = net.taskManager;
      const [app] = net.apps;
      const first = await createTask(net, app, { sampled: true });
      const second = await createTask(net, app, { taskGUID: first.taskGUID, k: 1 });
      const spare = await createTask(net, app, { taskGUID: first.taskGUID, k: 3 }); // not a member nonce
      const proof = samplingProof(app, first.seed);
      const ids = [first.commitment, second.commitment, spare.commitment];
      for (const c of ids) {
        await uploadParameters(net, app, c);
        await (await tm.connect(await selectedNode(net, c)).submitTaskScore(c, SCORE_A)).wait();
      }
      await expectRevert(
        net,
        { commitments: ids },
        () =>
          tm
            .connect(app)
            .validateTaskGroup(
              first.commitment,
              second.commitment,
              spare.commitment,
              first.taskGUID,
              proof,
              ...NO_PARAMS_PROOF,
            ),
        tm,
        "TaskGroupNonceMismatch",
        [spare.commitment, 2],
      );
      // Member 2 with other requirements (a version-3 task), then one created after the sibling window.
      const other = await createTask(net, app, { taskGUID: first.taskGUID, k: 2, version: [2, 1, 0] });
      await expectRevert(
        net,
        { commitments: [...ids, other.commitment] },
        () =>
          tm
            .connect(app)
            .validateTaskGroup(
              first.commitment,
              second.commitment,
              other.commitment,
              first.taskGUID,
              proof,
              ...NO_PARAMS_PROOF,
            ),
        tm,
        "TaskGroupRequirementsMismatch",
        [other.commitment, first.commitment],
      );
    });

    it("TaskGroupOutsideWindow(commitment, createdAt, windowEnd) for a validation task created too late", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app] = net.apps;
      const first = await createTask(net, app, { sampled: true });
      const second = await createTask(net, app, { taskGUID: first.taskGUID, k: 1 });
      for (const c of [first.commitment, second.commitment]) {
        await uploadParameters(net, app, c);
        await (await tm.connect(await selectedNode(net, c)).submitTaskScore(c, SCORE_A)).wait();
      }
      const windowEnd = (await tm.getTask(first.commitment)).createdAt + DEFAULT_TASK_PARAMETERS.siblingWindow;
      await networkHelpers.time.increaseTo(windowEnd);
      const late = await createTask(net, app, { taskGUID: first.taskGUID, k: 2 });
      const createdAt = (await tm.getTask(late.commitment)).createdAt;
      const ids = [first.commitment, second.commitment, late.commitment] as const;
      // The late member is still Started: its window is checked before its state.
      await expectRevert(
        net,
        { commitments: [...ids] },
        () =>
          tm.connect(app).validateTaskGroup(...ids, first.taskGUID, samplingProof(app, first.seed), ...NO_PARAMS_PROOF),
        tm,
        "TaskGroupOutsideWindow",
        [late.commitment, createdAt, windowEnd],
      );
    });
  });

  describe("ITaskManager: group validation (once each; in depth in group-validation.test.ts)", function () {
    async function groupOfThree(net: Network, sampled: boolean) {
      const [app] = net.apps;
      const tm = net.taskManager;
      const first = await createTask(net, app, { sampled });
      const second = await createTask(net, app, { taskGUID: first.taskGUID, k: 1 });
      const third = await createTask(net, app, { taskGUID: first.taskGUID, k: 2 });
      const tasks = [first, second, third];
      for (const t of tasks) {
        await uploadParameters(net, app, t.commitment);
        const node = await selectedNode(net, t.commitment);
        await (await tm.connect(node).submitTaskScore(t.commitment, SCORE_A)).wait();
      }
      return { guid: first.taskGUID, tasks, ids: tasks.map((t) => t.commitment) as [string, string, string] };
    }

    it("TaskParamsProofInvalid(commitment) for a proof the verifier rejects", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const [app] = net.apps;
      const g = await groupOfThree(net, true);
      await expectRevert(
        net,
        { commitments: g.ids },
        () =>
          net.taskManager
            .connect(app)
            .validateTaskGroup(...g.ids, g.guid, samplingProof(app, g.tasks[0].seed), ...NO_PARAMS_PROOF),
        net.taskManager,
        "TaskParamsProofInvalid",
        [g.ids[0]],
      );
    });

    it("TaskNotSampled(commitment, samplingNumber)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const [app] = net.apps;
      const g = await groupOfThree(net, false);
      const number = verifyVRF(proveVRF(app.privateKey, g.tasks[0].seed));
      await expectRevert(
        net,
        { commitments: g.ids },
        () =>
          net.taskManager
            .connect(app)
            .validateTaskGroup(...g.ids, g.guid, samplingProof(app, g.tasks[0].seed), ...NO_PARAMS_PROOF),
        net.taskManager,
        "TaskNotSampled",
        [g.ids[0], number],
      );
    });

    it("TaskGroupCommitmentMismatch, TaskGroupDuplicateMember, TaskGroupNotOriginal, TaskGroupCreatorMismatch", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      await joinNode(net, net.nodes[3]);
      const tm = net.taskManager;
      const [app, otherApp] = net.apps;
      const g = await groupOfThree(net, true);
      const proof = samplingProof(app, g.tasks[0].seed);
      const [c1, c2, c3] = g.ids;
      const scope = { commitments: g.ids };
      const wrongGUID = keccak256(toUtf8Bytes("wrong guid"));
      await expectRevert(
        net,
        scope,
        () => tm.connect(app).validateTaskGroup(c1, c2, c3, wrongGUID, proof, ...NO_PARAMS_PROOF),
        tm,
        "TaskGroupCommitmentMismatch",
        [c1, wrongGUID],
      );
      await expectRevert(
        net,
        scope,
        () => tm.connect(app).validateTaskGroup(c1, c1, c3, g.guid, proof, ...NO_PARAMS_PROOF),
        tm,
        "TaskGroupDuplicateMember",
        [c1],
      );
      await expectRevert(
        net,
        scope,
        () => tm.connect(app).validateTaskGroup(c1, c2, c2, g.guid, proof, ...NO_PARAMS_PROOF),
        tm,
        "TaskGroupDuplicateMember",
        [c2],
      );
      await expectRevert(
        net,
        scope,
        () =>
          tm
            .connect(app)
            .validateTaskGroup(c2, c1, c3, g.guid, samplingProof(app, g.tasks[1].seed), ...NO_PARAMS_PROOF),
        tm,
        "TaskGroupNonceMismatch", // member 1 of the GUID cannot stand in position 0 (DESIGN §13.2)
        [c2, 0],
      );
      const foreign = await createTask(net, otherApp, { taskGUID: g.guid });
      await expectRevert(
        net,
        { commitments: [...g.ids, foreign.commitment] },
        () => tm.connect(app).validateTaskGroup(c1, c2, foreign.commitment, g.guid, proof, ...NO_PARAMS_PROOF),
        tm,
        "TaskGroupCreatorMismatch",
        [foreign.commitment, otherApp.address, app.address],
      );
      // With every check passing (and the real ParamsConsistency proof), the group validates.
      await expect(
        tm.connect(app).validateTaskGroup(c1, c2, c3, g.guid, proof, await paramsProof(net, [c1, c2, c3])),
      ).to.emit(tm, "TaskValidated");
    });
  });

  describe("ITaskManager: a validation task created before its original", function () {
    it("TaskGroupNotOriginal(first, earlier)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app] = net.apps;
      const guid = keccak256(toUtf8Bytes("validation task first"));
      const early = await createTask(net, app, { taskGUID: guid, k: 1 });
      const original = await createTask(net, app, { taskGUID: guid, k: 0 });
      const last = await createTask(net, app, { taskGUID: guid, k: 2 });
      const ids = [original.commitment, early.commitment, last.commitment] as const;
      for (const c of ids) {
        await uploadParameters(net, app, c);
        await (await tm.connect(await selectedNode(net, c)).submitTaskScore(c, SCORE_A)).wait();
      }
      await expectRevert(
        net,
        { commitments: [...ids] },
        () => tm.connect(app).validateTaskGroup(...ids, guid, samplingProof(app, original.seed), ...NO_PARAMS_PROOF),
        tm,
        "TaskGroupNotOriginal",
        [original.commitment, early.commitment],
      );
    });
  });

  // =============================================================================================================
  // INodeRegistry
  // =============================================================================================================

  describe("INodeRegistry", function () {
    it("NodeStakeTooLow(sent, minimum)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const node = net.nodes[3];
      for (const stake of [0n, STAKE - 1n]) {
        await expectRevert(net, {}, () => joinNode(net, node, { stake }), net.registry, "NodeStakeTooLow", [
          stake,
          DEFAULT_REGISTRY_PARAMETERS.minimumStake,
        ]);
      }
    });

    it("NodeInvalidProfile(node) for zero VRAM or an encryption key the circuits cannot use", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const node = net.nodes[3];
      await expectRevert(net, {}, () => joinNode(net, node, { vram: 0 }), net.registry, "NodeInvalidProfile", [
        node.address,
      ]);
      const bad: [bigint, bigint][] = [
        [0n, 0n],
        [0n, 1n], // on the curve, but x = 0
        [0n, BJJ_KEY[1]],
        [BJJ_KEY[0], BJJ_KEY[1] + 1n], // off the curve
        [BJJ_KEY[0], BJJ_KEY[1] + FIELD_SIZE], // not a field element
      ];
      for (const key of bad) {
        await expectRevert(
          net,
          {},
          () =>
            net.registry
              .connect(node)
              .join(GPU_4090, 24, [2, 5, 0], key, witnessOrAny(key), [MODEL_SDXL], { value: STAKE }),
          net.registry,
          "NodeKeyNotInSubgroup",
          [node.address, key],
        );
      }
      // Another key of the prime-order subgroup (the negation of a valid key) is accepted, with its witness.
      const negated: PublicKey = [FIELD_SIZE - BJJ_KEY[0], BJJ_KEY[1]];
      await expect(
        net.registry.connect(node).join(GPU_4090, 24, [2, 5, 0], negated, subgroupWitness(negated), [], {
          value: STAKE,
        }),
      ).to.emit(net.registry, "NodeJoined");
    });

    it("NodeInvalidStatus(node, current) for every action in a status that does not allow it", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const reg = net.registry;
      const [available] = net.nodes;
      const never = net.nodes[3];

      // Never joined (Quit).
      await expectRevert(net, {}, () => reg.connect(never).quit(), reg, "NodeInvalidStatus", [
        never.address,
        NodeStatus.Quit,
      ]);
      await expectRevert(net, {}, () => reg.connect(never).pause(), reg, "NodeInvalidStatus", [
        never.address,
        NodeStatus.Quit,
      ]);
      await expectRevert(net, {}, () => reg.connect(never).resume(), reg, "NodeInvalidStatus", [
        never.address,
        NodeStatus.Quit,
      ]);
      await expectRevert(
        net,
        {},
        () => reg.connect(never).reportModelDownloaded(MODEL_LLAMA),
        reg,
        "NodeInvalidStatus",
        [never.address, NodeStatus.Quit],
      );

      // Available: no second join, nothing to resume.
      await expectRevert(net, {}, () => joinNode(net, available), reg, "NodeInvalidStatus", [
        available.address,
        NodeStatus.Available,
      ]);
      await expectRevert(net, {}, () => reg.connect(available).resume(), reg, "NodeInvalidStatus", [
        available.address,
        NodeStatus.Available,
      ]);

      // Paused: no second pause, no join.
      await (await reg.connect(available).pause()).wait();
      await expectRevert(net, {}, () => reg.connect(available).pause(), reg, "NodeInvalidStatus", [
        available.address,
        NodeStatus.Paused,
      ]);
      await expectRevert(net, {}, () => joinNode(net, available), reg, "NodeInvalidStatus", [
        available.address,
        NodeStatus.Paused,
      ]);

      // Busy, PendingPause, PendingQuit.
      const task = await createTask(net, net.apps[0]);
      const busyNode = await selectedNode(net, task.commitment);
      await expectRevert(net, {}, () => reg.connect(busyNode).resume(), reg, "NodeInvalidStatus", [
        busyNode.address,
        NodeStatus.Busy,
      ]);
      await (await reg.connect(busyNode).pause()).wait();
      await expectRevert(net, {}, () => reg.connect(busyNode).pause(), reg, "NodeInvalidStatus", [
        busyNode.address,
        NodeStatus.PendingPause,
      ]);
      await (await reg.connect(busyNode).quit()).wait();
      await expectRevert(net, {}, () => reg.connect(busyNode).quit(), reg, "NodeInvalidStatus", [
        busyNode.address,
        NodeStatus.PendingQuit,
      ]);
      await expectRevert(net, {}, () => reg.connect(busyNode).pause(), reg, "NodeInvalidStatus", [
        busyNode.address,
        NodeStatus.PendingQuit,
      ]);
      await expectRevert(net, {}, () => reg.connect(busyNode).resume(), reg, "NodeInvalidStatus", [
        busyNode.address,
        NodeStatus.PendingQuit,
      ]);
    });

    it("NodeModelAlreadyHeld(node, modelID)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const node = net.nodes[0];
      await expectRevert(
        net,
        {},
        () => net.registry.connect(node).reportModelDownloaded(MODEL_SDXL),
        net.registry,
        "NodeModelAlreadyHeld",
        [node.address, MODEL_SDXL],
      );
      await (await net.registry.connect(node).reportModelDownloaded(MODEL_LLAMA)).wait();
      await expectRevert(
        net,
        {},
        () => net.registry.connect(node).reportModelDownloaded(MODEL_LLAMA),
        net.registry,
        "NodeModelAlreadyHeld",
        [node.address, MODEL_LLAMA],
      );
    });

    it("NodeTooManyModels(node, count, max)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const max = await net.registry.MAX_MODELS_PER_NODE();
      const models = Array.from({ length: Number(max) + 1 }, (_, i) => keccak256(toUtf8Bytes(`model-${i}`)));
      const newcomer = net.nodes[3];
      await expectRevert(net, {}, () => joinNode(net, newcomer, { models }), net.registry, "NodeTooManyModels", [
        newcomer.address,
        max + 1n,
        max,
      ]);
      // A joined node holding `max` models cannot report one more.
      await (await joinNode(net, newcomer, { models: models.slice(0, Number(max)) })).wait();
      await expectRevert(
        net,
        {},
        () => net.registry.connect(newcomer).reportModelDownloaded(models[Number(max)]),
        net.registry,
        "NodeTooManyModels",
        [newcomer.address, max + 1n, max],
      );
    });

    it("RegistryConfigInvalid for a zero stake cap, a bonus above 100 %, a zero treasury at deployment", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const valid = { ...DEFAULT_REGISTRY_PARAMETERS, treasury: net.treasury.address };
      const factory = new NodeRegistry__factory(net.admin);
      await expect(
        factory.deploy(await net.admin.getAddress(), { ...valid, treasury: ZeroAddress }),
      ).to.be.revertedWithCustomError(factory, "RegistryConfigInvalid");
      for (const bad of [{ stakeCap: 0n }, { sameModelsBonusBps: 10_001n }]) {
        await expectRevert(
          net,
          {},
          () => net.registry.connect(net.governor).setConfig({ ...valid, ...bad }),
          net.registry,
          "RegistryConfigInvalid",
        );
      }
      await expect(net.registry.connect(net.governor).setConfig({ ...valid, sameModelsBonusBps: 10_000n })).to.emit(
        net.registry,
        "RegistryConfigUpdated",
      );
    });

    it("RegistryTreasuryFixed(treasury, proposed) when setConfig names another treasury", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      await expectRevert(
        net,
        {},
        () =>
          net.registry
            .connect(net.governor)
            .setConfig({ ...DEFAULT_REGISTRY_PARAMETERS, treasury: net.stranger.address }),
        net.registry,
        "RegistryTreasuryFixed",
        [net.treasury.address, net.stranger.address],
      );
    });

    it("RegistryTaskManagerZero for setTaskManager(0) on a registry not wired yet", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const fresh = await new NodeRegistry__factory(net.admin).deploy(await net.admin.getAddress(), {
        ...DEFAULT_REGISTRY_PARAMETERS,
        treasury: net.treasury.address,
      });
      await expect(fresh.setTaskManager(ZeroAddress)).to.be.revertedWithCustomError(fresh, "RegistryTaskManagerZero");
    });

    it("RegistryTaskManagerAlreadySet(current)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      await expectRevert(
        net,
        {},
        () => net.registry.connect(net.governor).setTaskManager(net.stranger.address),
        net.registry,
        "RegistryTaskManagerAlreadySet",
        [await net.taskManager.getAddress()],
      );
    });
  });

  // =============================================================================================================
  // IRelayRoots
  // =============================================================================================================

  describe("IRelayRoots", function () {
    it("RelayRootZero", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      await expectRevert(
        net,
        { roots: [ZeroHash] },
        () => net.relayRoots.connect(net.relay).postRoot(ZeroHash, 1),
        net.relayRoots,
        "RelayRootZero",
      );
    });

    it("RelayRootNotPosted(root) and RelayRootAlreadyRevoked(root) for revokeRoot", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const unposted = keccak256(toUtf8Bytes("never posted"));
      await expectRevert(
        net,
        { roots: [unposted] },
        () => net.relayRoots.connect(net.governor).revokeRoot(unposted),
        net.relayRoots,
        "RelayRootNotPosted",
        [unposted],
      );
      const [inclusion] = await publishBlobs(net, [blobHash()]);
      await expect(net.relayRoots.connect(net.governor).revokeRoot(inclusion.root))
        .to.emit(net.relayRoots, "RootRevoked")
        .withArgs(inclusion.root, await net.timelock.getAddress());
      await expectRevert(
        net,
        { roots: [inclusion.root] },
        () => net.relayRoots.connect(net.governor).revokeRoot(inclusion.root),
        net.relayRoots,
        "RelayRootAlreadyRevoked",
        [inclusion.root],
      );
    });

    it("RelayRootAlreadyPosted(root)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const [inclusion] = await publishBlobs(net, [blobHash()]);
      await expectRevert(
        net,
        { roots: [inclusion.root] },
        () => net.relayRoots.connect(net.relay).postRoot(inclusion.root, 1),
        net.relayRoots,
        "RelayRootAlreadyPosted",
        [inclusion.root],
      );
    });
  });

  // =============================================================================================================
  // IPullPayments
  // =============================================================================================================

  describe("IPullPayments", function () {
    it("PaymentNothingToWithdraw(account) in both contracts, and after a balance was withdrawn", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const reg = net.registry;
      const [app] = net.apps;
      for (const contract of [tm, reg]) {
        await expectRevert(
          net,
          {},
          () => contract.connect(net.stranger).withdraw(),
          contract,
          "PaymentNothingToWithdraw",
          [net.stranger.address],
        );
        await expectRevert(
          net,
          {},
          () => contract.connect(net.stranger).withdrawTo(app.address),
          contract,
          "PaymentNothingToWithdraw",
          [net.stranger.address],
        );
      }
      // A queued task ended by its creator at the queue timeout: the refund can be withdrawn once.
      const task = await createTask(net, app, { requiredGPU: UNSERVED_GPU, requiredGPUVRAM: 80 });
      await networkHelpers.time.increaseTo(await tm.deadlineOf(task.commitment)); // no cancel while queued
      await (await tm.connect(app).abortTask(task.commitment)).wait();
      await expect(tm.connect(app).withdraw()).to.emit(tm, "Withdrawn").withArgs(app.address, app.address, FEE);
      await expectRevert(net, {}, () => tm.connect(app).withdraw(), tm, "PaymentNothingToWithdraw", [app.address]);
    });

    it("PaymentTransferFailed(to, amount) when the receiver reverts; the balance stays", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const reg = net.registry;
      const [app] = net.apps;
      const receiver = await deployRevertingReceiver(net);
      const to = await receiver.getAddress();
      const task = await createTask(net, app, { requiredGPU: UNSERVED_GPU, requiredGPUVRAM: 80 });
      await networkHelpers.time.increaseTo(await tm.deadlineOf(task.commitment)); // no cancel while queued
      await (await tm.connect(app).abortTask(task.commitment)).wait();
      await expectRevert(net, { accounts: [to] }, () => tm.connect(app).withdrawTo(to), tm, "PaymentTransferFailed", [
        to,
        FEE,
      ]);
      expect(await tm.withdrawable(app.address)).to.equal(FEE);

      const node = net.nodes[0];
      await (await reg.connect(node).quit()).wait();
      await expectRevert(
        net,
        { accounts: [to] },
        () => reg.connect(node).withdrawTo(to),
        reg,
        "PaymentTransferFailed",
        [to, STAKE],
      );
      // A contract without a receive function fails the same way.
      const tmAddress = await tm.getAddress();
      await expectRevert(net, {}, () => reg.connect(node).withdrawTo(tmAddress), reg, "PaymentTransferFailed", [
        tmAddress,
        STAKE,
      ]);
      expect(await reg.withdrawable(node.address)).to.equal(STAKE);
      await expectSolvent(net);
    });
  });

  // =============================================================================================================
  // OpenZeppelin AccessControl
  // =============================================================================================================

  describe("AccessControlUnauthorizedAccount(account, role)", function () {
    it("registry hooks (selectNode, startNode, releaseNode, recordGroupScore, slash) are for the task manager only", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const reg = net.registry;
      const node = net.nodes[0].address;
      const req = {
        taskType: TaskType.SD,
        requiredGPU: ZeroHash,
        requiredGPUVRAM: 0,
        minimumVRAM: 8,
        version: [2, 0, 0] as [number, number, number],
        modelIDs: [MODEL_SDXL],
      };
      const admin = await net.admin.getAddress();
      for (const [caller, address] of [
        [net.stranger, net.stranger.address],
        [net.nodes[0], node],
        [net.admin, admin],
      ] as const) {
        const calls = [
          () => reg.connect(caller).selectNode(req, 1n),
          () => reg.connect(caller).startNode(node, ZeroHash),
          () => reg.connect(caller).releaseNode(node, 1),
          () => reg.connect(caller).recordGroupScore(node, 10),
          () => reg.connect(caller).slash(node, ZeroHash),
        ];
        for (const call of calls) {
          await expectRevert(net, {}, call, reg, "AccessControlUnauthorizedAccount", [address, TASK_MANAGER_ROLE]);
        }
      }
    });

    it("relay roots are posted by relays only", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const root = keccak256(toUtf8Bytes("a root"));
      for (const caller of [net.stranger, net.nodes[0]]) {
        await expectRevert(
          net,
          { roots: [root] },
          () => net.relayRoots.connect(caller).postRoot(root, 1),
          net.relayRoots,
          "AccessControlUnauthorizedAccount",
          [caller.address, RELAY_ROLE],
        );
      }
      const admin = await net.admin.getAddress();
      await expectRevert(
        net,
        { roots: [root] },
        () => net.relayRoots.connect(net.admin).postRoot(root, 1),
        net.relayRoots,
        "AccessControlUnauthorizedAccount",
        [admin, RELAY_ROLE],
      );
    });

    it("relay roots are revoked by the admin only", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const [inclusion] = await publishBlobs(net, [blobHash()]);
      for (const caller of [net.stranger, net.relay]) {
        await expectRevert(
          net,
          { roots: [inclusion.root] },
          () => net.relayRoots.connect(caller).revokeRoot(inclusion.root),
          net.relayRoots,
          "AccessControlUnauthorizedAccount",
          [caller.address, DEFAULT_ADMIN_ROLE],
        );
      }
    });

    it("parameters and wiring are for the admin only (setConfig of both contracts, setTaskManager, granting relays)", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const registryConfig = { ...DEFAULT_REGISTRY_PARAMETERS, treasury: net.stranger.address };
      for (const caller of [net.stranger, net.relay]) {
        const expected = [caller.address, DEFAULT_ADMIN_ROLE];
        await expectRevert(
          net,
          {},
          () => net.taskManager.connect(caller).setConfig(taskConfig()),
          net.taskManager,
          "TaskCallerNotAdmin",
          [caller.address],
        );
        await expectRevert(
          net,
          {},
          () => net.registry.connect(caller).setConfig(registryConfig),
          net.registry,
          "AccessControlUnauthorizedAccount",
          expected,
        );
        await expectRevert(
          net,
          {},
          () => net.registry.connect(caller).setTaskManager(caller.address),
          net.registry,
          "AccessControlUnauthorizedAccount",
          expected,
        );
        // RelayRoots has no parameters; its admin surface is the role management.
        await expectRevert(
          net,
          {},
          () => net.relayRoots.connect(caller).grantRole(RELAY_ROLE, net.stranger.address),
          net.relayRoots,
          "AccessControlUnauthorizedAccount",
          expected,
        );
      }
      expect(await net.relayRoots.hasRole(RELAY_ROLE, net.stranger.address)).to.equal(false);
    });
  });

  // =============================================================================================================
  // ITaskManager: randomness and dispatch (docs/randomness.md)
  // =============================================================================================================

  describe("ITaskManager: dispatch and the frozen pool", function () {
    async function networkWithBounty(): Promise<Network> {
      const net = await deployNetwork({ dispatchBounty: parseEther("0.01") });
      for (const node of net.nodes.slice(0, 3)) await joinNode(net, node);
      return net;
    }

    it("TaskValueBelowDispatchCost(value, cost) when msg.value leaves no fee after the bounty", async function () {
      const net = await networkHelpers.loadFixture(networkWithBounty);
      const tm = net.taskManager;
      const cost = await tm.dispatchCost();
      expect(cost).to.equal(parseEther("0.01"));
      const id = newTaskIdentity();
      await expect(tm.connect(net.apps[0]).createTask(taskInput(id.commitment, id.nonce), { value: cost - 1n }))
        .to.be.revertedWithCustomError(tm, "TaskValueBelowDispatchCost")
        .withArgs(cost - 1n, cost);
      await expect(
        tm.connect(net.apps[0]).createTask(taskInput(id.commitment, id.nonce), { value: cost }),
      ).to.be.revertedWithCustomError(tm, "TaskFeeZero");
    });

    it("TaskNotNextPending(given, next) and TaskDispatchInputMismatch(commitment): oldest first, with the inputs the tasks were created with", async function () {
      const net = await networkHelpers.loadFixture(networkWithBounty);
      const tm = net.taskManager;
      const first = await createTask(net, net.apps[0], { dispatch: false });
      const second = await createTask(net, net.apps[1], { dispatch: false });
      const [a, b] = [first, second].map((t, i) =>
        taskInput(t.commitment, t.nonce, { appPublicKey: bjjKeyOf(net.apps[i].address).publicKey }),
      );
      await expect(tm.connect(net.stranger).dispatchTasks([b]))
        .to.be.revertedWithCustomError(tm, "TaskNotNextPending")
        .withArgs(second.commitment, first.commitment);
      await deliverWord(net);
      const wrong = { ...a, modelIDs: [keccak256(toUtf8Bytes("another model"))] };
      await expect(tm.connect(net.stranger).dispatchTasks([wrong]))
        .to.be.revertedWithCustomError(tm, "TaskDispatchInputMismatch")
        .withArgs(first.commitment);
      // The right inputs dispatch the first task (the second is in the next epoch, whose word was not even requested
      // while the first was in flight) and pay the dispatcher its bounty.
      await expect(tm.connect(net.stranger).dispatchTasks([a, b]))
        .to.emit(tm, "DispatchBountyPaid")
        .withArgs(net.stranger.address, 1n, parseEther("0.01"));
      expect(await tm.taskStatus(first.commitment)).to.equal(TaskStatus.Started);
      expect(await tm.taskStatus(second.commitment)).to.equal(TaskStatus.Pending);
      expect(await tm.withdrawable(net.stranger.address)).to.equal(parseEther("0.01"));
    });

    it("TaskDispatchable(commitment): a pending task whose word landed is dispatched, never refunded", async function () {
      const net = await networkHelpers.loadFixture(networkWithBounty);
      const tm = net.taskManager;
      const task = await createTask(net, net.apps[0], { dispatch: false });
      await networkHelpers.time.increase(TIMEOUTS.queue + 1);
      await deliverWord(net);
      await expect(tm.connect(net.apps[0]).abortTask(task.commitment))
        .to.be.revertedWithCustomError(tm, "TaskDispatchable")
        .withArgs(task.commitment);
    });

    it("TaskResultFallbackNotOpen(commitment, opensAt): an agreeing member stands in only after the validated node's window", async function () {
      const net = await deployNetwork();
      for (const node of net.nodes.slice(0, 3)) await joinNode(net, node);
      const [app] = net.apps;
      const tm = net.taskManager;
      const group = await createGroup(net, app);
      for (let i = 0; i < 3; ++i) await playMember(net, app, group, i, SCORE_A);
      await (await validateGroup(net, app, group)).wait();
      const [gv, gr] = group.commitments;
      expect(await tm.taskStatus(gr)).to.equal(TaskStatus.EndGroupRefund);
      const opensAt = (await tm.getTask(gv)).validatedAt + BigInt(TIMEOUTS.resultUpload);
      const peer = group.nodes[1];
      const scope = { commitments: [gv, gr], accounts: [peer.address, group.nodes[0].address] };
      await expectUnchanged(net, scope, async () => {
        await expect(tm.connect(peer).reportTaskResultUploaded(gv, ZeroHash, ZeroHash, [], NO_PROOF))
          .to.be.revertedWithCustomError(tm, "TaskResultFallbackNotOpen")
          .withArgs(gv, opensAt);
      });
    });

    it("TaskPoolFrozen from every node action while a word is in flight or its tasks wait for dispatch", async function () {
      const net = await networkHelpers.loadFixture(networkWithBounty);
      const { registry, taskManager: tm } = net;
      await createTask(net, net.apps[0], { dispatch: false });
      const [node] = net.nodes;
      const model = keccak256(toUtf8Bytes("a model"));
      const actions = [
        () => registry.connect(node).pause(),
        () => registry.connect(node).quit(),
        () => registry.connect(node).reportModelDownloaded(model),
        () => registry.connect(net.stranger).refreshHealth(node.address),
        () => joinNode(net, net.nodes[5]),
      ];
      for (const phase of ["in flight", "landed, not dispatched"]) {
        expect(await tm.poolFrozen(), phase).to.equal(true);
        for (const action of actions) await expect(action()).to.be.revertedWithCustomError(tm, "TaskPoolFrozen");
        if (phase === "in flight") await deliverWord(net);
      }
      await dispatchPending(tm, net.stranger);
      expect(await tm.poolFrozen()).to.equal(false);
      await (await registry.connect(node).reportModelDownloaded(model)).wait();
    });

    it("TaskTooManyModels(commitment, count) above MAX_TASK_MODELS", async function () {
      const net = await networkHelpers.loadFixture(networkWithBounty);
      const tm = net.taskManager;
      const id = newTaskIdentity();
      const models = Array.from({ length: 9 }, (_, i) => keccak256(toUtf8Bytes(`model-${i}`)));
      const value = FEE + (await tm.dispatchCost());
      await expect(tm.connect(net.apps[0]).createTask(taskInput(id.commitment, id.nonce, { models }), { value }))
        .to.be.revertedWithCustomError(tm, "TaskTooManyModels")
        .withArgs(id.commitment, 9n);
    });

    it("TaskCallerNotAdmin(caller): only the timelock sets the parameters", async function () {
      const net = await networkHelpers.loadFixture(networkWithBounty);
      const tm = net.taskManager;
      await expect(tm.connect(net.admin).setConfig(taskConfig()))
        .to.be.revertedWithCustomError(tm, "TaskCallerNotAdmin")
        .withArgs(await net.admin.getAddress());
    });
  });

  // =============================================================================================================
  // Coverage of this file
  // =============================================================================================================

  it("asserts every custom error declared by ITaskManager, INodeRegistry, IRelayRoots and IPullPayments", function () {
    const source = readFileSync(fileURLToPath(import.meta.url), "utf8");
    const declared = new Set<string>();
    for (const factory of [
      ITaskManager__factory,
      INodeRegistry__factory,
      IRelayRoots__factory,
      IPullPayments__factory,
    ]) {
      factory.createInterface().forEachError((error) => declared.add(error.name));
    }
    const missing = [...declared].filter((name) => !source.includes(`"${name}"`));
    expect(declared.size).to.be.greaterThan(30); // 35 when written, 36 with NodeTooManyModels
    expect(missing).to.deep.equal([]);
  });
});
