/**
 * Child processes for the relay's out-of-process tests and benchmark: a `hardhat node` on a loopback port with
 * `RelayRoots` deployed (account 0 is the admin, account 1 the relay), and the relay CLI itself.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Wallet, id } from "ethers";
import { RelayRoots__factory, type RelayRoots } from "../../typechain-types/index.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** Hardhat's default accounts 0-3 (mnemonic "test test ... junk"). */
export const DEFAULT_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];

/** A spawned process with its collected output. */
export interface Child {
  proc: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or signal). */
  exited: Promise<number | string | null>;
  kill: (signal?: NodeJS.Signals) => Promise<void>;
}

function track(proc: ChildProcess): Child {
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once("exit", (code, sig) => resolve(code ?? sig)),
  );
  return {
    proc,
    output: () => out,
    exited,
    kill: async (signal: NodeJS.Signals = "SIGKILL") => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/** Waits until `child`'s output matches `pattern`; throws (with the output) after `timeoutMs` or on exit. */
export async function waitForOutput(child: Child, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  for (;;) {
    const m = child.output().match(pattern);
    if (m) return m;
    if (exited) throw new Error(`process exited before printing ${pattern}:\n${child.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} within ${timeoutMs} ms:\n${child.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `hardhat node` on 127.0.0.1:`port` (automine). */
export async function startHardhatNode(port: number): Promise<{ child: Child; url: string }> {
  const cli = fileURLToPath(import.meta.resolve("hardhat/package.json")).replace(/package\.json$/, "dist/src/cli.js");
  const child = track(
    spawn(process.execPath, [cli, "node", "--hostname", "127.0.0.1", "--port", String(port)], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NODE_OPTIONS: "" },
    }),
  );
  try {
    await waitForOutput(child, /Started HTTP and WebSocket JSON-RPC server at/, 90_000);
  } catch (error) {
    await child.kill();
    throw error;
  }
  return { child, url: `http://127.0.0.1:${port}` };
}

/** Deploys `RelayRoots` (admin: account 0) and grants RELAY_ROLE to account 1. */
export async function deployRelayRoots(
  rpcUrl: string,
): Promise<{ provider: JsonRpcProvider; relayRoots: RelayRoots; relayKey: string }> {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1 });
  provider.pollingInterval = 50;
  const admin = new Wallet(DEFAULT_KEYS[0], provider);
  const relayKey = DEFAULT_KEYS[1];
  const relayRoots = await new RelayRoots__factory(admin).deploy(admin.address);
  await relayRoots.waitForDeployment();
  await (await relayRoots.grantRole(id("RELAY_ROLE"), new Wallet(relayKey).address)).wait();
  return { provider, relayRoots, relayKey };
}

/** The relay CLI in one process (`node --import tsx src/relay/cli.ts ...`, so a signal reaches the relay itself). */
export function spawnRelayCli(args: string[], env: Record<string, string> = {}, cwd = ROOT): Child {
  const cli = fileURLToPath(new URL("../../src/relay/cli.ts", import.meta.url));
  return track(
    spawn(process.execPath, ["--import", import.meta.resolve("tsx/esm"), cli, ...args], {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NODE_OPTIONS: "", NODE_NO_WARNINGS: "1", ...env },
    }),
  );
}
