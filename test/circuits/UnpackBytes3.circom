pragma circom 2.1.6;
// Test wrapper: UnpackBytes over 3 chunk elements (93 bytes), to compare with src/crypto/blob.ts `packBytes`.
include "../../circuits/lib/phash.circom";
component main = UnpackBytes(3);
