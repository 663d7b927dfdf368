import { expect } from "chai";
import {
  FEE,
  GPU_4090,
  MODEL_LLAMA,
  MODEL_SDXL,
  STAKE,
  TIMEOUTS,
  createTask,
  deployNetwork,
  expectSolvent,
  joinNode,
  networkHelpers,
  selectedNode,
  uploadParameters,
  type Network,
} from "../helpers/fixture.js";
import { gpuId } from "../../src/crypto/commitment.js";
import { NodeStatus, TaskStatus } from "../../src/types.js";

describe("integration: nodes, dispatch and the queue", function () {
  async function emptyNetwork(): Promise<Network> {
    return deployNetwork();
  }

  describe("node lifecycle", function () {
    it("join → pause → resume → quit returns the stake through withdraw", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const [node] = net.nodes;
      const reg = net.registry;
      await expect(joinNode(net, node))
        .to.emit(reg, "NodeJoined")
        .withArgs(node.address, gpuId(GPU_4090), GPU_4090, 24, STAKE);
      expect(await reg.availableNodeCount()).to.equal(1n);
      await expect(reg.connect(node).pause()).to.emit(reg, "NodePaused").withArgs(node.address);
      expect(await reg.nodeStatus(node.address)).to.equal(NodeStatus.Paused);
      expect(await reg.availableNodeCount()).to.equal(0n);
      await expect(reg.connect(node).resume()).to.emit(reg, "NodeResumed").withArgs(node.address);
      expect(await reg.availableNodeCount()).to.equal(1n);
      await expect(reg.connect(node).quit()).to.emit(reg, "NodeQuit").withArgs(node.address, STAKE);
      expect(await reg.nodeStatus(node.address)).to.equal(NodeStatus.Quit);
      expect(await reg.totalStaked()).to.equal(0n);
      expect(await reg.withdrawable(node.address)).to.equal(STAKE);
      await expectSolvent(net);
      await expect(reg.connect(node).withdraw()).to.emit(reg, "Withdrawn").withArgs(node.address, node.address, STAKE);
      await expectSolvent(net);
    });

    it("pause and quit while Busy wait for the task to end (PendingPause, PendingQuit)", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const [node] = net.nodes;
      const [app] = net.apps;
      await joinNode(net, node);
      const first = await createTask(net, app);
      expect(await net.registry.nodeStatus(node.address)).to.equal(NodeStatus.Busy);
      await net.registry.connect(node).pause();
      expect(await net.registry.nodeStatus(node.address)).to.equal(NodeStatus.PendingPause);
      await net.registry.connect(node).resume(); // cancels the pending pause
      expect(await net.registry.nodeStatus(node.address)).to.equal(NodeStatus.Busy);
      await net.registry.connect(node).quit();
      expect(await net.registry.nodeStatus(node.address)).to.equal(NodeStatus.PendingQuit);
      expect(await net.registry.withdrawable(node.address)).to.equal(0n);

      await networkHelpers.time.increase(TIMEOUTS.execution);
      await expect(net.taskManager.connect(net.stranger).abortTask(first.commitment))
        .to.emit(net.registry, "NodeQuit")
        .withArgs(node.address, STAKE);
      expect(await net.registry.nodeStatus(node.address)).to.equal(NodeStatus.Quit);
      expect(await net.registry.withdrawable(node.address)).to.equal(STAKE);
      await expectSolvent(net);
    });
  });

  describe("eligibility and selection", function () {
    it("a required GPU model goes only to that model with enough VRAM; otherwise minimum VRAM decides", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const [small, a100, big4090] = net.nodes;
      await joinNode(net, small, { gpuName: "NVIDIA GeForce RTX 3060", vram: 12 });
      await joinNode(net, a100, { gpuName: "NVIDIA A100", vram: 80 });
      await joinNode(net, big4090, { gpuName: GPU_4090, vram: 24 });
      const t1 = await createTask(net, net.apps[0], { requiredGPU: gpuId(GPU_4090), requiredGPUVRAM: 24 });
      expect((await selectedNode(net, t1.commitment)).address).to.equal(big4090.address);
      const t2 = await createTask(net, net.apps[0], { minimumVRAM: 40 });
      expect((await selectedNode(net, t2.commitment)).address).to.equal(a100.address);
      // Only the 12 GB card is left; a 16 GB task must queue.
      const t3 = await createTask(net, net.apps[0], { minimumVRAM: 16 });
      expect(await net.taskManager.taskStatus(t3.commitment)).to.equal(TaskStatus.Queued);
    });

    it("versions must share the major and be at least the task's minor.patch", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const [old, next, current] = net.nodes;
      await joinNode(net, old, { version: [2, 4, 9] });
      await joinNode(net, next, { version: [3, 0, 0] });
      const queued = await createTask(net, net.apps[0], { version: [2, 5, 1] });
      expect(await net.taskManager.taskStatus(queued.commitment)).to.equal(TaskStatus.Queued);
      await expect(joinNode(net, current, { version: [2, 5, 1] }))
        .to.emit(net.taskManager, "TaskStarted")
        .withArgs(queued.commitment, current.address);
    });

    it("model locality: when some eligible node holds every model, only those nodes are drawn", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const [holder, ...others] = net.nodes.slice(0, 4);
      await joinNode(net, holder, { models: [MODEL_SDXL, MODEL_LLAMA] });
      for (const n of others) await joinNode(net, n, { models: [MODEL_SDXL] });
      const task = await createTask(net, net.apps[0], { models: [MODEL_LLAMA] });
      expect((await selectedNode(net, task.commitment)).address).to.equal(holder.address);
    });

    it("a node whose health fell below 0.1 is not selected", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const [node] = net.nodes;
      await joinNode(net, node);
      // Two execution timeouts: H = 1 → 0.3 → 0.09.
      for (let i = 0; i < 2; i++) {
        const t = await createTask(net, net.apps[0]);
        await uploadParameters(net, net.apps[0], t.commitment); // the node's timer (DESIGN §13.3)
        await networkHelpers.time.increase(TIMEOUTS.execution);
        await net.taskManager.connect(net.stranger).abortTask(t.commitment);
      }
      // Below 0.1 (0.3 recovers a little during the second task's execution timeout before × 0.3: about 0.094).
      expect((await net.registry.getNode(node.address)).health).to.be.lessThan(1_000n);
      expect(await net.registry.weightOf(node.address)).to.be.greaterThan(0n);
      const t = await createTask(net, net.apps[0]);
      expect(await net.taskManager.taskStatus(t.commitment)).to.equal(TaskStatus.Queued);
    });

    it("weights follow S·Q/(S+Q): more stake, more weight, saturating at the stake cap", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const [a, b, c] = net.nodes;
      await joinNode(net, a, { stake: STAKE });
      await joinNode(net, b, { stake: STAKE * 10n });
      await joinNode(net, c, { stake: STAKE * 20n });
      const [wa, wb, wc] = await Promise.all([a, b, c].map((n) => net.registry.weightOf(n.address)));
      expect(wb).to.be.greaterThan(wa);
      expect(wc).to.equal(wb); // both at or above the cap (10 × the minimum stake)
    });
  });

  describe("queue", function () {
    it("a freed node takes the highest-value task it can serve, not the oldest", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const [app] = net.apps;
      const cheap = await createTask(net, app, { fee: FEE });
      const rich = await createTask(net, app, { fee: FEE * 3n });
      const bigButLong = await createTask(net, app, { fee: FEE * 4n, taskSize: 20 }); // value 4/(20+200) < 3/30
      expect(await net.taskManager.queuedTasks()).to.have.lengthOf(3);
      const [node] = net.nodes;
      await expect(joinNode(net, node)).to.emit(net.taskManager, "TaskStarted").withArgs(rich.commitment, node.address);
      // The node finishes (by timeout) and takes the next best.
      await networkHelpers.time.increase(TIMEOUTS.execution);
      await expect(net.taskManager.connect(net.stranger).abortTask(rich.commitment))
        .to.emit(net.taskManager, "TaskStarted")
        .withArgs(cheap.commitment, node.address);
      expect(await net.taskManager.queuedTasks()).to.deep.equal([bigButLong.commitment]);
      await expectSolvent(net);
    });

    it("the creator cannot cancel a queued task (DESIGN §13.1); parameters cannot be reported for a queued task", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const [app] = net.apps;
      const task = await createTask(net, app);
      await expect(uploadParameters(net, app, task.commitment))
        .to.be.revertedWithCustomError(net.taskManager, "TaskInvalidState")
        .withArgs(task.commitment, TaskStatus.Queued);
      await expect(net.taskManager.connect(app).abortTask(task.commitment)).to.be.revertedWithCustomError(
        net.taskManager,
        "TaskDeadlineNotReached",
      );
      expect(await net.taskManager.queuedTasks()).to.deep.equal([task.commitment]);
      await expectSolvent(net);
    });
  });
});
