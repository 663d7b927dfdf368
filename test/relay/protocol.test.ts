/**
 * The relay's hashing and signature scheme (src/relay/protocol.ts): the blob hash is `spongeHash` of
 * src/crypto/blob.ts over the serialised elements; the signed digest is
 * keccak256(abi.encode("vss-relay-upload-v1", blobHash, timestamp)) under EIP-191.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { AbiCoder, Wallet, getBytes, keccak256, verifyMessage } from "ethers";
import { FIELD_SIZE, spongeHash, toBytes32 } from "../../src/crypto/blob.js";
import {
  BlobFormatError,
  blobElementsFromBytes,
  blobHashOfBytes,
  signUpload,
  uploadDigest,
} from "../../src/relay/protocol.js";
import { SignatureError, verifyUpload } from "../../src/relay/verify.js";
import type { ChildProcess } from "node:child_process";
import { WorkerVerifier } from "../../src/relay/verify-pool.js";
import { randomBlob } from "./helpers.js";

const randomElement = () => BigInt("0x" + randomBytes(32).toString("hex")) % FIELD_SIZE;

describe("relay: blob hash and upload signature", function () {
  it("blobHashOfBytes hashes the serialised elements and rejects malformed bodies", function () {
    const bytes = randomBlob(33);
    expect(blobHashOfBytes(bytes)).to.equal(toBytes32(spongeHash(blobElementsFromBytes(bytes))));
    expect(() => blobHashOfBytes(bytes.subarray(1))).to.throw(BlobFormatError, "not a multiple of 32");
    expect(() => blobHashOfBytes(bytes.subarray(0, 96))).to.throw(BlobFormatError, "3 field element(s)");
    const over = randomBlob(4);
    over.set(Buffer.from(FIELD_SIZE.toString(16).padStart(64, "0"), "hex"), 96);
    expect(() => blobHashOfBytes(over)).to.throw(BlobFormatError, "field element 3");
    const max = randomBlob(4);
    max.set(Buffer.from((FIELD_SIZE - 1n).toString(16).padStart(64, "0"), "hex"), 96);
    expect(blobHashOfBytes(max)).to.equal(toBytes32(spongeHash(blobElementsFromBytes(max))));
  });

  it("signUpload signs keccak256(abi.encode(domain, blobHash, timestamp)) with EIP-191, and the relay recovers it", async function () {
    const wallet = Wallet.createRandom();
    const blob = randomBlob(12);
    const signed = await signUpload(wallet, blob, 1_700_000_000);
    const digest = keccak256(
      AbiCoder.defaultAbiCoder().encode(
        ["string", "bytes32", "uint256"],
        ["vss-relay-upload-v1", signed.blobHash, 1_700_000_000n],
      ),
    );
    expect(uploadDigest(signed.blobHash, 1_700_000_000)).to.equal(digest);
    expect(verifyMessage(getBytes(digest), signed.signature)).to.equal(wallet.address);
    expect(signed.headers).to.deep.include({
      "content-type": "application/octet-stream",
      "x-vss-timestamp": "1700000000",
      "x-vss-signature": signed.signature,
      "x-vss-address": wallet.address,
      "x-vss-blob-hash": signed.blobHash,
    });
    expect(verifyUpload(blob, 1_700_000_000, signed.signature)).to.deep.equal({
      blobHash: signed.blobHash,
      signer: wallet.address,
    });
    expect(() => verifyUpload(blob, 1_700_000_001, signed.signature, wallet.address)).to.throw("not by");
  });

  it("the worker pool verifies in worker processes and replaces a worker that dies", async function () {
    const pool = new WorkerVerifier(1);
    try {
      const wallet = Wallet.createRandom();
      const blob = randomBlob(20);
      const signed = await signUpload(wallet, blob);
      expect(await pool.verify(blob, signed.timestamp, signed.signature, wallet.address)).to.deep.equal({
        blobHash: signed.blobHash,
        signer: wallet.address,
      });
      const slots = (pool as unknown as { slots: { worker: ChildProcess }[] }).slots;
      const dead = slots[0].worker;
      expect(dead.pid).to.not.equal(process.pid);
      const exited = new Promise((r) => dead.once("exit", r));
      dead.kill("SIGKILL");
      await exited;
      expect(slots[0].worker).to.not.equal(dead);
      expect((await pool.verify(blob, signed.timestamp, signed.signature)).signer).to.equal(wallet.address);
      // The relay's two separate steps: the signature over the claimed hash, then the body's hash.
      expect(await pool.recover(signed.blobHash, signed.timestamp, signed.signature, wallet.address)).to.equal(
        wallet.address,
      );
      let notSigner: Error | undefined;
      await pool
        .recover(signed.blobHash, signed.timestamp + 1, signed.signature, wallet.address)
        .catch((e: Error) => (notSigner = e));
      expect(notSigner).to.be.instanceOf(SignatureError);
      expect(await pool.hash(blob)).to.equal(signed.blobHash);
      let error: Error | undefined;
      await pool.verify(blob.subarray(0, 100), signed.timestamp, signed.signature).catch((e: Error) => (error = e));
      expect(error).to.be.instanceOf(BlobFormatError);
    } finally {
      await pool.close();
    }
  });
});
