pragma circom 2.1.6;

// ParamsConsistency (DESIGN §4), used by TaskManager.validateTaskGroup.
//
// Proves that the three blobs of a validation group are encryptions, to the three selected nodes, of the SAME task
// parameters, and that blob i hashes to blobHash[i] (src/crypto/blob.ts `blobHash`). The chain compares the blob
// hashes with those proven available at upload. Nothing computed from the parameters alone is public (an unsalted
// hash of them would let anyone confirm a guessed prompt offline): see docs/circuits.md.
//
// Public signals, in this order (snarkjs `publicSignals`, the Solidity verifier's `_pubSignals`; the circuit has no
// outputs, so the order is the declaration order of the public inputs below):
//   [0..5]  nodePublicKey[3][2]  flattened: n0.x, n0.y, n1.x, n1.y, n2.x, n2.y
//   [6..8]  blobHash[3]
// Private: message[msgLen] (the packed parameters), ephemeralSecret[3], nonce[3], ciphertexts[3][ctLen].
//
// main: msgLen = 68 = PARAMS_CAPACITY (1 length element + 67 chunks of 31 bytes, 2,077 bytes), ctLen = 70.

include "./lib/params_consistency.circom";

// The template lives in lib/params_consistency.circom so that tests can instantiate small sizes.
component main {public [nodePublicKey, blobHash]} = ParamsConsistency(68);
