/**
 * B2 (DESIGN §11): the reference implementation's abort state guard was always true, so a final task could be
 * "aborted" again (and refunded twice). Every final state (EndInvalidated, EndSuccess, EndAborted, EndGroupRefund,
 * EndGroupSuccess) must reject `abortTask` with `TaskInvalidState`, whoever calls and however late, and nothing moves.
 */
import { expect } from "chai";
import {
  SCORE_A,
  SCORE_A_NEAR,
  SCORE_B,
  TIMEOUTS,
  createTask,
  deployNetwork,
  expectSolvent,
  joinNode,
  networkHelpers,
  uploadResult,
  type Network,
} from "../helpers/fixture.js";
import { createGroup, driveTask, expectUnchanged, playMember, validateGroup } from "../helpers/actors.js";
import type { Bytes32 } from "../../src/crypto/commitment.js";
import { TaskStatus, isFinal } from "../../src/types.js";

describe("regression B2: abortTask rejects every final state", function () {
  async function networkWithFourNodes(): Promise<Network> {
    const net = await deployNetwork();
    for (const node of net.nodes.slice(0, 4)) await joinNode(net, node);
    return net;
  }

  it("EndGroupSuccess, EndGroupRefund, EndInvalidated, EndSuccess and EndAborted all revert with TaskInvalidState", async function () {
    const net = await networkHelpers.loadFixture(networkWithFourNodes);
    const tm = net.taskManager;
    const [app, otherApp] = net.apps;

    // AAB → GroupValidated, EndGroupRefund, EndInvalidated; then the result → EndGroupSuccess.
    const group = await createGroup(net, app);
    await playMember(net, app, group, 0, SCORE_A);
    await playMember(net, app, group, 1, SCORE_A_NEAR);
    await playMember(net, app, group, 2, SCORE_B);
    await (await validateGroup(net, app, group)).wait();
    await uploadResult(net, group.nodes[0], group.commitments[0]);

    const single = await driveTask(net, otherApp, TaskStatus.EndSuccess);
    const cancelled = await createTask(net, otherApp, { requiredGPU: "0x" + "11".repeat(32), requiredGPUVRAM: 80 });
    await networkHelpers.time.increaseTo(await tm.deadlineOf(cancelled.commitment)); // no cancel while queued
    await (await tm.connect(otherApp).abortTask(cancelled.commitment)).wait();

    const finals: Array<[Bytes32, TaskStatus]> = [
      [group.commitments[0], TaskStatus.EndGroupSuccess],
      [group.commitments[1], TaskStatus.EndGroupRefund],
      [group.commitments[2], TaskStatus.EndInvalidated],
      [single.task.commitment, TaskStatus.EndSuccess],
      [cancelled.commitment, TaskStatus.EndAborted],
    ];
    for (const [commitment, status] of finals) {
      expect(isFinal(status)).to.equal(true);
      expect(await tm.taskStatus(commitment)).to.equal(status);
      expect(await tm.deadlineOf(commitment)).to.equal(0n);
    }

    // Long after every deadline of every stage.
    await networkHelpers.time.increase(
      10 * (TIMEOUTS.queue + TIMEOUTS.execution + TIMEOUTS.validation + TIMEOUTS.resultUpload),
    );
    const commitments = finals.map(([c]) => c);
    const callers = [net.stranger, app, otherApp, ...net.nodes.slice(0, 4)];
    for (const [commitment, status] of finals) {
      for (const caller of callers) {
        await expectUnchanged(net, { commitments }, () =>
          expect(tm.connect(caller).abortTask(commitment))
            .to.be.revertedWithCustomError(tm, "TaskInvalidState")
            .withArgs(commitment, status),
        );
      }
    }
    await expectSolvent(net);
  });
});
