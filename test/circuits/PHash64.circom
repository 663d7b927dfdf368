pragma circom 2.1.6;
// Test wrapper: the network's pHash (64×64 pixels) alone, to compare with src/crypto/phash.ts `imagePHash`.
include "../../circuits/lib/phash.circom";
component main = PHash64(64);
