/**
 * Task identifiers of the verifiable secret sampling scheme (DESIGN §1).
 *
 * - `taskGUID`: 32 random bytes chosen by the application; the three tasks of a validation group share it.
 * - `nonce`: `keccak256(abi.encodePacked(taskGUID, uint8(k)))`, k = 0 for the original task, 1 and 2 for its
 *   validation tasks (DESIGN §13.2): group validation checks it, so a GUID names exactly three tasks.
 * - `taskIDCommitment = keccak256(abi.encodePacked(taskGUID, nonce))`: the task's primary key on-chain. Until the
 *   application reveals the GUID at group validation, nobody can tell which tasks belong together.
 *
 * Model and GPU identifiers are the keccak256 of their UTF-8 names, as the contracts compare them.
 */
import { hexlify, keccak256, randomBytes, solidityPackedKeccak256, toUtf8Bytes } from "ethers";

/** A 0x-prefixed 32-byte hex string. */
export type Bytes32 = string;

/** 32 random bytes for a new task GUID. */
export function randomGUID(): Bytes32 {
  return hexlify(randomBytes(32));
}

/** 32 random bytes for a task nonce. */
export function randomNonce(): Bytes32 {
  return hexlify(randomBytes(32));
}

/** `keccak256(abi.encodePacked(taskGUID, nonce))`, the same expression as `TaskManager`. */
export function taskIDCommitment(taskGUID: Bytes32, nonce: Bytes32): Bytes32 {
  return solidityPackedKeccak256(["bytes32", "bytes32"], [taskGUID, nonce]);
}

/** Member k's nonce under `taskGUID`: `keccak256(abi.encodePacked(taskGUID, uint8(k)))`, as `TaskRules.check`. */
export function taskNonce(taskGUID: Bytes32, k: 0 | 1 | 2): Bytes32 {
  return solidityPackedKeccak256(["bytes32", "uint8"], [taskGUID, k]);
}

/** Member k of `taskGUID` (a new GUID when omitted; k = 0, the original, by default). */
export function newTaskIdentity(
  taskGUID: Bytes32 = randomGUID(),
  k: 0 | 1 | 2 = 0,
): {
  taskGUID: Bytes32;
  nonce: Bytes32;
  commitment: Bytes32;
} {
  const nonce = taskNonce(taskGUID, k);
  return { taskGUID, nonce, commitment: taskIDCommitment(taskGUID, nonce) };
}

/** The on-chain id of a model: keccak256 of its UTF-8 name (e.g. "stabilityai/sdxl-turbo"). */
export function modelId(name: string): Bytes32 {
  return keccak256(toUtf8Bytes(name));
}

/** The on-chain id of a GPU model: keccak256 of its UTF-8 name (e.g. "NVIDIA GeForce RTX 4090"). */
export function gpuId(name: string): Bytes32 {
  return keccak256(toUtf8Bytes(name));
}

/** The "any GPU" marker of `TaskInput.requiredGPU`. */
export const ANY_GPU: Bytes32 = "0x" + "00".repeat(32);
