/**
 * Issue 17, "relay bytes checked against their hash": a relay (or a man in the middle on plain HTTP, or a relay
 * working with the app) serves other bytes under the blob hash the chain recorded. Anyone can encrypt to a node's
 * key, so the lie decrypts fine; before the fix, the node ran the other parameters (and its group could be slashed
 * under an honest ParamsConsistency proof), and the app accepted another result.
 *
 * Here the real node agent and app client run against the in-process chain and a {@link FakeRelay} that lies:
 * - the node agent refuses the parameters (RelayBlobMismatchError), retries, never decrypts or runs them, and sends
 *   nothing on-chain; once the relay serves the right bytes, it runs them and scores;
 * - the app client refuses a substituted result whose pHash is the same as the real one (so the score check alone
 *   would have accepted it) with ResultBlobMismatchError, before decryption.
 */
import { expect } from "chai";
import {
  FEE,
  STAKE,
  bjjKeyOf,
  createTask,
  startFulfiller,
  deployNetwork,
  ethers,
  networkHelpers,
  parametersBlob,
  uploadParameters,
  type Network,
} from "../helpers/fixture.js";
import { FakeRelay } from "../helpers/fake-relay.js";
import { NodeAgent, StandInExecutor, type NodeAgentEvent } from "../../src/node/index.js";
import type { ExecutionRequest, ExecutionResult, Executor } from "../../src/node/executor.js";
import { AppClient, ResultBlobMismatchError } from "../../src/app/index.js";
import { RelayBlobMismatchError } from "../../src/relay/client.js";
import { RESULT_CAPACITY, blobFromBytes, blobToBytes, decryptBytes, encryptBytes } from "../../src/crypto/blob.js";
import { blobHashOfBytes } from "../../src/relay/protocol.js";
import { imageScore } from "../../src/crypto/phash.js";
import { TaskStatus, TaskType } from "../../src/types.js";

const NEVER_SAMPLED = 1n << 63n;
const freshNetwork = () => deployNetwork();

/** An executor that records what it was asked to run. */
class RecordingExecutor implements Executor {
  readonly name = "recording";
  readonly runs: ExecutionRequest[] = [];
  private readonly inner = new StandInExecutor("relay-integrity");
  execute(request: ExecutionRequest): Promise<ExecutionResult> {
    this.runs.push(request);
    return this.inner.execute(request);
  }
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function addresses(net: Network) {
  return Promise.all([net.taskManager.getAddress(), net.registry.getAddress(), net.relayRoots.getAddress()]).then(
    ([taskManager, registry, relayRoots]) => ({ taskManager, registry, relayRoots }),
  );
}

async function neverSample(net: Network): Promise<void> {
  const c = await net.taskManager.config();
  await (
    await net.taskManager.connect(net.governor).setConfig({
      samplingDivisor: NEVER_SAMPLED,
      distanceThreshold: c.distanceThreshold,
      queueTimeout: c.queueTimeout,
      executionTimeout: c.executionTimeout,
      validationTimeout: c.validationTimeout,
      resultUploadTimeout: c.resultUploadTimeout,
      queueSizeFactor: c.queueSizeFactor,
      minQueueCapacity: c.minQueueCapacity,
      uploadTimeout: c.uploadTimeout,
      siblingWindow: c.siblingWindow,
      noShowShare: c.noShowShare,
      overhead: [...c.overhead] as [bigint, bigint, bigint],
      unitTime: [...c.unitTime] as [bigint, bigint, bigint],
      minimumFee: [...c.minimumFee] as [bigint, bigint, bigint],
    })
  ).wait();
}

describe("integration: relay bytes are checked against the blob hash on-chain (issue 17)", function () {
  this.timeout(180_000);

  let net: Network;
  let relay: FakeRelay;
  let agent: NodeAgent | null = null;
  let app: AppClient | null = null;
  let executor: RecordingExecutor;
  let events: NodeAgentEvent[];
  const logs: string[] = [];

  beforeEach(async function () {
    net = await networkHelpers.loadFixture(freshNetwork);
    relay = new FakeRelay(net);
    await relay.start();
    executor = new RecordingExecutor();
    events = [];
    const node = net.nodes[0];
    agent = new NodeAgent({
      wallet: node,
      addresses: await addresses(net),
      relayUrl: relay.url,
      executor,
      bjjKey: bjjKeyOf(node.address),
      name: "node-0",
      pollMs: 50,
      retryMs: 150,
      abortOnDeadline: false,
      log: (m) => logs.push(m),
    });
    agent.on("event", (e) => events.push(e));
    await agent.start(STAKE);
  });

  afterEach(async function () {
    await agent?.stop();
    await app?.stop();
    agent = null;
    app = null;
    await relay.stop();
  });

  it("a node served other parameters under the on-chain hash refuses them, retries, and never runs or reports", async function () {
    const node = net.nodes[0];
    const appWallet = net.apps[0];
    const task = await createTask(net, appWallet);
    expect((await net.taskManager.getTask(task.commitment)).selectedNode).to.equal(node.address);

    // The honest parameters are on the relay; the lie is other parameters, encrypted to the same node's key.
    const honest = await parametersBlob(net, task.commitment);
    const forged = await parametersBlob(net, task.commitment, JSON.stringify({ prompt: "what the attacker wants" }));
    await relay.put(blobToBytes(honest.blob));
    relay.lie(honest.blobHash, blobToBytes(forged.blob));
    const nonceBefore = await ethers.provider.getTransactionCount(node.address);
    const paramsHash = await uploadParameters(net, appWallet, task.commitment);
    expect(paramsHash).to.equal(honest.blobHash);

    const refusals = () =>
      events.filter((e) => e.type === "error" && e.error instanceof RelayBlobMismatchError) as {
        error: RelayBlobMismatchError;
      }[];
    await until("three refused fetches", () => refusals().length >= 3);
    for (const { error } of refusals()) {
      expect(error.expected.toLowerCase()).to.equal(honest.blobHash.toLowerCase());
      expect(error.actual).to.equal(blobHashOfBytes(blobToBytes(forged.blob)));
    }
    expect(relay.served.filter((s) => s.lie).length).to.be.at.least(3);
    expect(executor.runs).to.have.length(0); // nothing decrypted and run
    expect(events.map((e) => e.type)).to.not.include.members(["executed", "scoreSubmitted", "errorReported"]);
    expect(await ethers.provider.getTransactionCount(node.address)).to.equal(nonceBefore); // nothing on-chain
    expect(await net.taskManager.taskStatus(task.commitment)).to.equal(BigInt(TaskStatus.ParametersUploaded));
    expect(logs.some((m) => m.includes("refused, nothing was used"))).to.equal(true);

    // Control: the same agent, once the relay serves the recorded bytes, runs the honest parameters and scores.
    relay.honest();
    await until("the score", async () => (await net.taskManager.taskStatus(task.commitment)) === 4n);
    expect(executor.runs).to.have.length(1);
    expect(new TextDecoder().decode(executor.runs[0].params)).to.not.contain("what the attacker wants");
    expect(events.map((e) => e.type)).to.include("scoreSubmitted");
  });

  it("the app client refuses a substituted result with the same pHash, before decrypting it", async function () {
    await neverSample(net);
    const appWallet = net.apps[0];
    const appKey = bjjKeyOf(appWallet.address);
    const nodeAddress = net.nodes[0].address.toLowerCase();
    let substitute: { hash: string; sameScore: boolean } | null = null;
    // The man in the middle (here given the app's key, to show the worst case): when the node uploads its result,
    // it prepares the same image with one pixel changed, whose pHash is unchanged, encrypted to the app.
    relay.onUpload = (hash, bytes, uploader) => {
      if (uploader.toLowerCase() !== nodeAddress) return;
      const real = decryptBytes(blobFromBytes(bytes), appKey.secretKey, RESULT_CAPACITY);
      const tampered = Uint8Array.from(real);
      tampered[0] = tampered[0] ^ 1;
      const fake = blobToBytes(encryptBytes(tampered, RESULT_CAPACITY, appKey.publicKey));
      substitute = { hash: blobHashOfBytes(fake), sameScore: imageScore(tampered) === imageScore(real) };
      relay.lie(hash, fake);
    };
    app = new AppClient({
      wallet: appWallet,
      addresses: await addresses(net),
      relayUrl: relay.url,
      bjjKey: appKey,
      pollMs: 50,
      name: "app",
    });
    const fulfiller = await startFulfiller(net);
    const error = await app
      .submitTask({
        taskType: TaskType.SD,
        params: { version: "2.0.0", base_model: { name: "stabilityai/sdxl-turbo" }, prompt: "a lighthouse" },
        fee: FEE,
        models: ["stabilityai/sdxl-turbo"],
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    fulfiller.stop();
    expect(substitute, "the node uploaded a result").to.not.equal(null);
    const sub = substitute as unknown as { hash: string; sameScore: boolean };
    expect(sub.sameScore, "the substitute passes the score check alone").to.equal(true);
    expect(error).to.be.instanceOf(ResultBlobMismatchError);
    const e = error as ResultBlobMismatchError;
    const info = await net.taskManager.getTask(e.taskIDCommitment);
    expect(Number(info.status)).to.equal(TaskStatus.EndSuccess); // the node was honest and is paid
    expect(e.expected.toLowerCase()).to.equal(info.resultHash.toLowerCase());
    expect(e.actual).to.equal(sub.hash);
    expect(e.cause).to.be.instanceOf(RelayBlobMismatchError);

    // Control: the honest bytes pass the same check.
    relay.honest();
    const bytes = await app.relay.get(info.resultHash);
    expect(decryptBytes(blobFromBytes(bytes), appKey.secretKey, RESULT_CAPACITY)).to.have.length(4096);
  });
});
