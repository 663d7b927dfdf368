/**
 * The dispatch step of docs/randomness.md, seen from off-chain: how a task's randomness follows from its epoch's
 * beacon word, how a dispatcher recovers the pending tasks' inputs from `TaskPending`, and a local fulfiller that
 * answers Chainlink's mock coordinator and dispatches (the demo, the CLI on a local chain, and the tests use it).
 */
import { AbiCoder, Contract, keccak256, type ContractRunner, type Signer } from "ethers";
import type { TaskManager } from "../../typechain-types/index.js";
import type { ITaskManager } from "../../typechain-types/TaskManager.js";

const abi = AbiCoder.defaultAbiCoder();

/** A task's randomness from its epoch's word (`TaskDispatch._dispatchOne`). */
export interface TaskRandomness {
  /** r = keccak256(abi.encode(word, creator, commitment)). */
  r: string;
  /** The sampling seed: keccak256(abi.encode(r, "sampling")). */
  seed: string;
  /** The node-selection randomness: keccak256(abi.encode(r, "dispatch")). */
  dispatch: bigint;
}

export function taskRandomness(word: bigint, creator: string, commitment: string): TaskRandomness {
  const r = keccak256(abi.encode(["uint256", "address", "bytes32"], [word, creator, commitment]));
  return {
    r,
    seed: keccak256(abi.encode(["bytes32", "string"], [r, "sampling"])),
    dispatch: BigInt(keccak256(abi.encode(["bytes32", "string"], [r, "dispatch"]))),
  };
}

/** The ABI of the beacon parts the off-chain side reads (`IRandomnessBeacon` plus `VRFBeacon`'s request id). */
export const BEACON_ABI = [
  "function wordOf(uint64 epoch) view returns (uint256)",
  "function inFlight() view returns (bool)",
  "function requestId() view returns (uint256)",
  "function requestedEpoch() view returns (uint64)",
  "function openHasTasks() view returns (bool)",
  "function poke()",
  "event BeaconWordDelivered(uint64 indexed epoch, uint256 word)",
];

/** The mock coordinator's calls a local fulfiller makes. */
export const MOCK_COORDINATOR_ABI = [
  "function fulfillRandomWords(uint256 requestId, address consumer)",
  "function fulfillRandomWordsWithOverride(uint256 requestId, address consumer, uint256[] words)",
];

/** The beacon a task manager draws from, connected to `runner`. */
export async function beaconOf(taskManager: TaskManager, runner: ContractRunner): Promise<Contract> {
  return new Contract(await taskManager.BEACON(), BEACON_ABI, runner);
}

/**
 * The inputs of pending tasks, in the order of `ids`, decoded from their `TaskPending` events (the input is
 * `abi.encode(TaskInput)` as given to `createTask`). Throws when a task has no such event in the searched blocks.
 */
export async function pendingInputs(
  taskManager: TaskManager,
  ids: string[],
  fromBlock: number = 0,
): Promise<ITaskManager.TaskInputStruct[]> {
  if (ids.length === 0) return [];
  const fragment = taskManager.interface.getFunction("createTask");
  // An array of topic values matches any of them (ethers), which typechain's filter types do not spell out.
  const logs = await taskManager.queryFilter(taskManager.filters.TaskPending(ids as unknown as string), fromBlock);
  const byId = new Map<string, ITaskManager.TaskInputStruct>();
  for (const log of logs) {
    const [i] = taskManager.interface.decodeFunctionData(fragment, fragment.selector + log.args.input.slice(2));
    // A plain copy: ethers' decoded results are read-only, and encoding them again would try to normalise them.
    byId.set(log.args.taskIDCommitment, {
      taskType: i.taskType,
      taskIDCommitment: i.taskIDCommitment,
      nonce: i.nonce,
      modelIDs: [...i.modelIDs],
      minimumVRAM: i.minimumVRAM,
      requiredGPU: i.requiredGPU,
      requiredGPUVRAM: i.requiredGPUVRAM,
      taskVersion: [i.taskVersion[0], i.taskVersion[1], i.taskVersion[2]],
      taskSize: i.taskSize,
      appPublicKey: [i.appPublicKey[0], i.appPublicKey[1]],
    });
  }
  return ids.map((id) => {
    const input = byId.get(id);
    if (!input) throw new Error(`no TaskPending event for pending task ${id} since block ${fromBlock}`);
    return input;
  });
}

/**
 * Dispatches up to `max` pending tasks, oldest first, as `signer` (who earns their bounties). Returns how many were
 * pending (0: nothing to do). Tasks whose word has not landed stay pending; the call then dispatches none of them.
 */
export async function dispatchPending(taskManager: TaskManager, signer: Signer, max = 32): Promise<number> {
  const ids = await taskManager.pendingTasks(max);
  if (ids.length === 0) return 0;
  const inputs = await pendingInputs(taskManager, [...ids]);
  await (await taskManager.connect(signer).dispatchTasks(inputs)).wait();
  return ids.length;
}

/**
 * A local stand-in for Chainlink's VRF service plus a dispatcher: every `intervalMs` it answers the mock
 * coordinator's open request (random words chosen by the mock, nobody else), dispatches the pending tasks and frees
 * deferred node releases. Local networks only: whoever calls the mock chooses the words.
 */
export class LocalFulfiller {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  /** Words delivered and dispatch calls made so far. */
  readonly stats = { words: 0, dispatchCalls: 0 };

  constructor(
    private readonly taskManager: TaskManager,
    private readonly coordinator: Contract,
    private readonly beacon: Contract,
    private readonly signer: Signer,
    private readonly intervalMs = 500,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  /** Connects to the deployment's beacon and the mock `coordinator` address. */
  static async connect(
    taskManager: TaskManager,
    coordinator: string,
    signer: Signer,
    intervalMs?: number,
    log?: (line: string) => void,
  ): Promise<LocalFulfiller> {
    return new LocalFulfiller(
      taskManager,
      new Contract(coordinator, MOCK_COORDINATOR_ABI, signer),
      await beaconOf(taskManager, signer),
      signer,
      intervalMs,
      log,
    );
  }

  start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round: deliver the word in flight, dispatch, release. Errors are logged and retried next round. */
  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      if (await this.beacon.inFlight()) {
        const requestId: bigint = await this.beacon.requestId();
        await (await this.coordinator.fulfillRandomWords(requestId, await this.beacon.getAddress())).wait();
        this.stats.words += 1;
        this.log(`beacon word delivered for request ${requestId}`);
      }
      if ((await this.taskManager.pendingTasks(1)).length > 0) {
        const n = await dispatchPending(this.taskManager, this.signer);
        if (n > 0) this.stats.dispatchCalls += 1;
      } else if (!(await this.taskManager.poolFrozen())) {
        // Node releases deferred while the pool was frozen, then the next word if tasks wait for one: the task
        // manager requests it only once no release is left waiting (the beacon takes new requests from it alone).
        const manager = this.taskManager.connect(this.signer);
        const waiting = (await manager.releaseDeferred.staticCall(16)) > 0n;
        if (waiting || (!(await this.beacon.inFlight()) && (await this.beacon.openHasTasks())))
          await (await manager.releaseDeferred(16)).wait();
      }
    } catch (error) {
      this.log(`fulfiller: ${(error as Error).message.split("\n")[0]}`);
    } finally {
      this.busy = false;
    }
  }
}
