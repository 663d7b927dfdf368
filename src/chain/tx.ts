/**
 * One path for every transaction a client sends: sends from one account are serialised (so nonces never collide
 * when an application runs many tasks at once), each receipt is awaited, a revert becomes a {@link ContractCallError}
 * that names the contract's custom error and its arguments, and every mined call is reported to an optional
 * {@link GasRecorder} (the demo's gas table).
 */
import type { ContractTransactionReceipt, ContractTransactionResponse, ErrorDescription } from "ethers";
import { decodeRevert } from "./contracts.js";

/** A reverted (or failed) call, with the decoded custom error when there is one. */
export class ContractCallError extends Error {
  constructor(
    readonly call: string,
    /** The decoded custom error, e.g. `{ name: "TaskInvalidState", args: [id, 4] }`; null when not decodable. */
    readonly revert: ErrorDescription | null,
    readonly cause: unknown,
  ) {
    super(
      revert
        ? `${call} reverted with ${revert.name}(${revert.args.map((a) => String(a)).join(", ")})`
        : `${call} failed: ${(cause as Error)?.message ?? String(cause)}`,
    );
    this.name = "ContractCallError";
  }

  /** The custom error's name, or null. */
  get errorName(): string | null {
    return this.revert?.name ?? null;
  }
}

/** Receives every mined transaction (`call` is the contract function name). */
export type GasRecorder = (record: {
  actor: string;
  call: string;
  gasUsed: bigint;
  receipt: ContractTransactionReceipt;
}) => void;

function revertData(error: unknown): string | null {
  let e = error as { data?: unknown; info?: { error?: { data?: unknown } }; error?: { data?: unknown } } | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e.data === "string" && e.data.startsWith("0x")) return e.data;
    if (typeof e.info?.error?.data === "string") return e.info.error.data as string;
    e = (e as { error?: typeof e }).error ?? (e as { cause?: typeof e }).cause;
  }
  return null;
}

/** Serialises the sends of one account and decodes reverts. */
export class TxSender {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly actor: string,
    private readonly recorder?: GasRecorder,
  ) {}

  /**
   * Submits `submit()` after every earlier submission of this account was accepted by the node, waits for the
   * receipt outside the lock, and returns it. Throws {@link ContractCallError} on a revert.
   */
  async send(call: string, submit: () => Promise<ContractTransactionResponse>): Promise<ContractTransactionReceipt> {
    const sent = this.queue.then(submit, submit);
    this.queue = sent.catch(() => undefined);
    let receipt: ContractTransactionReceipt | null;
    try {
      receipt = await (await sent).wait();
    } catch (error) {
      throw new ContractCallError(call, decodeRevert(revertData(error)), error);
    }
    if (receipt === null) throw new ContractCallError(call, null, new Error("no receipt"));
    this.recorder?.({ actor: this.actor, call, gasUsed: receipt.gasUsed, receipt });
    return receipt;
  }

  /**
   * Sends `method(...args, overrides)` with a gas limit of the estimate plus 25 % and 25,000: the cost of several
   * calls depends on state other accounts change between the estimate and the block (`createTask` scans the
   * available nodes; a call that frees a node hands it a queued task), and an exact estimate would run out of gas.
   */
  call(call: string, method: ContractMethod, args: unknown[], overrides: { value?: bigint; extraGas?: bigint } = {}) {
    const { extraGas = 0n, ...rest } = overrides;
    return this.send(call, async () => {
      const estimate = await this.estimate(method, args, rest);
      return method(...args, { ...rest, gasLimit: (estimate * 5n) / 4n + 25_000n + extraGas });
    });
  }

  /**
   * The gas estimate of a call. While the node pool is frozen (a beacon word in flight, or a landed word's tasks not
   * dispatched yet: docs/randomness.md) node actions revert with `TaskPoolFrozen`; that lasts seconds, so the
   * estimate is retried every {@link POOL_FROZEN_RETRY_MS} for up to {@link POOL_FROZEN_WAIT_MS}.
   */
  private async estimate(method: ContractMethod, args: unknown[], overrides: { value?: bigint }): Promise<bigint> {
    const started = Date.now();
    for (;;) {
      try {
        return await method.estimateGas(...args, overrides);
      } catch (error) {
        const frozen = decodeRevert(revertData(error))?.name === "TaskPoolFrozen";
        if (!frozen || Date.now() - started > POOL_FROZEN_WAIT_MS) throw error;
        await new Promise((resolve) => setTimeout(resolve, POOL_FROZEN_RETRY_MS));
      }
    }
  }
}

/** How often, and for how long, {@link TxSender.call} retries a node action refused with `TaskPoolFrozen`. */
export const POOL_FROZEN_RETRY_MS = 250;
export const POOL_FROZEN_WAIT_MS = 120_000;

/** A typechain contract method, as {@link TxSender.call} uses it (`any[]`: each method has its own argument tuple). */
export interface ContractMethod {
  (...args: any[]): Promise<ContractTransactionResponse>;
  estimateGas(...args: any[]): Promise<bigint>;
}
