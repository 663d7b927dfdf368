/**
 * End to end: a spawned `hardhat node` (JSON-RPC over HTTP), the contracts deployed there by the Ignition module,
 * the relay service on loopback (HTTP, SQLite), four node agents and the application client, each with its own
 * JSON-RPC provider and chain watcher, exactly as separate programs would run. Nothing is mocked; every proof is a
 * real Groth16 proof checked on-chain.
 *
 * The nodes: node-0 and node-1 are honest RTX 4090s, node-2 is a dishonest RTX 4090, node-3 is an honest A100. A task
 * that requires an A100 can only go to node-3, one that requires an RTX 4090 only to nodes 0-2, so each case knows
 * which nodes run it. The sampling divisor is set per case with `setConfig` (1: every task is sampled; 2^63: none
 * is), so each case knows whether it makes a validation group. The cases share one network and run in order.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HDNodeWallet, JsonRpcProvider, Wallet, parseEther } from "ethers";
import { network } from "hardhat";
import VSSNetwork from "../../deploy/modules/VSSLocalNetwork.js";
import { LocalFulfiller } from "../../src/chain/dispatch.js";
import { ROOT, startHardhatNode, type Child } from "../relay/local-chain.js";
import { freePort } from "../relay/helpers.js";
import { connectContracts, type NetworkAddresses, type NetworkContracts } from "../../src/chain/contracts.js";
import { TaskManager__factory, VSSTimelock__factory } from "../../typechain-types/index.js";
import { TimelockSigner } from "../helpers/governance.js";
import { keyPairFromSeed, subgroupWitness } from "../../src/crypto/babyjub.js";
import { PARAMS_CAPACITY, blobToBytes, encryptBytes } from "../../src/crypto/blob.js";
import { gpuId, newTaskIdentity } from "../../src/crypto/commitment.js";
import { RelayClient } from "../../src/relay/client.js";
import { imageScore, textScore } from "../../src/crypto/phash.js";
import { scoresMatch } from "../../src/crypto/simhash.js";
import { createRelay, type Relay } from "../../src/relay/relay.js";
import { terminateProver } from "../../src/zk/proofs.js";
import {
  AppClient,
  TaskAbortedError,
  TaskParametersRejectedError,
  type AppStageEvent,
  type TaskRequest,
} from "../../src/app/index.js";
import {
  DishonestExecutor,
  NodeAgent,
  StandInExecutor,
  type NodeAgentEvent,
  type NodeAgentOptions,
  type NodeProfile,
} from "../../src/node/index.js";
import { DEFAULT_TASK_PARAMETERS } from "../../src/config.js";
import { NodeStatus, TaskAbortReason, TaskStatus, TaskType } from "../../src/types.js";

const MNEMONIC = "test test test test test test test test test test test junk";
const STAKE = parseEther("400");
const FEE = parseEther("1");
const RTX = "NVIDIA GeForce RTX 4090";
const A100 = "NVIDIA A100";
const NEVER_SAMPLED = 1n << 63n;

function hardhatAccount(index: number, provider: JsonRpcProvider): Wallet {
  const hd = HDNodeWallet.fromPhrase(MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`);
  return new Wallet(hd.privateKey, provider);
}

function rpcProvider(url: string): JsonRpcProvider {
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, cacheTimeout: -1 });
  provider.pollingInterval = 50;
  return provider;
}

const imageRequest = (prompt: string, gpu: string): TaskRequest => ({
  taskType: TaskType.SD,
  params: { version: "2.0.0", base_model: { name: "stabilityai/sdxl-turbo" }, prompt },
  fee: FEE,
  requiredGPU: gpu,
});

describe("e2e: relay + 4 node agents + application over HTTP and JSON-RPC", function () {
  this.timeout(600_000);

  let chain: { child: Child; url: string };
  let deploymentId: string;
  let tmp: string;
  let addresses: NetworkAddresses;
  let admin: NetworkContracts;
  let relay: Relay;
  let app: AppClient;
  let appWallet: Wallet;
  let fulfiller: LocalFulfiller | undefined;
  const agents: NodeAgent[] = [];
  const agentOptions: NodeAgentOptions[] = [];
  const events: NodeAgentEvent[][] = [];

  async function setSamplingDivisor(divisor: bigint): Promise<void> {
    const config = await admin.taskManager.config();
    await (
      await admin.taskManager.setConfig({
        samplingDivisor: divisor,
        distanceThreshold: config.distanceThreshold,
        queueTimeout: config.queueTimeout,
        executionTimeout: config.executionTimeout,
        validationTimeout: config.validationTimeout,
        resultUploadTimeout: config.resultUploadTimeout,
        queueSizeFactor: config.queueSizeFactor,
        minQueueCapacity: config.minQueueCapacity,
        overhead: [...config.overhead] as [bigint, bigint, bigint],
        unitTime: [...config.unitTime] as [bigint, bigint, bigint],
        uploadTimeout: config.uploadTimeout,
        siblingWindow: config.siblingWindow,
        noShowShare: config.noShowShare,
        minimumFee: [...config.minimumFee] as [bigint, bigint, bigint],
      })
    ).wait();
  }

  function startAgent(i: number): Promise<void> {
    const agent = new NodeAgent(agentOptions[i]);
    agents[i] = agent;
    agent.on("event", (e) => events[i].push(e));
    return agent.start(STAKE);
  }

  before(async function () {
    chain = await startHardhatNode(await freePort());
    tmp = mkdtempSync(join(tmpdir(), "vss-e2e-"));
    const deployer = rpcProvider(chain.url);
    const relayWallet = hardhatAccount(1, deployer);
    const treasury = hardhatAccount(2, deployer);

    // The Ignition module over JSON-RPC, as `npx hardhat ignition deploy --network localhost` runs it.
    deploymentId = `e2e-${process.pid}-${Date.now()}`;
    const conn = await network.create({ network: "localhost", override: { url: chain.url } });
    const deployed = await conn.ignition.deploy(VSSNetwork, {
      // A local network: a 1-second timelock (DESIGN §13.6).
      parameters: { VSSNetwork: { relay: relayWallet.address, treasury: treasury.address, timelockDelay: 1 } },
      deploymentId,
    });
    addresses = {
      taskManager: await deployed.taskManager.getAddress(),
      registry: await deployed.nodeRegistry.getAddress(),
      relayRoots: await deployed.relayRoots.getAddress(),
    };
    // The VRF service stand-in: answers the mock coordinator and dispatches (docs/randomness.md).
    const fulfillerWallet = hardhatAccount(15, rpcProvider(chain.url));
    fulfiller = await LocalFulfiller.connect(
      TaskManager__factory.connect(addresses.taskManager, fulfillerWallet),
      await deployed.vrfCoordinator.getAddress(),
      fulfillerWallet,
      200,
    );
    fulfiller.start();
    // The admin is the timelock: admin calls are scheduled by the deployer, then executed.
    const timelock = VSSTimelock__factory.connect(await deployed.timelock.getAddress(), hardhatAccount(0, deployer));
    admin = connectContracts(addresses, new TimelockSigner(timelock, hardhatAccount(0, deployer), deployer));

    relay = createRelay({
      signer: relayWallet,
      relayRoots: addresses.relayRoots,
      dbPath: join(tmp, "relay.sqlite"),
      port: 0,
      batchIntervalMs: 150,
      pollMs: 50,
    });
    const relayUrl = await relay.start();

    const profiles: NodeProfile[] = [RTX, RTX, RTX, A100].map((gpuName, i) => ({
      gpuName,
      gpuVRAM: i === 3 ? 80 : 24,
      version: [2, 5, 0],
      models: ["stabilityai/sdxl-turbo"],
    }));
    for (let i = 0; i < 4; i++) {
      events.push([]);
      agentOptions.push({
        wallet: hardhatAccount(3 + i, rpcProvider(chain.url)),
        addresses,
        relayUrl,
        name: `node-${i}`,
        executor: i === 2 ? new DishonestExecutor() : new StandInExecutor(`node-${i}`),
        bjjKey: keyPairFromSeed(`e2e-node-${i}`),
        profile: profiles[i],
        stateDir: join(tmp, "nodes"),
        pollMs: 100,
      });
      await startAgent(i);
    }
    appWallet = hardhatAccount(10, rpcProvider(chain.url));
    app = new AppClient({ wallet: appWallet, addresses, relayUrl, pollMs: 100, name: "app" });
    await app.start();
  });

  after(async function () {
    fulfiller?.stop();
    for (const agent of agents) await agent?.stop();
    await app?.stop();
    await relay?.stop();
    await chain?.child.kill();
    if (deploymentId) rmSync(join(ROOT, "deploy", "deployments", deploymentId), { recursive: true, force: true });
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    await terminateProver();
  });

  it("deployed and wired every contract with the Ignition module, and the four nodes joined", async function () {
    expect(await admin.registry.taskManager()).to.equal(addresses.taskManager);
    expect(await admin.relayRoots.hasRole(await admin.relayRoots.RELAY_ROLE(), relay.address)).to.equal(true);
    expect(await admin.registry.nodeCount()).to.equal(4n);
    for (const agent of agents) {
      expect(await admin.registry.nodeStatus(agent.nodeAddress)).to.equal(BigInt(NodeStatus.Available));
    }
  });

  it("runs a single task: the node's image reaches the app, decrypted, with the pHash the chain holds", async function () {
    await setSamplingDivisor(NEVER_SAMPLED);
    const stages: AppStageEvent["type"][] = [];
    const onStage = (e: AppStageEvent) => stages.push(e.type);
    app.on("stage", onStage);
    const outcome = await app.submitTask(imageRequest("a lighthouse at dawn", A100));
    app.off("stage", onStage);

    expect(outcome.sampled).to.equal(false);
    expect(outcome.members).to.have.length(1);
    expect(outcome.members[0].status).to.equal(TaskStatus.EndSuccess);
    expect(outcome.deliveredBy.node).to.equal(agents[3].nodeAddress);
    expect(outcome.result).to.have.length(4096);
    expect(imageScore(outcome.result)).to.equal(outcome.score);
    const info = await admin.taskManager.getTask(outcome.taskIDCommitment);
    expect(info.resultHash).to.equal(outcome.resultHash);
    expect(stages).to.deep.equal([
      "created",
      "sampled",
      "started",
      "parametersUploaded",
      "executed",
      "validated",
      "succeeded",
      "downloaded",
    ]);
    // The node withdraws its fee.
    expect(await agents[3].withdraw()).to.equal(FEE);
    expect(await admin.taskManager.withdrawable(agents[3].nodeAddress)).to.equal(0n);
  });

  it("validates a group: the honest majority is paid, and the dishonest node is slashed", async function () {
    await setSamplingDivisor(1n);
    const treasury = hardhatAccount(2, rpcProvider(chain.url)).address;
    const outcome = await app.submitTask(imageRequest("a red fox in the snow", RTX));

    expect(outcome.sampled).to.equal(true);
    expect(outcome.members).to.have.length(3);
    const byNode = new Map(outcome.members.map((m) => [m.node, m]));
    const dishonest = byNode.get(agents[2].nodeAddress)!;
    expect(dishonest.status).to.equal(TaskStatus.EndInvalidated);
    expect(dishonest.refunded).to.equal(true);
    const honest = [byNode.get(agents[0].nodeAddress)!, byNode.get(agents[1].nodeAddress)!];
    expect(honest.map((m) => m.status).sort()).to.deep.equal(
      [TaskStatus.EndGroupRefund, TaskStatus.EndGroupSuccess].sort(),
    );
    // Two honest nodes rendered with different pixel noise; their scores still match under the chain's rule.
    expect(scoresMatch(TaskType.SD, honest[0].score, honest[1].score)).to.equal(true);
    expect(scoresMatch(TaskType.SD, honest[0].score, dishonest.score)).to.equal(false);
    expect(outcome.deliveredBy.node).to.be.oneOf([agents[0].nodeAddress, agents[1].nodeAddress]);
    expect(imageScore(outcome.result)).to.equal(outcome.score);
    expect(outcome.refunded).to.equal(2n * FEE);

    const slashed = await admin.registry.getNode(agents[2].nodeAddress);
    expect(slashed.status).to.equal(BigInt(NodeStatus.Quit));
    expect(slashed.stake).to.equal(0n);
    expect(await admin.registry.withdrawable(treasury)).to.equal(STAKE);
    expect(events[2].some((e) => e.type === "slashed" && e.amount === STAKE)).to.equal(true);
    // The group's fee went to the two honest nodes (10/5/2 split between them).
    const paid = [0, 1].map((i) =>
      events[i].filter((e) => e.type === "paid").reduce((s, e) => s + (e as { amount: bigint }).amount, 0n),
    );
    expect(paid[0] + paid[1]).to.equal(FEE);
    expect(paid[0] > 0n && paid[1] > 0n).to.equal(true);
  });

  it("reports an error only for parameters that can never run; the app gets its fee back", async function () {
    await setSamplingDivisor(NEVER_SAMPLED);
    const request: TaskRequest = { taskType: TaskType.SD, params: "not JSON at all", fee: FEE, requiredGPU: A100 };
    const before = await admin.taskManager.withdrawable(appWallet.address);
    const error = await app.submitTask(request).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(TaskParametersRejectedError);
    const failed = error as TaskParametersRejectedError;
    expect(failed.refunded).to.equal(FEE);
    const info = await admin.taskManager.getTask(failed.taskIDCommitment);
    expect(info.status).to.equal(BigInt(TaskStatus.EndAborted));
    expect(
      events[3].some((e) => e.type === "errorReported" && e.taskIDCommitment === failed.taskIDCommitment.toLowerCase()),
    ).to.equal(true);
    expect(await admin.taskManager.withdrawable(appWallet.address)).to.equal(before + FEE);
  });

  it("a node that disappears: the app aborts at the execution deadline and is refunded", async function () {
    await setSamplingDivisor(NEVER_SAMPLED);
    await agents[3].stop(); // node-3 stays Available on-chain, but nobody runs it any more
    const provider = rpcProvider(chain.url);
    const uploaded = new Promise<void>((resolve) => {
      const listener = (e: AppStageEvent) => {
        if (e.type === "parametersUploaded") {
          app.off("stage", listener);
          resolve();
        }
      };
      app.on("stage", listener);
    });
    const submitted = app.submitTask(imageRequest("a desert at dusk", A100)).then(
      () => null,
      (e: unknown) => e,
    );
    await uploaded;
    await provider.send("evm_increaseTime", [Number(DEFAULT_TASK_PARAMETERS.executionTimeout) + 1]);
    await provider.send("evm_mine", []);
    const error = await submitted;

    expect(error).to.be.instanceOf(TaskAbortedError);
    const aborted = error as TaskAbortedError;
    expect(aborted.reason).to.equal(TaskAbortReason.Timeout);
    expect(aborted.lastStatus).to.equal(TaskStatus.ParametersUploaded);
    expect(aborted.refunded).to.equal(FEE);
    const node = await admin.registry.getNode(agents[3].nodeAddress);
    expect(node.health).to.equal(3_000n); // H × 0.3
    expect(node.status).to.equal(BigInt(NodeStatus.Available));
    expect(await app.withdraw()).to.equal(2n * FEE + FEE + FEE); // the group's two refunds, the error, the timeout
  });

  it("an agent restarted in the middle of a task recovers it from chain state and finishes it", async function () {
    await setSamplingDivisor(NEVER_SAMPLED);
    // node-3 comes back, and crashes right after it submits its score.
    await startAgent(3);
    const crashed = agents[3];
    let commitment = "";
    const crash = new Promise<void>((resolve) => {
      crashed.on("event", (e) => {
        if (e.type === "scoreSubmitted") {
          commitment = e.taskIDCommitment;
          void crashed.stop().then(resolve);
        }
      });
    });
    const submitted = app.submitTask({
      taskType: TaskType.LLM,
      params: { prompt: "Tell a story about a paper boat", seed: 7 },
      fee: FEE,
      requiredGPU: A100,
    });
    await crash;
    // While the agent is down, the app validates the task.
    const deadline = Date.now() + 60_000;
    while ((await admin.taskManager.taskStatus(commitment)) !== BigInt(TaskStatus.Validated)) {
      if (Date.now() > deadline) throw new Error("the app did not validate the task");
      await new Promise((r) => setTimeout(r, 100));
    }
    // A new agent process for the same node: it finds the Validated task on-chain and uploads the result.
    events[3] = [];
    await startAgent(3);
    const outcome = await submitted;

    expect(events[3]).to.deep.include({
      type: "recovered",
      taskIDCommitment: commitment,
      status: TaskStatus.Validated,
    });
    expect(events[3].some((e) => e.type === "resultUploaded" && e.taskIDCommitment === commitment)).to.equal(true);
    expect(outcome.members[0].status).to.equal(TaskStatus.EndSuccess);
    expect(textScore(outcome.result)).to.equal(outcome.score);
    expect(new TextDecoder().decode(outcome.result)).to.match(/^Tell a story about a paper boat … /);
  });

  it("a node whose application never validates aborts at the validation deadline and is paid", async function () {
    // A lazy application, written with plain contract calls: it creates a task and uploads the parameters, then
    // never validates the score.
    const provider = rpcProvider(chain.url);
    const lazy = hardhatAccount(11, provider);
    const tm = connectContracts(addresses, lazy).taskManager;
    const identity = newTaskIdentity();
    const lazyKey = keyPairFromSeed("e2e-lazy-app").publicKey;
    await (await tm.registerAppKey(lazyKey, subgroupWitness(lazyKey))).wait();
    await (
      await tm.createTask(
        {
          taskType: TaskType.LLM,
          taskIDCommitment: identity.commitment,
          nonce: identity.nonce,
          modelIDs: [],
          minimumVRAM: 8,
          requiredGPU: gpuId(A100),
          requiredGPUVRAM: 0,
          taskVersion: [2, 0, 0],
          taskSize: 1,
          appPublicKey: lazyKey,
        },
        { value: FEE },
      )
    ).wait();
    // The local fulfiller delivers the word and dispatches the task (docs/randomness.md).
    for (const started = Date.now(); (await tm.taskStatus(identity.commitment)) === BigInt(TaskStatus.Pending);) {
      if (Date.now() - started > 30_000) throw new Error("task not dispatched in time");
      await new Promise((r) => setTimeout(r, 100));
    }
    const node = agents[3].nodeAddress;
    expect((await tm.getTask(identity.commitment)).selectedNode).to.equal(node);
    const [x, y] = await admin.registry.nodePublicKey(node);
    const blob = encryptBytes(new TextEncoder().encode('{"prompt": "never validated"}'), PARAMS_CAPACITY, [x, y]);
    const client = new RelayClient(relay.url);
    const inclusion = await client.waitForProof((await client.upload(lazy, blobToBytes(blob))).blobHash);
    await (
      await tm.reportTaskParametersUploaded(identity.commitment, inclusion.blobHash, inclusion.root, inclusion.proof)
    ).wait();
    const before = await admin.taskManager.withdrawable(node);

    const waitFor = async (status: TaskStatus) => {
      const deadline = Date.now() + 60_000;
      while ((await tm.taskStatus(identity.commitment)) !== BigInt(status)) {
        if (Date.now() > deadline) throw new Error(`task not ${TaskStatus[status]} in time`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await waitFor(TaskStatus.ScoreReady);
    // The deadline covers the task's whole possible group (DESIGN §13.3), not just validationTimeout after the score.
    const deadline = Number(await tm.deadlineOf(identity.commitment));
    const latest = (await provider.getBlock("latest"))!.timestamp;
    await provider.send("evm_increaseTime", [deadline - latest + 1]);
    await provider.send("evm_mine", []);
    await waitFor(TaskStatus.EndAborted);

    const info = await tm.getTask(identity.commitment);
    expect(info.abortReason).to.equal(BigInt(TaskAbortReason.ValidationTimeout));
    expect(await admin.taskManager.withdrawable(node)).to.equal(before + FEE);
    const aborted = events[3].find(
      (e) => e.type === "aborted" && e.taskIDCommitment === identity.commitment.toLowerCase(),
    );
    expect(aborted).to.deep.equal({
      type: "aborted",
      taskIDCommitment: identity.commitment.toLowerCase(),
      lastStatus: TaskStatus.ScoreReady,
    });
  });
  it("a validated node that withholds its result: an agreeing node uploads its own, the app gets it and the agreeing nodes are paid (DESIGN §13.8)", async function () {
    await setSamplingDivisor(1n);
    // Nodes 0, 1 and 3 are left (node 2 was slashed). Each now withholds the result of its own validated task, and
    // stands in for another withholding node of a group it agreed with.
    const honest = [0, 1, 3];
    for (const i of honest) {
      await agents[i].stop();
      agentOptions[i] = { ...agentOptions[i], withholdResults: true };
      events[i].length = 0;
      await startAgent(i);
    }
    const provider = rpcProvider(chain.url);
    const validated = new Promise<void>((resolve) => {
      const listener = (e: AppStageEvent) => {
        if (e.type === "validated") {
          app.off("stage", listener);
          resolve();
        }
      };
      app.on("stage", listener);
    });
    const request: TaskRequest = {
      taskType: TaskType.SD,
      params: { version: "2.0.0", base_model: { name: "stabilityai/sdxl-turbo" }, prompt: "a lighthouse in fog" },
      fee: FEE,
    };
    const submitted = app.submitTask(request);
    await validated;
    // Past the validated node's own result window: the agreeing members may upload theirs.
    await provider.send("evm_increaseTime", [Number(DEFAULT_TASK_PARAMETERS.resultUploadTimeout) + 1]);
    await provider.send("evm_mine", []);
    const outcome = await submitted;

    const winner = outcome.members.find((m) => m.status === TaskStatus.EndGroupSuccess)!;
    const peers = outcome.members.filter((m) => m.status === TaskStatus.EndGroupRefund);
    expect(peers).to.have.length(2);
    const lower = (a: string | null) => (a ?? "").toLowerCase();
    expect(lower(outcome.deliveredBy.node)).to.not.equal(lower(winner.node));
    expect(peers.map((m) => lower(m.node))).to.include(lower(outcome.deliveredBy.node));
    expect(imageScore(outcome.result)).to.equal(outcome.score);
    const standIns = honest.flatMap((i) => events[i].filter((e) => e.type === "stoodIn"));
    expect(standIns).to.have.length(1);
    // The fee went to the two agreeing nodes; the withholder got nothing and is free again, with a timeout.
    const paidFor = (i: number) =>
      events[i]
        .filter((e) => e.type === "paid" && e.taskIDCommitment.toLowerCase() === winner.taskIDCommitment.toLowerCase())
        .reduce((sum, e) => sum + (e as { amount: bigint }).amount, 0n);
    const withholder = honest.find((i) => lower(agents[i].nodeAddress) === lower(winner.node))!;
    expect(paidFor(withholder)).to.equal(0n);
    expect(honest.reduce((sum, i) => sum + paidFor(i), 0n)).to.equal(FEE);
    const node = await admin.registry.getNode(winner.node!);
    expect(node.status).to.equal(BigInt(NodeStatus.Available));
  });
});
