/**
 * The relay is trusted for availability, not integrity: `RelayClient` (src/relay/client.ts) checks every answer that
 * names a blob, so that no caller (node agent, app client) can skip the check. Each test plays a lying relay through
 * the client's replaceable transport and asserts that the lie is refused with a typed error and nothing is returned.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import { BlobBatch } from "../../src/crypto/merkle.js";
import { keyPairFromSeed } from "../../src/crypto/babyjub.js";
import { PARAMS_CAPACITY, blobToBytes, encryptBytes } from "../../src/crypto/blob.js";
import { RelayBlobMismatchError, RelayClient, RelayProofInvalidError } from "../../src/relay/client.js";
import { blobHashOfBytes } from "../../src/relay/protocol.js";

const URL = "http://relay.invalid:8787";
const node = keyPairFromSeed("relay-integrity-node");

/** A parameter blob for `node` (anyone can encrypt to a node's public key). */
function paramsBlob(params: string): Uint8Array {
  return blobToBytes(encryptBytes(new TextEncoder().encode(params), PARAMS_CAPACITY, node.publicKey));
}

/** A transport that answers every request with `answer(url, init)` and records the URLs. */
function transport(answer: (url: string, init?: RequestInit) => Response): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  const fake = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    urls.push(url);
    return answer(url, init);
  }) as typeof fetch;
  return { fetch: fake, urls };
}

const octets = (bytes: Uint8Array) =>
  new Response(bytes, { status: 200, headers: { "content-type": "application/octet-stream" } });
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail("expected a rejection"),
    (e: unknown) => e,
  );
}

describe("unit: RelayClient refuses what does not hash to the blob asked for", function () {
  const honest = paramsBlob(JSON.stringify({ prompt: "a red fox in the snow" }));
  const honestHash = blobHashOfBytes(honest);
  const other = paramsBlob(JSON.stringify({ prompt: "something else entirely" }));
  const otherHash = blobHashOfBytes(other);

  it("returns the bytes when they hash to the requested blob hash (control)", async function () {
    const t = transport(() => octets(honest));
    const bytes = await new RelayClient(URL, { fetch: t.fetch }).get(honestHash);
    expect(Buffer.from(bytes).equals(Buffer.from(honest))).to.equal(true);
    expect(t.urls).to.deep.equal([`${URL}/v1/blobs/${honestHash}`]);
  });

  it("refuses another well-formed blob served under the requested hash (RelayBlobMismatchError)", async function () {
    const t = transport(() => octets(other));
    const error = await rejection(new RelayClient(URL, { fetch: t.fetch }).get(honestHash));
    expect(error).to.be.instanceOf(RelayBlobMismatchError);
    const e = error as RelayBlobMismatchError;
    expect(e.expected).to.equal(honestHash);
    expect(e.actual).to.equal(otherHash);
    expect(e.what).to.equal("bytes");
    expect(e.relayUrl).to.equal(URL);
    expect(e.message).to.contain(honestHash).and.to.contain(otherHash);
  });

  it("refuses the honest blob with one element changed", async function () {
    const tampered = Uint8Array.from(honest);
    tampered[tampered.length - 1] ^= 1;
    const t = transport(() => octets(tampered));
    const e = (await rejection(new RelayClient(URL, { fetch: t.fetch }).get(honestHash))) as RelayBlobMismatchError;
    expect(e).to.be.instanceOf(RelayBlobMismatchError);
    expect(e.actual).to.equal(blobHashOfBytes(tampered));
  });

  it("refuses bytes that are not a blob at all (actual = null)", async function () {
    for (const bad of [honest.subarray(0, honest.length - 1), new Uint8Array(0), new Uint8Array(64).fill(0xff)]) {
      const t = transport(() => octets(bad));
      const e = (await rejection(new RelayClient(URL, { fetch: t.fetch }).get(honestHash))) as RelayBlobMismatchError;
      expect(e).to.be.instanceOf(RelayBlobMismatchError);
      expect(e.actual).to.equal(null);
      expect(e.expected).to.equal(honestHash);
    }
  });

  it("refuses an upload acknowledgement that names another blob", async function () {
    const t = transport(() => json(201, { blobHash: otherHash, status: "pending", duplicate: false }));
    const e = (await rejection(
      new RelayClient(URL, { fetch: t.fetch }).upload(Wallet.createRandom(), honest),
    )) as RelayBlobMismatchError;
    expect(e).to.be.instanceOf(RelayBlobMismatchError);
    expect([e.expected, e.actual, e.what]).to.deep.equal([honestHash, otherHash, "upload"]);
  });

  it("accepts an honest upload acknowledgement with a valid proof (control)", async function () {
    const batch = new BlobBatch([honestHash, otherHash]);
    const inclusion = batch.inclusion(honestHash);
    const t = transport(() => json(201, { ...inclusion, status: "committed", duplicate: false }));
    const up = await new RelayClient(URL, { fetch: t.fetch }).upload(Wallet.createRandom(), honest);
    expect(up.blobHash).to.equal(honestHash);
  });

  it("refuses a proof answer about another blob, and a proof that does not verify against its root", async function () {
    const batch = new BlobBatch([honestHash, otherHash]);
    const forOther = { ...batch.inclusion(otherHash), batchId: 1, txHash: null, blockNumber: 1, postedAt: 1 };
    const t1 = transport(() => json(200, forOther));
    const e1 = (await rejection(new RelayClient(URL, { fetch: t1.fetch }).proof(honestHash))) as RelayBlobMismatchError;
    expect(e1).to.be.instanceOf(RelayBlobMismatchError);
    expect(e1.what).to.equal("proof");

    // The other blob's path presented as the honest blob's: right blob hash, wrong proof.
    const swapped = { ...forOther, blobHash: honestHash };
    const t2 = transport(() => json(200, swapped));
    const e2 = await rejection(new RelayClient(URL, { fetch: t2.fetch }).waitForProof(honestHash, 1_000));
    expect(e2).to.be.instanceOf(RelayProofInvalidError);
    expect((e2 as RelayProofInvalidError).root).to.equal(batch.root);

    const good = { ...batch.inclusion(honestHash), batchId: 1, txHash: null, blockNumber: 1, postedAt: 1 };
    const t3 = transport(() => json(200, good));
    const proof = await new RelayClient(URL, { fetch: t3.fetch }).waitForProof(honestHash, 1_000);
    expect(proof.root).to.equal(batch.root);
  });
});
