pragma circom 2.1.6;

// The ParamsConsistency template (documented in ../ParamsConsistency.circom, which instantiates main with
// msgLen = 68). Kept apart from `main` so that tests can instantiate small sizes (test/circuits/*.circom).

include "./blob.circom";

template ParamsConsistency(msgLen) {
    var N = 3;
    var ctLen = BlobCiphertextLength(msgLen);

    // --- Public: the selected nodes' registered Baby Jubjub keys.
    signal input nodePublicKey[N][2];
    // --- Public: the blob hashes proven available when the parameters were uploaded.
    signal input blobHash[N];
    // No hash of `message` is public: an unsalted hash of the plaintext would let anyone confirm a guessed prompt
    // offline. The blob hashes commit to ciphertexts under fresh ephemeral keys, which reveal nothing of it.

    // --- Private: the packed parameters, shared by all three blobs.
    signal input message[msgLen];
    // --- Private: each blob's ephemeral secret, nonce and ciphertext.
    signal input ephemeralSecret[N];
    signal input nonce[N];
    signal input ciphertexts[N][ctLen];

    component blob[N];
    for (var i = 0; i < N; i++) {
        // Blob i encrypts `message` to node i ...
        blob[i] = EncryptedBlob(msgLen);
        blob[i].message <== message;
        blob[i].ephemeralSecret <== ephemeralSecret[i];
        blob[i].recipientPublicKey <== nodePublicKey[i];
        blob[i].nonce <== nonce[i];
        blob[i].ciphertext <== ciphertexts[i];
        // ... and is the blob with hash blobHash[i].
        blob[i].blobHash === blobHash[i];
    }
}
