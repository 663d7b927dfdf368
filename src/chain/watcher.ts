/**
 * Follows the chain for the application client and the node agent: polls new blocks, fetches the logs of
 * `TaskManager` and `NodeRegistry` (`eth_getLogs`, so it works on any JSON-RPC endpoint and on Hardhat's in-process
 * network alike), decodes them, and hands them to subscribers in chain order. Waiters can sleep until "something
 * happened to this task" or "the chain's clock passed this deadline".
 *
 * Events are wake-ups, not the truth: clients re-read the task from the chain when woken (`getTask`), so a missed,
 * duplicated or reordered event can delay an action but never cause a wrong one.
 */
import type { Provider, Result } from "ethers";
import { NodeRegistry__factory, TaskManager__factory } from "../../typechain-types/index.js";
import type { NetworkAddresses } from "./contracts.js";

/** A decoded log of TaskManager or NodeRegistry. */
export interface ChainEvent {
  contract: "TaskManager" | "NodeRegistry";
  name: string;
  args: Result;
  /** The event's `taskIDCommitment` argument, when it has one. */
  commitment: string | null;
  blockNumber: number;
  transactionHash: string;
  logIndex: number;
}

/** A block the watcher has processed. */
export interface ChainBlock {
  number: number;
  timestamp: bigint;
}

/** Why a {@link ChainWatcher.wait} returned. */
export type WakeReason = "event" | "deadline" | "timeout" | "stopped";

export interface WatcherOptions {
  /** Poll interval in ms (default 200). */
  pollMs?: number;
  /** First block to read logs from (default: the block after the current one at `start`). */
  fromBlock?: number;
  /** Largest block range of one `eth_getLogs` (default 2,000). */
  maxRange?: number;
  /** Errors of a poll (the watcher retries at the next tick). */
  onError?: (error: unknown) => void;
}

interface Waiter {
  commitment: string | null;
  until: bigint | null;
  resolve: (reason: WakeReason) => void;
  timer?: NodeJS.Timeout;
}

const TM = TaskManager__factory.createInterface();
const REG = NodeRegistry__factory.createInterface();

/** Polls blocks and logs; see the file comment. One watcher can serve any number of clients in a process. */
export class ChainWatcher {
  private readonly eventListeners = new Set<(event: ChainEvent) => void>();
  private readonly blockListeners = new Set<(block: ChainBlock) => void>();
  private readonly waiters = new Set<Waiter>();
  /** Number of events seen per task commitment (lower-case), to close the gap between a read and a wait. */
  private readonly versions = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private polling: Promise<void> | null = null;
  private nextBlock = -1;
  /** The latest processed block (number -1 before the first poll). */
  latest: ChainBlock = { number: -1, timestamp: 0n };
  readonly pollMs: number;

  constructor(
    readonly provider: Provider,
    readonly addresses: NetworkAddresses,
    private readonly options: WatcherOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 200;
  }

  /** Starts polling (idempotent). Logs before `fromBlock` (default: now) are not replayed. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    if (this.nextBlock < 0) {
      const current = await this.provider.getBlockNumber();
      this.nextBlock = this.options.fromBlock ?? current + 1;
      const block = await this.provider.getBlock(current);
      this.latest = { number: current, timestamp: BigInt(block?.timestamp ?? 0) };
    }
    this.schedule(0);
  }

  /** Stops polling; pending waits resolve with "stopped". */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.polling;
    for (const w of [...this.waiters]) this.wake(w, "stopped");
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Subscribes to every decoded event; returns the unsubscribe function. */
  onEvent(listener: (event: ChainEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Subscribes to every processed block (after its events); returns the unsubscribe function. */
  onBlock(listener: (block: ChainBlock) => void): () => void {
    this.blockListeners.add(listener);
    return () => this.blockListeners.delete(listener);
  }

  /** How many events naming `commitment` the watcher has seen (pass it to {@link wait} to miss none). */
  version(commitment: string): number {
    return this.versions.get(commitment.toLowerCase()) ?? 0;
  }

  /**
   * Sleeps until an event names `commitment` (immediately if one arrived since `sinceVersion` was read), a
   * processed block's timestamp reaches `until`, `timeoutMs` passes, or the watcher stops.
   */
  wait(
    commitment: string | null,
    options: { sinceVersion?: number; until?: bigint | null; timeoutMs?: number } = {},
  ): Promise<WakeReason> {
    if (!this.running) return Promise.resolve("stopped");
    const key = commitment?.toLowerCase() ?? null;
    if (key && options.sinceVersion !== undefined && this.version(key) !== options.sinceVersion) {
      return Promise.resolve("event");
    }
    if (options.until != null && this.latest.timestamp >= options.until) return Promise.resolve("deadline");
    return new Promise((resolve) => {
      const waiter: Waiter = { commitment: key, until: options.until ?? null, resolve };
      if (options.timeoutMs !== undefined)
        waiter.timer = setTimeout(() => this.wake(waiter, "timeout"), options.timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Reads and dispatches everything up to the current block now (also used by tests). */
  async poll(): Promise<void> {
    if (this.polling) return this.polling;
    this.polling = this.pollOnce().finally(() => (this.polling = null));
    return this.polling;
  }

  private schedule(delay: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.poll()
        .catch((error) => this.options.onError?.(error))
        .finally(() => this.schedule(this.pollMs));
    }, delay);
  }

  private async pollOnce(): Promise<void> {
    const head = await this.provider.getBlockNumber();
    if (head < this.nextBlock) return;
    const maxRange = this.options.maxRange ?? 2_000;
    while (this.nextBlock <= head) {
      const to = Math.min(head, this.nextBlock + maxRange - 1);
      const logs = await this.provider.getLogs({
        address: [this.addresses.taskManager, this.addresses.registry],
        fromBlock: this.nextBlock,
        toBlock: to,
      });
      logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
      const block = await this.provider.getBlock(to);
      for (const log of logs) {
        const isTM = log.address.toLowerCase() === this.addresses.taskManager.toLowerCase();
        const parsed = (isTM ? TM : REG).parseLog({ topics: [...log.topics], data: log.data });
        if (!parsed) continue;
        const at = parsed.fragment.inputs.findIndex((input) => input.name === "taskIDCommitment");
        this.dispatch({
          contract: isTM ? "TaskManager" : "NodeRegistry",
          name: parsed.name,
          args: parsed.args,
          commitment: at >= 0 ? (parsed.args[at] as string) : null,
          blockNumber: log.blockNumber,
          transactionHash: log.transactionHash,
          logIndex: log.index,
        });
      }
      this.nextBlock = to + 1;
      this.latest = { number: to, timestamp: BigInt(block?.timestamp ?? 0) };
      for (const listener of this.blockListeners) listener(this.latest);
      for (const w of [...this.waiters])
        if (w.until !== null && this.latest.timestamp >= w.until) this.wake(w, "deadline");
    }
  }

  private dispatch(event: ChainEvent): void {
    if (event.commitment !== null) {
      const key = event.commitment.toLowerCase();
      this.versions.set(key, (this.versions.get(key) ?? 0) + 1);
      for (const w of [...this.waiters]) if (w.commitment === key) this.wake(w, "event");
    }
    for (const listener of this.eventListeners) {
      try {
        listener(event);
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }

  private wake(waiter: Waiter, reason: WakeReason): void {
    if (!this.waiters.delete(waiter)) return;
    if (waiter.timer) clearTimeout(waiter.timer);
    waiter.resolve(reason);
  }
}
