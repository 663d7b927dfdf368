/**
 * B7 (DESIGN §1, §11): the reference implementation let `createTask` overwrite an existing commitment, so anyone
 * could replace a running task (its creator, fee, node) with their own. An existing commitment must be rejected with
 * `TaskAlreadyExists`, whoever sends it and whatever the nonce, and the first task must be left exactly as it was.
 */
import { expect } from "chai";
import { parseEther } from "ethers";
import {
  FEE,
  createTask,
  deployNetwork,
  expectSolvent,
  joinNode,
  networkHelpers,
  taskInput,
  type Network,
} from "../helpers/fixture.js";
import { expectUnchanged, plain } from "../helpers/actors.js";
import { gpuId, newTaskIdentity } from "../../src/crypto/commitment.js";
import { TaskStatus, TaskType } from "../../src/types.js";

describe("regression B7: an existing commitment cannot be overwritten", function () {
  async function networkWithTwoNodes(): Promise<Network> {
    const net = await deployNetwork();
    for (const node of net.nodes.slice(0, 2)) await joinNode(net, node);
    return net;
  }

  for (const initial of [TaskStatus.Started, TaskStatus.Queued] as const) {
    it(`a ${TaskStatus[initial]} task keeps its creator, fee, nonce, seed and node`, async function () {
      const net = await networkHelpers.loadFixture(networkWithTwoNodes);
      const tm = net.taskManager;
      const [app, attacker] = net.apps;
      const options =
        initial === TaskStatus.Queued ? { requiredGPU: gpuId("NVIDIA H100 80GB HBM3"), requiredGPUVRAM: 80 } : {};
      const task = await createTask(net, app, options);
      const before = await tm.getTask(task.commitment);
      expect(before.status).to.equal(initial);

      const freshNonce = newTaskIdentity().nonce;
      const attempts = [
        // Another account, a fresh nonce, a different task and fee.
        { sender: attacker, nonce: freshNonce, fee: parseEther("5"), type: TaskType.LLM },
        // The same account resending its own creation.
        { sender: app, nonce: task.nonce, fee: FEE, type: TaskType.SD },
      ];
      for (const attempt of attempts) {
        await expectUnchanged(net, { commitments: [task.commitment], nonces: [task.nonce, freshNonce] }, () =>
          expect(
            tm
              .connect(attempt.sender)
              .createTask(taskInput(task.commitment, attempt.nonce, { taskType: attempt.type }), {
                value: attempt.fee,
              }),
          )
            .to.be.revertedWithCustomError(tm, "TaskAlreadyExists")
            .withArgs(task.commitment),
        );
      }

      const after = await tm.getTask(task.commitment);
      expect(after.creator).to.equal(app.address);
      expect(after.fee).to.equal(FEE);
      expect(after.nonce).to.equal(task.nonce);
      expect(after.samplingSeed).to.equal(task.seed);
      expect(after.selectedNode).to.equal(before.selectedNode);
      expect(after.taskType).to.equal(TaskType.SD);
      expect(plain(after)).to.deep.equal(plain(before));
      expect(await tm.isNonceUsed(freshNonce)).to.equal(false);
      expect(await tm.totalEscrowed()).to.equal(FEE);
      await expectSolvent(net);
    });
  }
});
