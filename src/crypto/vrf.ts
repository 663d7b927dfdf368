/**
 * Chainlink-compatible VRF (verifiable random function) on secp256k1: prover and verifier.
 *
 * This is the scheme that Chainlink's `VRF.sol` (`@chainlink/contracts/src/v0.8/vrf/VRF.sol`) verifies on-chain,
 * i.e. ECVRF from draft-irtf-cfrg-vrf-05 §5 with Chainlink's EVM-friendly deviations: keccak256 instead of SHA-256,
 * secp256k1, a "hash until you land on the curve" hash-to-curve, uncompressed points in the challenge hash, and
 * U = k·G replaced by its Ethereum address. Proofs made here pass `VRF._verifyVRFProof` (tested against the
 * deployed `SamplingVerifier`), and proofs made by Chainlink's Go prover pass {@link verifyVRF} (tested against the
 * vectors in Chainlink's own Foundry tests).
 *
 * ## Scheme
 * Keys: secret scalar `sk ∈ [1, n)`, public point `pk = sk·G` (affine `[x, y]`, as `uint256[2]`).
 * Let `u256(x)` be the 32-byte big-endian encoding, `‖` concatenation (Solidity `abi.encodePacked`), `p` the field
 * prime and `n` the group order.
 *
 * - fieldHash(b): `x = keccak256(b)`; while `x ≥ p`: `x = keccak256(u256(x))`.
 * - candidate(b): `x = fieldHash(b)`, `y = (x³+7)^((p+1)/4) mod p`, negated if odd (even-y convention).
 * - hashToCurve(pk, seed): `P = candidate(u256(1) ‖ pk ‖ u256(seed))`; while `P` is not on the curve (that is, `x³+7`
 *   is not a square): `P = candidate(u256(P.x))`.
 * - Prove: `H = hashToCurve(pk, seed)`, `Γ = sk·H`, nonce `k`, `U = k·G`, `V = k·H`,
 *   `c = uint256(keccak256(u256(2) ‖ H ‖ pk ‖ Γ ‖ V ‖ address(U)))` (not reduced mod n), `s = (k − c·sk) mod n`.
 * - Verify: `address(c·pk + s·G) == address(U)`; `V' = c·Γ + s·H`; accept iff `c == keccak256(u256(2) ‖ H ‖ pk ‖ Γ ‖
 *   V' ‖ uWitness)`. (Chainlink adds where the draft subtracts, hence `s = k − c·sk`.)
 * - Output: `uint256(keccak256(abi.encode(uint256(3), Γ)))`. Γ is unique for (sk, seed), so the output is too.
 *
 * ## Domain-separation constants (the first 32-byte word of each hash input)
 * - `HASH_TO_CURVE_HASH_PREFIX = 1`: the initial hash in hashToCurve.
 * - `SCALAR_FROM_CURVE_POINTS_HASH_PREFIX = 2`: the challenge hash that yields `c`.
 * - `VRF_RANDOM_OUTPUT_HASH_PREFIX = 3`: the final output hash.
 * They keep the three uses of keccak256 on related inputs from ever colliding with one another.
 *
 * ## Why the proof carries witnesses
 * The EVM has no secp256k1 multiplication precompile, so `VRF.sol` verifies products with `ecrecover`, which only
 * reveals the *address* of a point, and it performs the one point addition itself with projective formulas:
 * - `uWitness`: the address of `U = c·pk + s·G`. ecrecover computes exactly this linear combination and returns its
 *   address, so the proof commits to U's address (and the challenge hashes the address, not the point).
 * - `cGammaWitness` = `c·Γ`, `sHashWitness` = `s·H`: the two summands of `V`, as full points. Each is checked with
 *   one ecrecover call (the address of `scalar·point`), and then they are added on-chain to get `V`.
 * - `zInv`: the inverse mod p of the `z` coordinate that `VRF._projectiveECAdd(cGammaWitness, sHashWitness)` returns.
 *   Inverting on-chain would cost a modexp, so the prover supplies it, and the verifier only checks `z·zInv ≡ 1`.
 *   For distinct points `P1`, `P2` that formula's `z` is `(x2 − x1)^5 mod p` (its x-denominator is `(x2−x1)²`, its
 *   y-denominator `(x2−x1)³`, and it multiplies them), which is what {@link projectiveZ} computes.
 * The checks below also mirror ecrecover's own input rules (`0 < r < n`, `0 < s < n`), so that {@link verifyVRF}
 * accepts exactly what `VRF.sol` accepts (up to a negligible probability of address collisions, which it also has).
 *
 * ## Deterministic nonce
 * `k` comes from the RFC 6979 HMAC-DRBG (HMAC-SHA256, noble's `createHmacDrbg`) seeded with
 * `u256(sk) ‖ u256(seed) ‖ NONCE_DST`, in RFC 6979 §3.6 style (the tag is the "additional data" k'). Candidates
 * outside `[1, n)`, and the negligible degenerate cases (`c ≡ 0`, `s = 0`, or `c·Γ` and `s·H` sharing an
 * x-coordinate, which `VRF.sol` rejects), are skipped by drawing the next DRBG output. So a given (sk, seed) always
 * yields the same proof. The domain tag matters because VRF keys here are ordinary Ethereum keys: without it, an
 * ECDSA signature over a message hash equal to `seed` with RFC 6979 nonces would reuse `k`, and two equations in
 * the same `k` reveal `sk`.
 *
 * Secret-key handling relies on noble's `multiply` (constant-time for the scalar). JavaScript BigInt arithmetic
 * elsewhere is not constant-time, so do not prove on a machine where an attacker can time your process closely.
 */
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { bytesToNumberBE, concatBytes, createHmacDrbg, numberToBytesBE } from "@noble/curves/utils.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, hexToBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { ZeroAddress, getAddress, isAddress } from "ethers";

/** A Chainlink VRF proof, with the field names and order of `VRF.Proof` / `ISamplingVerifier.VRFProof`. */
export interface VRFProof {
  /** The prover's public key `sk·G`, affine `[x, y]`. */
  pk: [bigint, bigint];
  /** `Γ = sk·hashToCurve(pk, seed)`; determines the output. */
  gamma: [bigint, bigint];
  /** The challenge (a full uint256 keccak output, not reduced mod n). */
  c: bigint;
  /** The response `(k − c·sk) mod n`. */
  s: bigint;
  /** The VRF input, exactly as passed to `_verifyVRFProof`. */
  seed: bigint;
  /** Checksummed Ethereum address of `U = c·pk + s·G` (= `k·G`). */
  uWitness: string;
  /** `c·Γ`. */
  cGammaWitness: [bigint, bigint];
  /** `s·hashToCurve(pk, seed)`. */
  sHashWitness: [bigint, bigint];
  /** Inverse mod p of the projective z of `cGammaWitness + sHashWitness`, as `VRF._projectiveECAdd` computes it. */
  zInv: bigint;
}

/**
 * The proof as an ethers v6 contract argument for a `VRFProof` / `VRF.Proof` struct parameter. Named fields, in
 * struct order; it is assignable to typechain's `ISamplingVerifier.VRFProofStruct`.
 */
export interface SolidityVRFProof {
  pk: [bigint, bigint];
  gamma: [bigint, bigint];
  c: bigint;
  s: bigint;
  seed: bigint;
  uWitness: string;
  cGammaWitness: [bigint, bigint];
  sHashWitness: [bigint, bigint];
  zInv: bigint;
}

/** Thrown by {@link verifyVRF}; `reason` is the revert string `VRF.sol` would give (or an input-format error). */
export class VRFVerificationError extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(`VRF proof rejected: ${reason}`);
    this.name = "VRFVerificationError";
    this.reason = reason;
  }
}

type Pair = [bigint, bigint];

const Point = secp256k1.Point;
type CurvePoint = typeof Point.BASE;
const Fp = Point.Fp;
const Fn = Point.Fn;

/** Prime of secp256k1's base field (`VRF.FIELD_SIZE`). */
export const FIELD_SIZE: bigint = Fp.ORDER;
/** Order of secp256k1's group (`VRF.GROUP_ORDER`). */
export const GROUP_ORDER: bigint = Fn.ORDER;
/** Domain-separation tag of the initial hash in hashToCurve. */
export const HASH_TO_CURVE_HASH_PREFIX = 1n;
/** Domain-separation tag of the challenge hash. */
export const SCALAR_FROM_CURVE_POINTS_HASH_PREFIX = 2n;
/** Domain-separation tag of the output hash. */
export const VRF_RANDOM_OUTPUT_HASH_PREFIX = 3n;
/** RFC 6979 §3.6 "additional data" mixed into the nonce DRBG, so VRF nonces never coincide with ECDSA nonces. */
export const NONCE_DST: Uint8Array = utf8ToBytes("ChainlinkVRF-secp256k1-keccak256/nonce/v1");

const UINT256_LIMIT = 1n << 256n;
/** p ≡ 3 (mod 4), so `a^((p+1)/4)` is a square root of `a` whenever one exists (`VRF.SQRT_POWER`). */
const SQRT_POWER = (FIELD_SIZE + 1n) >> 2n;

// ---------------------------------------------------------------------------------------------------------------
// Encoding helpers
// ---------------------------------------------------------------------------------------------------------------

function u256(x: bigint): Uint8Array {
  return numberToBytesBE(x, 32);
}

function keccakUint(...parts: Uint8Array[]): bigint {
  return bytesToNumberBE(keccak_256(concatBytes(...parts)));
}

function toPair(point: CurvePoint): Pair {
  const { x, y } = point.toAffine();
  return [x, y];
}

/** Only for pairs already known to be on the curve. */
function toPoint(pair: Pair): CurvePoint {
  const point = Point.fromAffine({ x: pair[0], y: pair[1] });
  point.assertValidity();
  return point;
}

/** `address(uint160(uint256(keccak256(abi.encodePacked(x, y)))))`, checksummed. */
function addressOfPair(pair: Pair): string {
  const digest = keccak_256(concatBytes(u256(pair[0]), u256(pair[1])));
  return getAddress("0x" + bytesToHex(digest.subarray(12)));
}

function isUint256(x: unknown): x is bigint {
  return typeof x === "bigint" && x >= 0n && x < UINT256_LIMIT;
}

function parseSecretKey(secretKey: bigint | string): bigint {
  let sk: bigint;
  if (typeof secretKey === "bigint") {
    sk = secretKey;
  } else if (typeof secretKey === "string" && /^0x[0-9a-fA-F]{64}$/.test(secretKey)) {
    sk = BigInt(secretKey);
  } else {
    throw new TypeError("VRF secret key must be a bigint or a 0x-prefixed 32-byte hex string");
  }
  if (sk <= 0n || sk >= GROUP_ORDER) throw new RangeError("VRF secret key must be in [1, n) (secp256k1 group order)");
  return sk;
}

function parseSeed(seed: bigint | string): bigint {
  if (typeof seed === "bigint") {
    if (!isUint256(seed)) throw new RangeError("VRF seed must be a uint256");
    return seed;
  }
  if (typeof seed === "string" && /^0x[0-9a-fA-F]{1,64}$/.test(seed)) return BigInt(seed);
  throw new TypeError("VRF seed must be a bigint or a 0x-prefixed hex string of at most 32 bytes");
}

// ---------------------------------------------------------------------------------------------------------------
// VRF.sol building blocks (same names, same behaviour)
// ---------------------------------------------------------------------------------------------------------------

/** `VRF._ySquared`: x³ + 7 mod p. */
function ySquared(x: bigint): bigint {
  return Fp.add(Fp.mul(x, Fp.sqr(x)), 7n);
}

/** `VRF._isOnCurve`: throws (as the `require`s do) on out-of-range ordinates, else reports the curve equation. */
function isOnCurve(pair: Pair): boolean {
  if (!isUint256(pair[0]) || pair[0] >= FIELD_SIZE) throw new VRFVerificationError("invalid x-ordinate");
  if (!isUint256(pair[1]) || pair[1] >= FIELD_SIZE) throw new VRFVerificationError("invalid y-ordinate");
  return ySquared(pair[0]) === Fp.sqr(pair[1]);
}

/** `VRF._fieldHash`: keccak256 into [0, p) by rehashing. */
function fieldHash(bytes: Uint8Array): bigint {
  let x = keccakUint(bytes);
  while (x >= FIELD_SIZE) x = keccakUint(u256(x));
  return x;
}

/** `VRF._newCandidateSecp256k1Point`: x from fieldHash, even y (a curve point only if x³+7 is a square). */
function newCandidatePoint(bytes: Uint8Array): Pair {
  const x = fieldHash(bytes);
  let y = Fp.pow(ySquared(x), SQRT_POWER);
  if (y % 2n === 1n) y = FIELD_SIZE - y;
  return [x, y];
}

/** `VRF._hashToCurve(pk, seed)`. */
export function hashToCurve(pk: [bigint, bigint], seed: bigint): [bigint, bigint] {
  let rv = newCandidatePoint(concatBytes(u256(HASH_TO_CURVE_HASH_PREFIX), u256(pk[0]), u256(pk[1]), u256(seed)));
  while (!isOnCurve(rv)) rv = newCandidatePoint(u256(rv[0]));
  return rv;
}

/** `VRF._scalarFromCurvePoints`: the challenge `c` (full uint256). */
function scalarFromCurvePoints(hash: Pair, pk: Pair, gamma: Pair, uWitness: string, v: Pair): bigint {
  return keccakUint(
    u256(SCALAR_FROM_CURVE_POINTS_HASH_PREFIX),
    u256(hash[0]),
    u256(hash[1]),
    u256(pk[0]),
    u256(pk[1]),
    u256(gamma[0]),
    u256(gamma[1]),
    u256(v[0]),
    u256(v[1]),
    hexToBytes(uWitness.slice(2)),
  );
}

/**
 * The `z` that `VRF._projectiveECAdd(p1, p2)` returns, for distinct on-curve p1, p2: with `d = x2 − x1` its
 * x-denominator is `d²` and its y-denominator `d³`; it returns their product `d⁵` (or `d²` when they are equal,
 * which happens only for `d = 1`, where `d⁵ = d² = 1` as well).
 */
function projectiveZ(p1: Pair, p2: Pair): bigint {
  return Fp.pow(Fp.sub(p2[0], p1[0]), 5n);
}

/**
 * Model of the `ecrecover(hash, v, r, sig)` precompile when `R` (x = r, y parity from v) is the known curve point
 * `rPoint`: returns the address of `r⁻¹·(sig·R − hash·G)`, or the zero address where the precompile fails
 * (`r` or `sig` outside [1, n), or the result is the point at infinity).
 */
function ecrecoverAt(hash: bigint, rPoint: Pair, sig: bigint): string {
  const r = rPoint[0];
  if (r === 0n || r >= GROUP_ORDER || sig === 0n || sig >= GROUP_ORDER) return ZeroAddress;
  const rInv = Fn.inv(r);
  const q = toPoint(rPoint)
    .multiplyUnsafe(Fn.mul(sig, rInv))
    .subtract(Point.BASE.multiplyUnsafe(Fn.mul(Fn.create(hash), rInv)));
  return q.is0() ? ZeroAddress : addressOfPair(toPair(q));
}

/** `VRF._ecmulVerify`: address(scalar·multiplicand) == address(product). */
function ecmulVerify(multiplicand: Pair, scalar: bigint, product: Pair): boolean {
  if (scalar === 0n) throw new VRFVerificationError("zero scalar");
  const scalarTimesX = (scalar * multiplicand[0]) % GROUP_ORDER;
  return ecrecoverAt(0n, multiplicand, scalarTimesX) === addressOfPair(product);
}

/** `VRF._verifyLinearCombinationWithGenerator`: address(c·p + s·G) == lcWitness. */
function verifyLinearCombinationWithGenerator(c: bigint, p: Pair, s: bigint, lcWitness: string): boolean {
  if (lcWitness === ZeroAddress) throw new VRFVerificationError("bad witness");
  const pseudoHash = GROUP_ORDER - ((p[0] * s) % GROUP_ORDER); // −s·p.x
  const pseudoSignature = (c * p[0]) % GROUP_ORDER; // c·p.x
  return ecrecoverAt(pseudoHash, p, pseudoSignature) === lcWitness;
}

/** `VRF._linearCombination` (with `_affineECAdd`): c·p1 + s·p2, given witnesses of both products. */
function linearCombination(
  c: bigint,
  p1: Pair,
  cp1Witness: Pair,
  s: bigint,
  p2: Pair,
  sp2Witness: Pair,
  zInv: bigint,
): Pair {
  if (cp1Witness[0] === sp2Witness[0]) throw new VRFVerificationError("points in sum must be distinct");
  if (!ecmulVerify(p1, c, cp1Witness)) throw new VRFVerificationError("First mul check failed");
  if (!ecmulVerify(p2, s, sp2Witness)) throw new VRFVerificationError("Second mul check failed");
  if (Fp.mul(projectiveZ(cp1Witness, sp2Witness), Fp.create(zInv)) !== 1n) {
    throw new VRFVerificationError("invZ must be inverse of z");
  }
  return toPair(toPoint(cp1Witness).add(toPoint(sp2Witness)));
}

// ---------------------------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------------------------

/** The VRF output of a (verified) proof: `uint256(keccak256(abi.encode(uint256(3), gamma)))`. */
export function vrfOutput(gamma: [bigint, bigint]): bigint {
  return keccakUint(u256(VRF_RANDOM_OUTPUT_HASH_PREFIX), u256(gamma[0]), u256(gamma[1]));
}

/** The VRF public key `sk·G` as affine `[x, y]`. */
export function vrfPublicKey(secretKey: bigint | string): [bigint, bigint] {
  return toPair(Point.BASE.multiply(parseSecretKey(secretKey)));
}

/** `address(uint160(uint256(keccak256(abi.encodePacked(pk)))))`: the Ethereum address of the key (checksummed). */
export function vrfAddress(pk: [bigint, bigint]): string {
  return addressOfPair(pk);
}

/** The sampling decision: `output % divisor == 0` (a 1-in-`divisor` chance for a uniform output). */
export function isSampled(output: bigint, divisor: bigint = 10n): boolean {
  if (divisor <= 0n) throw new RangeError("divisor must be positive");
  return output % divisor === 0n;
}

/**
 * Produces a Chainlink-VRF proof of `seed` under `secretKey`. Deterministic: see "Deterministic nonce" above.
 * `proof.seed` is `seed` itself, i.e. what the verifier must be given.
 */
export function proveVRF(secretKey: bigint | string, seed: bigint | string): VRFProof {
  const sk = parseSecretKey(secretKey);
  const seedValue = parseSeed(seed);
  const pkPoint = Point.BASE.multiply(sk);
  const pk = toPair(pkPoint);
  const hash = hashToCurve(pk, seedValue);
  const hashPoint = toPoint(hash);
  const gammaPoint = hashPoint.multiply(sk);
  const gamma = toPair(gammaPoint);
  // VRF.sol feeds pk.x, gamma.x and hash.x to ecrecover as r, which must be < n. These are fixed by (sk, seed), so
  // no nonce can help; each fails with probability ~2^-128.
  for (const [name, x] of [
    ["pk", pk[0]],
    ["gamma", gamma[0]],
    ["hash", hash[0]],
  ] as const) {
    if (x >= GROUP_ORDER) throw new Error(`VRF: ${name}.x >= group order, VRF.sol cannot verify this proof`);
  }

  const drbg = createHmacDrbg<VRFProof>(32, 32, (key: Uint8Array, message: Uint8Array) => hmac(sha256, key, message));
  return drbg(concatBytes(u256(sk), u256(seedValue), NONCE_DST), (kBytes: Uint8Array): VRFProof | undefined => {
    const k = bytesToNumberBE(kBytes);
    if (k === 0n || k >= GROUP_ORDER) return undefined; // RFC 6979 §3.2 step h.3: draw again
    const uWitness = addressOfPair(toPair(Point.BASE.multiply(k)));
    const v = toPair(hashPoint.multiply(k));
    const c = scalarFromCurvePoints(hash, pk, gamma, uWitness, v);
    const cModN = Fn.create(c);
    if (cModN === 0n) return undefined; // ecrecover would get sig = 0
    const s = Fn.sub(k, Fn.mul(cModN, sk));
    if (s === 0n) return undefined; // VRF.sol requires a non-zero scalar
    const cGammaWitness = toPair(gammaPoint.multiply(cModN));
    const sHashWitness = toPair(hashPoint.multiply(s));
    if (cGammaWitness[0] === sHashWitness[0]) return undefined; // "points in sum must be distinct"
    const zInv = Fp.inv(projectiveZ(cGammaWitness, sHashWitness));
    return { pk, gamma, c, s, seed: seedValue, uWitness, cGammaWitness, sHashWitness, zInv };
  });
}

/**
 * Verifies `proof` with the same checks, in the same order, as `VRF._verifyVRFProof`, and returns its output
 * (`uint256(keccak256(abi.encode(uint256(3), gamma)))`, what `SamplingVerifier.samplingNumber` returns).
 * @throws VRFVerificationError whose `reason` is VRF.sol's revert string, or a format error for malformed input.
 */
export function verifyVRF(proof: VRFProof): bigint {
  const { pk, gamma, c, s, seed, cGammaWitness, sHashWitness, zInv } = proof;
  for (const [name, value] of [
    ["c", c],
    ["s", s],
    ["seed", seed],
    ["zInv", zInv],
  ] as const) {
    if (!isUint256(value)) throw new VRFVerificationError(`${name} is not a uint256`);
  }
  for (const [name, pair] of [
    ["pk", pk],
    ["gamma", gamma],
    ["cGammaWitness", cGammaWitness],
    ["sHashWitness", sHashWitness],
  ] as const) {
    if (!Array.isArray(pair) || pair.length !== 2) throw new VRFVerificationError(`${name} is not a uint256[2]`);
  }
  if (typeof proof.uWitness !== "string" || !isAddress(proof.uWitness)) {
    throw new VRFVerificationError("uWitness is not an address");
  }
  const uWitness = getAddress(proof.uWitness);

  if (!isOnCurve(pk)) throw new VRFVerificationError("public key is not on curve");
  if (!isOnCurve(gamma)) throw new VRFVerificationError("gamma is not on curve");
  if (!isOnCurve(cGammaWitness)) throw new VRFVerificationError("cGammaWitness is not on curve");
  if (!isOnCurve(sHashWitness)) throw new VRFVerificationError("sHashWitness is not on curve");
  if (!verifyLinearCombinationWithGenerator(c, pk, s, uWitness)) {
    throw new VRFVerificationError("addr(c*pk+s*g)!=_uWitness");
  }
  const hash = hashToCurve(pk, seed);
  const v = linearCombination(c, gamma, cGammaWitness, s, hash, sHashWitness, zInv);
  if (scalarFromCurvePoints(hash, pk, gamma, uWitness, v) !== c) throw new VRFVerificationError("invalid proof");
  return vrfOutput(gamma);
}

/** The proof as an ethers v6 argument for a `VRFProof` struct (fresh arrays, checksummed address). */
export function toSolidityProof(p: VRFProof): SolidityVRFProof {
  return {
    pk: [p.pk[0], p.pk[1]],
    gamma: [p.gamma[0], p.gamma[1]],
    c: p.c,
    s: p.s,
    seed: p.seed,
    uWitness: getAddress(p.uWitness),
    cGammaWitness: [p.cGammaWitness[0], p.cGammaWitness[1]],
    sHashWitness: [p.sHashWitness[0], p.sHashWitness[1]],
    zInv: p.zInv,
  };
}
