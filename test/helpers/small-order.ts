/** Baby Jubjub points of small order, and points with a small-order component, for the key-check tests. */
import { addPoint, mulPointEscalar, subOrder, unpackPoint } from "@zk-kit/baby-jubjub";
import type { PublicKey } from "../../src/crypto/babyjub.js";

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
