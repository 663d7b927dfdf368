/**
 * Issues 11 §5 and 17: an application key outside the prime-order subgroup. For a small-order key no result proof
 * can exist (circomlib's scalar multiplication has no witness), so a node that ran the task could never be paid and
 * would be penalised at the result-upload deadline; a key with a small-order component is refused by the TypeScript
 * ECDH. The node agent checks the key before it runs anything and ends the task with `declineTask(AppKeyInvalid)`:
 * EndAborted, full refund, no health change, and never `reportTaskError` (under which a group could slash it).
 *
 * The keys used here pass the curve check that `createTask` makes today (on the curve, x ≠ 0). Helper "registry"
 * adds an on-chain subgroup check, which will make such a task impossible to create: the creation is isolated in
 * {@link createTaskWithAppKey}, the one place to adapt then (e.g. by writing the task record with a mock, or by
 * calling the agent's handler on a task record directly).
 */
import { expect } from "chai";
import { AbiCoder, keccak256 } from "ethers";
import {
  STAKE,
  bjjKeyOf,
  createTask,
  deployNetwork,
  ethers,
  networkHelpers,
  parametersBlob,
  registerAppKey,
  uploadParameters,
  type CreatedTask,
  type Network,
} from "../helpers/fixture.js";
import { ORDER_4, ORDER_8, withSmallOrderComponent } from "../helpers/small-order.js";
import { FakeRelay } from "../helpers/fake-relay.js";
import { ModelUnavailableError, NodeAgent, StandInExecutor, type NodeAgentEvent } from "../../src/node/index.js";
import type { ExecutionRequest, ExecutionResult, Executor } from "../../src/node/executor.js";
import { isValidPublicKey, type PublicKey } from "../../src/crypto/babyjub.js";
import { blobToBytes } from "../../src/crypto/blob.js";
import { TaskAbortReason, TaskStatus } from "../../src/types.js";

/**
 * THE ONE PLACE that puts a task with `appKey` on-chain (see the file comment). The chain now refuses such keys
 * (`registerAppKey` checks the subgroup and `createTask` takes registered keys only: `SmallOrderKeys.t.sol`), so
 * this test stands for a chain where that check was bypassed (a key registered before the check, a misconfigured
 * fork): it marks the key as registered in the task manager's storage, then creates the task normally. The agent
 * must still refuse it on its own.
 */
async function createTaskWithAppKey(
  net: Network,
  app: Network["apps"][number],
  appKey: PublicKey,
): Promise<CreatedTask> {
  await markAppKeyRegistered(net, appKey);
  return createTask(net, app, { appPublicKey: appKey });
}

/** Writes `_appKeyChecked[keccak256(abi.encode(key))] = true`, locating the mapping's slot with a registered key. */
async function markAppKeyRegistered(net: Network, key: PublicKey): Promise<void> {
  const coder = AbiCoder.defaultAbiCoder();
  const manager = await net.taskManager.getAddress();
  const known = bjjKeyOf(net.apps[0].address).publicKey;
  await registerAppKey(net.taskManager, known);
  const entry = (k: PublicKey, slot: number) =>
    keccak256(coder.encode(["bytes32", "uint256"], [keccak256(coder.encode(["uint256[2]"], [k])), slot]));
  for (let slot = 0; slot < 64; slot++) {
    if (BigInt(await ethers.provider.getStorage(manager, entry(known, slot))) === 1n) {
      await networkHelpers.setStorageAt(manager, entry(key, slot), 1n);
      return;
    }
  }
  throw new Error("the registered-key mapping of TaskManager was not found in slots 0..63");
}

class RecordingExecutor implements Executor {
  readonly name = "recording";
  readonly runs: ExecutionRequest[] = [];
  /** When set, every run fails with this (e.g. a model that cannot be downloaded). */
  failWith: Error | null = null;
  private readonly inner = new StandInExecutor("bad-key");
  execute(request: ExecutionRequest): Promise<ExecutionResult> {
    this.runs.push(request);
    if (this.failWith) return Promise.reject(this.failWith);
    return this.inner.execute(request);
  }
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const freshNetwork = () => deployNetwork();

describe("integration: the node agent declines neutrally (app key outside the prime-order subgroup, model unavailable)", function () {
  this.timeout(120_000);

  let net: Network;
  let agent: NodeAgent | null = null;
  let executor: RecordingExecutor;
  let events: NodeAgentEvent[];
  let logs: string[];

  beforeEach(async function () {
    net = await networkHelpers.loadFixture(freshNetwork);
    executor = new RecordingExecutor();
    events = [];
    logs = [];
    const node = net.nodes[0];
    agent = new NodeAgent({
      wallet: node,
      addresses: {
        taskManager: await net.taskManager.getAddress(),
        registry: await net.registry.getAddress(),
        relayRoots: await net.relayRoots.getAddress(),
      },
      relayUrl: "http://127.0.0.1:9", // never used: the agent must not fetch anything for these tasks
      executor,
      bjjKey: bjjKeyOf(node.address),
      name: "node-0",
      pollMs: 50,
      retryMs: 150,
      log: (m) => logs.push(m),
    });
    agent.on("event", (e) => events.push(e));
    await agent.start(STAKE);
  });

  afterEach(async function () {
    await agent?.stop();
    agent = null;
  });

  async function expectDeclined(task: CreatedTask, appKey: PublicKey): Promise<void> {
    const node = net.nodes[0].address;
    const app = net.apps[0].address;
    await until("the decline", async () => (await net.taskManager.taskStatus(task.commitment)) === 9n);
    const info = await net.taskManager.getTask(task.commitment);
    expect(info.selectedNode).to.equal(node);
    expect(Number(info.abortReason)).to.equal(TaskAbortReason.AppKeyInvalid);
    expect(Number(info.error)).to.equal(0); // not reportTaskError
    expect(await net.taskManager.withdrawable(app)).to.equal(info.fee); // refunded in full
    expect(await net.taskManager.withdrawable(node)).to.equal(0n);
    const after = await net.registry.getNode(node);
    expect(after.health).to.equal(10_000n); // unchanged
    expect(after.scoreCount).to.equal(0n); // no QoS score
    expect(after.stake).to.equal(STAKE);
    expect(Number(after.status)).to.equal(1); // Available again
    expect(executor.runs).to.have.length(0);
    const aborted = await net.taskManager.queryFilter(net.taskManager.filters.TaskAborted(task.commitment));
    expect(aborted).to.have.length(1);
    expect(aborted[0].args.issuer).to.equal(node);
    const declined = events.find((e) => e.type === "declined");
    expect(declined).to.deep.include({ taskIDCommitment: task.commitment.toLowerCase() });
    expect(logs.some((m) => m.includes("outside the prime-order subgroup") && m.includes(String(appKey[0])))).to.equal(
      true,
    );
  }

  const cases: Array<[string, () => PublicKey]> = [
    ["an order-4 point (1/√a, 0)", () => ORDER_4],
    ["an order-8 point with x ≠ 0", () => ORDER_8],
    ["a real key plus the order-2 point", () => withSmallOrderComponent(bjjKeyOf(net.apps[0].address).publicKey)],
  ];
  for (const [name, key] of cases) {
    it(`declines in Started when the app key is ${name}`, async function () {
      const appKey = key();
      expect(isValidPublicKey(appKey)).to.equal(false);
      const task = await createTaskWithAppKey(net, net.apps[0], appKey);
      await expectDeclined(task, appKey);
    });
  }

  it("declines in ParametersUploaded too, without fetching or running the parameters", async function () {
    // Stop the agent so that the parameters land first, then let it recover the task from the chain.
    await agent!.stop();
    const task = await createTaskWithAppKey(net, net.apps[0], ORDER_8);
    await uploadParameters(net, net.apps[0], task.commitment);
    expect(await net.taskManager.taskStatus(task.commitment)).to.equal(BigInt(TaskStatus.ParametersUploaded));
    await agent!.start();
    await expectDeclined(task, ORDER_8);
    expect(events.some((e) => e.type === "error")).to.equal(false); // the dead relay URL was never asked
  });

  it("runs a task with a valid app key as before (control)", async function () {
    const nonce = await ethers.provider.getTransactionCount(net.nodes[0].address);
    const task = await createTask(net, net.apps[0]);
    await uploadParameters(net, net.apps[0], task.commitment);
    // The agent fetches from the dead relay URL: it must be retrying the fetch, not declining.
    await until("a fetch attempt", async () => events.some((e) => e.type === "error"));
    expect(await net.taskManager.taskStatus(task.commitment)).to.equal(BigInt(TaskStatus.ParametersUploaded));
    expect(events.some((e) => e.type === "declined")).to.equal(false);
    expect(await ethers.provider.getTransactionCount(net.nodes[0].address)).to.equal(nonce); // no decline sent
  });

  it("declines with ModelDownloadFailed when the executor says a model cannot be downloaded", async function () {
    const relay = new FakeRelay(net);
    await relay.start();
    try {
      await agent!.stop();
      const node = net.nodes[0];
      agent = new NodeAgent({
        wallet: node,
        addresses: {
          taskManager: await net.taskManager.getAddress(),
          registry: await net.registry.getAddress(),
          relayRoots: await net.relayRoots.getAddress(),
        },
        relayUrl: relay.url,
        executor,
        bjjKey: bjjKeyOf(node.address),
        name: "node-0",
        pollMs: 50,
        retryMs: 150,
        log: (m) => logs.push(m),
      });
      agent.on("event", (e) => events.push(e));
      await agent.start();
      executor.failWith = new ModelUnavailableError("acme/no-such-model", "404 from the model hub");
      const task = await createTask(net, net.apps[0]);
      await relay.put(blobToBytes((await parametersBlob(net, task.commitment)).blob));
      await uploadParameters(net, net.apps[0], task.commitment);
      await until("the decline", async () => (await net.taskManager.taskStatus(task.commitment)) === 9n);
      const info = await net.taskManager.getTask(task.commitment);
      expect(Number(info.abortReason)).to.equal(TaskAbortReason.ModelDownloadFailed);
      expect(Number(info.error)).to.equal(0); // not reportTaskError
      expect(await net.taskManager.withdrawable(net.apps[0].address)).to.equal(info.fee);
      expect((await net.registry.getNode(node.address)).health).to.equal(10_000n);
      expect(executor.runs).to.have.length(1);
      expect(events.find((e) => e.type === "declined")).to.deep.include({
        reason: TaskAbortReason.ModelDownloadFailed,
      });
      expect(logs.some((m) => m.includes("acme/no-such-model") && m.includes("ModelDownloadFailed"))).to.equal(true);
    } finally {
      await agent?.stop();
      await relay.stop();
    }
  });
});
