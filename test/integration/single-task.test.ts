/**
 * The single-task lifecycle end to end, every piece real: the parameters encrypted to the node's registered Baby
 * Jubjub key, the result (an image whose pHash is the score) encrypted to the app's key, relay roots and Merkle
 * proofs, the VRF, and the ResultAvailability proof checked on-chain. The node and the app decrypt what they get.
 */
import { expect } from "chai";
import {
  FEE,
  IMAGE_A,
  SCORE_A,
  bjjKeyOf,
  createTask,
  deployNetwork,
  ethers,
  expectSolvent,
  joinNode,
  networkHelpers,
  parametersBlob,
  publishBlobs,
  resultBlob,
  samplingProof,
  selectedNode,
  DEFAULT_PARAMS,
  type Network,
} from "../helpers/fixture.js";
import { PARAMS_CAPACITY, RESULT_CAPACITY, decryptBytes } from "../../src/crypto/blob.js";
import { NodeStatus, TaskStatus } from "../../src/types.js";

describe("integration: single task lifecycle", function () {
  async function networkWithThreeNodes(): Promise<Network> {
    const net = await deployNetwork();
    for (const node of net.nodes.slice(0, 3)) await joinNode(net, node);
    return net;
  }

  it("walks Started → ParametersUploaded → ScoreReady → Validated → EndSuccess and pays the node", async function () {
    const net = await networkHelpers.loadFixture(networkWithThreeNodes);
    const [app] = net.apps;
    const tm = net.taskManager;

    const task = await createTask(net, app, { sampled: false });
    expect(await tm.taskStatus(task.commitment)).to.equal(TaskStatus.Started);
    const node = await selectedNode(net, task.commitment);
    expect(await net.registry.nodeStatus(node.address)).to.equal(NodeStatus.Busy);

    const paramsBlob = await parametersBlob(net, task.commitment);
    const sent = decryptBytes(paramsBlob.blob, bjjKeyOf(node.address).secretKey, PARAMS_CAPACITY);
    expect(new TextDecoder().decode(sent), "the node reads the parameters").to.equal(DEFAULT_PARAMS);
    const [params] = await publishBlobs(net, [paramsBlob.blobHash]);
    await expect(
      tm.connect(app).reportTaskParametersUploaded(task.commitment, params.blobHash, params.root, params.proof),
    )
      .to.emit(tm, "TaskParametersUploaded")
      .withArgs(task.commitment, params.blobHash, node.address);

    await expect(tm.connect(node).submitTaskScore(task.commitment, SCORE_A))
      .to.emit(tm, "TaskScoreReady")
      .withArgs(task.commitment, node.address, SCORE_A);

    await expect(tm.connect(app).validateSingleTask(task.commitment, samplingProof(app, task.seed)))
      .to.emit(tm, "TaskValidated")
      .withArgs(task.commitment, node.address);

    const resultUpload = await resultBlob(net, task.commitment);
    const received = decryptBytes(resultUpload.blob, bjjKeyOf(app.address).secretKey, RESULT_CAPACITY);
    expect(received, "the app reads the result image").to.deep.equal(IMAGE_A);
    const [result] = await publishBlobs(net, [resultUpload.blobHash]);
    const tx = tm
      .connect(node)
      .reportTaskResultUploaded(task.commitment, result.blobHash, result.root, result.proof, resultUpload.proof);
    await expect(tx).to.emit(tm, "TaskSuccess").withArgs(task.commitment, result.blobHash);
    await expect(tx).to.emit(tm, "TaskFeePaid").withArgs(task.commitment, node.address, FEE);

    const stored = await tm.getTask(task.commitment);
    expect(stored.status).to.equal(TaskStatus.EndSuccess);
    expect(stored.resultHash).to.equal(result.blobHash);
    expect(await tm.withdrawable(node.address)).to.equal(FEE);
    expect(await net.registry.nodeStatus(node.address)).to.equal(NodeStatus.Available);
    await expectSolvent(net);

    await expect(tm.connect(node).withdraw()).to.changeEtherBalance(ethers, node, FEE);
    expect(await tm.totalWithdrawable()).to.equal(0n);
    await expectSolvent(net);
  });
});
