pragma circom 2.1.6;
// Test wrapper: ParamsConsistency with a 5-element message (ctLen 7), the same public-signal layout as main.
include "../../circuits/lib/params_consistency.circom";
component main {public [nodePublicKey, blobHash]} = ParamsConsistency(5);
