/**
 * Group validation through the real contracts (DESIGN §5): every row of the outcome table, the QoS fee split of
 * the validated task, and every guard of `validateTaskGroup`. Real VRF proofs (the original task is sampled), real
 * relay roots and Merkle proofs for parameters and results, real encrypted blobs and real Groth16 proofs
 * (ParamsConsistency at validation when no member is aborted, ResultAvailability at the result upload).
 */
import { expect } from "chai";
import { keccak256, parseEther, toUtf8Bytes, type Wallet } from "ethers";
import { DEFAULT_TASK_PARAMETERS } from "../../src/config.js";
import {
  FEE,
  NO_PARAMS_PROOF,
  SCORE_A,
  SCORE_A_NEAR,
  SCORE_B,
  SCORE_C,
  STAKE,
  createTask,
  deployNetwork,
  ethers,
  expectSolvent,
  joinNode,
  networkHelpers,
  paramsProof,
  resetTaskSequences,
  samplingProof,
  selectedNode,
  uploadParameters,
  uploadResult,
  type Network,
} from "../helpers/fixture.js";
import { createGroup, eventKey, eventKeys, groupShares, type TaskGroup } from "../helpers/group.js";
import { FIELD_SIZE, isSampled, proveVRF, verifyVRF } from "../../src/crypto/vrf.js";
import { NodeStatus, TaskAbortReason, TaskError, TaskStatus, TaskType } from "../../src/types.js";

const { time } = networkHelpers;

/** Distinct fees so that a refund or payout from the wrong member shows. */
const F: readonly [bigint, bigint, bigint] = [parseEther("1"), parseEther("1.5"), parseEther("2")];
/** Seconds between two score/error reports (large against the 1 s per block of automining). */
const REPORT_GAP = 100;

/** What a member's node (or the clock) does before validation. */
type Plan =
  | { kind: "score"; score: string }
  | { kind: "error" }
  /** Aborted on the execution timeout after its node took it, still in `from`. */
  | { kind: "abort"; from: TaskStatus.Started | TaskStatus.ParametersUploaded };

const A: Plan = { kind: "score", score: SCORE_A };
const A2: Plan = { kind: "score", score: SCORE_A_NEAR }; // matches A (1 bit away)
const B: Plan = { kind: "score", score: SCORE_B };
const C: Plan = { kind: "score", score: SCORE_C };
const ER: Plan = { kind: "error" };
/** Aborted while Started (parameters never uploaded). */
const EA: Plan = { kind: "abort", from: TaskStatus.Started };
/** Aborted while ParametersUploaded (the node never answered). */
const EAP: Plan = { kind: "abort", from: TaskStatus.ParametersUploaded };

type Outcome = "GV" | "GR" | "EI" | "EA";
type Triple<T> = [T, T, T];

interface Row {
  /** Plans of members 0 (the original), 1 and 2, in creation order. */
  members: Triple<Plan>;
  /** Expected outcome per member. */
  outcome: Triple<Outcome>;
  /** Expected QoS task score per member (10/5/2 by speed among the agreeing ones; 0 otherwise). */
  qos?: Triple<number>;
  /** Expected amount credited to each member's node when the GV node uploads the result. */
  pay?: Triple<bigint>;
  /** Order in which the reporting members submit (default: creation order), REPORT_GAP seconds apart. */
  reportOrder?: number[];
  /** Seconds that pass before creating members 1 and 2. */
  gaps?: [number, number];
  /** Argument order of the members in `validateTaskGroup` (the original must stay first). Default [0, 1, 2]. */
  args?: Triple<number>;
  /** If set, every reporting member reports exactly this many seconds after its start (ties in speed). */
  equalDuration?: number;
}

const OUTCOME_STATUS: Record<Outcome, TaskStatus> = {
  GV: TaskStatus.GroupValidated,
  GR: TaskStatus.EndGroupRefund,
  EI: TaskStatus.EndInvalidated,
  EA: TaskStatus.EndAborted,
};

const SETTLEMENT_EVENTS = new Set([
  "TaskValidated",
  "TaskEndGroupRefund",
  "TaskEndInvalidated",
  "TaskAborted",
  "TaskFeeRefunded",
  "TaskFeePaid",
  "TaskSuccess",
  "TaskEndGroupSuccess",
  "NodeSlashed",
]);

async function networkWithThreeNodes(): Promise<Network> {
  const net = await deployNetwork();
  for (const node of net.nodes.slice(0, 3)) await joinNode(net, node);
  return net;
}

async function expectNode(net: Network, node: Wallet, status: NodeStatus, what: string): Promise<void> {
  expect(await net.registry.nodeStatus(node.address), `${what}: node status`).to.equal(status);
}

/**
 * Plays one row of the outcome table and checks everything: states, events, refunds, slashing, node statuses,
 * QoS records, the money invariant after every step and, for GV rows, the result upload, the fee split and the GV
 * node's QoS score (recorded only at upload).
 */
async function playRow(row: Row): Promise<{ net: Network; group: TaskGroup }> {
  const net = await networkHelpers.loadFixture(networkWithThreeNodes);
  // Same task identities in every row: the groups land on the same nodes, so the rows share their proofs.
  resetTaskSequences();
  const tm = net.taskManager;
  const registry = net.registry;
  const [app] = net.apps;
  const qos = row.qos ?? [0, 0, 0];
  const args = row.args ?? [0, 1, 2];
  // A member aborted while Started is the application's no-show: its node keeps noShowShare of the fee (§13.3).
  const noShow = (i: number) => {
    const plan = row.members[i];
    return plan.kind === "abort" && plan.from === TaskStatus.Started
      ? (F[i] * DEFAULT_TASK_PARAMETERS.noShowShare) / 10_000n
      : 0n;
  };

  // Creation: three tasks, each on its own node (three nodes, a node holds one task at a time).
  const group = await createGroup(net, app, F, row.gaps);
  const m = group.members;
  expect(new Set(m.map((x) => x.node.address)).size, "three distinct nodes").to.equal(3);
  for (const [i, x] of m.entries()) {
    expect(await tm.taskStatus(x.commitment), `member ${i} status`).to.equal(TaskStatus.Started);
    await expectNode(net, x.node, NodeStatus.Busy, `member ${i}`);
  }
  expect(isSampled(verifyVRF(proveVRF(app.privateKey, m[0].seed)))).to.equal(true);
  await expectSolvent(net);

  // Parameters: every member except those that will be aborted while still Started.
  for (const [i, x] of m.entries()) {
    const plan = row.members[i];
    if (plan.kind === "abort" && plan.from === TaskStatus.Started) continue;
    await uploadParameters(net, app, x.commitment);
    expect(await tm.taskStatus(x.commitment)).to.equal(TaskStatus.ParametersUploaded);
    await expectSolvent(net);
  }

  // Scores and errors, in the row's order.
  const reporting = [0, 1, 2].filter((i) => row.members[i].kind !== "abort");
  const order = row.reportOrder ?? reporting;
  expect([...order].sort(), "reportOrder lists the reporting members").to.deep.equal(reporting);
  for (const i of order) {
    const x = m[i];
    const plan = row.members[i];
    if (row.equalDuration !== undefined) {
      const { uploadedAt } = await tm.getTask(x.commitment); // speed runs from the upload (§13.7)
      await time.setNextBlockTimestamp(uploadedAt + BigInt(row.equalDuration));
    } else {
      await time.increase(REPORT_GAP);
    }
    if (plan.kind === "score") {
      await expect(tm.connect(x.node).submitTaskScore(x.commitment, plan.score))
        .to.emit(tm, "TaskScoreReady")
        .withArgs(x.commitment, x.node.address, plan.score);
      expect(await tm.taskStatus(x.commitment)).to.equal(TaskStatus.ScoreReady);
    } else {
      await expect(tm.connect(x.node).reportTaskError(x.commitment, TaskError.ParametersValidationFailed))
        .to.emit(tm, "TaskErrorReported")
        .withArgs(x.commitment, x.node.address, TaskError.ParametersValidationFailed);
      expect(await tm.taskStatus(x.commitment)).to.equal(TaskStatus.ErrorReported);
    }
    await expectSolvent(net);
  }

  // Aborts after a node took the task: past the execution deadline, by anyone (here a stranger).
  const preAborted = [0, 1, 2].filter((i) => row.members[i].kind === "abort");
  let refunded = 0n;
  if (preAborted.length > 0) {
    let deadline = 0n;
    for (const i of preAborted) {
      const d = await tm.deadlineOf(m[i].commitment);
      if (d > deadline) deadline = d;
    }
    if (BigInt(await time.latest()) < deadline) await time.increaseTo(deadline);
    for (const i of preAborted) {
      const x = m[i];
      const plan = row.members[i] as Extract<Plan, { kind: "abort" }>;
      const tx = await tm.connect(net.stranger).abortTask(x.commitment);
      await expect(tx)
        .to.emit(tm, "TaskAborted")
        .withArgs(x.commitment, net.stranger.address, plan.from, TaskAbortReason.Timeout);
      await expect(tx)
        .to.emit(tm, "TaskFeeRefunded")
        .withArgs(x.commitment, app.address, x.fee - noShow(i));
      refunded += x.fee - noShow(i);
      expect(await tm.taskStatus(x.commitment)).to.equal(TaskStatus.EndAborted);
      expect(await tm.withdrawable(app.address)).to.equal(refunded);
      await expectNode(net, x.node, NodeStatus.Available, `aborted member ${i}`);
      await expectSolvent(net);
    }
  }
  // The members that did their part are still within their own (validation) deadlines.
  const now = BigInt(await time.latest());
  for (const i of reporting) {
    const deadline = await tm.deadlineOf(m[i].commitment);
    expect(deadline > now, `member ${i} deadline ${deadline} not passed at ${now}`).to.equal(true);
  }

  // Validation.
  const ids = args.map((i) => m[i].commitment) as Triple<string>;
  const tx = await tm
    .connect(app)
    .validateTaskGroup(
      ids[0],
      ids[1],
      ids[2],
      group.taskGUID,
      samplingProof(app, m[0].seed),
      await paramsProof(net, ids),
    );
  const receipt = (await tx.wait())!;

  const expectedKeys: string[] = [];
  for (const [i, x] of m.entries()) {
    const plan = row.members[i];
    const node = x.node.address;
    switch (row.outcome[i]) {
      case "GV":
        await expect(tx).to.emit(tm, "TaskValidated").withArgs(x.commitment, node);
        expectedKeys.push(eventKey("TaskValidated", x.commitment, node));
        break;
      case "GR":
        await expect(tx).to.emit(tm, "TaskEndGroupRefund").withArgs(x.commitment, node);
        await expect(tx).to.emit(tm, "TaskFeeRefunded").withArgs(x.commitment, app.address, x.fee);
        expectedKeys.push(eventKey("TaskEndGroupRefund", x.commitment, node));
        expectedKeys.push(eventKey("TaskFeeRefunded", x.commitment, app.address, x.fee));
        break;
      case "EI":
        await expect(tx).to.emit(tm, "TaskEndInvalidated").withArgs(x.commitment, node);
        await expect(tx).to.emit(tm, "TaskFeeRefunded").withArgs(x.commitment, app.address, x.fee);
        await expect(tx).to.emit(registry, "NodeSlashed").withArgs(node, x.commitment, STAKE);
        expectedKeys.push(eventKey("TaskEndInvalidated", x.commitment, node));
        expectedKeys.push(eventKey("TaskFeeRefunded", x.commitment, app.address, x.fee));
        expectedKeys.push(eventKey("NodeSlashed", node, x.commitment, STAKE));
        break;
      case "EA":
        if (plan.kind === "abort") break; // already ended: nothing happens to it now
        {
          const last = plan.kind === "score" ? TaskStatus.ScoreReady : TaskStatus.ErrorReported;
          await expect(tx)
            .to.emit(tm, "TaskAborted")
            .withArgs(x.commitment, app.address, last, TaskAbortReason.IncorrectResult);
          await expect(tx).to.emit(tm, "TaskFeeRefunded").withArgs(x.commitment, app.address, x.fee);
          expectedKeys.push(eventKey("TaskAborted", x.commitment, app.address, last, TaskAbortReason.IncorrectResult));
          expectedKeys.push(eventKey("TaskFeeRefunded", x.commitment, app.address, x.fee));
        }
        break;
    }
  }
  // Exactly these settlement events, nothing more (no second abort of an aborted member, no stray slash or pay).
  expect(await eventKeys(receipt, [tm, registry], SETTLEMENT_EVENTS), "settlement events").to.deep.equal(
    expectedKeys.sort(),
  );

  // States and records after validation.
  const gv = row.outcome.indexOf("GV");
  let slashed = 0n;
  for (const [i, x] of m.entries()) {
    const stored = await tm.getTask(x.commitment);
    const plan = row.members[i];
    expect(stored.status, `member ${i} status`).to.equal(OUTCOME_STATUS[row.outcome[i]]);
    const reason =
      row.outcome[i] !== "EA"
        ? TaskAbortReason.None
        : plan.kind === "abort"
          ? TaskAbortReason.Timeout
          : TaskAbortReason.IncorrectResult;
    expect(stored.abortReason, `member ${i} abort reason`).to.equal(reason);
    expect(stored.qosScore, `member ${i} qosScore`).to.equal(BigInt(qos[i]));

    // Registry scores: the EndGroupRefund members' nodes are scored now; the GroupValidated member's node only when
    // it uploads the result (B8: a ResultUploadTimeout earns no score), so it has none yet.
    // A fault of the node (its timeout, a slash) is a 0 in its window (DESIGN §13.7).
    const info = await registry.getNode(x.node.address);
    const scoredNow = row.outcome[i] === "GV" ? 0 : qos[i];
    // An abort while Started is the application's fault (DESIGN §13.3): no score for the node.
    const nodeFault = plan.kind === "abort" && plan.from !== TaskStatus.Started;
    const faults = nodeFault || row.outcome[i] === "EI" ? 1n : 0n;
    expect(info.scoreCount, `member ${i} node scoreCount`).to.equal((scoredNow > 0 ? 1n : 0n) + faults);
    expect(info.scoreSum, `member ${i} node scoreSum`).to.equal(BigInt(scoredNow));
    if (row.outcome[i] === "EI") {
      slashed += STAKE;
      expect(info.status, `member ${i} slashed node`).to.equal(NodeStatus.Quit);
      expect(info.stake, `member ${i} slashed node stake`).to.equal(0n);
    } else {
      expect(info.stake, `member ${i} node stake`).to.equal(STAKE);
      const status = row.outcome[i] === "GV" ? NodeStatus.Busy : NodeStatus.Available;
      expect(info.status, `member ${i} node status`).to.equal(status);
    }
    expect(await tm.withdrawable(x.node.address), `member ${i} node paid nothing yet`).to.equal(noShow(i));
  }
  const refunds = m.reduce((sum, x, i) => (row.outcome[i] === "GV" ? sum : sum + x.fee - noShow(i)), 0n);
  expect(await tm.withdrawable(app.address), "creator refunds").to.equal(refunds);
  expect(await registry.withdrawable(net.treasury.address), "treasury").to.equal(slashed);
  expect(await registry.totalStaked()).to.equal(3n * STAKE - slashed);
  expect(await tm.totalEscrowed()).to.equal(gv >= 0 ? m[gv].fee : 0n);
  await expectSolvent(net);

  // Result upload by the GV node: fee split among the agreeing nodes by QoS.
  if (gv < 0) {
    expect(row.pay, "no payout without a GV member").to.equal(undefined);
    return { net, group };
  }
  const winner = m[gv];
  const pay = row.pay!;
  expect(pay, "pay follows _payGroup's split of the GV fee").to.deep.equal(groupShares(winner.fee, qos, gv));
  expect(pay.reduce((s, p) => s + p, 0n)).to.equal(winner.fee);

  const resultHash = await uploadResult(net, winner.node, winner.commitment);
  const block = (await ethers.provider.getBlock("latest"))!;
  expect(block.transactions.length).to.equal(1);
  const uploadTx = (await ethers.provider.getTransaction(block.transactions[0]))!;
  const uploadReceipt = (await ethers.provider.getTransactionReceipt(uploadTx.hash))!;
  await expect(uploadTx).to.emit(tm, "TaskSuccess").withArgs(winner.commitment, resultHash);
  await expect(uploadTx).to.emit(tm, "TaskEndGroupSuccess").withArgs(winner.commitment, winner.node.address);
  const payKeys = [
    eventKey("TaskSuccess", winner.commitment, resultHash),
    eventKey("TaskEndGroupSuccess", winner.commitment, winner.node.address),
  ];
  for (const [i, x] of m.entries()) {
    if (pay[i] === 0n) continue;
    await expect(uploadTx).to.emit(tm, "TaskFeePaid").withArgs(winner.commitment, x.node.address, pay[i]);
    payKeys.push(eventKey("TaskFeePaid", winner.commitment, x.node.address, pay[i]));
  }
  expect(await eventKeys(uploadReceipt, [tm, registry], SETTLEMENT_EVENTS), "upload events").to.deep.equal(
    payKeys.sort(),
  );

  const stored = await tm.getTask(winner.commitment);
  expect(stored.status).to.equal(TaskStatus.EndGroupSuccess);
  expect(stored.resultHash).to.equal(resultHash);
  for (const [i, x] of m.entries()) {
    const expected = row.outcome[i] === "EI" ? 0n : pay[i] + noShow(i);
    expect(await tm.withdrawable(x.node.address), `member ${i} node payout`).to.equal(expected);
    // Now every agreeing member's node holds its QoS score (the GV node's recorded by this upload), the others none
    // but the 0 of a fault (a timeout, a slash: DESIGN §13.7).
    const info = await registry.getNode(x.node.address);
    const plan = row.members[i];
    const nodeFault = plan.kind === "abort" && plan.from !== TaskStatus.Started; // Started: the app's fault
    const faults = nodeFault || row.outcome[i] === "EI" ? 1n : 0n;
    expect(info.scoreCount, `member ${i} node scoreCount after upload`).to.equal((qos[i] > 0 ? 1n : 0n) + faults);
    expect(info.scoreSum, `member ${i} node scoreSum after upload`).to.equal(BigInt(qos[i]));
    if (row.outcome[i] !== "EI") await expectNode(net, x.node, NodeStatus.Available, `member ${i} after upload`);
  }
  expect(await tm.withdrawable(app.address), "creator refunds unchanged").to.equal(refunds);
  expect(await tm.totalEscrowed()).to.equal(0n);
  await expectSolvent(net);
  return { net, group };
}

describe("integration: group validation (DESIGN §5)", function () {
  it("test scores: A matches A', and A, B, C match nothing else", async function () {
    const net = await networkHelpers.loadFixture(networkWithThreeNodes);
    const match = (a: string, b: string) => net.taskManager.scoresMatch(TaskType.SD, a, b);
    expect(await match(SCORE_A, SCORE_A_NEAR)).to.equal(true);
    for (const [a, b] of [
      [SCORE_A, SCORE_B],
      [SCORE_A, SCORE_C],
      [SCORE_B, SCORE_C],
      [SCORE_A_NEAR, SCORE_B],
      [SCORE_A_NEAR, SCORE_C],
    ]) {
      expect(await match(a, b), `${a} vs ${b}`).to.equal(false);
    }
  });

  describe("outcome table", function () {
    it("AAA → GV, GR, GR", async function () {
      // Speed order c3, c1, c2 (not argument order): c3 10, c1 5, c2 2; c1 (the original) is validated.
      const fee = F[0];
      await playRow({
        members: [A, A2, A],
        reportOrder: [2, 0, 1],
        outcome: ["GV", "GR", "GR"],
        qos: [5, 2, 10],
        pay: [fee - (fee * 10n) / 17n - (fee * 2n) / 17n, (fee * 2n) / 17n, (fee * 10n) / 17n],
      });
    });

    it("AAB → GV, GR, EI (the odd member is the original; speed differs from submission order)", async function () {
      // c3 starts 300 s after c2, but speed runs from the parameter upload (DESIGN §13.7), and both are uploaded
      // together after c3's start: c2, which submits first, is faster: c2 10, c3 5. c2 is the earliest agreeing
      // member, so it is validated although c1 is the original.
      const fee = F[1];
      await playRow({
        members: [B, A, A2],
        gaps: [0, 300],
        reportOrder: [0, 1, 2],
        outcome: ["EI", "GV", "GR"],
        qos: [0, 10, 5],
        pay: [0n, fee - (fee * 5n) / 15n, (fee * 5n) / 15n],
      });
    });

    it("ABC → EA, EA, EA", async function () {
      await playRow({ members: [A, B, C], reportOrder: [1, 2, 0], outcome: ["EA", "EA", "EA"] });
    });

    it("AA+ER → GV, GR, EI (the error is in the middle)", async function () {
      const fee = F[0];
      await playRow({
        members: [A, ER, A2],
        reportOrder: [1, 2, 0],
        outcome: ["GV", "EI", "GR"],
        qos: [5, 0, 10],
        pay: [fee - (fee * 10n) / 15n, 0n, (fee * 10n) / 15n],
      });
    });

    it("AB+ER → EA, EA, EA (the error is the original)", async function () {
      await playRow({ members: [ER, A, B], outcome: ["EA", "EA", "EA"] });
    });

    it("AA+EA → GV, GR, EA (the original was aborted after its node took it)", async function () {
      // c1 timed out while Started; c2 (earliest agreeing) is validated; c3 was faster: c3 10, c2 5.
      const fee = F[1];
      await playRow({
        members: [EA, A, A2],
        reportOrder: [2, 1],
        outcome: ["EA", "GV", "GR"],
        qos: [0, 5, 10],
        pay: [0n, fee - (fee * 10n) / 15n, (fee * 10n) / 15n],
      });
    });

    it("AB+EA → EA, EA, EA (aborted member in the middle, after parameter upload)", async function () {
      await playRow({ members: [A, EAP, B], outcome: ["EA", "EA", "EA"] });
    });

    it("A,ER,ER → EI, EA, EA (the scored member is in the middle)", async function () {
      await playRow({ members: [ER, A, ER], reportOrder: [2, 0, 1], outcome: ["EA", "EI", "EA"] });
    });

    it("A,ER,EA → EA, EA, EA (aborted member last)", async function () {
      await playRow({ members: [ER, A, EA], outcome: ["EA", "EA", "EA"] });
    });

    it("A,EA,EA → EA, EA, EA (the original is aborted)", async function () {
      await playRow({ members: [EA, A, EAP], outcome: ["EA", "EA", "EA"] });
    });

    it("ER,ER,ER → EA, EA, EA", async function () {
      // B4: three errors must not make any member EndGroupRefund.
      await playRow({ members: [ER, ER, ER], reportOrder: [2, 1, 0], outcome: ["EA", "EA", "EA"] });
    });

    it("ER,ER,EA → EA, EA, EA (aborted member in the middle)", async function () {
      await playRow({ members: [ER, EAP, ER], outcome: ["EA", "EA", "EA"] });
    });

    it("ER,EA,EA → EA, EA, EA (the original and c2 aborted)", async function () {
      await playRow({ members: [EAP, EA, ER], outcome: ["EA", "EA", "EA"] });
    });

    it("EA,EA,EA → EA, EA, EA", async function () {
      await playRow({ members: [EA, EAP, EA], outcome: ["EA", "EA", "EA"] });
    });
  });

  describe("QoS ranking", function () {
    it("ties in speed go by submission order, not by argument order", async function () {
      // Every member reports exactly 200 s after its upload, so c1, c2, c3 submit in that order with equal speed:
      // c1 10, c2 5, c3 2. (The argument order is now fixed by each member's k, DESIGN §13.2, so it cannot rank.)
      const fee = F[0];
      await playRow({
        members: [A, A, A2],
        equalDuration: 200,
        outcome: ["GV", "GR", "GR"],
        qos: [10, 5, 2],
        pay: [fee - (fee * 5n) / 17n - (fee * 2n) / 17n, (fee * 5n) / 17n, (fee * 2n) / 17n],
      });
    });
  });

  describe("guards of validateTaskGroup", function () {
    /** Six nodes; a sampled group whose three members all reported score A. */
    async function scoredGroup() {
      const net = await deployNetwork();
      for (const node of net.nodes.slice(0, 6)) await joinNode(net, node);
      const [app] = net.apps;
      const group = await createGroup(net, app, [FEE, FEE, FEE]);
      for (const x of group.members) {
        await uploadParameters(net, app, x.commitment);
        await (await net.taskManager.connect(x.node).submitTaskScore(x.commitment, SCORE_A)).wait();
      }
      return { net, app, group };
    }

    /** The group is untouched: all ScoreReady, fees escrowed, nothing refunded or slashed. */
    async function expectUnchanged(net: Network, group: TaskGroup): Promise<void> {
      for (const x of group.members) {
        expect(await net.taskManager.taskStatus(x.commitment)).to.equal(TaskStatus.ScoreReady);
        expect(await net.registry.nodeStatus(x.node.address)).to.equal(NodeStatus.Busy);
        expect((await net.taskManager.getTask(x.commitment)).qosScore).to.equal(0n);
      }
      expect(await net.taskManager.withdrawable(net.apps[0].address)).to.equal(0n);
      expect(await net.registry.withdrawable(net.treasury.address)).to.equal(0n);
      await expectSolvent(net);
    }

    it("TaskGroupDuplicateMember", async function () {
      const { net, app, group } = await networkHelpers.loadFixture(scoredGroup);
      const tm = net.taskManager;
      const [c1, c2, c3] = group.members.map((x) => x.commitment);
      const proof = samplingProof(app, group.members[0].seed);
      for (const [ids, dup] of [
        [[c1, c1, c3], c1],
        [[c1, c2, c1], c1],
        [[c1, c2, c2], c2],
      ] as const) {
        await expect(
          tm.connect(app).validateTaskGroup(ids[0], ids[1], ids[2], group.taskGUID, proof, ...NO_PARAMS_PROOF),
        )
          .to.be.revertedWithCustomError(tm, "TaskGroupDuplicateMember")
          .withArgs(dup);
      }
      await expectUnchanged(net, group);
    });

    it("TaskGroupCommitmentMismatch (wrong GUID, or a member of another GUID)", async function () {
      const { net, app, group } = await networkHelpers.loadFixture(scoredGroup);
      const tm = net.taskManager;
      const [c1, c2, c3] = group.members.map((x) => x.commitment);
      const proof = samplingProof(app, group.members[0].seed);
      const wrongGUID = keccak256(toUtf8Bytes("not the group's GUID"));
      await expect(tm.connect(app).validateTaskGroup(c1, c2, c3, wrongGUID, proof, ...NO_PARAMS_PROOF))
        .to.be.revertedWithCustomError(tm, "TaskGroupCommitmentMismatch")
        .withArgs(c1, wrongGUID);
      const stranger = await createTask(net, app); // same creator, its own GUID
      await expect(
        tm.connect(app).validateTaskGroup(c1, c2, stranger.commitment, group.taskGUID, proof, ...NO_PARAMS_PROOF),
      )
        .to.be.revertedWithCustomError(tm, "TaskGroupCommitmentMismatch")
        .withArgs(stranger.commitment, group.taskGUID);
      expect(await tm.taskStatus(stranger.commitment)).to.equal(TaskStatus.Started);
      await expectUnchanged(net, group);
    });

    it("TaskGroupCreatorMismatch (a member with the same GUID created by another app)", async function () {
      const { net, app, group } = await networkHelpers.loadFixture(scoredGroup);
      const tm = net.taskManager;
      const [c1, c2] = group.members.map((x) => x.commitment);
      const proof = samplingProof(app, group.members[0].seed);
      const other = net.apps[1];
      const foreign = await createTask(net, other, { taskGUID: group.taskGUID });
      await uploadParameters(net, other, foreign.commitment);
      const node = (await tm.getTask(foreign.commitment)).selectedNode;
      await (
        await tm.connect(net.nodes.find((n) => n.address === node)!).submitTaskScore(foreign.commitment, SCORE_A)
      ).wait();
      await expect(
        tm.connect(app).validateTaskGroup(c1, c2, foreign.commitment, group.taskGUID, proof, ...NO_PARAMS_PROOF),
      )
        .to.be.revertedWithCustomError(tm, "TaskGroupCreatorMismatch")
        .withArgs(foreign.commitment, other.address, app.address);
      expect(await tm.taskStatus(foreign.commitment)).to.equal(TaskStatus.ScoreReady);
      await expectUnchanged(net, group);
    });

    it("TaskGroupNonceMismatch (a member out of its position k; DESIGN §13.2)", async function () {
      const { net, app, group } = await networkHelpers.loadFixture(scoredGroup);
      const tm = net.taskManager;
      const [c1, c2, c3] = group.members.map((x) => x.commitment);
      const proof = samplingProof(app, group.members[0].seed);
      await expect(tm.connect(app).validateTaskGroup(c2, c1, c3, group.taskGUID, proof, ...NO_PARAMS_PROOF))
        .to.be.revertedWithCustomError(tm, "TaskGroupNonceMismatch")
        .withArgs(c2, 0);
      await expect(tm.connect(app).validateTaskGroup(c1, c3, c2, group.taskGUID, proof, ...NO_PARAMS_PROOF))
        .to.be.revertedWithCustomError(tm, "TaskGroupNonceMismatch")
        .withArgs(c3, 1);
      await expectUnchanged(net, group);
    });

    it("TaskNotSampled (the original's VRF says not sampled)", async function () {
      const { net, app, group } = await networkHelpers.loadFixture(scoredGroup);
      const tm = net.taskManager;
      const original = await createTask(net, app, { sampled: false });
      const others = [
        await createTask(net, app, { taskGUID: original.taskGUID }),
        await createTask(net, app, { taskGUID: original.taskGUID }),
      ];
      const all = [original, ...others];
      for (const t of all) {
        await uploadParameters(net, app, t.commitment);
        const node = (await tm.getTask(t.commitment)).selectedNode;
        await (
          await tm.connect(net.nodes.find((n) => n.address === node)!).submitTaskScore(t.commitment, SCORE_A)
        ).wait();
      }
      const number = verifyVRF(proveVRF(app.privateKey, original.seed));
      expect(isSampled(number)).to.equal(false);
      await expect(
        tm
          .connect(app)
          .validateTaskGroup(
            original.commitment,
            others[0].commitment,
            others[1].commitment,
            original.taskGUID,
            samplingProof(app, original.seed),
            ...NO_PARAMS_PROOF,
          ),
      )
        .to.be.revertedWithCustomError(tm, "TaskNotSampled")
        .withArgs(original.commitment, number);
      for (const t of all) expect(await tm.taskStatus(t.commitment)).to.equal(TaskStatus.ScoreReady);
      await expectUnchanged(net, group);
    });

    it("TaskNotCreator (another app or a stranger)", async function () {
      const { net, app, group } = await networkHelpers.loadFixture(scoredGroup);
      const tm = net.taskManager;
      const [c1, c2, c3] = group.members.map((x) => x.commitment);
      const proof = samplingProof(app, group.members[0].seed);
      for (const caller of [net.apps[1], net.stranger, group.members[0].node]) {
        await expect(tm.connect(caller).validateTaskGroup(c1, c2, c3, group.taskGUID, proof, ...NO_PARAMS_PROOF))
          .to.be.revertedWithCustomError(tm, "TaskNotCreator")
          .withArgs(c1, caller.address, app.address);
      }
      await expectUnchanged(net, group);
    });

    it("TaskInvalidState (a member still Started or ParametersUploaded; a group validated twice)", async function () {
      const { net, app, group } = await networkHelpers.loadFixture(scoredGroup);
      const tm = net.taskManager;
      const [c1, c2, c3] = group.members.map((x) => x.commitment);
      const proof = samplingProof(app, group.members[0].seed);
      // A second group on the three free nodes whose member 2 has not reported yet.
      const o = await createTask(net, app, { sampled: true });
      const s1 = await createTask(net, app, { taskGUID: o.taskGUID, k: 1 });
      const late = await createTask(net, app, { taskGUID: o.taskGUID, k: 2 });
      for (const t of [o, s1]) {
        await uploadParameters(net, app, t.commitment);
        await (await tm.connect(await selectedNode(net, t.commitment)).submitTaskScore(t.commitment, SCORE_A)).wait();
      }
      const oProof = samplingProof(app, o.seed);
      const ids = [o.commitment, s1.commitment, late.commitment] as const;
      await expect(tm.connect(app).validateTaskGroup(...ids, o.taskGUID, oProof, ...NO_PARAMS_PROOF))
        .to.be.revertedWithCustomError(tm, "TaskInvalidState")
        .withArgs(late.commitment, TaskStatus.Started);
      await uploadParameters(net, app, late.commitment);
      await expect(tm.connect(app).validateTaskGroup(...ids, o.taskGUID, oProof, ...NO_PARAMS_PROOF))
        .to.be.revertedWithCustomError(tm, "TaskInvalidState")
        .withArgs(late.commitment, TaskStatus.ParametersUploaded);
      expect(await tm.taskStatus(late.commitment)).to.equal(TaskStatus.ParametersUploaded);
      await expectUnchanged(net, group);

      // The right call goes through once; a second one finds the original GroupValidated.
      await (
        await tm.connect(app).validateTaskGroup(c1, c2, c3, group.taskGUID, proof, await paramsProof(net, [c1, c2, c3]))
      ).wait();
      expect(await tm.taskStatus(c1)).to.equal(TaskStatus.GroupValidated);
      await expect(tm.connect(app).validateTaskGroup(c1, c2, c3, group.taskGUID, proof, ...NO_PARAMS_PROOF))
        .to.be.revertedWithCustomError(tm, "TaskInvalidState")
        .withArgs(c1, TaskStatus.GroupValidated);
      expect(await tm.taskStatus(c1)).to.equal(TaskStatus.GroupValidated);
      expect(await tm.taskStatus(c2)).to.equal(TaskStatus.EndGroupRefund);
      await expectSolvent(net);
    });

    it("TaskSamplingSeedMismatch (a proof over another member's seed)", async function () {
      const { net, app, group } = await networkHelpers.loadFixture(scoredGroup);
      const tm = net.taskManager;
      const [m1, m2, m3] = group.members;
      await expect(
        tm
          .connect(app)
          .validateTaskGroup(
            m1.commitment,
            m2.commitment,
            m3.commitment,
            group.taskGUID,
            samplingProof(app, m2.seed),
            ...NO_PARAMS_PROOF,
          ),
      )
        .to.be.revertedWithCustomError(tm, "TaskSamplingSeedMismatch")
        .withArgs(m1.commitment, m1.seed, BigInt(m2.seed));
      await expectUnchanged(net, group);
    });

    it("TaskSamplingKeyNotCreator (another app's key over the right seed)", async function () {
      const { net, app, group } = await networkHelpers.loadFixture(scoredGroup);
      const tm = net.taskManager;
      const [m1, m2, m3] = group.members;
      const other = net.apps[1];
      await expect(
        tm
          .connect(app)
          .validateTaskGroup(
            m1.commitment,
            m2.commitment,
            m3.commitment,
            group.taskGUID,
            samplingProof(other, m1.seed),
            ...NO_PARAMS_PROOF,
          ),
      )
        .to.be.revertedWithCustomError(tm, "TaskSamplingKeyNotCreator")
        .withArgs(m1.commitment, other.address, app.address);
      await expectUnchanged(net, group);
    });

    it("TaskSamplingProofInvalid (tampered c, s or gamma)", async function () {
      const { net, app, group } = await networkHelpers.loadFixture(scoredGroup);
      const tm = net.taskManager;
      const [m1, m2, m3] = group.members;
      const proof = samplingProof(app, m1.seed);
      const tampered = [
        { ...proof, c: proof.c + 1n },
        { ...proof, s: proof.s + 1n },
        // The curve point's mirror image: still on the curve, so only the proof check can catch it.
        { ...proof, gamma: [proof.gamma[0], FIELD_SIZE - proof.gamma[1]] as [bigint, bigint] },
      ];
      for (const bad of tampered) {
        await expect(
          tm
            .connect(app)
            .validateTaskGroup(m1.commitment, m2.commitment, m3.commitment, group.taskGUID, bad, ...NO_PARAMS_PROOF),
        )
          .to.be.revertedWithCustomError(tm, "TaskSamplingProofInvalid")
          .withArgs(m1.commitment);
      }
      await expectUnchanged(net, group);
    });

    it("validateSingleTask on a sampled task reverts TaskSampled", async function () {
      const { net, app, group } = await networkHelpers.loadFixture(scoredGroup);
      const tm = net.taskManager;
      const m1 = group.members[0];
      const number = verifyVRF(proveVRF(app.privateKey, m1.seed));
      expect(isSampled(number)).to.equal(true);
      await expect(tm.connect(app).validateSingleTask(m1.commitment, samplingProof(app, m1.seed)))
        .to.be.revertedWithCustomError(tm, "TaskSampled")
        .withArgs(m1.commitment, number);
      await expectUnchanged(net, group);
    });
  });
});
