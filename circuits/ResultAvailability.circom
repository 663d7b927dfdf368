pragma circom 2.1.6;

// ResultAvailability (DESIGN §4), used by TaskManager.reportTaskResultUploaded.
//
// Proves that the blob the relay holds (hash blobHash) is the task result encrypted to the application's key
// (ECDH with an ephemeral key + Poseidon cipher, src/crypto/blob.ts), that the message is a canonical packing of
// bytes (blob.ts `packBytes`: the app's `unpackBytes` decodes it), and that simHash is the result's score:
//   isText = 0 (image task): message[0] == 4096, and the 4096 bytes unpacked from message[1..133] (the 64×64
//                            grayscale image, row-major) have the 64-bit pHash simHash (src/crypto/phash.ts
//                            `imagePHash`);
//   isText = 1 (text task):  simHash == spongeHash(message) (phash.ts `textScore`).
// Canonical packing (lib/packing.circom, checked per chunk): message[0] ≤ 4,123, every chunk element is 31 bytes,
// the elements after the data and the padding bytes of the last data chunk are zero.
//
// Public signals, in this order (snarkjs `publicSignals`, the Solidity verifier's `_pubSignals`; the circuit has no
// outputs, so the order is the declaration order of the public inputs):
//   [0]     isText            0 image / 1 text (constrained boolean)
//   [1..2]  appPublicKey      x, y
//   [3]     blobHash
//   [4]     simHash           image: the pHash as an integer < 2^64 (the 8-byte score, big-endian);
//                             text: the sponge hash (the 32-byte score, big-endian)
//   [5]     binding           keccak256(abi.encode(chainid, TaskManager, creator, taskIDCommitment, selectedNode))
//                             >> 3: the task and the node settling it (src/zk/proofs.ts `resultBinding`)
// Private: message[134], ephemeralSecret, nonce, ciphertext[136].
//
// main: msgLen = 134 = RESULT_CAPACITY (1 length element + 133 chunks of 31 bytes, 4,123 bytes ≥ 4,096), ctLen = 136.

include "./lib/result_availability.circom";

// The templates live in lib/result_availability.circom so that tests can instantiate small sizes.
component main {public [isText, appPublicKey, blobHash, simHash, binding]} = ResultAvailability(134);
