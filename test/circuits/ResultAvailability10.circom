pragma circom 2.1.6;
// Test wrapper: ResultAvailability with a 10-element message (9 chunks, 279 bytes) and a 16×16 image (256 bytes,
// 23 padding bytes), ctLen 13; the same public-signal layout as main (isText, appPublicKey[2], blobHash, simHash, binding).
include "../../circuits/lib/result_availability.circom";
component main {public [isText, appPublicKey, blobHash, simHash, binding]} = ResultAvailabilitySized(10, 16);
