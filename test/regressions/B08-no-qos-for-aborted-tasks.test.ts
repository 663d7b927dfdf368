/**
 * B8 (DESIGN §11): the reference implementation recorded QoS rewards for aborted group members. A member that ends
 * EndAborted gets no QoS task score (its node's score window is untouched), whether it was aborted before validation
 * (timeout after its node took it, or a validation timeout) or by the validation itself (ABC → EA×3), or after it
 * (the GroupValidated member's ResultUploadTimeout). Hence the EndGroupRefund members' nodes are scored at validation,
 * but the GroupValidated member's node only when it uploads the result. A timeout that is the node's fault is no reward
 * but a fault: it enters the node's window as a 0 (DESIGN §13.7), so such a node holds one score, of 0.
 */
import { expect } from "chai";
import {
  SCORE_A,
  SCORE_A_NEAR,
  SCORE_B,
  SCORE_C,
  deployNetwork,
  expectSolvent,
  joinNode,
  networkHelpers,
  uploadResult,
  type Network,
  uploadParameters,
} from "../helpers/fixture.js";
import {
  HEALTH_AFTER_TIMEOUT,
  at,
  createGroup,
  latestTimestamp,
  playMember,
  validateGroup,
} from "../helpers/actors.js";
import { TaskAbortReason, TaskStatus } from "../../src/types.js";

describe("regression B8: no QoS rewards for aborted tasks", function () {
  async function networkWithThreeNodes(): Promise<Network> {
    const net = await deployNetwork();
    for (const node of net.nodes.slice(0, 3)) await joinNode(net, node);
    return net;
  }

  async function expectScores(net: Network, nodes: string[], counts: bigint[]) {
    for (let i = 0; i < nodes.length; ++i) {
      expect((await net.registry.getNode(nodes[i])).scoreCount, `scoreCount of node ${i}`).to.equal(counts[i]);
    }
  }

  it("AA+EA: the member aborted after its node took it gets no score; the agreeing two do", async function () {
    const net = await networkHelpers.loadFixture(networkWithThreeNodes);
    const tm = net.taskManager;
    const [app] = net.apps;
    const group = await createGroup(net, app);
    await playMember(net, app, group, 0, SCORE_A);
    await playMember(net, app, group, 1, SCORE_A_NEAR);
    // The node's own timeout (after the upload; a Started timeout is the application's, DESIGN §13.3).
    await uploadParameters(net, app, group.commitments[2]);
    await at(await tm.deadlineOf(group.commitments[2]));
    await (await tm.connect(net.stranger).abortTask(group.commitments[2])).wait();
    await (await validateGroup(net, app, group)).wait();

    const aborted = await tm.getTask(group.commitments[2]);
    expect(aborted.status).to.equal(TaskStatus.EndAborted);
    expect(aborted.qosScore).to.equal(0n);
    const abortedNode = await net.registry.getNode(group.nodes[2].address);
    expect(abortedNode.scoreCount, "the timeout's 0 (DESIGN §13.7), no reward").to.equal(1n);
    expect(abortedNode.scoreSum).to.equal(0n);
    expect(abortedNode.health).to.equal(HEALTH_AFTER_TIMEOUT);
    // Member 1 (EndGroupRefund) is scored at validation; member 0 (GroupValidated) when it uploads the result.
    expect(await tm.taskStatus(group.commitments[0])).to.equal(TaskStatus.GroupValidated);
    await expectScores(
      net,
      group.nodes.map((n) => n.address),
      [0n, 1n, 1n], // node 2: the timeout's 0
    );
    await uploadResult(net, group.nodes[0], group.commitments[0]);
    expect(await tm.taskStatus(group.commitments[0])).to.equal(TaskStatus.EndGroupSuccess);
    await expectScores(
      net,
      group.nodes.map((n) => n.address),
      [1n, 1n, 1n],
    );
    await expectSolvent(net);
  });

  it("ABC → EA×3: no member and no node gets a score", async function () {
    const net = await networkHelpers.loadFixture(networkWithThreeNodes);
    const tm = net.taskManager;
    const [app] = net.apps;
    const group = await createGroup(net, app);
    await playMember(net, app, group, 0, SCORE_A);
    await playMember(net, app, group, 1, SCORE_B);
    await playMember(net, app, group, 2, SCORE_C);
    await (await validateGroup(net, app, group)).wait();
    for (const c of group.commitments) {
      const stored = await tm.getTask(c);
      expect(stored.status).to.equal(TaskStatus.EndAborted);
      expect(stored.abortReason).to.equal(TaskAbortReason.IncorrectResult);
      expect(stored.qosScore).to.equal(0n);
    }
    await expectScores(
      net,
      group.nodes.map((n) => n.address),
      [0n, 0n, 0n],
    );
    await expectSolvent(net);
  });

  it("a member ended by a validation timeout (its node paid) gets no score; the group still validates", async function () {
    const net = await networkHelpers.loadFixture(networkWithThreeNodes);
    const tm = net.taskManager;
    const [app] = net.apps;
    const group = await createGroup(net, app);
    // Member 2 answers at once; members 0 and 1 much later, so only member 2's validation deadline passes.
    await playMember(net, app, group, 2, SCORE_A);
    await at((await latestTimestamp()) + 800n);
    await playMember(net, app, group, 0, SCORE_A);
    await playMember(net, app, group, 1, SCORE_A);
    await at(await tm.deadlineOf(group.commitments[2]));
    await expect(tm.connect(net.stranger).abortTask(group.commitments[2]))
      .to.emit(tm, "TaskAborted")
      .withArgs(group.commitments[2], net.stranger.address, TaskStatus.ScoreReady, TaskAbortReason.ValidationTimeout);
    await (await validateGroup(net, app, group)).wait();

    expect(await tm.taskStatus(group.commitments[0])).to.equal(TaskStatus.GroupValidated);
    expect(await tm.taskStatus(group.commitments[1])).to.equal(TaskStatus.EndGroupRefund);
    expect((await tm.getTask(group.commitments[2])).qosScore).to.equal(0n);
    // Member 1 (EndGroupRefund) is scored at validation; member 0 (GroupValidated) when it uploads the result.
    await expectScores(
      net,
      group.nodes.map((n) => n.address),
      [0n, 1n, 0n],
    );
    await uploadResult(net, group.nodes[0], group.commitments[0]);
    await expectScores(
      net,
      group.nodes.map((n) => n.address),
      [1n, 1n, 0n],
    );
    await expectSolvent(net);
  });

  it("members of a group the application never validates (validation timeouts) get no score", async function () {
    const net = await networkHelpers.loadFixture(networkWithThreeNodes);
    const tm = net.taskManager;
    const [app] = net.apps;
    const group = await createGroup(net, app);
    for (let i = 0; i < 3; ++i) await playMember(net, app, group, i, SCORE_A);
    // The application never validates: every member ends by validation timeout, each node paid, none scored.
    await at(await tm.deadlineOf(group.commitments[2]));
    for (const c of group.commitments) await (await tm.connect(net.stranger).abortTask(c)).wait();
    for (const c of group.commitments) expect((await tm.getTask(c)).qosScore).to.equal(0n);
    await expectScores(
      net,
      group.nodes.map((n) => n.address),
      [0n, 0n, 0n],
    );
    await expectSolvent(net);
  });

  // The validated member's node is scored only when it uploads the result, so a ResultUploadTimeout earns nothing.
  it("a GroupValidated member aborted for ResultUploadTimeout leaves its node without a QoS score", async function () {
    const net = await networkHelpers.loadFixture(networkWithThreeNodes);
    const tm = net.taskManager;
    const [app] = net.apps;
    const group = await createGroup(net, app);
    for (let i = 0; i < 3; ++i) await playMember(net, app, group, i, SCORE_A);
    await (await validateGroup(net, app, group)).wait();
    expect(await tm.taskStatus(group.commitments[0])).to.equal(TaskStatus.GroupValidated);
    expect((await tm.getTask(group.commitments[0])).qosScore).to.be.greaterThan(0n); // on the task, not the node
    await expectScores(
      net,
      group.nodes.map((n) => n.address),
      [0n, 1n, 1n],
    );
    await at(await tm.deadlineOf(group.commitments[0]));
    await expect(tm.connect(net.stranger).abortTask(group.commitments[0]))
      .to.emit(tm, "TaskAborted")
      .withArgs(
        group.commitments[0],
        net.stranger.address,
        TaskStatus.GroupValidated,
        TaskAbortReason.ResultUploadTimeout,
      );
    const gvNode = await net.registry.getNode(group.nodes[0].address);
    expect(gvNode.scoreCount, "the timeout's 0 (DESIGN §13.7), no reward").to.equal(1n);
    expect(gvNode.scoreSum).to.equal(0n);
    await expectScores(
      net,
      group.nodes.map((n) => n.address),
      [1n, 1n, 1n], // node 0: the timeout's 0, no reward
    );
    await expectSolvent(net);
  });
});
