/**
 * Score comparison (DESIGN §4); the same rule as `contracts/libraries/SimHash.sol`.
 *
 * Image scores (`SD`, `SD_FT`) are 64-bit perceptual hashes, one 8-byte big-endian block per image. Two image
 * scores match when they have the same length and every block differs in fewer than `threshold` bits. Text scores
 * (`LLM`) are 32-byte hashes of the output and match only when equal.
 */
import { getBytes, hexlify } from "ethers";
import { TaskType } from "../types.js";

/** Length of a text score. */
export const TEXT_SCORE_LENGTH = 32;
/** Length of one image's hash. */
export const BLOCK_LENGTH = 8;
/** The network's default `distanceThreshold`. */
export const DEFAULT_DISTANCE_THRESHOLD = 24;

/** Number of differing bits between two 64-bit values. */
export function hammingDistance64(a: bigint, b: bigint): number {
  let v = (a ^ b) & 0xffffffffffffffffn;
  let count = 0;
  while (v !== 0n) {
    v &= v - 1n;
    count += 1;
  }
  return count;
}

/** Whether a score has the shape the chain accepts for `taskType`. */
export function isWellFormedScore(taskType: TaskType, score: Uint8Array | string): boolean {
  const bytes = getBytes(score);
  if (taskType === TaskType.LLM) return bytes.length === TEXT_SCORE_LENGTH;
  return bytes.length !== 0 && bytes.length % BLOCK_LENGTH === 0;
}

/** Whether two scores match under the chain's rule. */
export function scoresMatch(
  taskType: TaskType,
  a: Uint8Array | string,
  b: Uint8Array | string,
  threshold: number = DEFAULT_DISTANCE_THRESHOLD,
): boolean {
  const x = getBytes(a);
  const y = getBytes(b);
  if (x.length !== y.length) return false;
  if (taskType === TaskType.LLM) return hexlify(x) === hexlify(y);
  for (let offset = 0; offset < x.length; offset += BLOCK_LENGTH) {
    const bx = BigInt(hexlify(x.subarray(offset, offset + BLOCK_LENGTH)));
    const by = BigInt(hexlify(y.subarray(offset, offset + BLOCK_LENGTH)));
    if (hammingDistance64(bx, by) >= threshold) return false;
  }
  return true;
}

/** Flips `bits` distinct bits of every 8-byte block (bit positions drawn from `random`), for tests and demos. */
export function perturbScore(score: Uint8Array | string, bits: number, random: () => number = Math.random): string {
  const bytes = getBytes(score).slice();
  for (let offset = 0; offset < bytes.length; offset += BLOCK_LENGTH) {
    const chosen = new Set<number>();
    while (chosen.size < Math.min(bits, 64)) chosen.add(Math.floor(random() * 64));
    for (const bit of chosen) bytes[offset + (bit >> 3)] ^= 1 << (bit & 7);
  }
  return hexlify(bytes);
}
