/**
 * B4 (DESIGN §11): in the reference implementation, a group whose three members all reported an error ended with
 * one member in EndGroupRefund. ER,ER,ER (and ER,ER,EA) must end EA×3: every member EndAborted, every fee refunded,
 * no EndGroupRefund, no validation, no invalidation, no slash and no QoS score.
 */
import { expect } from "chai";
import {
  FEE,
  STAKE,
  deployNetwork,
  expectSolvent,
  joinNode,
  networkHelpers,
  type Network,
  uploadParameters,
} from "../helpers/fixture.js";
import { HEALTH_ONE, at, createGroup, playMember, validateGroup } from "../helpers/actors.js";
import { NodeStatus, TaskAbortReason, TaskStatus } from "../../src/types.js";

describe("regression B4: three errors end as EndAborted ×3, never EndGroupRefund", function () {
  async function networkWithThreeNodes(): Promise<Network> {
    const net = await deployNetwork();
    for (const node of net.nodes.slice(0, 3)) await joinNode(net, node);
    return net;
  }

  it("ER,ER,ER → EA,EA,EA with every fee refunded", async function () {
    const net = await networkHelpers.loadFixture(networkWithThreeNodes);
    const tm = net.taskManager;
    const reg = net.registry;
    const [app] = net.apps;
    const group = await createGroup(net, app);
    for (let i = 0; i < 3; ++i) await playMember(net, app, group, i, "error");
    for (const c of group.commitments) expect(await tm.taskStatus(c)).to.equal(TaskStatus.ErrorReported);

    const tx = validateGroup(net, app, group);
    for (const c of group.commitments) {
      await expect(tx)
        .to.emit(tm, "TaskAborted")
        .withArgs(c, app.address, TaskStatus.ErrorReported, TaskAbortReason.IncorrectResult);
      await expect(tx).to.emit(tm, "TaskFeeRefunded").withArgs(c, app.address, FEE);
    }
    await expect(tx).not.to.emit(tm, "TaskEndGroupRefund");
    await expect(tx).not.to.emit(tm, "TaskValidated");
    await expect(tx).not.to.emit(tm, "TaskEndInvalidated");
    await expect(tx).not.to.emit(tm, "TaskFeePaid");
    await expect(tx).not.to.emit(reg, "NodeSlashed");

    for (const c of group.commitments) {
      const stored = await tm.getTask(c);
      expect(stored.status).to.equal(TaskStatus.EndAborted);
      expect(stored.status).not.to.equal(TaskStatus.EndGroupRefund);
      expect(stored.qosScore).to.equal(0n);
    }
    for (const node of group.nodes) {
      const info = await reg.getNode(node.address);
      expect(info.status).to.equal(NodeStatus.Available);
      expect(info.stake).to.equal(STAKE);
      expect(info.scoreCount).to.equal(0n);
      expect(info.health).to.equal(HEALTH_ONE);
      expect(await tm.withdrawable(node.address)).to.equal(0n);
    }
    expect(await tm.withdrawable(app.address)).to.equal(3n * FEE);
    expect(await tm.totalEscrowed()).to.equal(0n);
    await expectSolvent(net);
  });

  it("ER,ER,EA → EA,EA,EA (a member aborted after its node took it)", async function () {
    const net = await networkHelpers.loadFixture(networkWithThreeNodes);
    const tm = net.taskManager;
    const [app] = net.apps;
    const group = await createGroup(net, app);
    await playMember(net, app, group, 0, "error");
    await playMember(net, app, group, 1, "error");
    await uploadParameters(net, app, group.commitments[2]); // the node's timeout: a full refund (DESIGN §13.3)
    await at(await tm.deadlineOf(group.commitments[2]));
    await (await tm.connect(net.stranger).abortTask(group.commitments[2])).wait();

    const tx = validateGroup(net, app, group);
    await expect(tx).not.to.emit(tm, "TaskEndGroupRefund");
    await expect(tx).not.to.emit(tm, "TaskValidated");
    await expect(tx).not.to.emit(tm, "TaskEndInvalidated");
    for (const c of group.commitments) expect(await tm.taskStatus(c)).to.equal(TaskStatus.EndAborted);
    expect(await tm.withdrawable(app.address)).to.equal(3n * FEE);
    expect(await tm.totalEscrowed()).to.equal(0n);
    await expectSolvent(net);
  });
});
