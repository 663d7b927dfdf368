pragma circom 2.1.6;

// Perceptual hash of a result image and byte unpacking (DESIGN §4), the same math as `src/crypto/phash.ts`
// (read its header for the full definition; `test/circuits/phash.test.ts` checks the two agree bit for bit).
//
// pHash of an N×N grayscale image (N divides 64; the network uses N = 64), pixels row-major bytes:
//   C[u][x] = PHASH_COS_Q folded at ((2x+1)·u·(64/N)) mod 256          (integer DCT-II basis, cos × 256, rounded)
//   R[y][u] = Σ_x C[u][x]·pixel[y·N + x]                                (rows first)
//   D[v][u] = Σ_y C[v][y]·R[y][u],  i = 8v + u                          (then columns; u, v = 0..7)
//   bit 0   = (Σ pixels ≥ 128·N²)                                        (DC: mean brightness ≥ 128)
//   bit i   = (63·D_i > S), S = Σ_{i=1..63} D_i                          (AC: above the mean of the 63 AC terms)
//   hash    = Σ bit_i · 2^(63 − i)                                       (bit 0 is the most significant)
// The DCT is linear, so it costs no constraints; each AC bit costs one 44-bit decomposition of the offset
// difference W_i = 63·D_i − S − 1 + 2^43 (|63·D_i − S| < 2^42.08 for byte pixels, `phashCompareBound` in TS),
// whose bit 43 is 1 exactly when 63·D_i − S > 0. Pixels MUST already be range-checked bytes (`UnpackBytes`),
// otherwise the bound, and with it the comparison, does not hold.

include "circomlib/circuits/bitify.circom";

// round(256·cos(j·π/128)), j = 0..64: the quarter-wave table, identical to DCT_COS_QUARTER in phash.ts.
function PHASH_COS_Q(j) {
    var t[65] = [
        256, 256, 256, 255, 255, 254, 253, 252, 251, 250, 248, 247, 245, 243, 241, 239, 237, 234, 231, 229, 226,
        223, 220, 216, 213, 209, 206, 202, 198, 194, 190, 185, 181, 177, 172, 167, 162, 157, 152, 147, 142, 137,
        132, 126, 121, 115, 109, 104, 98, 92, 86, 80, 74, 68, 62, 56, 50, 44, 38, 31, 25, 19, 13, 6, 0
    ];
    return t[j];
}

// C[u][x] for a row of length `side` (a field element: negative values are p − |C|).
function phashBasis(u, x, side) {
    var m = ((2 * x + 1) * u * (64 \ side)) % 256;
    if (m <= 64) {
        return PHASH_COS_Q(m);
    } else if (m <= 128) {
        return -PHASH_COS_Q(128 - m);
    } else if (m <= 192) {
        return -PHASH_COS_Q(m - 128);
    }
    return PHASH_COS_Q(256 - m);
}

function phashLog2(n) {
    var r = 0;
    while ((1 << r) < n) {
        r++;
    }
    return r;
}

// The 64-bit pHash of an N×N byte image (N ∈ {8, 16, 32, 64}; the network's is PHash64(64) over 4096 pixels).
template PHash64(N) {
    assert(N == 8 || N == 16 || N == 32 || N == 64);
    var K = 8;                       // low-frequency block side
    var CMP_BITS = 44;               // W_i < 2^44 (see the header)
    var LOG_N = phashLog2(N);

    // Input: pixels, row-major, assumed to be bytes (range-checked by the caller).
    signal input pixels[N * N];
    // Outputs: the 64 bits (index 8v + u, bit 0 = DC brightness bit) and their packing, bit 0 most significant.
    signal output bits[64];
    signal output hash;

    // Row pass: R[y][u]. Separate signals keep the compile fast (ZK-NOTES pitfall 6); O2 substitutes them.
    signal rows[N][K];
    for (var y = 0; y < N; y++) {
        for (var u = 0; u < K; u++) {
            var acc = 0;
            for (var x = 0; x < N; x++) {
                acc += phashBasis(u, x, N) * pixels[y * N + x];
            }
            rows[y][u] <== acc;
        }
    }

    // Column pass: D[v][u] at index 8v + u.
    signal coeffs[64];
    for (var v = 0; v < K; v++) {
        for (var u = 0; u < K; u++) {
            var acc = 0;
            for (var y = 0; y < N; y++) {
                acc += phashBasis(v, y, N) * rows[y][u];
            }
            coeffs[v * K + u] <== acc;
        }
    }

    // DC bit: C[0][x] = 256 for every x, so D[0][0] = 65536·Σ pixels and Σ pixels < 256·N² = 2^(8 + 2·log2 N).
    // Its top bit is 1 exactly when Σ pixels ≥ 128·N².
    component dc = Num2Bits(8 + 2 * LOG_N);
    dc.in <== coeffs[0] / 65536;
    bits[0] <== dc.out[7 + 2 * LOG_N];

    // AC bits: bit i = (63·D_i − S > 0), decided by the top bit of W_i = 63·D_i − S − 1 + 2^43 ∈ [0, 2^44).
    var acSum = 0;
    for (var i = 1; i < 64; i++) {
        acSum += coeffs[i];
    }
    component cmp[63];
    for (var i = 1; i < 64; i++) {
        cmp[i - 1] = Num2Bits(CMP_BITS);
        cmp[i - 1].in <== 63 * coeffs[i] - acSum - 1 + (1 << (CMP_BITS - 1));
        bits[i] <== cmp[i - 1].out[CMP_BITS - 1];
    }

    // Packing: bit i is bit 63 − i of the hash.
    var packed = 0;
    for (var i = 0; i < 64; i++) {
        packed += bits[i] * (1 << (63 - i));
    }
    hash <== packed;
}

// Packed chunk elements -> bytes, with range checks: the inverse of src/crypto/blob.ts `packBytes` for the chunk
// elements (element 1 + k of a message; the length element is not passed here). Each element is decomposed into
// 248 bits (Num2Bits(248): this is what proves every byte, and so every pixel, is in 0..255, and that the element
// is a real 31-byte chunk); byte j of element i is its big-endian byte j:
//   out[31·i + j] = (in[i] >> (8·(30 − j))) & 0xff,   j = 0..30.
template UnpackBytes(nElements) {
    // Packed 31-byte big-endian chunks.
    signal input in[nElements];
    // Their bytes, in order (31 per element).
    signal output out[nElements * 31];

    component bits[nElements];
    for (var i = 0; i < nElements; i++) {
        bits[i] = Num2Bits(248);
        bits[i].in <== in[i];
        for (var j = 0; j < 31; j++) {
            var acc = 0;
            for (var k = 0; k < 8; k++) {
                acc += bits[i].out[8 * (30 - j) + k] * (1 << k);
            }
            out[31 * i + j] <== acc;
        }
    }
}
