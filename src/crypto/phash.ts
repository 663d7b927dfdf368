/**
 * Sim hashes of task results (DESIGN §4): the 64-bit perceptual hash of an image, and the hash of a text output.
 * `circuits/lib/phash.circom` (`PHash64`) computes exactly the same pHash; `test/circuits/phash.test.ts` checks the
 * two agree bit for bit.
 *
 * ## pHash definition (integer, separable, mean threshold)
 *
 * Input: an `N×N` grayscale image, `N*N` bytes, row-major (`pixel(x, y) = pixels[y*N + x]`). The network uses
 * `N = 64` (4096 bytes); `N` must divide 64 (8, 16, 32, 64) so one basis table serves every size.
 *
 * 1. Integer DCT-II basis, a fixed table: `C[u][x] = COS_Q(((2x+1)·u·(64/N)) mod 256)` for `u = 0..7`,
 *    `x = 0..N-1`, where `COS_Q` folds the quarter-wave table `DCT_COS_QUARTER[j] = round(256·cos(j·π/128))`,
 *    `j = 0..64` (written out below, not computed at run time): `m ≤ 64 → T[m]`, `m ≤ 128 → −T[128−m]`,
 *    `m ≤ 192 → −T[m−128]`, else `T[256−m]`. So `C[u][x] ≈ 256·cos((2x+1)·u·π/(2N))`. No normalisation factors.
 * 2. Separable low-frequency DCT, rows then columns, in exact integers:
 *    `R[y][u] = Σ_x C[u][x]·pixel(x, y)` and `D[v][u] = Σ_y C[v][y]·R[y][u]` for `u, v = 0..7`.
 *    Coefficient index `i = 8v + u` (`i = 0` is DC).
 * 3. Bits. The DC coefficient is excluded from the threshold because it is far larger than the others (it would put
 *    almost every AC bit at 0). With `S = Σ_{i=1..63} D_i`:
 *    - AC bit `i` (1..63) is 1 iff `D_i` is strictly above the mean of the 63 AC coefficients, i.e. `63·D_i > S`.
 *      A mean threshold has no ties to break, unlike the median rule of classic pHash (ZK-NOTES pitfall 7): a flat
 *      image simply hashes to 0 there.
 *    - DC bit (`i = 0`) is 1 iff the mean brightness is at least 128, i.e. `Σ pixels ≥ 128·N²`.
 * 4. Packing: bit `i` is bit `63 − i` of the 64-bit hash (bit 0, the DC bit, is the most significant), and the score
 *    the chain stores is that value as 8 big-endian bytes (`src/crypto/simhash.ts`).
 *
 * ## Signed values in the field (the circuit's comparison)
 * `Z_i = 63·D_i − S` is signed. From the table, `|D[v][u]| ≤ 255·A_v·A_u` with `A_u = Σ_x |C[u][x]|`, which gives
 * `|Z_i| < 2^42.08` for `N = 64` (smaller for smaller `N`). The circuit decomposes `W_i = Z_i − 1 + 2^43` into
 * `PHASH_COMPARE_BITS = 44` bits (`0 ≤ W_i < 2^44`) and takes bit 43, which is 1 exactly when `Z_i > 0`.
 * `phashCompareBound` recomputes the bound from the table and the tests assert it.
 *
 * ## Text scores
 * `textScore(output)` is the Poseidon sponge hash (`spongeHash` of `src/crypto/blob.ts`) of the output packed into
 * the fixed `RESULT_CAPACITY` field elements (`packBytes`: element 0 = byte length, then 31 bytes per element),
 * as 32 big-endian bytes; the circuit's `SpongeHash(RESULT_CAPACITY)` over `message` gives the same value.
 */
import { toBeHex } from "ethers";
import { packBytes, spongeHash, RESULT_CAPACITY } from "./blob.js";

/** Side of the images the network hashes (64×64 grayscale, 4096 bytes). */
export const PHASH_SIDE = 64;
/** Number of pixels (bytes) of a network image. */
export const PHASH_PIXELS = PHASH_SIDE * PHASH_SIDE;
/** Side of the low-frequency DCT block (8×8 = 64 coefficients = 64 bits). */
export const PHASH_LOW_FREQ = 8;
/** Scale of the integer DCT basis (cos values times 256, rounded). */
export const DCT_SCALE = 256;
/** Bits of the circuit's signed comparison (`W_i = Z_i − 1 + 2^(bits−1)` must fit in `bits` bits). */
export const PHASH_COMPARE_BITS = 44;

/**
 * `round(256 · cos(j·π/128))` for `j = 0..64`: the quarter-wave table the DCT basis folds. The same literal table is
 * `PHASH_COS_Q` in `circuits/lib/phash.circom`.
 */
export const DCT_COS_QUARTER: readonly number[] = Object.freeze([
  256, 256, 256, 255, 255, 254, 253, 252, 251, 250, 248, 247, 245, 243, 241, 239, 237, 234, 231, 229, 226, 223, 220,
  216, 213, 209, 206, 202, 198, 194, 190, 185, 181, 177, 172, 167, 162, 157, 152, 147, 142, 137, 132, 126, 121, 115,
  109, 104, 98, 92, 86, 80, 74, 68, 62, 56, 50, 44, 38, 31, 25, 19, 13, 6, 0,
]);

function assertSide(side: number): void {
  if (![8, 16, 32, 64].includes(side)) throw new RangeError(`pHash image side must be 8, 16, 32 or 64, got ${side}`);
}

/** `C[u][x]`: the integer DCT-II basis value for frequency `u` at position `x` of an `side`-long row. */
export function dctBasis(u: number, x: number, side: number = PHASH_SIDE): number {
  assertSide(side);
  const m = ((2 * x + 1) * u * (64 / side)) % 256;
  if (m <= 64) return DCT_COS_QUARTER[m];
  if (m <= 128) return -DCT_COS_QUARTER[128 - m];
  if (m <= 192) return -DCT_COS_QUARTER[m - 128];
  return DCT_COS_QUARTER[256 - m];
}

/** The 64 low-frequency coefficients `D[v][u]` at index `8v + u`, exact integers (|D| < 2^36 fits a double). */
export function phashCoefficients(pixels: Uint8Array, side: number = PHASH_SIDE): number[] {
  assertSide(side);
  if (pixels.length !== side * side) throw new RangeError(`expected ${side * side} pixels, got ${pixels.length}`);
  const K = PHASH_LOW_FREQ;
  const basis: number[][] = [];
  for (let u = 0; u < K; u++) basis.push(Array.from({ length: side }, (_, x) => dctBasis(u, x, side)));
  // Rows first: R[y][u].
  const rows: number[][] = [];
  for (let y = 0; y < side; y++) {
    const r = new Array<number>(K).fill(0);
    for (let u = 0; u < K; u++) {
      let acc = 0;
      for (let x = 0; x < side; x++) acc += basis[u][x] * pixels[y * side + x];
      r[u] = acc;
    }
    rows.push(r);
  }
  // Then columns: D[v][u].
  const out: number[] = [];
  for (let v = 0; v < K; v++) {
    for (let u = 0; u < K; u++) {
      let acc = 0;
      for (let y = 0; y < side; y++) acc += basis[v][y] * rows[y][u];
      out.push(acc);
    }
  }
  return out;
}

/** The 64 hash bits, index `i = 8v + u` (bit 0 = DC brightness bit), as the circuit outputs them. */
export function phashBits(pixels: Uint8Array, side: number = PHASH_SIDE): number[] {
  const d = phashCoefficients(pixels, side);
  let s = 0;
  for (let i = 1; i < 64; i++) s += d[i];
  let pixelSum = 0;
  for (const p of pixels) pixelSum += p;
  const bits = [pixelSum >= 128 * side * side ? 1 : 0];
  // 63·D_i and S stay below 2^48, exact in a double.
  for (let i = 1; i < 64; i++) bits.push(63 * d[i] > s ? 1 : 0);
  return bits;
}

/** The 64-bit perceptual hash of an `side`×`side` grayscale image (row-major bytes); bit 0 (DC) is the MSB. */
export function imagePHash(pixels: Uint8Array, side: number = PHASH_SIDE): bigint {
  const bits = phashBits(pixels, side);
  let h = 0n;
  for (let i = 0; i < 64; i++) h = (h << 1n) | BigInt(bits[i]);
  return h;
}

/** The image score as the chain stores it: the pHash as 8 big-endian bytes, 0x-prefixed hex. */
export function imageScore(pixels: Uint8Array): string {
  return toBeHex(imagePHash(pixels), 8);
}

/**
 * The text score: `spongeHash(packBytes(output))` (the output packed into `RESULT_CAPACITY` elements), as 32
 * big-endian bytes. This is the circuit's `simHash` public input when `isText = 1`.
 */
export function textScore(outputBytes: Uint8Array): string {
  return toBeHex(spongeHash(packBytes(outputBytes, RESULT_CAPACITY)), 32);
}

/**
 * The largest `|Z_i| = |63·D_i − S|` any `side`×`side` byte image can produce, from the basis table
 * (`|D[v][u]| ≤ 255·A_v·A_u`, `A_u = Σ_x |C[u][x]|`). The circuit needs it below `2^(PHASH_COMPARE_BITS − 1)`.
 */
export function phashCompareBound(side: number = PHASH_SIDE): bigint {
  const a: bigint[] = [];
  for (let u = 0; u < PHASH_LOW_FREQ; u++) {
    let s = 0n;
    for (let x = 0; x < side; x++) s += BigInt(Math.abs(dctBasis(u, x, side)));
    a.push(s);
  }
  const m: bigint[] = [];
  for (let v = 0; v < 8; v++) for (let u = 0; u < 8; u++) m.push(255n * a[v] * a[u]);
  const total = m.slice(1).reduce((x, y) => x + y, 0n);
  let bound = 0n;
  for (let i = 1; i < 64; i++) {
    const b = 62n * m[i] + (total - m[i]);
    if (b > bound) bound = b;
  }
  return bound;
}
