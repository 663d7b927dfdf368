/**
 * B5 (DESIGN §10, §11): in the reference implementation eviction was unreachable and `createTask` simply reverted
 * when the queue was full. A full queue must evict its lowest-value task (EndAborted with reason TaskFeeTooLow, fee
 * refunded) for a task worth more, and refuse a task that would itself be the lowest. Since dispatch is a step of its
 * own (docs/randomness.md), which must never revert, that task ends at its dispatch (EndAborted, TaskFeeTooLow,
 * refunded) instead of `createTask` reverting. Value is V = fee / (overhead + unitTime · size), not the fee.
 */
import { expect } from "chai";
import { parseEther } from "ethers";
import {
  bjjKeyOf,
  createTask,
  deliverWord,
  deployNetwork,
  expectSolvent,
  joinNode,
  networkHelpers,
  taskInput,
  type Network,
} from "../helpers/fixture.js";
import { dispatchPending } from "../../src/chain/dispatch.js";
import { TaskAbortReason, TaskStatus, TaskType } from "../../src/types.js";

describe("regression B5: a full queue evicts its lowest-value task", function () {
  /** A queue of two (α = 0, so joined nodes do not grow it) and no node: every task queues. */
  async function networkWithQueueOfTwo(): Promise<Network> {
    return deployNetwork({ minQueueCapacity: 2n, queueSizeFactor: 0n });
  }

  /** Creates a task and delivers its word; returns it with the `dispatchTasks` transaction (by the stranger). */
  async function createAndDispatch(net: Network, app: Network["apps"][number], fee: bigint, taskSize = 1) {
    const task = await createTask(net, app, { fee, taskSize, dispatch: false });
    await deliverWord(net);
    const input = taskInput(task.commitment, task.nonce, {
      taskSize,
      appPublicKey: bjjKeyOf(app.address).publicKey,
    });
    return { task, tx: net.taskManager.connect(net.stranger).dispatchTasks([input]) };
  }

  it("evicts the lowest (TaskFeeTooLow, refund), then ends a new lowest at its dispatch (TaskFeeTooLow, refund)", async function () {
    const net = await networkHelpers.loadFixture(networkWithQueueOfTwo);
    const tm = net.taskManager;
    const [app, otherApp] = net.apps;
    expect(await tm.queueCapacity()).to.equal(2n);
    const value = (fee: bigint, size = 1) => tm.taskValue(TaskType.SD, size, fee);

    const low = await createTask(net, app, { fee: parseEther("2") });
    const mid = await createTask(net, app, { fee: parseEther("3") });
    expect([...(await tm.queuedTasks())].sort()).to.deep.equal([low.commitment, mid.commitment].sort());

    // A task worth more evicts the lowest, in its dispatch, and is queued.
    const high = await createAndDispatch(net, otherApp, parseEther("4"));
    await expect(high.tx)
      .to.emit(tm, "TaskAborted")
      .withArgs(low.commitment, net.stranger.address, TaskStatus.Queued, TaskAbortReason.TaskFeeTooLow);
    await expect(high.tx).to.emit(tm, "TaskFeeRefunded").withArgs(low.commitment, app.address, parseEther("2"));
    await expect(high.tx).to.emit(tm, "TaskQueued").withArgs(high.task.commitment);

    const evicted = await tm.getTask(low.commitment);
    expect(evicted.status).to.equal(TaskStatus.EndAborted);
    expect(evicted.abortReason).to.equal(TaskAbortReason.TaskFeeTooLow);
    expect(await tm.withdrawable(app.address)).to.equal(parseEther("2"));
    expect([...(await tm.queuedTasks())].sort()).to.deep.equal([mid.commitment, high.task.commitment].sort());
    expect(await tm.totalEscrowed()).to.equal(parseEther("7"));
    await expectSolvent(net);

    // A new lowest ends at its dispatch, refunded: below the lowest, equal to it, or a higher fee for a much larger
    // (slower) task. The queue is unchanged.
    const lowest = await value(parseEther("3"));
    for (const [fee, size] of [
      [parseEther("1"), 1],
      [parseEther("3"), 1],
      [parseEther("5"), 10],
    ] as const) {
      expect((await value(fee, size)) <= lowest).to.equal(true);
      const before = await tm.withdrawable(otherApp.address);
      const next = await createAndDispatch(net, otherApp, fee, size);
      await expect(next.tx)
        .to.emit(tm, "TaskAborted")
        .withArgs(next.task.commitment, net.stranger.address, TaskStatus.Pending, TaskAbortReason.TaskFeeTooLow);
      expect(await tm.withdrawable(otherApp.address)).to.equal(before + fee);
      expect([...(await tm.queuedTasks())].sort()).to.deep.equal([mid.commitment, high.task.commitment].sort());
    }
    expect(await tm.totalEscrowed()).to.equal(parseEther("7"));

    // The surviving tasks are dispatched by value when a node arrives (with the queue's word, if one is asked for).
    await joinNode(net, net.nodes[0]);
    await deliverWord(net);
    await dispatchPending(tm, net.stranger);
    expect(await tm.taskStatus(high.task.commitment)).to.equal(TaskStatus.Started);
    expect((await tm.getTask(high.task.commitment)).selectedNode).to.equal(net.nodes[0].address);
    expect(await tm.queuedTasks()).to.deep.equal([mid.commitment]);
    await expectSolvent(net);
  });

  it("between equal values, the later-created task is evicted first", async function () {
    const net = await networkHelpers.loadFixture(networkWithQueueOfTwo);
    const tm = net.taskManager;
    const [app, otherApp] = net.apps;
    const first = await createTask(net, app, { fee: parseEther("2") });
    const second = await createTask(net, app, { fee: parseEther("2") });
    const newer = await createAndDispatch(net, otherApp, parseEther("3"));
    await expect(newer.tx)
      .to.emit(tm, "TaskAborted")
      .withArgs(second.commitment, net.stranger.address, TaskStatus.Queued, TaskAbortReason.TaskFeeTooLow);
    expect(await tm.taskStatus(first.commitment)).to.equal(TaskStatus.Queued);
    await expectSolvent(net);
  });
});
