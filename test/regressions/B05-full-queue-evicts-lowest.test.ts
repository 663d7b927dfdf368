/**
 * B5 (DESIGN §10, §11): in the reference implementation eviction was unreachable and `createTask` simply reverted
 * when the queue was full. A full queue must evict its lowest-value task (EndAborted with reason TaskFeeTooLow, fee
 * refunded) for a task worth more, and reject with `TaskQueueFull(value, lowestValue)` a task that would itself be
 * the lowest. Value is V = fee / (overhead + unitTime · size), not the fee.
 */
import { expect } from "chai";
import { parseEther } from "ethers";
import {
  createTask,
  deployNetwork,
  expectSolvent,
  joinNode,
  networkHelpers,
  taskInput,
  type Network,
} from "../helpers/fixture.js";
import { expectUnchanged } from "../helpers/actors.js";
import { newTaskIdentity } from "../../src/crypto/commitment.js";
import { TaskAbortReason, TaskStatus, TaskType } from "../../src/types.js";

describe("regression B5: a full queue evicts its lowest-value task", function () {
  /** A queue of two (α = 0, so joined nodes do not grow it) and no node: every task queues. */
  async function networkWithQueueOfTwo(): Promise<Network> {
    return deployNetwork({ minQueueCapacity: 2n, queueSizeFactor: 0n });
  }

  it("evicts the lowest (TaskFeeTooLow, refund), then rejects a new lowest with TaskQueueFull(value, lowest)", async function () {
    const net = await networkHelpers.loadFixture(networkWithQueueOfTwo);
    const tm = net.taskManager;
    const [app, otherApp] = net.apps;
    expect(await tm.queueCapacity()).to.equal(2n);
    const value = (fee: bigint, size = 1) => tm.taskValue(TaskType.SD, size, fee);

    const low = await createTask(net, app, { fee: parseEther("2") });
    const mid = await createTask(net, app, { fee: parseEther("3") });
    expect([...(await tm.queuedTasks())].sort()).to.deep.equal([low.commitment, mid.commitment].sort());

    // A task worth more evicts the lowest, in the same transaction, and is queued.
    const high = newTaskIdentity();
    const tx = tm.connect(otherApp).createTask(taskInput(high.commitment, high.nonce), { value: parseEther("4") });
    await expect(tx)
      .to.emit(tm, "TaskAborted")
      .withArgs(low.commitment, otherApp.address, TaskStatus.Queued, TaskAbortReason.TaskFeeTooLow);
    await expect(tx).to.emit(tm, "TaskFeeRefunded").withArgs(low.commitment, app.address, parseEther("2"));
    await expect(tx).to.emit(tm, "TaskQueued").withArgs(high.commitment);

    const evicted = await tm.getTask(low.commitment);
    expect(evicted.status).to.equal(TaskStatus.EndAborted);
    expect(evicted.abortReason).to.equal(TaskAbortReason.TaskFeeTooLow);
    expect(await tm.withdrawable(app.address)).to.equal(parseEther("2"));
    expect([...(await tm.queuedTasks())].sort()).to.deep.equal([mid.commitment, high.commitment].sort());
    expect(await tm.totalEscrowed()).to.equal(parseEther("7"));
    await expectSolvent(net);

    // A new lowest is rejected: below the lowest, equal to it, or a higher fee for a much larger (slower) task.
    const lowest = await value(parseEther("3"));
    for (const [fee, size] of [
      [parseEther("1"), 1],
      [parseEther("3"), 1],
      [parseEther("5"), 10],
    ] as const) {
      const id = newTaskIdentity();
      const v = await value(fee, size);
      expect(v <= lowest).to.equal(true);
      await expectUnchanged(
        net,
        { commitments: [id.commitment, mid.commitment, high.commitment], nonces: [id.nonce] },
        () =>
          expect(
            tm.connect(otherApp).createTask(taskInput(id.commitment, id.nonce, { taskSize: size }), { value: fee }),
          )
            .to.be.revertedWithCustomError(tm, "TaskQueueFull")
            .withArgs(v, lowest),
      );
    }

    // The surviving tasks are dispatched by value when a node arrives.
    const tx2 = joinNode(net, net.nodes[0]);
    await expect(tx2).to.emit(tm, "TaskStarted").withArgs(high.commitment, net.nodes[0].address);
    expect(await tm.queuedTasks()).to.deep.equal([mid.commitment]);
    await expectSolvent(net);
  });

  it("between equal values, the later-created task is evicted first", async function () {
    const net = await networkHelpers.loadFixture(networkWithQueueOfTwo);
    const tm = net.taskManager;
    const [app, otherApp] = net.apps;
    const first = await createTask(net, app, { fee: parseEther("2") });
    const second = await createTask(net, app, { fee: parseEther("2") });
    const newer = newTaskIdentity();
    await expect(tm.connect(otherApp).createTask(taskInput(newer.commitment, newer.nonce), { value: parseEther("3") }))
      .to.emit(tm, "TaskAborted")
      .withArgs(second.commitment, otherApp.address, TaskStatus.Queued, TaskAbortReason.TaskFeeTooLow);
    expect(await tm.taskStatus(first.commitment)).to.equal(TaskStatus.Queued);
    await expectSolvent(net);
  });
});
