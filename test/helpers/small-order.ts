/**
 * Baby Jubjub keys of small order, for tests that show what such keys do (issue 17): the circuits have no witness
 * for them, so the registry must refuse them.
 */
import { expect } from "chai";
import { Base8, inCurve, mulPointEscalar, subOrder } from "@zk-kit/baby-jubjub";
import { poseidonEncrypt } from "@zk-kit/poseidon-cipher";
import { publicKeyOf } from "../../src/crypto/babyjub.js";
import { randomNonce128, type Blob } from "../../src/crypto/blob.js";

/**
 * Baby Jubjub points of small order, from the full-order generator G of circomlib (EIP-2494): [subOrder]·G has
 * order 8, and its double order 4. Each is checked (on the curve, [8]P = identity, [4]P ≠ identity) before use.
 */
const GENERATOR: [bigint, bigint] = [
  995203441582195749578291179787384436505546430278305826713579947235728471134n,
  5472060717959818805561601436314318772137091100104008585924551046643952123905n,
];
export function smallOrderKeys(): { order8: [bigint, bigint]; order4: [bigint, bigint] } {
  const isIdentity = (p: [bigint, bigint]) => p[0] === 0n && p[1] === 1n;
  expect(inCurve(GENERATOR)).to.equal(true);
  expect(mulPointEscalar(GENERATOR, 8n)).to.deep.equal(Base8);
  const order8 = mulPointEscalar(GENERATOR, subOrder) as [bigint, bigint];
  const order4 = mulPointEscalar(order8, 2n) as [bigint, bigint];
  expect(inCurve(order8)).to.equal(true);
  expect(isIdentity(mulPointEscalar(order8, 8n) as [bigint, bigint])).to.equal(true);
  expect(isIdentity(mulPointEscalar(order8, 4n) as [bigint, bigint])).to.equal(false);
  expect(isIdentity(mulPointEscalar(order4, 4n) as [bigint, bigint])).to.equal(true);
  expect(isIdentity(mulPointEscalar(order4, 2n) as [bigint, bigint])).to.equal(false);
  // x ≠ 0: not caught by the circuit's x = 0 check (that one only excludes the points of order 1 and 2).
  expect(order8[0]).to.not.equal(0n);
  expect(order4[0]).to.not.equal(0n);
  return { order8, order4 };
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
