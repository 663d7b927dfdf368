/**
 * The chain-reset attack (issue 15), with real processes: a `hardhat node` is restarted and the contracts are
 * deployed again at the same addresses (the README's local flow). On main, the relay then started on its old
 * database without complaint and served proofs of roots that the new chain never saw (`rootPostedAt` 0,
 * `verifyBlob` false, health `ok`). Here it must refuse (exit code 2, saying what happened and what to do), post
 * everything again when the operator says so, and report a reset that happens under a running relay.
 */
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { RelayClient } from "../../src/relay/client.js";
import { errorMessage } from "../../src/relay/relay.js";
import type { RelayRoots } from "../../typechain-types/index.js";
import { eventually, freePort, randomBlob, tempDir } from "./helpers.js";
import {
  DEFAULT_KEYS,
  deployRelayRoots,
  spawnRelayCli,
  startHardhatNode,
  waitForOutput,
  type Child,
} from "./local-chain.js";

describe("relay: chain reset (child processes)", function () {
  this.timeout(300_000);

  const children: Child[] = [];
  const providers: JsonRpcProvider[] = [];
  let tmp: ReturnType<typeof tempDir>;
  let port: number;
  let node: Child;

  before(async function () {
    tmp = tempDir("vss-relay-reset-");
    port = await freePort();
  });

  after(async function () {
    for (const p of providers) p.destroy();
    await Promise.all(children.map((c) => c.kill("SIGKILL")));
    tmp?.remove();
  });

  /** A fresh `hardhat node` on the same port, with RelayRoots deployed by the same account (same address). */
  async function freshChain(): Promise<{ url: string; relayRoots: RelayRoots; keyFile: string }> {
    if (node) await node.kill("SIGKILL");
    const started = await startHardhatNode(port);
    node = started.child;
    children.push(node);
    const deployed = await deployRelayRoots(started.url);
    providers.push(deployed.provider);
    const keyFile = join(tmp.dir, "relay.key");
    writeFileSync(keyFile, deployed.relayKey + "\n", { mode: 0o600 });
    return { url: started.url, relayRoots: deployed.relayRoots, keyFile };
  }

  async function relayCli(rpc: string, roots: string, keyFile: string, db: string, extra: string[] = []) {
    const child = spawnRelayCli([
      "--rpc",
      rpc,
      "--db",
      db,
      "--port",
      String(await freePort()),
      "--relay-roots",
      roots,
      "--key-file",
      keyFile,
      "--verify-workers",
      "0",
      "--batch-interval-ms",
      "200",
      ...extra,
    ]);
    children.push(child);
    return child;
  }

  async function listening(child: Child): Promise<RelayClient> {
    const [, url] = await waitForOutput(child, /relay listening on (http:\/\/\S+)/, 60_000);
    return new RelayClient(url);
  }

  it("refuses the database of a reset chain, re-posts on request, and reports a reset under a running relay", async function () {
    const db = join(tmp.dir, "relay.sqlite");
    const uploader = new Wallet(DEFAULT_KEYS[2]);

    // 1. A chain, a relay, three blobs with proofs valid on-chain.
    const first = await freshChain();
    const address = await first.relayRoots.getAddress();
    const a = await relayCli(first.url, address, first.keyFile, db);
    const client = await listening(a);
    const blobs = [randomBlob(8), randomBlob(8), randomBlob(8)];
    const hashes: string[] = [];
    for (const blob of blobs) hashes.push((await client.upload(uploader, blob)).blobHash);
    const proofs = await Promise.all(hashes.map((h) => client.waitForProof(h, 60_000)));
    for (const p of proofs) expect(await first.relayRoots.verifyBlob(p.blobHash, p.root, p.proof)).to.equal(true);
    await a.kill("SIGTERM");

    // 2. The chain is reset and the contracts deployed again, at the same address; the roots are gone.
    const second = await freshChain();
    expect(await second.relayRoots.getAddress()).to.equal(address);
    for (const p of proofs) expect(await second.relayRoots.rootPostedAt(p.root)).to.equal(0n);

    // 3. The relay refuses the old database: exit code 2 and a message that says what happened and what to do.
    const refused = await relayCli(second.url, address, second.keyFile, db);
    expect(await refused.exited).to.equal(2);
    expect(refused.output()).to.match(/pinned to block \d+/);
    expect(refused.output()).to.include("reset or replaced");
    expect(refused.output()).to.include("--on-chain-reset repost");

    // 4. With --on-chain-reset repost, every stored batch is posted again on this chain.
    const c = await relayCli(second.url, address, second.keyFile, db, ["--on-chain-reset", "repost"]);
    const again = await listening(c);
    for (const [i, h] of hashes.entries()) {
      const p = await again.waitForProof(h, 60_000);
      expect(p.root).to.equal(proofs[i].root);
      expect(await second.relayRoots.verifyBlob(p.blobHash, p.root, p.proof)).to.equal(true);
      expect(Buffer.from(await again.get(h)).equals(Buffer.from(blobs[i]))).to.equal(true);
    }
    expect(c.output()).to.include("posting");
    const ok = await again.health();
    expect(ok.status).to.equal("ok");
    expect(ok.chainAnchor).to.not.equal(null);

    // 5. The chain is reset under the running relay: it posts nothing and health says why.
    const third = await freshChain();
    const late = await again.upload(uploader, randomBlob(8));
    const health = await eventually(async () => {
      const h = await again.health().catch(() => null);
      return h?.status === "error" ? h : null;
    }, 60_000);
    expect(health.poster.state).to.equal("halted");
    expect(health.lastError).to.include("reset or replaced").and.include("pinned to block");
    expect(health.lastError).to.not.include("coalesce");
    const pending = await again.proof(late.blobHash);
    expect("root" in pending).to.equal(false);
    expect(await third.relayRoots.rootCount()).to.equal(0n);
    await c.kill("SIGTERM");

    // 6. A nonce error from the node reads as the node's own message, not ethers' "could not coalesce error".
    const provider = new JsonRpcProvider(third.url, undefined, { staticNetwork: true });
    providers.push(provider);
    const wallet = new Wallet(DEFAULT_KEYS[1], provider);
    let caught: unknown;
    await wallet.sendTransaction({ to: wallet.address, value: 0n, nonce: 50 }).catch((e: unknown) => (caught = e));
    expect(caught).to.be.instanceOf(Error);
    const message = errorMessage(caught);
    expect(message.toLowerCase()).to.include("nonce");
    expect(message).to.not.include("coalesce");
  });
});
