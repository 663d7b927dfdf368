pragma circom 2.1.6;

// Canonical byte packing: the in-circuit twin of the checks of src/crypto/blob.ts `unpackBytes`.
//
// A message of 1 + nChunks elements packs a byte string of L bytes (blob.ts `packBytes`): element 0 is L, then
// 31-byte big-endian chunks, the last data chunk zero-padded on the right, then zero elements. `unpackBytes`
// accepts exactly these messages. CanonicalPacking(nChunks) constrains the same set, given chunks that the caller
// has already range-checked below 2^248 (`UnpackBytes` in phash.circom does that):
//   L ≤ 31·nChunks;   chunk k = 0 for every k ≥ ceil(L / 31);   in the last data chunk, bytes after the data are 0.
//
// Cost is per chunk, not per byte (a per-byte mask would need a comparison for each of the 31·nChunks bytes):
// L is split as L = 31·q + r with one-hot selectors for q ∈ [0, nChunks − 1] and r ∈ [0, 31]; the chunks after
// chunk q must be zero (one product each), chunk q is selected (one product each) and decomposed once into 248
// bits, and its bytes j ≥ r must be zero (31 products). About 3·nChunks + 315 constraints (main: ~715).
// When 31 divides L, both (q, 31) and (q + 1, 0) satisfy the constraints, and both say the same thing.

include "circomlib/circuits/bitify.circom";

template CanonicalPacking(nChunks) {
    assert(nChunks >= 1);
    var nBytes = 31 * nChunks;

    // Element 0 of the message: the byte length L.
    signal input length;
    // Elements 1..nChunks: the chunks, each already range-checked to 31 bytes by the caller.
    signal input chunk[nChunks];

    // --- L = 31·q + r, q ∈ [0, nChunks − 1], r ∈ [0, 31]. The witness takes r = 31 only for L = 31·nChunks.
    //     A length above 31·nChunks has no q in range, so the one-hot sum below fails: no witness.
    signal qSel[nChunks];
    signal rSel[32];
    var qSum = 0;
    var qValue = 0;
    for (var k = 0; k < nChunks; k++) {
        qSel[k] <-- (length \ 31 == k && length < nBytes) || (k == nChunks - 1 && length == nBytes) ? 1 : 0;
        qSel[k] * (qSel[k] - 1) === 0;
        qSum += qSel[k];
        qValue += k * qSel[k];
    }
    qSum === 1;
    var rSum = 0;
    var rValue = 0;
    for (var j = 0; j < 32; j++) {
        rSel[j] <-- (length < nBytes && length % 31 == j) || (j == 31 && length == nBytes) ? 1 : 0;
        rSel[j] * (rSel[j] - 1) === 0;
        rSum += rSel[j];
        rValue += j * rSel[j];
    }
    rSum === 1;
    length === 31 * qValue + rValue;

    // --- Every chunk after chunk q is zero. after = Σ_{i<k} qSel[i] is 1 exactly when k > q.
    var after = 0;
    for (var k = 1; k < nChunks; k++) {
        after += qSel[k - 1];
        after * chunk[k] === 0;
    }

    // --- Chunk q, the last data chunk: its bytes j ≥ r (byte 0 is the most significant) are zero.
    signal selected[nChunks];
    var last = 0;
    for (var k = 0; k < nChunks; k++) {
        selected[k] <== qSel[k] * chunk[k];
        last += selected[k];
    }
    component lastBits = Num2Bits(248);
    lastBits.in <== last;
    var zeroFrom = 0;
    for (var j = 0; j < 31; j++) {
        // zeroFrom = Σ_{i≤j} rSel[i] is 1 exactly when j ≥ r.
        zeroFrom += rSel[j];
        var byte = 0;
        for (var b = 0; b < 8; b++) {
            byte += lastBits.out[8 * (30 - j) + b] * (1 << b);
        }
        zeroFrom * byte === 0;
    }
}
