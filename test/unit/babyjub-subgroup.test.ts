/**
 * `isValidPublicKey` (src/crypto/babyjub.ts) accepts only keys in the prime-order subgroup of Base8 (DESIGN §13.4):
 * it rejects the small-order points (orders 2, 4 and 8, which make both circuits unsatisfiable) and the points with a
 * small-order component (P + T, which the circuits accept but the TypeScript ECDH refuses), although every one of
 * them is on the curve with x ≠ 0 and so passes the curve check that `createTask` makes today.
 *
 * Why the check is right: it computes [ℓ]P with ℓ = subOrder, an odd prime. For P = S + T with S in the subgroup and
 * T of order 1, 2, 4 or 8, [ℓ]P = [ℓ]T, which is the identity only when T is (ℓ is odd, so it is not a multiple of
 * T's order); hence [ℓ]P = identity exactly when P is in the subgroup.
 */
import { expect } from "chai";
import { Base8, addPoint, inCurve, mulPointEscalar, r } from "@zk-kit/baby-jubjub";
import { isValidPublicKey, keyPairFromSeed, type PublicKey } from "../../src/crypto/babyjub.js";
import { IDENTITY, ORDER_2, ORDER_4, ORDER_8, samePoint as same, smallOrder } from "../helpers/small-order.js";

describe("unit: Baby Jubjub keys outside the prime-order subgroup (isValidPublicKey)", function () {
  const honest = keyPairFromSeed("subgroup-test").publicKey;

  it("the test points have the orders they claim and pass the curve check with x ≠ 0", function () {
    expect(smallOrder(ORDER_8)).to.equal(8);
    expect(smallOrder(ORDER_4)).to.equal(4);
    expect(smallOrder(ORDER_2)).to.equal(2);
    expect(same(ORDER_2, [0n, r - 1n])).to.equal(true); // (0, -1)
    expect(ORDER_4[1]).to.equal(0n); // (±1/√a, 0)
    for (const p of [ORDER_8, ORDER_4]) {
      expect(inCurve(p)).to.equal(true);
      expect(p[0]).to.not.equal(0n);
    }
  });

  it("accepts a real key (s · Base8) and Base8 itself", function () {
    expect(isValidPublicKey(honest)).to.equal(true);
    expect(isValidPublicKey(Base8 as PublicKey)).to.equal(true);
  });

  it("rejects the order-8 point", function () {
    expect(isValidPublicKey(ORDER_8)).to.equal(false);
  });

  it("rejects the order-4 point (1/√a, 0) and its negation", function () {
    expect(isValidPublicKey(ORDER_4)).to.equal(false);
    expect(isValidPublicKey(addPoint(ORDER_4, ORDER_2) as PublicKey)).to.equal(false);
  });

  it("rejects the order-2 point (0, -1) and the identity", function () {
    expect(isValidPublicKey(ORDER_2)).to.equal(false);
    expect(isValidPublicKey(IDENTITY)).to.equal(false);
  });

  it("rejects P + T for a real key P and T of order 2, 4 and 8 (on the curve, x ≠ 0)", function () {
    for (const t of [ORDER_2, ORDER_4, ORDER_8]) {
      const mixed = addPoint(honest, t) as PublicKey;
      expect(inCurve(mixed)).to.equal(true);
      expect(mixed[0]).to.not.equal(0n);
      expect(isValidPublicKey(mixed)).to.equal(false);
      // [8](P + T) is back in the subgroup: the cofactor component is all that is wrong.
      expect(isValidPublicKey(mulPointEscalar(mixed, 8n) as PublicKey)).to.equal(true);
    }
  });

  it("rejects a point off the curve", function () {
    expect(isValidPublicKey([honest[0], honest[1] + 1n])).to.equal(false);
  });
});
