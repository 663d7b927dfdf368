/**
 * B6 (DESIGN §11): in the reference implementation anyone could call node selection and the task manager's
 * callbacks, so a node could mark itself selected, free itself, give itself QoS scores or slash a competitor. Only
 * the task manager may select, start, release, score and slash nodes; only the registry may call `onNodeAvailable`.
 */
import { expect } from "chai";
import { ZeroHash } from "ethers";
import {
  MODEL_SDXL,
  STAKE,
  createTask,
  deployNetwork,
  joinNode,
  networkHelpers,
  type Network,
} from "../helpers/fixture.js";
import { HEALTH_ONE, TASK_MANAGER_ROLE, expectUnchanged } from "../helpers/actors.js";
import { gpuId } from "../../src/crypto/commitment.js";
import { NodeStatus, ReleaseOutcome, TaskStatus, TaskType } from "../../src/types.js";

describe("regression B6: selection and callbacks have access control", function () {
  /** Two available nodes, one busy node, and a task queued for a GPU nobody has. */
  async function networkWithQueuedTask(): Promise<Network> {
    const net = await deployNetwork();
    for (const node of net.nodes.slice(0, 3)) await joinNode(net, node);
    await createTask(net, net.apps[0]);
    await createTask(net, net.apps[0], { requiredGPU: gpuId("NVIDIA H100 80GB HBM3"), requiredGPUVRAM: 80 });
    return net;
  }

  it("only the task manager holds TASK_MANAGER_ROLE", async function () {
    const net = await networkHelpers.loadFixture(networkWithQueuedTask);
    const reg = net.registry;
    expect(await reg.hasRole(TASK_MANAGER_ROLE, await net.taskManager.getAddress())).to.equal(true);
    for (const account of [await net.admin.getAddress(), net.stranger.address, ...net.nodes.map((n) => n.address)]) {
      expect(await reg.hasRole(TASK_MANAGER_ROLE, account)).to.equal(false);
    }
  });

  it("nodes, the admin and strangers cannot select, start, release, score or slash nodes", async function () {
    const net = await networkHelpers.loadFixture(networkWithQueuedTask);
    const reg = net.registry;
    const queued = (await net.taskManager.queuedTasks())[0];
    const busy = [];
    for (const n of net.nodes.slice(0, 3))
      if ((await reg.nodeStatus(n.address)) === BigInt(NodeStatus.Busy)) busy.push(n);
    expect(busy).to.have.length(1);
    const [busyNode] = busy;
    const competitor = net.nodes.slice(0, 3).find((n) => n !== busyNode)!;

    const req = {
      taskType: TaskType.SD,
      requiredGPU: ZeroHash,
      requiredGPUVRAM: 0,
      minimumVRAM: 8,
      version: [2, 0, 0] as [number, number, number],
      modelIDs: [MODEL_SDXL],
    };
    const admin = await net.admin.getAddress();
    const attackers = [
      { signer: net.stranger, address: net.stranger.address },
      { signer: busyNode, address: busyNode.address },
      { signer: competitor, address: competitor.address },
      { signer: net.admin, address: admin },
    ];
    for (const { signer, address } of attackers) {
      const attempts = [
        () => reg.connect(signer).selectNode(req, 0n), // draw a node (marks it Busy)
        () => reg.connect(signer).startNode(competitor.address, ZeroHash), // make a competitor Busy
        () => reg.connect(signer).releaseNode(busyNode.address, ReleaseOutcome.Success), // free itself with a bonus
        () => reg.connect(signer).releaseNode(busyNode.address, ReleaseOutcome.Timeout), // penalise
        () => reg.connect(signer).recordGroupScore(busyNode.address, 10), // award itself QoS
        () => reg.connect(signer).slash(busyNode.address, ZeroHash), // slash a competitor
      ];
      for (const attempt of attempts) {
        await expectUnchanged(net, { commitments: [queued] }, () =>
          expect(attempt())
            .to.be.revertedWithCustomError(reg, "AccessControlUnauthorizedAccount")
            .withArgs(address, TASK_MANAGER_ROLE),
        );
      }
      await expectUnchanged(net, { commitments: [queued] }, () =>
        expect(net.taskManager.connect(signer).onNodeAvailable(competitor.address))
          .to.be.revertedWithCustomError(net.taskManager, "TaskCallerNotRegistry")
          .withArgs(address),
      );
    }

    // Nothing moved: the queued task waits, the nodes keep their status, stake, health and scores.
    expect(await net.taskManager.taskStatus(queued)).to.equal(TaskStatus.Queued);
    expect(await reg.nodeStatus(busyNode.address)).to.equal(NodeStatus.Busy);
    expect(await reg.nodeStatus(competitor.address)).to.equal(NodeStatus.Available);
    for (const n of net.nodes.slice(0, 3)) {
      const info = await reg.getNode(n.address);
      expect(info.stake).to.equal(STAKE);
      expect(info.health).to.equal(HEALTH_ONE);
      expect(info.scoreCount).to.equal(0n);
    }
  });
});
