pragma circom 2.1.6;
// Test wrapper: SpongeHash at the edge sizes 1, 15, 16 and 31 (one, one full, two, three chunks) over one input
// array, so that a single compile checks them all against src/crypto/blob.ts `spongeHash`.
include "../../circuits/lib/blob.circom";

template SpongeHashes() {
    signal input in[31];
    signal output out1;
    signal output out15;
    signal output out16;
    signal output out31;

    out1 <== SpongeHash(1)([in[0]]);

    component s15 = SpongeHash(15);
    for (var i = 0; i < 15; i++) { s15.in[i] <== in[i]; }
    out15 <== s15.out;

    component s16 = SpongeHash(16);
    for (var i = 0; i < 16; i++) { s16.in[i] <== in[i]; }
    out16 <== s16.out;

    component s31 = SpongeHash(31);
    s31.in <== in;
    out31 <== s31.out;
}

component main = SpongeHashes();
