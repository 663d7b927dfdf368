/**
 * Small generic helpers for validation groups (DESIGN §1, §5): creating the original (sampled) task and its two
 * validation tasks under one GUID, decoding the events of a receipt into comparable keys, and the fee split of
 * `TaskManager._payGroup`.
 */
import type { Interface, TransactionReceipt, Wallet } from "ethers";
import type { Bytes32 } from "../../src/crypto/commitment.js";
import { createTask, networkHelpers, selectedNode, type CreatedTask, type Network } from "./fixture.js";

/** A member of a validation group, with its fee and the node it was dispatched to. */
export interface GroupMember extends CreatedTask {
  fee: bigint;
  node: Wallet;
}

/** The three tasks of a group, in creation order (member 0 is the original, sampled task). */
export interface TaskGroup {
  taskGUID: Bytes32;
  members: [GroupMember, GroupMember, GroupMember];
}

/**
 * Creates the original task (its VRF says "sampled") and then two validation tasks with the same GUID.
 * `gaps[k]` seconds pass before creating member k+1 (default none). Every member must be dispatched at once.
 */
export async function createGroup(
  net: Network,
  app: Wallet,
  fees: readonly [bigint, bigint, bigint],
  gaps: readonly [number, number] = [0, 0],
): Promise<TaskGroup> {
  const original = await createTask(net, app, { sampled: true, fee: fees[0] });
  const created: CreatedTask[] = [original];
  for (let k = 1; k < 3; k++) {
    if (gaps[k - 1] > 0) await networkHelpers.time.increase(gaps[k - 1]);
    created.push(await createTask(net, app, { taskGUID: original.taskGUID, k: k as 1 | 2, fee: fees[k] }));
  }
  const members = await Promise.all(
    created.map(async (task, i) => ({ ...task, fee: fees[i], node: await selectedNode(net, task.commitment) })),
  );
  return { taskGUID: original.taskGUID, members: members as [GroupMember, GroupMember, GroupMember] };
}

/** A contract whose logs can be decoded. */
export interface EventSource {
  interface: Interface;
  getAddress(): Promise<string>;
}

function normalise(value: unknown): string {
  return String(value).toLowerCase();
}

/** `Name(arg0,arg1,...)` with every argument lower-cased, the form {@link eventKeys} produces. */
export function eventKey(name: string, ...args: unknown[]): string {
  return `${name}(${args.map(normalise).join(",")})`;
}

/** The keys of the events named in `names` that `sources` emitted in `receipt`, sorted. */
export async function eventKeys(
  receipt: Pick<TransactionReceipt, "logs">,
  sources: readonly EventSource[],
  names: ReadonlySet<string>,
): Promise<string[]> {
  const byAddress = new Map<string, Interface>();
  for (const source of sources) byAddress.set((await source.getAddress()).toLowerCase(), source.interface);
  const keys: string[] = [];
  for (const log of receipt.logs) {
    const iface = byAddress.get(log.address.toLowerCase());
    const parsed = iface?.parseLog({ topics: [...log.topics], data: log.data });
    if (parsed && names.has(parsed.name)) keys.push(eventKey(parsed.name, ...parsed.args));
  }
  return keys.sort();
}

/**
 * What each agreeing member's node is paid from the validated task's `fee` (`TaskManager._payGroup`): every other
 * agreeing member's node gets `fee · qos / Σqos` (rounded down), the validated member's node the rest.
 * Returns the amount per member index (0 for members with qos 0).
 */
export function groupShares(fee: bigint, qos: readonly number[], validated: number): bigint[] {
  const total = qos.reduce((sum, q) => sum + BigInt(q), 0n);
  const shares = qos.map((q, i) => (i === validated || q === 0 ? 0n : (fee * BigInt(q)) / total));
  shares[validated] = fee - shares.reduce((sum, s) => sum + s, 0n);
  return shares;
}
