/**
 * Every deadline of DESIGN §8 through `abortTask`: one second before the deadline the call reverts with
 * `TaskDeadlineNotReached(commitment, deadline, now)`; exactly at the deadline anyone can end the task, and the fee
 * goes where the table says (refund, or paid to the node after a validation timeout). Also: queued tasks are
 * dispatched as soon as a node becomes available (join, resume, release), and final tasks cannot be aborted.
 */
import { expect } from "chai";
import type { Signer, Wallet } from "ethers";
import {
  FEE,
  SCORE_A,
  TIMEOUTS,
  createTask,
  deployNetwork,
  ethers,
  expectSolvent,
  joinNode,
  networkHelpers,
  publishBlobs,
  resultBlob,
  uploadParameters,
  uploadResult,
  type Network,
} from "../helpers/fixture.js";
import {
  HEALTH_AFTER_TIMEOUT,
  HEALTH_ONE,
  HEALTH_SUCCESS_STEP,
  NO_NODE,
  at,
  createGroup,
  driveTask,
  minedAt,
  playMember,
  validateGroup,
} from "../helpers/actors.js";
import type { Bytes32 } from "../../src/crypto/commitment.js";
import { DEFAULT_TASK_PARAMETERS } from "../../src/config.js";
import { NodeStatus, TaskAbortReason, TaskStatus } from "../../src/types.js";
import { recoveredHealth } from "../../src/model/network.js";

describe("integration: deadlines and abortTask (DESIGN §8)", function () {
  async function emptyNetwork(): Promise<Network> {
    return deployNetwork();
  }

  async function networkWithOneNode(): Promise<Network> {
    const net = await deployNetwork();
    await joinNode(net, net.nodes[0]);
    return net;
  }

  async function networkWithThreeNodes(): Promise<Network> {
    const net = await deployNetwork();
    for (const node of net.nodes.slice(0, 3)) await joinNode(net, node);
    return net;
  }

  /**
   * Checks the deadline of `commitment` is `expected`, that `issuer` cannot abort one second before it (exact error
   * arguments, state unchanged), and aborts it exactly at the deadline. Returns the abort transaction.
   */
  async function abortExactlyAtDeadline(
    net: Network,
    commitment: Bytes32,
    issuer: Signer & { address: string },
    expected: { deadline: bigint; lastStatus: TaskStatus; reason: TaskAbortReason },
  ) {
    const tm = net.taskManager;
    const deadline = await tm.deadlineOf(commitment);
    expect(deadline).to.equal(expected.deadline);
    expect(await tm.taskStatus(commitment)).to.equal(expected.lastStatus);

    await at(deadline - 1n);
    await expect(tm.connect(issuer).abortTask(commitment))
      .to.be.revertedWithCustomError(tm, "TaskDeadlineNotReached")
      .withArgs(commitment, deadline, deadline - 1n);
    expect(await tm.taskStatus(commitment)).to.equal(expected.lastStatus);
    expect(await tm.deadlineOf(commitment)).to.equal(deadline);

    await at(deadline);
    const tx = tm.connect(issuer).abortTask(commitment);
    await expect(tx)
      .to.emit(tm, "TaskAborted")
      .withArgs(commitment, issuer.address, expected.lastStatus, expected.reason);
    expect(await minedAt(tx)).to.equal(deadline);

    const stored = await tm.getTask(commitment);
    expect(stored.status).to.equal(TaskStatus.EndAborted);
    expect(stored.abortReason).to.equal(expected.reason);
    expect(await tm.deadlineOf(commitment)).to.equal(0n);
    return tx;
  }

  /** After a refund: the creator can withdraw the fee, the node got nothing, nothing is escrowed. */
  async function expectRefunded(net: Network, app: Wallet, node: string | undefined) {
    expect(await net.taskManager.withdrawable(app.address)).to.equal(FEE);
    if (node) expect(await net.taskManager.withdrawable(node)).to.equal(0n);
    expect(await net.taskManager.totalEscrowed()).to.equal(0n);
    await expectSolvent(net);
  }

  describe("Queued", function () {
    it("ends as EndAborted(QueueTimeout) with a refund, by a stranger, exactly at created + queueTimeout", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const [app] = net.apps;
      const tm = net.taskManager;
      const task = await createTask(net, app);
      const stored = await tm.getTask(task.commitment);
      expect(stored.status).to.equal(TaskStatus.Queued);
      expect(stored.selectedNode).to.equal(NO_NODE);

      const tx = await abortExactlyAtDeadline(net, task.commitment, net.stranger, {
        deadline: stored.createdAt + BigInt(TIMEOUTS.queue),
        lastStatus: TaskStatus.Queued,
        reason: TaskAbortReason.QueueTimeout,
      });
      await expect(tx).to.emit(tm, "TaskFeeRefunded").withArgs(task.commitment, app.address, FEE);
      expect(await tm.queuedTasks()).to.deep.equal([]);
      expect(await tm.withdrawable(net.stranger.address)).to.equal(0n);
      await expectRefunded(net, app, undefined);
    });

    it("cannot be cancelled by its creator before the queue deadline (DESIGN §13.1), nor by anyone else", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const [app, otherApp] = net.apps;
      const tm = net.taskManager;
      const task = await createTask(net, app);
      const createdAt = (await tm.getTask(task.commitment)).createdAt;
      const deadline = createdAt + BigInt(TIMEOUTS.queue);
      for (const caller of [app, otherApp]) {
        // After creation, the word and the dispatch (a block each), before the deadline.
        const now = BigInt(await networkHelpers.time.latest()) + 1n;
        expect(now < deadline).to.equal(true);
        await at(now);
        await expect(tm.connect(caller).abortTask(task.commitment))
          .to.be.revertedWithCustomError(tm, "TaskDeadlineNotReached")
          .withArgs(task.commitment, deadline, now);
      }
      expect(await tm.taskStatus(task.commitment)).to.equal(TaskStatus.Queued);
      expect(await tm.queuedTasks()).to.deep.equal([task.commitment]);
    });

    it("its creator ends it at the queue deadline like anyone (QueueTimeout, refund)", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const [app] = net.apps;
      const tm = net.taskManager;
      const task = await createTask(net, app);
      const deadline = await tm.deadlineOf(task.commitment);
      await at(deadline + 3600n);
      await expect(tm.connect(app).abortTask(task.commitment))
        .to.emit(tm, "TaskAborted")
        .withArgs(task.commitment, app.address, TaskStatus.Queued, TaskAbortReason.QueueTimeout);
      await expectRefunded(net, app, undefined);
    });
  });

  describe("Started and ParametersUploaded", function () {
    it("Started ends as EndAborted(Timeout) at started + uploadTimeout, the application's fault: the node is credited noShowShare, the rest refunded, health unchanged", async function () {
      const net = await networkHelpers.loadFixture(networkWithOneNode);
      const [app] = net.apps;
      const tm = net.taskManager;
      const task = await createTask(net, app, { sampled: false });
      const startedAt = (await tm.getTask(task.commitment)).startedAt;
      const node = net.nodes[0];
      const share = (FEE * DEFAULT_TASK_PARAMETERS.noShowShare) / 10_000n;

      const tx = await abortExactlyAtDeadline(net, task.commitment, net.stranger, {
        deadline: startedAt + BigInt(TIMEOUTS.upload),
        lastStatus: TaskStatus.Started,
        reason: TaskAbortReason.Timeout,
      });
      await expect(tx).to.emit(tm, "TaskFeePaid").withArgs(task.commitment, node.address, share);
      await expect(tx)
        .to.emit(tm, "TaskFeeRefunded")
        .withArgs(task.commitment, app.address, FEE - share);
      expect(await tm.withdrawable(node.address)).to.equal(share);
      expect(await tm.withdrawable(app.address)).to.equal(FEE - share);
      const info = await net.registry.getNode(node.address);
      expect(info.health).to.equal(HEALTH_ONE);
      expect(info.status).to.equal(NodeStatus.Available);
      expect(await tm.totalEscrowed()).to.equal(0n);
      await expectSolvent(net);
    });

    it("ParametersUploaded ends as EndAborted(Timeout) at uploaded + executionTimeout, the node's fault: refund, node H × 0.3", async function () {
      const net = await networkHelpers.loadFixture(networkWithOneNode);
      const [app] = net.apps;
      const tm = net.taskManager;
      const task = await createTask(net, app, { sampled: false });
      const node = net.nodes[0];
      // The node's timer starts at the upload, not at the start (DESIGN §13.3).
      await networkHelpers.time.increase(100);
      await uploadParameters(net, app, task.commitment);
      const uploadedAt = (await tm.getTask(task.commitment)).uploadedAt;
      expect(await net.registry.nodeStatus(node.address)).to.equal(NodeStatus.Busy);

      const tx = await abortExactlyAtDeadline(net, task.commitment, net.stranger, {
        deadline: uploadedAt + BigInt(TIMEOUTS.execution),
        lastStatus: TaskStatus.ParametersUploaded,
        reason: TaskAbortReason.Timeout,
      });
      await expect(tx).to.emit(tm, "TaskFeeRefunded").withArgs(task.commitment, app.address, FEE);
      await expect(tx).not.to.emit(tm, "TaskFeePaid");
      const info = await net.registry.getNode(node.address);
      expect(info.health).to.equal(HEALTH_AFTER_TIMEOUT);
      expect(info.status).to.equal(NodeStatus.Available);
      expect(await net.registry.availableNodeCount()).to.equal(1n);
      await expectRefunded(net, app, node.address);
    });

    it("the node itself may end its timed-out task too", async function () {
      const net = await networkHelpers.loadFixture(networkWithOneNode);
      const [app] = net.apps;
      const { task, node } = await driveTask(net, app, TaskStatus.ParametersUploaded);
      const tx = await abortExactlyAtDeadline(net, task.commitment, node, {
        deadline: (await net.taskManager.getTask(task.commitment)).uploadedAt + BigInt(TIMEOUTS.execution),
        lastStatus: TaskStatus.ParametersUploaded,
        reason: TaskAbortReason.Timeout,
      });
      await expect(tx).to.emit(net.taskManager, "TaskFeeRefunded").withArgs(task.commitment, app.address, FEE);
      expect((await net.registry.getNode(node.address)).health).to.equal(HEALTH_AFTER_TIMEOUT);
      await expectRefunded(net, app, node.address);
    });
  });

  describe("ScoreReady and ErrorReported", function () {
    for (const status of [TaskStatus.ScoreReady, TaskStatus.ErrorReported] as const) {
      it(`${TaskStatus[status]} ends as EndAborted(ValidationTimeout) when its group can no longer be validated (created + group span): the node is paid`, async function () {
        const net = await networkHelpers.loadFixture(networkWithOneNode);
        const [app] = net.apps;
        const tm = net.taskManager;
        const { task, node } = await driveTask(net, app, status);
        const createdAt = (await tm.getTask(task.commitment)).createdAt;

        const tx = await abortExactlyAtDeadline(net, task.commitment, net.stranger, {
          deadline: createdAt + BigInt(TIMEOUTS.groupSpan),
          lastStatus: status,
          reason: TaskAbortReason.ValidationTimeout,
        });
        await expect(tx).to.emit(tm, "TaskFeePaid").withArgs(task.commitment, node.address, FEE);
        await expect(tx).not.to.emit(tm, "TaskFeeRefunded");

        expect(await tm.withdrawable(node.address)).to.equal(FEE);
        expect(await tm.withdrawable(app.address)).to.equal(0n);
        expect(await tm.totalEscrowed()).to.equal(0n);
        const info = await net.registry.getNode(node.address);
        // No penalty (the application is the one that vanished): released as a success, +1,500 capped at 10,000.
        expect(info.health).to.equal(HEALTH_ONE);
        expect(info.status).to.equal(NodeStatus.Available);
        await expectSolvent(net);
      });

      it(`${TaskStatus[status]} ValidationTimeout settles as success for the node: health +1,500, capped at 10,000`, async function () {
        const net = await networkHelpers.loadFixture(networkWithOneNode);
        const [app] = net.apps;
        const tm = net.taskManager;
        const node = net.nodes[0];
        const health = async () => (await net.registry.getNode(node.address)).health;

        // Lower the node's health with one execution timeout (H × 0.3), so that a raise shows.
        const timedOut = await driveTask(net, app, TaskStatus.ParametersUploaded);
        await at(await tm.deadlineOf(timedOut.task.commitment));
        await (await tm.connect(net.stranger).abortTask(timedOut.task.commitment)).wait();
        expect(await health()).to.equal(HEALTH_AFTER_TIMEOUT);

        // 3,000 → +1,500 per success (plus what health recovered with time since, DESIGN §13.3) → 10,000 (capped).
        let expected = HEALTH_AFTER_TIMEOUT;
        let since = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
        while (expected < HEALTH_ONE) {
          const { task, node: selected } = await driveTask(net, app, status);
          expect(selected.address).to.equal(node.address);
          await at(await tm.deadlineOf(task.commitment));
          const aborted = tm.connect(net.stranger).abortTask(task.commitment);
          await expect(aborted)
            .to.emit(tm, "TaskAborted")
            .withArgs(task.commitment, net.stranger.address, status, TaskAbortReason.ValidationTimeout);
          const now = BigInt((await ethers.provider.getBlock((await (await aborted).wait())!.blockNumber))!.timestamp);
          const recovered = BigInt(recoveredHealth(Number(expected), since, now));
          since = now;
          expected = recovered + HEALTH_SUCCESS_STEP > HEALTH_ONE ? HEALTH_ONE : recovered + HEALTH_SUCCESS_STEP;
          expect(await health(), `health after a ValidationTimeout, expected ${expected}`).to.equal(expected);
          expect(await net.registry.nodeStatus(node.address)).to.equal(NodeStatus.Available);
        }
        await expectSolvent(net);
      });
    }
  });

  describe("Validated and GroupValidated", function () {
    it("Validated ends as EndAborted(ResultUploadTimeout) at validated + resultUploadTimeout: refund, node penalty", async function () {
      const net = await networkHelpers.loadFixture(networkWithOneNode);
      const [app] = net.apps;
      const tm = net.taskManager;
      const { task, node } = await driveTask(net, app, TaskStatus.Validated);
      const validatedAt = (await tm.getTask(task.commitment)).validatedAt;

      const tx = await abortExactlyAtDeadline(net, task.commitment, net.stranger, {
        deadline: validatedAt + BigInt(TIMEOUTS.resultUpload),
        lastStatus: TaskStatus.Validated,
        reason: TaskAbortReason.ResultUploadTimeout,
      });
      await expect(tx).to.emit(tm, "TaskFeeRefunded").withArgs(task.commitment, app.address, FEE);
      await expect(tx).not.to.emit(tm, "TaskFeePaid");
      const info = await net.registry.getNode(node.address);
      expect(info.health).to.equal(HEALTH_AFTER_TIMEOUT);
      expect(info.status).to.equal(NodeStatus.Available);
      await expectRefunded(net, app, node.address);
    });

    it("GroupValidated ends as EndAborted(ResultUploadTimeout) after its second window (nobody stood in): its fee refunded, its node penalised", async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const [app] = net.apps;
      const tm = net.taskManager;
      const group = await createGroup(net, app);
      for (let i = 0; i < 3; ++i) await playMember(net, app, group, i, SCORE_A);
      await (await validateGroup(net, app, group)).wait();
      const [gv, gr1, gr2] = group.commitments;
      expect(await tm.taskStatus(gv)).to.equal(TaskStatus.GroupValidated);
      expect(await tm.taskStatus(gr1)).to.equal(TaskStatus.EndGroupRefund);
      expect(await tm.taskStatus(gr2)).to.equal(TaskStatus.EndGroupRefund);
      expect(await tm.withdrawable(app.address)).to.equal(2n * FEE); // the two agreeing members' fees

      const validatedAt = (await tm.getTask(gv)).validatedAt;
      const tx = await abortExactlyAtDeadline(net, gv, net.stranger, {
        // Its node's window, then one in which an agreeing member may upload its own result (docs/game.md).
        deadline: validatedAt + 2n * BigInt(TIMEOUTS.resultUpload),
        lastStatus: TaskStatus.GroupValidated,
        reason: TaskAbortReason.ResultUploadTimeout,
      });
      await expect(tx).to.emit(tm, "TaskFeeRefunded").withArgs(gv, app.address, FEE);
      await expect(tx).not.to.emit(tm, "TaskFeePaid");

      expect(await tm.withdrawable(app.address)).to.equal(3n * FEE);
      for (const node of group.nodes) expect(await tm.withdrawable(node.address)).to.equal(0n);
      const gvNode = await net.registry.getNode(group.nodes[0].address);
      expect(gvNode.health).to.equal(HEALTH_AFTER_TIMEOUT);
      expect(gvNode.status).to.equal(NodeStatus.Available);
      for (const node of group.nodes.slice(1)) {
        expect((await net.registry.getNode(node.address)).health).to.equal(HEALTH_ONE);
      }
      expect(await tm.totalEscrowed()).to.equal(0n);
      await expectSolvent(net);
    });
  });

  describe("queued tasks are dispatched when a node becomes available", function () {
    it("on join: TaskStarted in the join transaction", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const [app] = net.apps;
      const tm = net.taskManager;
      const [node] = net.nodes;
      const task = await createTask(net, app);
      expect(await tm.queuedTasks()).to.deep.equal([task.commitment]);

      const tx = joinNode(net, node);
      await expect(tx).to.emit(tm, "TaskStarted").withArgs(task.commitment, node.address);
      const stored = await tm.getTask(task.commitment);
      expect(stored.status).to.equal(TaskStatus.Started);
      expect(stored.selectedNode).to.equal(node.address);
      expect(stored.startedAt).to.equal(await minedAt(tx));
      expect(await tm.queuedTasks()).to.deep.equal([]);
      expect(await net.registry.nodeStatus(node.address)).to.equal(NodeStatus.Busy);
      expect(await net.registry.availableNodeCount()).to.equal(0n);
      await expectSolvent(net);
    });

    it("on resume: TaskStarted in the resume transaction", async function () {
      const net = await networkHelpers.loadFixture(networkWithOneNode);
      const [app] = net.apps;
      const tm = net.taskManager;
      const [node] = net.nodes;
      await (await net.registry.connect(node).pause()).wait();
      const task = await createTask(net, app);
      expect(await tm.taskStatus(task.commitment)).to.equal(TaskStatus.Queued);

      const tx = net.registry.connect(node).resume();
      await expect(tx).to.emit(net.registry, "NodeResumed").withArgs(node.address);
      await expect(tx).to.emit(tm, "TaskStarted").withArgs(task.commitment, node.address);
      expect(await tm.taskStatus(task.commitment)).to.equal(TaskStatus.Started);
      expect(await net.registry.nodeStatus(node.address)).to.equal(NodeStatus.Busy);
      await expectSolvent(net);
    });

    it("on release after a successful task: TaskStarted in the result-upload transaction", async function () {
      const net = await networkHelpers.loadFixture(networkWithOneNode);
      const [app, otherApp] = net.apps;
      const tm = net.taskManager;
      const { task: first, node } = await driveTask(net, app, TaskStatus.Validated);
      const queued = await createTask(net, otherApp);
      expect(await tm.taskStatus(queued.commitment)).to.equal(TaskStatus.Queued);

      const result = await resultBlob(net, first.commitment);
      const [inclusion] = await publishBlobs(net, [result.blobHash]);
      const tx = tm
        .connect(node)
        .reportTaskResultUploaded(first.commitment, inclusion.blobHash, inclusion.root, inclusion.proof, result.proof);
      await expect(tx).to.emit(tm, "TaskSuccess");
      await expect(tx).to.emit(tm, "TaskStarted").withArgs(queued.commitment, node.address);
      expect(await tm.taskStatus(queued.commitment)).to.equal(TaskStatus.Started);
      expect(await net.registry.nodeStatus(node.address)).to.equal(NodeStatus.Busy);
      await expectSolvent(net);
    });

    it("on release after a timeout abort: TaskStarted in the abort transaction", async function () {
      const net = await networkHelpers.loadFixture(networkWithOneNode);
      const [app, otherApp] = net.apps;
      const tm = net.taskManager;
      const { task: first, node } = await driveTask(net, app, TaskStatus.ParametersUploaded);
      const queued = await createTask(net, otherApp);
      await at(await tm.deadlineOf(first.commitment));
      const tx = tm.connect(net.stranger).abortTask(first.commitment);
      await expect(tx)
        .to.emit(tm, "TaskAborted")
        .withArgs(first.commitment, net.stranger.address, TaskStatus.ParametersUploaded, TaskAbortReason.Timeout);
      await expect(tx).to.emit(tm, "TaskStarted").withArgs(queued.commitment, node.address);
      expect(await tm.taskStatus(queued.commitment)).to.equal(TaskStatus.Started);
      // H = 0.3 is still above the 0.1 selection floor, so the node takes the queued task.
      expect((await net.registry.getNode(node.address)).health).to.equal(HEALTH_AFTER_TIMEOUT);
      await expectSolvent(net);
    });
  });

  describe("final tasks", function () {
    it("cannot be aborted (TaskInvalidState), however late", async function () {
      const net = await networkHelpers.loadFixture(networkWithOneNode);
      const [app] = net.apps;
      const tm = net.taskManager;
      const { task: done, node } = await driveTask(net, app, TaskStatus.Validated);
      const aborted = await createTask(net, app); // queued: the only node is busy
      await uploadResult(net, node, done.commitment); // frees the node, which takes `aborted`
      await at(await tm.deadlineOf(aborted.commitment));
      await (await tm.connect(app).abortTask(aborted.commitment)).wait(); // never uploaded: Timeout

      await networkHelpers.time.increase(10 * TIMEOUTS.queue);
      for (const [commitment, status] of [
        [done.commitment, TaskStatus.EndSuccess],
        [aborted.commitment, TaskStatus.EndAborted],
      ] as const) {
        expect(await tm.deadlineOf(commitment)).to.equal(0n);
        for (const caller of [net.stranger, app, node]) {
          await expect(tm.connect(caller).abortTask(commitment))
            .to.be.revertedWithCustomError(tm, "TaskInvalidState")
            .withArgs(commitment, status);
        }
        expect(await tm.taskStatus(commitment)).to.equal(status);
      }
      // The node: the done task's fee, plus noShowShare of the task the application never uploaded.
      const noShow = (FEE * DEFAULT_TASK_PARAMETERS.noShowShare) / 10_000n;
      expect(await tm.withdrawable(node.address)).to.equal(FEE + noShow);
      expect(await tm.withdrawable(app.address)).to.equal(FEE - noShow);
      await expectSolvent(net);
    });
  });
});
