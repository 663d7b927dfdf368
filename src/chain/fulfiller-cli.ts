/**
 * The local VRF service stand-in as a program: `npm run fulfiller -- [options]`. On a local chain deployed with
 * `deploy/modules/VSSLocalNetwork.ts` it answers the mock coordinator's requests, dispatches pending tasks and frees
 * deferred node releases (docs/randomness.md), until SIGINT or SIGTERM. Never point it at a live network: there the
 * Chainlink VRF service answers, and any account may dispatch (`dispatchTasks`) for the bounty.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { JsonRpcProvider, Wallet, isAddress } from "ethers";
import { loadDeployment } from "./contracts.js";
import { LocalFulfiller } from "./dispatch.js";
import { TaskManager__factory } from "../../typechain-types/index.js";

const USAGE = `Usage: npm run fulfiller -- [options]

  --rpc <url>             JSON-RPC endpoint of a local chain            (default http://127.0.0.1:8545)
  --deployment <id>       Ignition deployment holding the addresses     (default chain-<chainId>)
  --interval <ms>         how often to look for requests and tasks      (default 500)
  --help                  this text

The account is FULFILLER_PRIVATE_KEY (0x hex); it pays the gas of the answers and earns the dispatch bounties.
`;

function fail(message: string): never {
  console.error(`fulfiller: ${message}`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    rpc: { type: "string", default: "http://127.0.0.1:8545" },
    deployment: { type: "string" },
    interval: { type: "string", default: "500" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const key = process.env.FULFILLER_PRIVATE_KEY?.trim();
if (!key || !/^(0x)?[0-9a-fA-F]{64}$/.test(key)) fail("set FULFILLER_PRIVATE_KEY to the account's 32-byte hex key");
const interval = Number(values.interval);
if (!Number.isInteger(interval) || interval < 50) fail(`--interval must be an integer of at least 50 ms`);

const provider = new JsonRpcProvider(values.rpc);
const chainId = (await provider.getNetwork()).chainId;
const deploymentId = values.deployment ?? `chain-${chainId}`;
const addresses = loadDeployment(deploymentId);
const file = resolve(process.cwd(), "deploy", "deployments", deploymentId, "deployed_addresses.json");
const coordinator = existsSync(file)
  ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, string>)["VSSNetwork#LocalVRFCoordinator"]
  : undefined;
if (!coordinator || !isAddress(coordinator)) {
  fail(`${deploymentId} has no VSSNetwork#LocalVRFCoordinator: deploy with deploy/modules/VSSLocalNetwork.ts`);
}
const wallet = new Wallet(key.startsWith("0x") ? key : `0x${key}`, provider);
const fulfiller = await LocalFulfiller.connect(
  TaskManager__factory.connect(addresses.taskManager, wallet),
  coordinator,
  wallet,
  interval,
  (line) => console.log(`fulfiller: ${line}`),
);
fulfiller.start();
console.log(`fulfiller: answering ${coordinator} for ${addresses.taskManager} every ${interval} ms`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    fulfiller.stop();
    console.log(`fulfiller: stopped (${fulfiller.stats.words} words, ${fulfiller.stats.dispatchCalls} dispatch calls)`);
    process.exit(0);
  });
}
