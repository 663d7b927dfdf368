/**
 * Crash safety of the relay as a program: a `hardhat node` child process is the chain, the relay CLI runs as another
 * child process on a database in a temp directory, and the test SIGKILLs the relay while uploads are in flight and
 * its batch is still open. A relay restarted on the same database must serve every acknowledged blob and get each
 * one a root on-chain, posted exactly once.
 */
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Wallet } from "ethers";
import { verifyInclusion } from "../../src/crypto/merkle.js";
import { RelayClient } from "../../src/relay/client.js";
import type { RelayRoots } from "../../typechain-types/index.js";
import { freePort, randomBlob, tempDir } from "./helpers.js";
import {
  DEFAULT_KEYS,
  deployRelayRoots,
  spawnRelayCli,
  startHardhatNode,
  waitForOutput,
  type Child,
} from "./local-chain.js";

describe("relay: crash safety (child processes)", function () {
  this.timeout(240_000);

  const children: Child[] = [];
  let tmp: ReturnType<typeof tempDir>;
  let rpc: string;
  let relayRoots: RelayRoots;
  let keyFile: string;

  before(async function () {
    tmp = tempDir("vss-relay-crash-");
    const node = await startHardhatNode(await freePort());
    children.push(node.child);
    rpc = node.url;
    const deployed = await deployRelayRoots(rpc);
    relayRoots = deployed.relayRoots;
    keyFile = join(tmp.dir, "relay.key");
    writeFileSync(keyFile, deployed.relayKey + "\n", { mode: 0o600 });
  });

  after(async function () {
    relayRoots?.runner?.provider?.destroy?.();
    await Promise.all(children.map((c) => c.kill("SIGKILL")));
    tmp?.remove();
  });

  async function relay(db: string, extra: string[]): Promise<{ child: Child; client: RelayClient }> {
    const port = await freePort();
    const args = ["--rpc", rpc, "--db", db, "--port", String(port), "--relay-roots", await relayRoots.getAddress()];
    const child = spawnRelayCli([...args, "--key-file", keyFile, "--verify-workers", "1", ...extra]);
    children.push(child);
    const [, url] = await waitForOutput(child, /relay listening on (http:\/\/\S+)/, 60_000);
    return { child, client: new RelayClient(url) };
  }

  it("serves every acknowledged blob after SIGKILL mid-batch, and posts each root once", async function () {
    const db = join(tmp.dir, "relay.sqlite");
    const first = await relay(db, ["--batch-interval-ms", "600000", "--batch-size", "1000"]);
    const uploaders = [2, 3].map((i) => new Wallet(DEFAULT_KEYS[i]));

    // A first wave, all acknowledged, then a second wave that is cut off by the kill.
    const blobs = new Map<string, Uint8Array>();
    const acked: string[] = [];
    const upload = async (i: number) => {
      const blob = randomBlob(16);
      try {
        const r = await first.client.upload(uploaders[i % 2], blob);
        expect(r.status).to.equal("pending");
        blobs.set(r.blobHash, blob);
        acked.push(r.blobHash);
      } catch {
        // in flight when the relay died: never acknowledged, so nothing is promised
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => upload(i)));
    expect(acked).to.have.length(20);
    const wave = Promise.all(Array.from({ length: 40 }, (_, i) => upload(i)));
    await new Promise((r) => setTimeout(r, 30));
    await first.child.kill("SIGKILL");
    await wave;
    expect(acked.length).to.be.at.least(20);
    expect(await relayRoots.rootCount()).to.equal(0n); // the batch was still open

    // Restart on the same database with a short T: every acknowledged blob gets a root.
    const second = await relay(db, ["--batch-interval-ms", "200", "--batch-size", "16"]);
    const roots = new Set<string>();
    for (const hash of acked) {
      const bytes = await second.client.get(hash);
      expect(Buffer.from(bytes).equals(Buffer.from(blobs.get(hash)!))).to.equal(true);
      const proof = await second.client.waitForProof(hash, 60_000);
      expect(verifyInclusion(proof)).to.equal(true);
      expect(await relayRoots.verifyBlob(proof.blobHash, proof.root, proof.proof)).to.equal(true);
      roots.add(proof.root);
    }
    const health = await second.client.health();
    expect(health.pendingBlobs).to.equal(0);
    expect(health.totalBlobs).to.be.at.least(acked.length);
    expect(await relayRoots.rootCount()).to.equal(BigInt(health.postedBatches));
    for (const root of roots) {
      expect(await relayRoots.queryFilter(relayRoots.filters.RootPosted(root))).to.have.length(1);
    }
    await second.child.kill("SIGTERM");
    expect(second.child.output()).to.include("relay stopped");
  });

  it("the CLI explains what is missing", async function () {
    const db = join(tmp.dir, "cli.sqlite");
    const noKey = spawnRelayCli(["--rpc", rpc, "--db", db], { RELAY_PRIVATE_KEY: "" });
    children.push(noKey);
    expect(await noKey.exited).to.equal(2);
    expect(noKey.output()).to.include("pass --key-file <path>");

    const noChain = spawnRelayCli(["--rpc", "http://127.0.0.1:1", "--key-file", keyFile, "--db", db]);
    children.push(noChain);
    expect(await noChain.exited).to.equal(2);
    expect(noChain.output()).to.include("cannot reach the chain at http://127.0.0.1:1");

    const noDeployment = spawnRelayCli(["--rpc", rpc, "--key-file", keyFile, "--db", db], {}, tmp.dir);
    children.push(noDeployment);
    expect(await noDeployment.exited).to.equal(2);
    expect(noDeployment.output()).to.include("no --relay-roots given");

    const wrongKey = spawnRelayCli(
      ["--rpc", rpc, "--db", db, "--relay-roots", await relayRoots.getAddress(), "--port", "0"],
      { RELAY_PRIVATE_KEY: DEFAULT_KEYS[3] },
    );
    children.push(wrongKey);
    expect(await wrongKey.exited).to.equal(2);
    expect(wrongKey.output()).to.include("does not hold RELAY_ROLE");

    writeFileSync(join(tmp.dir, "not-a-dir"), "");
    const badDb = join(tmp.dir, "not-a-dir", "relay.sqlite");
    const noDb = spawnRelayCli([
      ...["--rpc", rpc, "--db", badDb, "--relay-roots", await relayRoots.getAddress(), "--key-file", keyFile],
    ]);
    children.push(noDb);
    expect(await noDb.exited).to.equal(2);
    expect(noDb.output()).to.include(`cannot open the relay database ${badDb}`);
    expect(noDb.output()).to.include("pass another --db");
    expect(noDb.output()).to.not.match(/\n\s+at /); // a message, not a stack trace
  });
});
