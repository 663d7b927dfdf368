/**
 * Baby Jubjub points of small order, and points with a small-order component, for the key-check tests (the
 * circuits have no witness for such keys, so the chain and the agents must refuse them).
 */
import { addPoint, mulPointEscalar, subOrder, unpackPoint } from "@zk-kit/baby-jubjub";
import { poseidonEncrypt } from "@zk-kit/poseidon-cipher";
import { publicKeyOf, type PublicKey } from "../../src/crypto/babyjub.js";
import { randomNonce128, type Blob } from "../../src/crypto/blob.js";

export const IDENTITY: PublicKey = [0n, 1n];

export function samePoint(p: readonly bigint[], q: readonly bigint[]): boolean {
  return p[0] === q[0] && p[1] === q[1];
}

/** The order of a point of small order (1, 2, 4 or 8), by doubling; throws for any other point. */
export function smallOrder(p: PublicKey): number {
  let q = p;
  for (let n = 1; n <= 8; n *= 2) {
    if (samePoint(q, IDENTITY)) return n;
    q = addPoint(q, q) as PublicKey;
  }
  throw new Error("not of small order");
}

/**
 * A point of order 8: [ℓ]Q for the first curve point Q (decompressed from a small y) whose cofactor part has full
 * order 8. The curve's torsion subgroup is cyclic of order 8, so such a Q exists among the first few y.
 */
function orderEightPoint(): PublicKey {
  for (let y = 2n; y < 1000n; y++) {
    const q = unpackPoint(y);
    if (!q) continue;
    const t = mulPointEscalar(q, subOrder) as PublicKey;
    if (smallOrder(t) === 8) return t;
  }
  throw new Error("no order-8 point found");
}

/** A point of order 8 (on the curve, x ≠ 0). */
export const ORDER_8: PublicKey = orderEightPoint();
/** A point of order 4: (±1/√a, 0). */
export const ORDER_4: PublicKey = addPoint(ORDER_8, ORDER_8) as PublicKey;
/** The point of order 2: (0, −1). */
export const ORDER_2: PublicKey = addPoint(ORDER_4, ORDER_4) as PublicKey;

/** `key` plus a point of small order: on the curve, x ≠ 0, outside the prime-order subgroup. */
export function withSmallOrderComponent(key: PublicKey, t: PublicKey = ORDER_2): PublicKey {
  return addPoint(key, t) as PublicKey;
}

/** The order-8 and order-4 points as mutable pairs (the circuit tests' inputs). */
export function smallOrderKeys(): { order8: [bigint, bigint]; order4: [bigint, bigint] } {
  return { order8: [ORDER_8[0], ORDER_8[1]], order4: [ORDER_4[0], ORDER_4[1]] };
}

/**
 * `encryptBlob` without its key check (src/crypto/babyjub.ts refuses small-order keys): what anyone can compute for
 * any curve point, to show that the circuits, not only the TypeScript library, refuse such a recipient.
 */
export function encryptToAnyKey(message: readonly bigint[], key: [bigint, bigint]): { blob: Blob; secret: bigint } {
  const secret = 123456789n; // any scalar in (0, subOrder)
  const shared = mulPointEscalar(key, secret) as [bigint, bigint];
  const nonce = randomNonce128();
  return {
    blob: { ephemeralPublicKey: publicKeyOf(secret), nonce, ciphertext: poseidonEncrypt([...message], shared, nonce) },
    secret,
  };
}
