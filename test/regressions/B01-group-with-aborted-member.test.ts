/**
 * B1 (DESIGN §11): the reference implementation reverted group validation when a member had been aborted after a
 * node took it. Every row of the outcome table with an aborted (EA) member must validate, including when the
 * aborted member is the original task, and the aborted member stays aborted with its refund.
 */
import { expect } from "chai";
import {
  FEE,
  SCORE_A,
  SCORE_A_NEAR,
  SCORE_B,
  deployNetwork,
  ethers,
  expectSolvent,
  joinNode,
  networkHelpers,
  uploadParameters,
  uploadResult,
  type Network,
} from "../helpers/fixture.js";
import { at, createGroup, playMember, validateGroup, type MemberOutcome } from "../helpers/actors.js";
import { NodeStatus, TaskAbortReason, TaskStatus } from "../../src/types.js";
import { DEFAULT_TASK_PARAMETERS } from "../../src/config.js";

/** A member's fate before validation: a score, an error, or aborted (Timeout) after its node took it. */
type Fate = MemberOutcome | "abort-started" | "abort-uploaded";

const GV = TaskStatus.GroupValidated;
const GR = TaskStatus.EndGroupRefund;
const EA = TaskStatus.EndAborted;

const ROWS: Array<{ name: string; fates: [Fate, Fate, Fate]; outcome: [TaskStatus, TaskStatus, TaskStatus] }> = [
  { name: "AA+EA", fates: [SCORE_A, SCORE_A_NEAR, "abort-started"], outcome: [GV, GR, EA] },
  {
    name: "AA+EA (aborted after the parameters were uploaded)",
    fates: [SCORE_A, SCORE_A, "abort-uploaded"],
    outcome: [GV, GR, EA],
  },
  {
    name: "EA+AA (the original task is the aborted one)",
    fates: ["abort-started", SCORE_A, SCORE_A],
    outcome: [EA, GV, GR],
  },
  { name: "AB+EA", fates: [SCORE_A, SCORE_B, "abort-started"], outcome: [EA, EA, EA] },
  { name: "A,ER,EA", fates: [SCORE_A, "error", "abort-uploaded"], outcome: [EA, EA, EA] },
  { name: "A,EA,EA", fates: [SCORE_A, "abort-started", "abort-uploaded"], outcome: [EA, EA, EA] },
  { name: "ER,ER,EA", fates: ["error", "error", "abort-started"], outcome: [EA, EA, EA] },
  { name: "ER,EA,EA", fates: ["error", "abort-started", "abort-started"], outcome: [EA, EA, EA] },
  { name: "EA,EA,EA", fates: ["abort-started", "abort-uploaded", "abort-started"], outcome: [EA, EA, EA] },
];

/** What the node of a member aborted in Started is credited (DESIGN §13.3). */
const NO_SHOW = (FEE * DEFAULT_TASK_PARAMETERS.noShowShare) / 10_000n;

describe("regression B1: group validation with a member aborted after a node took it", function () {
  async function networkWithThreeNodes(): Promise<Network> {
    const net = await deployNetwork();
    for (const node of net.nodes.slice(0, 3)) await joinNode(net, node);
    return net;
  }

  for (const row of ROWS) {
    it(`${row.name} validates to ${row.outcome.map((s) => TaskStatus[s]).join(", ")}`, async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app] = net.apps;
      const group = await createGroup(net, app);

      // Scores and errors first, then every aborted member times out after its node took it.
      const aborted: number[] = [];
      for (let i = 0; i < 3; ++i) {
        const fate = row.fates[i];
        if (fate === "abort-started") aborted.push(i);
        else if (fate === "abort-uploaded") {
          await uploadParameters(net, app, group.commitments[i]);
          aborted.push(i);
        } else await playMember(net, app, group, i, fate);
      }
      let latest = 0n;
      for (const i of aborted) {
        const deadline = await tm.deadlineOf(group.commitments[i]);
        if (deadline > latest) latest = deadline;
      }
      for (const i of aborted) {
        await at(latest + BigInt(i));
        await expect(tm.connect(net.stranger).abortTask(group.commitments[i]))
          .to.emit(tm, "TaskAborted")
          .withArgs(
            group.commitments[i],
            net.stranger.address,
            row.fates[i] === "abort-started" ? TaskStatus.Started : TaskStatus.ParametersUploaded,
            TaskAbortReason.Timeout,
          );
      }

      // The reference reverted here.
      await expect(validateGroup(net, app, group)).not.to.revert(ethers);

      for (let i = 0; i < 3; ++i) {
        const stored = await tm.getTask(group.commitments[i]);
        expect(stored.status, `member ${i}`).to.equal(row.outcome[i]);
        if (aborted.includes(i)) expect(stored.abortReason, `member ${i}`).to.equal(TaskAbortReason.Timeout);
        else if (row.outcome[i] === EA)
          expect(stored.abortReason, `member ${i}`).to.equal(TaskAbortReason.IncorrectResult);
      }

      // Every fee but the GroupValidated one is back with the application, except what a member aborted before its
      // parameters were uploaded paid its node (the application's no-show, DESIGN §13.3).
      const gv = row.outcome.indexOf(GV);
      const noShow = (i: number) => (row.fates[i] === "abort-started" ? NO_SHOW : 0n);
      const noShows = noShow(0) + noShow(1) + noShow(2);
      expect(await tm.withdrawable(app.address)).to.equal((gv === -1 ? 3n * FEE : 2n * FEE) - noShows);
      for (let i = 0; i < 3; ++i) expect(await tm.withdrawable(group.nodes[i].address)).to.equal(noShow(i));
      for (let i = 0; i < 3; ++i) {
        const status = await net.registry.nodeStatus(group.nodes[i].address);
        expect(status, `node of member ${i}`).to.equal(i === gv ? NodeStatus.Busy : NodeStatus.Available);
      }
      await expectSolvent(net);

      if (gv !== -1) {
        // The group completes: the result is uploaded and the fee split among the agreeing nodes only.
        await uploadResult(net, group.nodes[gv], group.commitments[gv]);
        expect(await tm.taskStatus(group.commitments[gv])).to.equal(TaskStatus.EndGroupSuccess);
        let paid = 0n;
        for (let i = 0; i < 3; ++i) {
          const earned = await tm.withdrawable(group.nodes[i].address);
          if (aborted.includes(i)) expect(earned, `aborted member ${i}`).to.equal(noShow(i));
          else expect(earned, `agreeing member ${i}`).to.be.greaterThan(0n);
          paid += earned;
        }
        expect(paid).to.equal(FEE + noShows);
        expect(await tm.totalEscrowed()).to.equal(0n);
        await expectSolvent(net);
      }
    });
  }
});
