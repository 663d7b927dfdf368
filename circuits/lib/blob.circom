pragma circom 2.1.6;

// =====================================================================================================================
// Blob templates: the in-circuit twin of src/crypto/blob.ts (read that file's header for the full format).
// Compile with `-l node_modules` (includes are "circomlib/circuits/...").
//
// Only circomlib is included. Do NOT include @zk-kit/circuits' poseidon-cipher.circom in the same circuit: it pulls
// in circomlib's poseidon_old.circom, which redefines Poseidon/Ark/Mix/Sigma (ZK-NOTES pitfall 1). The Poseidon
// cipher is re-expressed here on circomlib's PoseidonEx(3, 4), which is the same permutation as @zk-kit's
// TypeScript `poseidonPerm` with t = 4.
//
// Interface (all signals are field elements; ctLen = 3 * ceil(msgLen / 3) + 1 = BlobCiphertextLength(msgLen)):
//
//   SpongeHash(n)                  n >= 1
//     in:  in[n]
//     out: out                      h := n; per chunk of 15 (last zero-padded): h := Poseidon(16)([h, ...chunk])
//
//   BlobEncryption(msgLen)         proves ciphertext == poseidonEncrypt(message, ECDH(ephemeralSecret, recipient), nonce)
//     in:  message[msgLen]          plaintext field elements (e.g. packed bytes, see blob.ts packBytes)
//          ephemeralSecret          scalar e, constrained 0 < e < subOrder
//          recipientPublicKey[2]    constrained on the curve (BabyCheck) and x != 0
//          nonce                    constrained < 2^128
//          ciphertext[ctLen]        the blob's ciphertext (decrypt-and-compare, padding zeros and the final
//                                   authentication element are all constrained)
//     out: ephemeralPublicKey[2]    e * Base8 (circomlib EscalarMulFix, as BabyPbk)
//
//   BlobHash(msgLen)
//     in:  ephemeralPublicKey[2], nonce, ciphertext[ctLen]
//     out: out                      SpongeHash(3 + ctLen) over [epk.x, epk.y, nonce, ...ciphertext] (= blob.ts blobHash)
//
//   EncryptedBlob(msgLen)          BlobEncryption + BlobHash in one
//     in:  message[msgLen], ephemeralSecret, recipientPublicKey[2], nonce, ciphertext[ctLen]
//     out: ephemeralPublicKey[2], blobHash
//
// Helper function: BlobCiphertextLength(msgLen).
// =====================================================================================================================

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/babyjub.circom";
include "circomlib/circuits/escalarmulany.circom";
include "circomlib/circuits/escalarmulfix.circom";
include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/compconstant.circom";

// 3 * ceil(msgLen / 3) + 1: the Poseidon-cipher ciphertext length of a msgLen-element message.
function BlobCiphertextLength(msgLen) {
    return ((msgLen + 2) \ 3) * 3 + 1;
}

// Poseidon sponge over n field elements, identical to blob.ts `spongeHash`.
template SpongeHash(n) {
    assert(n >= 1);
    var RATE = 15;
    var nChunks = (n + RATE - 1) \ RATE;

    // The elements to hash.
    signal input in[n];
    // h after the last chunk.
    signal output out;

    component perm[nChunks];
    for (var c = 0; c < nChunks; c++) {
        perm[c] = Poseidon(16);
        // Running hash; the first one is the length, which separates inputs of different lengths.
        if (c == 0) {
            perm[c].inputs[0] <== n;
        } else {
            perm[c].inputs[0] <== perm[c - 1].out;
        }
        for (var j = 0; j < RATE; j++) {
            if (c * RATE + j < n) {
                perm[c].inputs[1 + j] <== in[c * RATE + j];
            } else {
                perm[c].inputs[1 + j] <== 0;
            }
        }
    }
    out <== perm[nChunks - 1].out;
}

// Proves that `ciphertext` is the Poseidon encryption of `message` under the ECDH key of `ephemeralSecret` and
// `recipientPublicKey`, with `nonce`. Decryption is a bijection for a fixed key and nonce, so the constraints
// decrypt the supplied ciphertext and pin the plaintext (message, then zero padding) and the authentication
// element: exactly the ciphertexts src/crypto/blob.ts `decryptBlob` accepts.
template BlobEncryption(msgLen) {
    assert(msgLen >= 1);
    var padded = ((msgLen + 2) \ 3) * 3;
    var ctLen = padded + 1;
    var nTriples = padded \ 3;
    var TWO128 = 340282366920938463463374607431768211456;
    var BASE8[2] = [
        5299619240641551281634865583518297030282874472190772894086521144482721001553,
        16950150798460657717958625567821834550301663161624707787222815936182638968203
    ];
    // subOrder - 1 of the Base8 subgroup: the largest allowed secret scalar.
    var SUBORDER_MINUS_1 = 2736030358979909402780800718157159386076813972158567259200215660948447373040;

    // The plaintext (e.g. packed parameters).
    signal input message[msgLen];
    // The encryptor's ephemeral secret scalar e; private.
    signal input ephemeralSecret;
    // The recipient's Baby Jubjub public key (a node's registered key, or the app's key).
    signal input recipientPublicKey[2];
    // The cipher nonce; must be < 2^128 (the cipher adds msgLen * 2^128 to it).
    signal input nonce;
    // The ciphertext as stored in the blob.
    signal input ciphertext[ctLen];
    // e * Base8, stored in the blob next to the ciphertext.
    signal output ephemeralPublicKey[2];

    // --- Recipient key: on the curve and not (0, ±1): EscalarMulAny maps x = 0 to the identity, which would make
    //     the shared key public. Subgroup membership is the registry's job (src/crypto/babyjub.ts isValidPublicKey).
    component onCurve = BabyCheck();
    onCurve.x <== recipientPublicKey[0];
    onCurve.y <== recipientPublicKey[1];
    component xIsZero = IsZero();
    xIsZero.in <== recipientPublicKey[0];
    xIsZero.out === 0;

    // --- Ephemeral secret: 253 bits, 0 < e < subOrder. The range keeps circomlib's windowed multiplications away
    //     from their exceptional additions, so the recipient's e'·(s·Base8) really equals s·epk.
    component eBits = Num2Bits(253);
    eBits.in <== ephemeralSecret;
    component eTooBig = CompConstant(SUBORDER_MINUS_1);
    for (var i = 0; i < 253; i++) {
        eTooBig.in[i] <== eBits.out[i];
    }
    eTooBig.in[253] <== 0;
    eTooBig.out === 0;
    component eIsZero = IsZero();
    eIsZero.in <== ephemeralSecret;
    eIsZero.out === 0;

    // --- ephemeralPublicKey = e * Base8 (the computation of circomlib BabyPbk, sharing the bits).
    component epk = EscalarMulFix(253, BASE8);
    for (var i = 0; i < 253; i++) {
        epk.e[i] <== eBits.out[i];
    }
    ephemeralPublicKey[0] <== epk.out[0];
    ephemeralPublicKey[1] <== epk.out[1];

    // --- ECDH: sharedKey = e * recipientPublicKey.
    component ecdh = EscalarMulAny(253);
    for (var i = 0; i < 253; i++) {
        ecdh.e[i] <== eBits.out[i];
    }
    ecdh.p[0] <== recipientPublicKey[0];
    ecdh.p[1] <== recipientPublicKey[1];

    // --- Nonce < 2^128, so that nonce + msgLen * 2^128 determines both (as the TypeScript cipher requires).
    component nonceBits = Num2Bits(128);
    nonceBits.in <== nonce;

    // --- Poseidon cipher, decrypt-and-compare. State S = [0, k0, k1, nonce + msgLen * 2^128];
    //     perm[i] = Perm4(S_i); plaintext[3i + j] = ciphertext[3i + j] - perm[i].out[1 + j];
    //     S_{i+1} = [perm[i].out[0], ciphertext[3i..3i+2]]; finally perm[nTriples].out[1] == ciphertext[ctLen - 1].
    component perm[nTriples + 1];
    perm[0] = PoseidonEx(3, 4);
    perm[0].initialState <== 0;
    perm[0].inputs[0] <== ecdh.out[0];
    perm[0].inputs[1] <== ecdh.out[1];
    perm[0].inputs[2] <== nonce + msgLen * TWO128;
    for (var i = 0; i < nTriples; i++) {
        for (var j = 0; j < 3; j++) {
            var k = 3 * i + j;
            if (k < msgLen) {
                // the plaintext is the message ...
                ciphertext[k] - perm[i].out[1 + j] === message[k];
            } else {
                // ... followed by zero padding (checked for every msgLen % 3, unlike @zk-kit PoseidonDecrypt 0.4.0).
                ciphertext[k] - perm[i].out[1 + j] === 0;
            }
        }
        perm[i + 1] = PoseidonEx(3, 4);
        perm[i + 1].initialState <== perm[i].out[0];
        for (var j = 0; j < 3; j++) {
            perm[i + 1].inputs[j] <== ciphertext[3 * i + j];
        }
    }
    // Authentication element.
    perm[nTriples].out[1] === ciphertext[ctLen - 1];
}

// SpongeHash over the blob's elements [epk.x, epk.y, nonce, ...ciphertext] (blob.ts `blobHash`).
template BlobHash(msgLen) {
    var ctLen = BlobCiphertextLength(msgLen);

    // The blob's fields.
    signal input ephemeralPublicKey[2];
    signal input nonce;
    signal input ciphertext[ctLen];
    // spongeHash(blobElements(blob)).
    signal output out;

    component sponge = SpongeHash(3 + ctLen);
    sponge.in[0] <== ephemeralPublicKey[0];
    sponge.in[1] <== ephemeralPublicKey[1];
    sponge.in[2] <== nonce;
    for (var i = 0; i < ctLen; i++) {
        sponge.in[3 + i] <== ciphertext[i];
    }
    out <== sponge.out;
}

// BlobEncryption + BlobHash: the blob `[epk, nonce, ciphertext]` encrypts `message` to `recipientPublicKey`, and
// `blobHash` is its hash.
template EncryptedBlob(msgLen) {
    var ctLen = BlobCiphertextLength(msgLen);

    signal input message[msgLen];
    signal input ephemeralSecret;
    signal input recipientPublicKey[2];
    signal input nonce;
    signal input ciphertext[ctLen];
    signal output ephemeralPublicKey[2];
    signal output blobHash;

    component enc = BlobEncryption(msgLen);
    enc.message <== message;
    enc.ephemeralSecret <== ephemeralSecret;
    enc.recipientPublicKey <== recipientPublicKey;
    enc.nonce <== nonce;
    enc.ciphertext <== ciphertext;
    ephemeralPublicKey <== enc.ephemeralPublicKey;

    component hash = BlobHash(msgLen);
    hash.ephemeralPublicKey <== enc.ephemeralPublicKey;
    hash.nonce <== nonce;
    hash.ciphertext <== ciphertext;
    blobHash <== hash.out;
}
