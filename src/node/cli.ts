/**
 * The node agent as a program: `npm run node-agent -- [options]` (= `tsx src/node/cli.ts [options]`). `--help` lists
 * the options. It runs one node with the stand-in executor (or the dishonest one, for demonstrations) until SIGINT or
 * SIGTERM; a restart with the same keys and state directory recovers the node's task from the chain.
 */
import "../relay/quiet-sqlite-warning.js";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { JsonRpcProvider, Wallet, formatEther, parseEther } from "ethers";
import { loadDeployment } from "../chain/contracts.js";
import { generateKeyPair, publicKeyOf, type KeyPair } from "../crypto/babyjub.js";
import { terminateProver } from "../zk/proofs.js";
import { NodeAgent, DEFAULT_PROFILE } from "./agent.js";
import { DishonestExecutor, StandInExecutor } from "./executor.js";

const USAGE = `Usage: npm run node-agent -- [options]

  --rpc <url>             JSON-RPC endpoint of the chain                 (default http://127.0.0.1:8545)
  --relay <url>           the DA/relay                                    (default http://127.0.0.1:8787)
  --deployment <id>       Ignition deployment holding the addresses       (default chain-<chainId>)
  --key-file <path>       file holding the node account's private key (0x hex); or set NODE_PRIVATE_KEY
  --bjj-key-file <path>   file holding the node's Baby Jubjub secret; created (mode 600) when missing
                                                                          (default <state-dir>/bjj.key)
  --state-dir <path>      results and recovery checkpoint                 (default data/node)
  --stake <eth>           stake to join with, when not registered yet     (default 400)
  --gpu <name>            GPU model                                       (default "${DEFAULT_PROFILE.gpuName}")
  --vram <GB>             GPU memory                                      (default ${DEFAULT_PROFILE.gpuVRAM})
  --models <a,b,...>      models held locally                             (default ${DEFAULT_PROFILE.models.join(",")})
  --executor <name>       stand-in | dishonest                            (default stand-in)
  --auto-withdraw         withdraw earned fees after every paid task
  --help                  this text
`;

function fail(message: string): never {
  console.error(`node-agent: ${message}`);
  process.exit(2);
}

function accountKey(keyFile: string | undefined): string {
  let key: string | undefined;
  if (keyFile !== undefined) {
    if (!existsSync(keyFile)) fail(`--key-file ${keyFile} does not exist`);
    key = readFileSync(keyFile, "utf8").trim();
  } else {
    key = process.env.NODE_PRIVATE_KEY?.trim();
  }
  if (!key) fail("no key for the node account: pass --key-file <path> or set NODE_PRIVATE_KEY");
  if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) fail("the node account key is not a 32-byte hex private key");
  return key.startsWith("0x") ? key : `0x${key}`;
}

/** The Baby Jubjub key pair in `file` (its secret scalar, decimal), created with a random key when missing. */
function bjjKey(file: string): KeyPair {
  if (!existsSync(file)) {
    const pair = generateKeyPair();
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${pair.secretKey}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    console.log(`node-agent: created a new Baby Jubjub key in ${file} (keep it: parameters are encrypted to it)`);
    return pair;
  }
  const raw = readFileSync(file, "utf8").trim();
  if (!/^\d+$/.test(raw)) fail(`${file} does not hold a Baby Jubjub secret (a decimal scalar)`);
  try {
    return { secretKey: BigInt(raw), publicKey: publicKeyOf(BigInt(raw)) };
  } catch (error) {
    fail(`${file}: ${(error as Error).message}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rpc: { type: "string", default: "http://127.0.0.1:8545" },
      relay: { type: "string", default: "http://127.0.0.1:8787" },
      deployment: { type: "string" },
      "key-file": { type: "string" },
      "bjj-key-file": { type: "string" },
      "state-dir": { type: "string", default: "data/node" },
      stake: { type: "string", default: "400" },
      gpu: { type: "string", default: DEFAULT_PROFILE.gpuName },
      vram: { type: "string", default: String(DEFAULT_PROFILE.gpuVRAM) },
      models: { type: "string", default: DEFAULT_PROFILE.models.join(",") },
      executor: { type: "string", default: "stand-in" },
      "auto-withdraw": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (!/^\d+$/.test(values.vram)) fail(`--vram must be a whole number of GB, got "${values.vram}"`);
  if (values.executor !== "stand-in" && values.executor !== "dishonest") {
    fail(`--executor must be stand-in or dishonest, got "${values.executor}"`);
  }
  let stake: bigint;
  try {
    stake = parseEther(values.stake);
  } catch {
    fail(`--stake must be an amount of ETH, got "${values.stake}"`);
  }

  const provider = new JsonRpcProvider(values.rpc, undefined, { staticNetwork: true });
  provider.pollingInterval = 250;
  let chainId: bigint;
  try {
    chainId = (await provider.getNetwork()).chainId;
  } catch (error) {
    fail(`cannot reach the chain at ${values.rpc} (${(error as Error).message}); start a node or pass --rpc <url>`);
  }
  let addresses;
  try {
    addresses = loadDeployment(values.deployment ?? `chain-${chainId}`);
  } catch (error) {
    fail((error as Error).message);
  }
  const wallet = new Wallet(accountKey(values["key-file"]), provider);
  const key = bjjKey(values["bjj-key-file"] ?? `${values["state-dir"]}/bjj.key`);
  try {
    const health = await fetch(`${values.relay}/v1/health`, { signal: AbortSignal.timeout(10_000) });
    if (!health.ok) throw new Error(`HTTP ${health.status}`);
  } catch (error) {
    fail(`the relay at ${values.relay} does not answer (${(error as Error).message}); start it or pass --relay <url>`);
  }

  const agent = new NodeAgent({
    wallet,
    addresses,
    relayUrl: values.relay,
    name: wallet.address,
    executor: values.executor === "dishonest" ? new DishonestExecutor() : new StandInExecutor(wallet.address),
    bjjKey: key,
    profile: {
      gpuName: values.gpu,
      gpuVRAM: Number(values.vram),
      version: DEFAULT_PROFILE.version,
      models: values.models.split(",").filter((m) => m.length > 0),
    },
    stateDir: values["state-dir"],
    autoWithdraw: values["auto-withdraw"],
    log: (line) => console.log(`${new Date().toISOString()} ${line}`),
  });
  agent.on("event", (e) => {
    if (e.type === "paid") console.log(`  fee ${formatEther(e.amount)} ETH`);
    if (e.type === "error") console.error(`  ${(e.error as Error)?.message ?? e.error}`);
  });
  const stop = async () => {
    await agent.stop();
    await terminateProver();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
  try {
    await agent.start(stake);
  } catch (error) {
    fail((error as Error).message);
  }
  console.log(`node-agent: ${wallet.address} running on ${values.rpc} (TaskManager ${addresses.taskManager})`);
}

await main();
