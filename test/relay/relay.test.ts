/**
 * The DA/Relay service (src/relay), in-process: the real Fastify server on loopback, a real SQLite file in a temp
 * directory, and the in-process Hardhat network with the contracts deployed by the fixture (the fixture grants
 * RELAY_ROLE to `net.relay`). Every proof is checked with OpenZeppelin's tree and with `RelayRoots.verifyBlob`.
 */
import { expect } from "chai";
import { Wallet, ZeroAddress, type Provider } from "ethers";
import { join } from "node:path";
import { deployNetwork, ethers, type Network } from "../helpers/fixture.js";
import { generateKeyPair } from "../../src/crypto/babyjub.js";
import { RESULT_CAPACITY, blobHash, blobToBytes, encryptBytes, toBytes32 } from "../../src/crypto/blob.js";
import { createRelay, type Relay, type RelayOptions } from "../../src/relay/relay.js";
import { SqliteBlobStore } from "../../src/relay/store.js";
import { RelayClient } from "../../src/relay/client.js";
import { API_PREFIX, signUpload, type ProofResponse } from "../../src/relay/protocol.js";
import { WorkerVerifier } from "../../src/relay/verify-pool.js";
import { eventually, expectValidProof, get, post, randomBlob, tempDir } from "./helpers.js";

const FIELD_MODULUS_HEX = "30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001";

describe("relay: HTTP service (src/relay)", function () {
  this.timeout(60_000);

  let net: Network;
  let tmp: ReturnType<typeof tempDir>;
  const running: Relay[] = [];
  let uploader: Wallet;

  before(async function () {
    net = await deployNetwork();
    uploader = net.apps[0];
  });

  beforeEach(function () {
    tmp = tempDir();
  });

  afterEach(async function () {
    while (running.length > 0) await running.pop()!.stop();
    tmp.remove();
  });

  /** Starts a relay on a free loopback port with a temp database. */
  async function startRelay(options: Partial<RelayOptions> = {}, dbName = "relay.sqlite"): Promise<Relay> {
    const relay = createRelay({
      signer: net.relay,
      relayRoots: await net.relayRoots.getAddress(),
      dbPath: join(tmp.dir, dbName),
      port: 0,
      batchSize: 8,
      batchIntervalMs: 200,
      retryBaseMs: 20,
      pollMs: 20,
      ...options,
    });
    running.push(relay);
    await relay.start();
    return relay;
  }

  async function rootPostedEvents(root: string) {
    return net.relayRoots.queryFilter(net.relayRoots.filters.RootPosted(root));
  }

  describe("upload, read, proof", function () {
    it("acknowledges an upload, serves the bytes, and returns a proof valid off-chain and on-chain", async function () {
      const relay = await startRelay();
      const blob = randomBlob(10);
      const up = await post(relay.url, uploader, blob);
      expect(up.status).to.equal(201);
      expect(up.body.status).to.equal("pending");
      expect(up.body.duplicate).to.equal(false);
      const hash = up.body.blobHash;

      const read = await get(`${relay.url}${API_PREFIX}/blobs/${hash}`);
      expect(read.status).to.equal(200);
      expect(Buffer.from(read.bytes!).equals(Buffer.from(blob))).to.equal(true);

      const proof = await get(`${relay.url}${API_PREFIX}/blobs/${hash}/proof?wait=10000`);
      expect(proof.status).to.equal(200);
      expect(proof.body.txHash).to.match(/^0x[0-9a-f]{64}$/);
      expect(proof.body.batchId).to.equal(1);
      await expectValidProof(net.relayRoots, proof.body, hash);

      const health = await get(`${relay.url}${API_PREFIX}/health`);
      expect(health.status).to.equal(200);
      expect(health.body).to.include({
        status: "ok",
        chainId: (await ethers.provider.getNetwork()).chainId.toString(),
        relayAddress: net.relay.address,
        pendingBlobs: 0,
        totalBlobs: 1,
      });
      expect(health.body.lastRoot.root).to.equal(proof.body.root);
    });

    it("hashes a real encrypted blob (encryptBytes) to the same blobHash as src/crypto/blob.ts", async function () {
      const relay = await startRelay();
      const { publicKey } = generateKeyPair();
      const blob = encryptBytes(new TextEncoder().encode("a 64x64 image, say"), RESULT_CAPACITY, publicKey);
      const bytes = blobToBytes(blob);
      const client = new RelayClient(relay.url);
      const up = await client.upload(uploader, bytes, 10_000);
      expect(up.blobHash).to.equal(toBytes32(blobHash(blob)));
      expect(up.status).to.equal("committed");
      await expectValidProof(net.relayRoots, up as unknown as ProofResponse, up.blobHash);
      expect(Buffer.from(await client.get(up.blobHash)).equals(Buffer.from(bytes))).to.equal(true);
    });

    it("POST ?wait= answers with the root and proof once the batch's transaction is mined", async function () {
      const relay = await startRelay({ batchIntervalMs: 100 });
      const up = await post(relay.url, uploader, randomBlob(), { query: "?wait=10000" });
      expect(up.status).to.equal(201);
      expect(up.body.status).to.equal("committed");
      expect(up.body.txHash).to.match(/^0x[0-9a-f]{64}$/);
      await expectValidProof(net.relayRoots, up.body, up.body.blobHash);
      const receipt = await ethers.provider.getTransactionReceipt(up.body.txHash);
      expect(receipt?.status).to.equal(1);
    });

    it("answers 202 with the pending status while the batch is open, and after the wait times out", async function () {
      const relay = await startRelay({ batchIntervalMs: 60_000 });
      const up = await post(relay.url, uploader, randomBlob());
      const now = await get(`${relay.url}${API_PREFIX}/blobs/${up.body.blobHash}/proof`);
      expect(now.status).to.equal(202);
      expect(now.body).to.include({ status: "pending", batchId: null, batchStatus: "open" });
      const t0 = Date.now();
      const waited = await get(`${relay.url}${API_PREFIX}/blobs/${up.body.blobHash}/proof?wait=300`);
      expect(waited.status).to.equal(202);
      expect(Date.now() - t0).to.be.at.least(280);
    });

    it("is idempotent: re-uploading a blob returns its current status and stores it once", async function () {
      const relay = await startRelay({ batchIntervalMs: 60_000 });
      const blob = randomBlob();
      const first = await post(relay.url, uploader, blob);
      const again = await post(relay.url, net.apps[1], blob);
      expect(again.status).to.equal(201);
      expect(again.body).to.deep.equal({ blobHash: first.body.blobHash, status: "pending", duplicate: true });
      await relay.flush();
      const committed = await post(relay.url, uploader, blob);
      expect(committed.status).to.equal(201);
      expect(committed.body.status).to.equal("committed");
      expect(committed.body.duplicate).to.equal(true);
      await expectValidProof(net.relayRoots, committed.body, first.body.blobHash);
      const stats = await relay.store.stats();
      expect(stats.totalBlobs).to.equal(1);
      expect(stats.postedBatches).to.equal(1);
      const info = await relay.store.blobInfo(first.body.blobHash);
      expect(info?.uploader).to.equal(uploader.address.toLowerCase());
    });

    it("works with verification on worker threads", async function () {
      const relay = await startRelay({ verifier: new WorkerVerifier(2) });
      const blobs = Array.from({ length: 6 }, () => randomBlob(20));
      const ups = await Promise.all(blobs.map((b) => post(relay.url, uploader, b)));
      const client = new RelayClient(relay.url);
      for (const [i, up] of ups.entries()) {
        expect(up.status).to.equal(201);
        const signed = await signUpload(uploader, blobs[i]);
        expect(up.body.blobHash).to.equal(signed.blobHash);
        await expectValidProof(net.relayRoots, await client.waitForProof(up.body.blobHash, 10_000));
      }
      const bad = await post(relay.url, uploader, randomBlob(), { headers: { "x-vss-address": net.apps[1].address } });
      expect(bad.status).to.equal(401);
      const malformed = await post(relay.url, uploader, randomBlob(3));
      expect(malformed.status).to.equal(400);
    });
  });

  describe("batching", function () {
    it("closes a batch after B blobs and posts one root for them", async function () {
      const relay = await startRelay({ batchSize: 4, batchIntervalMs: 3_600_000 });
      const before = await net.relayRoots.rootCount();
      const ups = await Promise.all([0, 1, 2, 3].map(() => post(relay.url, uploader, randomBlob())));
      const client = new RelayClient(relay.url);
      const proofs = await Promise.all(ups.map((u) => client.waitForProof(u.body.blobHash, 10_000)));
      expect(new Set(proofs.map((p) => p.root)).size).to.equal(1);
      expect(proofs.every((p) => p.proof.length === 2)).to.equal(true);
      for (const p of proofs) await expectValidProof(net.relayRoots, p);
      expect(await net.relayRoots.rootCount()).to.equal(before + 1n);
      const events = await rootPostedEvents(proofs[0].root);
      expect(events).to.have.length(1);
      expect(events[0].args.blobCount).to.equal(4n);
      expect(events[0].args.relay).to.equal(net.relay.address);
      // A fifth blob waits for the next batch (T is an hour).
      const fifth = await post(relay.url, uploader, randomBlob());
      expect((await get(`${relay.url}${API_PREFIX}/blobs/${fifth.body.blobHash}/proof`)).status).to.equal(202);
    });

    it("splits a burst into batches of at most B", async function () {
      const relay = await startRelay({ batchSize: 3, batchIntervalMs: 150 });
      const ups = await Promise.all(Array.from({ length: 7 }, () => post(relay.url, uploader, randomBlob())));
      const client = new RelayClient(relay.url);
      const proofs = await Promise.all(ups.map((u) => client.waitForProof(u.body.blobHash, 10_000)));
      const sizes = new Map<string, number>();
      for (const p of proofs) sizes.set(p.root, (sizes.get(p.root) ?? 0) + 1);
      expect([...sizes.values()].sort()).to.deep.equal([1, 3, 3]);
      for (const p of proofs) await expectValidProof(net.relayRoots, p);
    });

    it("closes a batch after T milliseconds", async function () {
      const relay = await startRelay({ batchSize: 256, batchIntervalMs: 400 });
      const t0 = Date.now();
      const ups = await Promise.all([0, 1, 2].map(() => post(relay.url, uploader, randomBlob())));
      const client = new RelayClient(relay.url);
      const proofs = await Promise.all(ups.map((u) => client.waitForProof(u.body.blobHash, 10_000)));
      const elapsed = Date.now() - t0;
      expect(elapsed).to.be.at.least(380);
      expect(elapsed).to.be.below(5_000);
      expect(new Set(proofs.map((p) => p.root)).size).to.equal(1);
      const events = await rootPostedEvents(proofs[0].root);
      expect(events[0].args.blobCount).to.equal(3n);
      for (const p of proofs) await expectValidProof(net.relayRoots, p);
    });
  });

  describe("errors: status codes and messages", function () {
    let relay: Relay;
    beforeEach(async function () {
      relay = await startRelay({ maxBlobBytes: 1024, rateLimit: { burst: 3, perSecond: 1 }, batchIntervalMs: 60_000 });
    });

    it("413 when the body exceeds the size limit", async function () {
      const r = await post(relay.url, uploader, randomBlob(40)); // 1280 bytes
      expect(r.status).to.equal(413);
      expect(r.body.error.code).to.equal("blob_too_large");
      expect(r.body.error.message).to.include("1024 bytes");
    });

    it("400 when the body is not a multiple of 32 bytes, too short, or has an element ≥ the field modulus", async function () {
      // Each upload is authenticated and charged to its signer before the body is read: one fresh signer each.
      const uploader = () => Wallet.createRandom();
      const odd = await post(relay.url, uploader(), randomBlob(5).subarray(0, 150));
      expect(odd.status).to.equal(400);
      expect(odd.body.error.code).to.equal("bad_blob");
      expect(odd.body.error.message).to.include("150 bytes, not a multiple of 32");

      const short = await post(relay.url, uploader(), randomBlob(3));
      expect(short.status).to.equal(400);
      expect(short.body.error.message).to.include("3 field element(s); a blob has at least 4");

      const empty = await post(relay.url, uploader(), new Uint8Array(0));
      expect(empty.status).to.equal(400);
      expect(empty.body.error.code).to.equal("bad_blob");

      const big = randomBlob(5);
      big.set(Buffer.from(FIELD_MODULUS_HEX, "hex"), 64); // element 2 = p
      const over = await post(relay.url, uploader(), big);
      expect(over.status).to.equal(400);
      expect(over.body.error.message).to.include("field element 2 (bytes 64..95) is not below the BN254");
    });

    it("400 when the signature headers are missing or malformed, or the content type is wrong", async function () {
      const noTs = await post(relay.url, uploader, randomBlob(), { headers: { "x-vss-timestamp": undefined } });
      expect(noTs.status).to.equal(400);
      expect(noTs.body.error).to.deep.include({ code: "missing_header" });
      expect(noTs.body.error.message).to.include("missing x-vss-timestamp");

      const noSig = await post(relay.url, uploader, randomBlob(), { headers: { "x-vss-signature": undefined } });
      expect(noSig.status).to.equal(400);
      expect(noSig.body.error.message).to.include("missing x-vss-signature");

      const badTs = await post(relay.url, uploader, randomBlob(), { headers: { "x-vss-timestamp": "yesterday" } });
      expect(badTs.status).to.equal(400);
      expect(badTs.body.error.message).to.include("unix time in whole seconds");

      const badSig = await post(relay.url, uploader, randomBlob(), { headers: { "x-vss-signature": "0x1234" } });
      expect(badSig.status).to.equal(400);
      expect(badSig.body.error.message).to.include("65-byte signature");

      const badAddr = await post(relay.url, uploader, randomBlob(), { headers: { "x-vss-address": "bob" } });
      expect(badAddr.status).to.equal(400);
      expect(badAddr.body.error.message).to.include("x-vss-address");

      const json = await post(relay.url, uploader, randomBlob(), { headers: { "content-type": "application/json" } });
      expect(json.status).to.equal(400);
      expect(json.body.error.code).to.equal("bad_content_type");
      expect(json.body.error.message).to.include("application/octet-stream");

      const text = await post(relay.url, uploader, randomBlob(), { headers: { "content-type": "image/png" } });
      expect(text.status).to.equal(400);
      expect(text.body.error.code).to.equal("bad_content_type");

      const badWait = await post(relay.url, uploader, randomBlob(), { query: "?wait=soon" });
      expect(badWait.status).to.equal(400);
      expect(badWait.body.error.code).to.equal("bad_query");
    });

    it("401 when the timestamp is stale or the signature is by someone else or invalid", async function () {
      const now = Math.floor(Date.now() / 1000);
      const stale = await post(relay.url, uploader, randomBlob(), { timestamp: now - 301 });
      expect(stale.status).to.equal(401);
      expect(stale.body.error.code).to.equal("stale_timestamp");
      expect(stale.body.error.message).to.include("allowed skew ±300 s");
      const future = await post(relay.url, uploader, randomBlob(), { timestamp: now + 400 });
      expect(future.status).to.equal(401);
      const edge = await post(relay.url, uploader, randomBlob(), { timestamp: now - 250 });
      expect(edge.status).to.equal(201);

      // Signed for another blob: recovers to a random address, which the declared x-vss-address exposes.
      const blob = randomBlob();
      const other = await signUpload(uploader, randomBlob());
      const wrong = await post(relay.url, uploader, blob, { headers: { "x-vss-signature": other.signature } });
      expect(wrong.status).to.equal(401);
      expect(wrong.body.error.code).to.equal("bad_signature");
      expect(wrong.body.error.message).to.include(`not by ${uploader.address}`);

      // A signature over the right digest by a different key than declared.
      const mallory = Wallet.createRandom();
      const signed = await signUpload(mallory, blob);
      const spoof = await post(relay.url, uploader, blob, {
        timestamp: signed.timestamp,
        headers: { "x-vss-signature": signed.signature },
      });
      expect(spoof.status).to.equal(401);
      expect(spoof.body.error.message).to.include(`made by ${mallory.address}`);

      // 65 bytes that are no signature at all.
      const garbage = await post(relay.url, uploader, blob, { headers: { "x-vss-signature": "0x" + "11".repeat(65) } });
      expect(garbage.status).to.equal(401);
      expect(garbage.body.error.message).to.include("does not recover");

      // The signer must name itself (x-vss-address): without it there is nothing to check the recovery against.
      const anon = await post(relay.url, uploader, randomBlob(), { headers: { "x-vss-address": undefined } });
      expect(anon.status).to.equal(400);
      expect(anon.body.error.code).to.equal("missing_header");
      expect(anon.body.error.message).to.include("missing x-vss-address");
    });

    it("404 for an unknown hash, 400 for a malformed one, JSON 404 for unknown routes", async function () {
      const unknown = "0x" + "ab".repeat(32);
      const a = await get(`${relay.url}${API_PREFIX}/blobs/${unknown}`);
      expect(a.status).to.equal(404);
      expect(a.body.error.code).to.equal("blob_not_found");
      expect(a.body.error.message).to.include(unknown);
      const b = await get(`${relay.url}${API_PREFIX}/blobs/${unknown}/proof`);
      expect(b.status).to.equal(404);
      expect(b.body.error.code).to.equal("blob_not_found");
      const c = await get(`${relay.url}${API_PREFIX}/blobs/0x1234/proof`);
      expect(c.status).to.equal(400);
      expect(c.body.error.code).to.equal("bad_hash");
      const d = await get(`${relay.url}/v2/blobs`);
      expect(d.status).to.equal(404);
      expect(d.body.error.message).to.include("POST /v1/blobs");
    });

    it("429 per address when the token bucket is empty, with Retry-After", async function () {
      for (let i = 0; i < 3; i++) expect((await post(relay.url, uploader, randomBlob())).status).to.equal(201);
      const limited = await post(relay.url, uploader, randomBlob());
      expect(limited.status).to.equal(429);
      expect(limited.body.error.code).to.equal("rate_limited");
      expect(limited.body.error.message).to.include(`${uploader.address} is over its upload rate limit (1/s, burst 3)`);
      expect(Number(limited.headers.get("retry-after"))).to.be.at.least(1);
      // Another address has its own bucket; the first one refills.
      expect((await post(relay.url, net.apps[1], randomBlob())).status).to.equal(201);
      await new Promise((r) => setTimeout(r, 1100));
      expect((await post(relay.url, uploader, randomBlob())).status).to.equal(201);
    });
  });

  describe("database failures", function () {
    it("uploads answer 503 store_unavailable while the database is down, and 201 once it is back", async function () {
      const inner = new SqliteBlobStore(join(tmp.dir, "flaky.sqlite"));
      let down = false;
      const store = new Proxy(inner, {
        get(target, prop) {
          const v = (target as unknown as Record<string | symbol, unknown>)[prop];
          if (typeof v !== "function") return v;
          return (...args: unknown[]) => {
            if (down && prop !== "close") return Promise.reject(new Error("SQLITE_IOERR: disk I/O error"));
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const relay = await startRelay({ store, dbPath: undefined });
      expect((await post(relay.url, uploader, randomBlob())).status).to.equal(201);
      down = true;
      const failed = await post(relay.url, uploader, randomBlob());
      expect(failed.status).to.equal(503);
      expect(failed.body.error.code).to.equal("store_unavailable");
      expect(failed.body.error.message).to.include("disk I/O error");
      expect(failed.headers.get("retry-after")).to.equal("1");
      const read = await get(`${relay.url}${API_PREFIX}/blobs/0x${"ab".repeat(32)}`);
      expect(read.status).to.equal(503);
      down = false;
      const back = await post(relay.url, uploader, randomBlob());
      expect(back.status).to.equal(201);
      expect((await relay.store.stats()).totalBlobs).to.equal(2);
    });
  });

  describe("RPC failures, retries and restarts", function () {
    /**
     * A Wallet for the relay account whose provider fails the next `failures.n` calls of the listed methods
     * (`lost`: the call goes through but its answer is lost, as when a connection drops after sending).
     */
    interface Failures {
      n: number;
      lost?: boolean;
      calls?: number;
    }
    function flakySigner(methods: string[], failures: Failures): Wallet {
      const target = ethers.provider as unknown as Record<string, unknown>;
      const proxy = new Proxy(target, {
        get(t, prop) {
          const v = t[prop as string];
          if (typeof v !== "function") return v;
          if (!methods.includes(prop as string)) return (v as (...a: unknown[]) => unknown).bind(t);
          return async (...args: unknown[]) => {
            failures.calls = (failures.calls ?? 0) + 1;
            if (failures.n > 0) {
              failures.n--;
              if (failures.lost) await (v as (...a: unknown[]) => Promise<unknown>).apply(t, args);
              throw new Error(`test RPC failure of ${String(prop)}`);
            }
            return (v as (...a: unknown[]) => unknown).apply(t, args);
          };
        },
      });
      return new Wallet(net.relay.privateKey, proxy as unknown as Provider);
    }

    it("retries with backoff when the RPC fails, then posts exactly once", async function () {
      const failures: Failures = { n: 0 };
      const relay = await startRelay({ signer: flakySigner(["broadcastTransaction", "call"], failures) });
      failures.n = 4;
      const before = await net.relayRoots.rootCount();
      const up = await post(relay.url, uploader, randomBlob());
      const degraded = await eventually(async () => {
        const h = await get(`${relay.url}${API_PREFIX}/health`);
        return h.body.status === "degraded" ? h.body : null;
      });
      expect(degraded.lastError).to.include("test RPC failure");
      const proof = await new RelayClient(relay.url).waitForProof(up.body.blobHash, 20_000);
      await expectValidProof(net.relayRoots, proof, up.body.blobHash);
      expect(failures.n).to.equal(0);
      expect(await net.relayRoots.rootCount()).to.equal(before + 1n);
      expect(await rootPostedEvents(proof.root)).to.have.length(1);
      const batch = await relay.store.getBatch(proof.batchId);
      expect(batch?.attempts).to.equal(4);
      expect((await get(`${relay.url}${API_PREFIX}/health`)).body.status).to.equal("ok");
    });

    it("does not post twice when a sent transaction's answer was lost", async function () {
      const failures: Failures = { n: 0, lost: true };
      const relay = await startRelay({ signer: flakySigner(["broadcastTransaction"], failures) });
      failures.n = 1;
      const before = await net.relayRoots.rootCount();
      const up = await post(relay.url, uploader, randomBlob());
      const proof = await new RelayClient(relay.url).waitForProof(up.body.blobHash, 20_000);
      await expectValidProof(net.relayRoots, proof, up.body.blobHash);
      expect(await net.relayRoots.rootCount()).to.equal(before + 1n);
      const events = await rootPostedEvents(proof.root);
      expect(events).to.have.length(1);
      expect(proof.txHash).to.equal(events[0].transactionHash);
      expect(failures.calls).to.equal(1); // found on-chain by rootPostedAt: never sent again
    });

    it("resumes a closed, unposted batch after a restart and posts it once", async function () {
      const failures: Failures = { n: 1_000_000 };
      const a = await startRelay({ signer: flakySigner(["broadcastTransaction"], failures), batchSize: 3 });
      const blobs = [randomBlob(), randomBlob(), randomBlob(), randomBlob()];
      const ups = await Promise.all(blobs.map((b) => post(a.url, uploader, b)));
      expect(ups.every((u) => u.status === 201)).to.equal(true);
      await eventually(async () => (await a.store.stats()).pendingBatches === 1 && failures.calls);
      const [pendingBatch] = await a.store.unpostedBatches();
      expect(pendingBatch.blobCount).to.equal(3);
      await a.stop();
      running.splice(running.indexOf(a), 1);

      const before = await net.relayRoots.rootCount();
      const b = await startRelay({ batchSize: 3, batchIntervalMs: 100 });
      const client = new RelayClient(b.url);
      const proofs = await Promise.all(ups.map((u) => client.waitForProof(u.body.blobHash, 20_000)));
      for (const p of proofs) await expectValidProof(net.relayRoots, p);
      expect(proofs[0].batchId).to.equal(pendingBatch.id);
      expect(proofs.filter((p) => p.root === pendingBatch.root)).to.have.length(3);
      expect(await net.relayRoots.rootCount()).to.equal(before + 2n); // the resumed batch and the 4th blob's
      expect(await rootPostedEvents(pendingBatch.root)).to.have.length(1);
      for (const [i, u] of ups.entries()) {
        expect(Buffer.from(await client.get(u.body.blobHash)).equals(Buffer.from(blobs[i]))).to.equal(true);
      }
    });

    it("after a restart, recognises a root that a lost transaction already posted and does not post it again", async function () {
      const failures: Failures = { n: 1, lost: true };
      // Long backoff: the first relay never retries before it is stopped.
      const a = await startRelay({
        signer: flakySigner(["broadcastTransaction"], failures),
        batchSize: 2,
        retryBaseMs: 60_000,
      });
      const ups = await Promise.all([0, 1].map(() => post(a.url, uploader, randomBlob())));
      await eventually(async () => failures.calls === 1);
      const [batch] = await a.store.unpostedBatches();
      expect(batch.status).to.equal("posting");
      expect(await net.relayRoots.rootPostedAt(batch.root)).to.be.greaterThan(0n); // it did go through
      await a.stop();
      running.splice(running.indexOf(a), 1);

      const sends: Failures = { n: 0 };
      const before = await net.relayRoots.rootCount();
      const b = await startRelay({ signer: flakySigner(["broadcastTransaction"], sends), batchSize: 2 });
      const client = new RelayClient(b.url);
      const proofs = await Promise.all(ups.map((u) => client.waitForProof(u.body.blobHash, 20_000)));
      for (const p of proofs) await expectValidProof(net.relayRoots, p);
      expect(sends.calls ?? 0).to.equal(0);
      expect(await net.relayRoots.rootCount()).to.equal(before);
      const events = await rootPostedEvents(batch.root);
      expect(events).to.have.length(1);
      expect(proofs[0].txHash).to.equal(events[0].transactionHash);
    });

    it("closes blobs left unbatched by a stopped relay when it starts again", async function () {
      const a = await startRelay({ batchIntervalMs: 3_600_000 });
      const ups = await Promise.all([0, 1].map(() => post(a.url, uploader, randomBlob())));
      await a.stop();
      running.splice(running.indexOf(a), 1);
      const b = await startRelay({ batchIntervalMs: 100 });
      const client = new RelayClient(b.url);
      for (const u of ups) await expectValidProof(net.relayRoots, await client.waitForProof(u.body.blobHash, 10_000));
    });

    it("refuses to start without RELAY_ROLE, and on a database of another deployment", async function () {
      const stranger = createRelay({
        signer: net.stranger,
        relayRoots: await net.relayRoots.getAddress(),
        dbPath: join(tmp.dir, "x.sqlite"),
        port: 0,
      });
      let message = "";
      await stranger.start().catch((e: Error) => (message = e.message));
      await stranger.stop();
      expect(message).to.include(`${net.stranger.address} does not hold RELAY_ROLE`);

      const other = await deployNetwork();
      const a = await startRelay({}, "pinned.sqlite");
      await a.stop();
      running.splice(running.indexOf(a), 1);
      const b = createRelay({
        signer: other.relay,
        relayRoots: await other.relayRoots.getAddress(),
        dbPath: join(tmp.dir, "pinned.sqlite"),
        port: 0,
      });
      message = "";
      await b.start().catch((e: Error) => (message = e.message));
      await b.stop();
      expect(message).to.include("use another --db for this deployment");
    });

    it("a second relay process cannot open a database in use", async function () {
      await startRelay({}, "busy.sqlite");
      expect(() =>
        createRelay({
          signer: net.relay,
          relayRoots: ZeroAddress,
          dbPath: join(tmp.dir, "busy.sqlite"),
        }),
      ).to.throw(/in use by another process/);
    });
  });
});
