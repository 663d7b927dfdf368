pragma circom 2.1.6;

// The ResultAvailability templates (documented in ../ResultAvailability.circom, which instantiates main with
// msgLen = 134). Kept apart from `main` so that tests can instantiate small sizes (test/circuits/*.circom).

include "./blob.circom";
include "./phash.circom";
include "./packing.circom";

// ResultAvailability for an image of imageSide × imageSide bytes (imageSide ∈ {8, 16, 32, 64}, and the
// imageSide² bytes must fit in the msgLen − 1 chunks). The network's circuit is ResultAvailability(134) below,
// i.e. imageSide = 64; tests instantiate smaller sizes of this one.
template ResultAvailabilitySized(msgLen, imageSide) {
    var ctLen = BlobCiphertextLength(msgLen);
    var nChunks = msgLen - 1;
    var nBytes = 31 * nChunks;
    var nPixels = imageSide * imageSide;
    assert(nPixels <= nBytes);

    // --- Public, in snarkjs publicSignals order (the circuit has no outputs):
    // 0 for an image task (SD, SD_FT), 1 for a text task (LLM); constrained to be a bit.
    signal input isText;
    // The application's Baby Jubjub public key the result is encrypted to (from the task).
    signal input appPublicKey[2];
    // spongeHash of the blob the relay holds (src/crypto/blob.ts `blobHash`).
    signal input blobHash;
    // The node's score: the 64-bit pHash for an image, the sponge hash of the message for text (src/crypto/phash.ts).
    signal input simHash;
    // The task and the node that settles it: keccak256(abi.encode(chainid, TaskManager, creator, taskIDCommitment,
    // selectedNode)) >> 3 (src/zk/proofs.ts `resultBinding`, TaskManager `_checkResultProof`). The statement does not
    // depend on it; it is public so that a proof for one task (or node) verifies for no other.
    signal input binding;

    // --- Private: the packed result (element 0 = byte length, then 31-byte chunks; blob.ts `packBytes`).
    signal input message[msgLen];
    // --- Private: the blob's ephemeral secret, nonce and ciphertext.
    signal input ephemeralSecret;
    signal input nonce;
    signal input ciphertext[ctLen];

    // isText ∈ {0, 1}: otherwise the selection below could mix the two hashes.
    isText * (isText - 1) === 0;

    // Groth16 already fixes every public input, but a constraint that reads `binding` keeps that from depending on
    // the proving system (one constraint).
    signal bindingSquare;
    bindingSquare <== binding * binding;

    // The blob [e·Base8, nonce, ciphertext] encrypts `message` to the app, and hashes to blobHash.
    component blob = EncryptedBlob(msgLen);
    blob.message <== message;
    blob.ephemeralSecret <== ephemeralSecret;
    blob.recipientPublicKey <== appPublicKey;
    blob.nonce <== nonce;
    blob.ciphertext <== ciphertext;
    blob.blobHash === blobHash;

    // The chunks as range-checked bytes (31 per chunk element, each < 2^248).
    component bytes = UnpackBytes(nChunks);
    for (var i = 0; i < nChunks; i++) {
        bytes.in[i] <== message[1 + i];
    }

    // Canonical packing for both kinds (the app's `unpackBytes` accepts exactly these messages): length ≤ the
    // capacity, zero elements after the data, zero padding bytes in the last data chunk.
    component canonical = CanonicalPacking(nChunks);
    canonical.length <== message[0];
    for (var i = 0; i < nChunks; i++) {
        canonical.chunk[i] <== message[1 + i];
    }

    // Image: exactly nPixels bytes (with the canonical packing, the bytes after them are zero).
    (1 - isText) * (message[0] - nPixels) === 0;

    // Both candidate scores; simHash must be the one of the task's kind.
    component image = PHash64(imageSide);
    for (var k = 0; k < nPixels; k++) {
        image.pixels[k] <== bytes.out[k];
    }
    component text = SpongeHash(msgLen);
    text.in <== message;
    simHash === image.hash + isText * (text.out - image.hash);
}

// The network's template: a 64×64 image (4,096 bytes) inside a message of msgLen elements (main: 134).
template ResultAvailability(msgLen) {
    var ctLen = BlobCiphertextLength(msgLen);

    signal input isText;
    signal input appPublicKey[2];
    signal input blobHash;
    signal input simHash;
    signal input binding;
    signal input message[msgLen];
    signal input ephemeralSecret;
    signal input nonce;
    signal input ciphertext[ctLen];

    component inner = ResultAvailabilitySized(msgLen, 64);
    inner.isText <== isText;
    inner.appPublicKey <== appPublicKey;
    inner.blobHash <== blobHash;
    inner.simHash <== simHash;
    inner.binding <== binding;
    inner.message <== message;
    inner.ephemeralSecret <== ephemeralSecret;
    inner.nonce <== nonce;
    inner.ciphertext <== ciphertext;
}
