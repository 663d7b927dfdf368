/**
 * Acting as the contracts' admin, which is a `VSSTimelock` after deployment (DESIGN §13.6): every admin call is
 * scheduled by the governor, waits the timelock's delay, then executes. {@link TimelockSigner} does the three steps
 * for one ordinary contract call, so a test writes `contract.connect(net.governor).setConfig(...)` as before and
 * gets the `execute` transaction back (its events are the target's; its revert is the target's error).
 */
import {
  AbstractSigner,
  ZeroHash,
  keccak256,
  resolveAddress,
  toUtf8Bytes,
  type Provider,
  type Signer,
  type TransactionRequest,
  type TransactionResponse,
} from "ethers";
import type { VSSTimelock } from "../../typechain-types/index.js";

let saltCounter = 0;

/** A signer whose transactions go through the timelock: schedule (by `proposer`), wait the delay, execute. */
export class TimelockSigner extends AbstractSigner {
  constructor(
    readonly timelock: VSSTimelock,
    readonly proposer: Signer,
    provider: Provider,
  ) {
    super(provider);
  }

  async getAddress(): Promise<string> {
    return this.timelock.getAddress();
  }

  connect(): never {
    throw new Error("TimelockSigner: connect is not supported");
  }

  signTransaction(): Promise<string> {
    throw new Error("TimelockSigner: a timelock does not sign");
  }

  signMessage(): Promise<string> {
    throw new Error("TimelockSigner: a timelock does not sign");
  }

  signTypedData(): Promise<string> {
    throw new Error("TimelockSigner: a timelock does not sign");
  }

  async sendTransaction(tx: TransactionRequest): Promise<TransactionResponse> {
    if (tx.to == null) throw new Error("TimelockSigner: a call needs a target");
    const target = await resolveAddress(tx.to, this.provider);
    const data = tx.data ?? "0x";
    const value = BigInt(tx.value ?? 0n);
    const salt = keccak256(toUtf8Bytes(`vss-governed-call:${++saltCounter}:${Date.now()}`));
    const timelock = this.timelock.connect(this.proposer);
    const delay = await timelock.getMinDelay();
    await (await timelock.schedule(target, value, data, ZeroHash, salt, delay)).wait();
    // Blocks advance the clock by at least a second each, so a 1-second delay needs no travel.
    if (delay > 1n) {
      const rpc = this.provider as unknown as { send(method: string, params: unknown[]): Promise<unknown> };
      await rpc.send("evm_increaseTime", [Number(delay)]);
    }
    return timelock.execute(target, value, data, ZeroHash, salt, { value });
  }
}
