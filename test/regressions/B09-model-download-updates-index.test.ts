/**
 * B9 (DESIGN §6, §11): in the reference implementation a node's model downloads did not reach the index that
 * selection uses, so a node that fetched a model never became a locality candidate for it. After
 * `reportModelDownloaded`, the node must be preferred for tasks needing that model, exactly like a node that joined
 * with it.
 *
 * Three nodes: node 0 joins with model X, nodes 1 and 2 without. Tasks needing X always go to node 0 while it is
 * available (locality). Then node 1 reports X downloaded; with node 0 busy, every task needing X goes to node 1,
 * never to node 2 (equally eligible, but without X).
 */
import { expect } from "chai";
import {
  MODEL_SDXL,
  createTask,
  deployNetwork,
  expectSolvent,
  joinNode,
  networkHelpers,
  type Network,
} from "../helpers/fixture.js";
import { driveTask } from "../helpers/actors.js";
import { modelId } from "../../src/crypto/commitment.js";
import { NodeStatus, TaskStatus } from "../../src/types.js";

const MODEL_X = modelId("example-org/model-x");
const ROUNDS = 6;

describe("regression B9: reportModelDownloaded updates the index selection uses", function () {
  // Every task runs to EndSuccess with a real ResultAvailability proof (several seconds each, more under coverage).
  this.timeout(600_000);

  async function networkWithModelOnNodeZero(): Promise<Network> {
    const net = await deployNetwork();
    await joinNode(net, net.nodes[0], { models: [MODEL_X] });
    await joinNode(net, net.nodes[1], { models: [MODEL_SDXL] });
    await joinNode(net, net.nodes[2], { models: [MODEL_SDXL] });
    return net;
  }

  it("a node that downloads a model becomes a locality candidate for it", async function () {
    const net = await networkHelpers.loadFixture(networkWithModelOnNodeZero);
    const reg = net.registry;
    const tm = net.taskManager;
    const [app] = net.apps;
    const [holder, downloader, other] = net.nodes;
    const needsX = { models: [MODEL_X] };

    // Only node 0 holds X: it gets every task needing X (each task run to the end to free it again).
    for (let round = 0; round < ROUNDS; ++round) {
      const { node } = await driveTask(net, app, TaskStatus.EndSuccess, needsX);
      expect(node.address, `round ${round}`).to.equal(holder.address);
    }

    // Node 0 takes one more task needing X and keeps it (busy) for the rest of the test.
    const busy = await createTask(net, app, needsX);
    expect((await tm.getTask(busy.commitment)).selectedNode).to.equal(holder.address);
    expect(await reg.nodeStatus(holder.address)).to.equal(NodeStatus.Busy);

    // Node 1 downloads X.
    expect(await reg.hasModel(downloader.address, MODEL_X)).to.equal(false);
    await expect(reg.connect(downloader).reportModelDownloaded(MODEL_X))
      .to.emit(reg, "NodeModelDownloaded")
      .withArgs(downloader.address, MODEL_X);
    expect(await reg.hasModel(downloader.address, MODEL_X)).to.equal(true);

    // Node 0 is busy: node 1, now holding X, gets every task needing X; node 2 never does.
    for (let round = 0; round < ROUNDS; ++round) {
      expect(await reg.nodeStatus(other.address)).to.equal(NodeStatus.Available);
      const { node } = await driveTask(net, app, TaskStatus.EndSuccess, needsX);
      expect(node.address, `round ${round}`).to.equal(downloader.address);
    }
    expect(await reg.nodeStatus(other.address)).to.equal(NodeStatus.Available);

    await expectSolvent(net);
  });

  it("control: without the download, node 2 does get tasks needing X while node 0 is busy", async function () {
    // Shows the test above can fail: with no local candidate available, the draw is among every eligible node.
    const net = await networkHelpers.loadFixture(networkWithModelOnNodeZero);
    const tm = net.taskManager;
    const [app] = net.apps;
    const [holder, , other] = net.nodes;
    const needsX = { models: [MODEL_X] };
    const busy = await createTask(net, app, needsX);
    expect((await tm.getTask(busy.commitment)).selectedNode).to.equal(holder.address);
    const winners = new Set<string>();
    for (let round = 0; round < 2 * ROUNDS && !winners.has(other.address); ++round) {
      const { node } = await driveTask(net, app, TaskStatus.EndSuccess, needsX);
      winners.add(node.address);
    }
    expect(winners.has(other.address)).to.equal(true);
    await expectSolvent(net);
  });
});
