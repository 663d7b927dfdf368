/**
 * B3 (DESIGN §11): the reference implementation gave the QoS task scores (10/5/2) of a validated group by the order
 * of `validateTaskGroup`'s arguments. They must go by submission speed: score-ready time minus start time.
 *
 * The three members are timed so that speed, argument order and submission order all disagree:
 *
 * | member | started | score at | speed | argument | submitted |
 * |---|---|---|---|---|---|
 * | c0 (original) | t0 | t0 + 300 | 300 s (3rd) | 1st | 2nd |
 * | c1 | t0 + 10 | t0 + 210 | 200 s (2nd) | 2nd (or 3rd) | 1st |
 * | c2 | t0 + 400 | t0 + 500 | 100 s (1st) | 3rd (or 2nd) | 3rd |
 */
import { expect } from "chai";
import {
  FEE,
  SCORE_A,
  SCORE_A_NEAR,
  createTask,
  deployNetwork,
  expectSolvent,
  joinNode,
  networkHelpers,
  paramsProof,
  samplingProof,
  selectedNode,
  uploadParameters,
  uploadResult,
  NO_PARAMS_PROOF,
  type CreatedTask,
  type Network,
} from "../helpers/fixture.js";
import { at, latestTimestamp } from "../helpers/actors.js";
import { TaskStatus } from "../../src/types.js";

describe("regression B3: QoS task scores by speed, not by argument order", function () {
  async function networkWithThreeNodes(): Promise<Network> {
    const net = await deployNetwork();
    for (const node of net.nodes.slice(0, 3)) await joinNode(net, node);
    return net;
  }

  // Argument order is now fixed by each member's k (DESIGN §13.2), so it cannot pick the ranking either: (c0, c2, c1)
  // is refused.
  for (const order of [[0, 1, 2]] as const) {
    it(`ranks c2 (fastest) 10, c1 5, c0 (slowest) 2 with arguments (c${order.join(", c")})`, async function () {
      const net = await networkHelpers.loadFixture(networkWithThreeNodes);
      const tm = net.taskManager;
      const [app] = net.apps;
      const t0 = (await latestTimestamp()) + 10n;

      await at(t0);
      const c0 = await createTask(net, app, { sampled: true });
      await at(t0 + 10n);
      const c1 = await createTask(net, app, { taskGUID: c0.taskGUID, k: 1 });
      await uploadParameters(net, app, c0.commitment);
      await uploadParameters(net, app, c1.commitment);
      const tasks: CreatedTask[] = [c0, c1];
      const nodes = [await selectedNode(net, c0.commitment), await selectedNode(net, c1.commitment)];

      await at(t0 + 210n);
      await (await tm.connect(nodes[1]).submitTaskScore(c1.commitment, SCORE_A_NEAR)).wait();
      await at(t0 + 300n);
      await (await tm.connect(nodes[0]).submitTaskScore(c0.commitment, SCORE_A)).wait();

      await at(t0 + 400n);
      const c2 = await createTask(net, app, { taskGUID: c0.taskGUID, k: 2 });
      tasks.push(c2);
      nodes.push(await selectedNode(net, c2.commitment));
      await uploadParameters(net, app, c2.commitment);
      await at(t0 + 500n);
      await (await tm.connect(nodes[2]).submitTaskScore(c2.commitment, SCORE_A)).wait();

      const speeds = await Promise.all(
        tasks.map(async (t) => {
          const stored = await tm.getTask(t.commitment);
          return stored.scoreReadyAt - stored.uploadedAt; // from the parameter upload (DESIGN §13.7)
        }),
      );
      expect(speeds[2] < speeds[1] && speeds[1] < speeds[0], `speeds ${speeds.join(", ")}`).to.equal(true);

      const swapped = [c0.commitment, c2.commitment, c1.commitment] as const;
      await expect(
        tm.connect(app).validateTaskGroup(...swapped, c0.taskGUID, samplingProof(app, c0.seed), ...NO_PARAMS_PROOF),
      )
        .to.be.revertedWithCustomError(tm, "TaskGroupNonceMismatch")
        .withArgs(c2.commitment, 1);

      const ids = order.map((i) => tasks[i].commitment) as [string, string, string];
      const proof = await paramsProof(net, ids);
      await (await tm.connect(app).validateTaskGroup(...ids, c0.taskGUID, samplingProof(app, c0.seed), proof)).wait();

      // Every member's task holds its QoS score now; in the registry only the EndGroupRefund members' nodes (c1, c2)
      // are scored at validation, the validated member's node (c0) when it uploads the result (B8).
      const expected = [2n, 5n, 10n];
      const expectNodeScore = async (i: number, count: bigint, sum: bigint, when: string) => {
        const info = await net.registry.getNode(nodes[i].address);
        expect(info.scoreCount, `scoreCount of c${i}'s node ${when}`).to.equal(count);
        expect(info.scoreSum, `scoreSum of c${i}'s node ${when}`).to.equal(sum);
      };
      for (let i = 0; i < 3; ++i) {
        expect((await tm.getTask(tasks[i].commitment)).qosScore, `qosScore of c${i}`).to.equal(expected[i]);
        if (i === 0) await expectNodeScore(i, 0n, 0n, "after validation");
        else await expectNodeScore(i, 1n, expected[i], "after validation");
      }
      expect(await tm.taskStatus(c0.commitment)).to.equal(TaskStatus.GroupValidated);

      // The fee of the validated task is split 2 : 5 : 10 (the validated node takes the rounding remainder).
      await uploadResult(net, nodes[0], c0.commitment);
      for (let i = 0; i < 3; ++i) await expectNodeScore(i, 1n, expected[i], "after the result upload");
      const share1 = (FEE * 5n) / 17n;
      const share2 = (FEE * 10n) / 17n;
      expect(await tm.withdrawable(nodes[1].address)).to.equal(share1);
      expect(await tm.withdrawable(nodes[2].address)).to.equal(share2);
      expect(await tm.withdrawable(nodes[0].address)).to.equal(FEE - share1 - share2);
      expect(await tm.withdrawable(app.address)).to.equal(2n * FEE);
      await expectSolvent(net);
    });
  }
});
