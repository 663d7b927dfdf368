/**
 * The deployed network as the long-running programs see it: contract addresses, typed contract handles
 * (typechain), the deployment file Ignition writes, and the decoding of revert data into named custom errors.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Interface, isAddress, type ContractRunner, type ErrorDescription } from "ethers";
import {
  NodeRegistry__factory,
  RelayRoots__factory,
  TaskManager__factory,
  type NodeRegistry,
  type RelayRoots,
  type TaskManager,
} from "../../typechain-types/index.js";

/** Addresses of the three contracts the clients talk to. */
export interface NetworkAddresses {
  taskManager: string;
  registry: string;
  relayRoots: string;
}

/** Typed handles of the three contracts. */
export interface NetworkContracts {
  taskManager: TaskManager;
  registry: NodeRegistry;
  relayRoots: RelayRoots;
}

/** Connects the contracts at `addresses` to `runner` (a provider for reads, a signer for writes). */
export function connectContracts(addresses: NetworkAddresses, runner: ContractRunner): NetworkContracts {
  return {
    taskManager: TaskManager__factory.connect(addresses.taskManager, runner),
    registry: NodeRegistry__factory.connect(addresses.registry, runner),
    relayRoots: RelayRoots__factory.connect(addresses.relayRoots, runner),
  };
}

/**
 * The addresses Ignition recorded for the `VSSNetwork` module in `deploy/deployments/<deploymentId>/
 * deployed_addresses.json` (deployment id `chain-<chainId>` unless one was given). Throws with what to do when the
 * file or an address is missing.
 */
export function loadDeployment(deploymentId: string, root: string = process.cwd()): NetworkAddresses {
  const file = resolve(root, "deploy", "deployments", deploymentId, "deployed_addresses.json");
  if (!existsSync(file)) {
    throw new Error(
      `no deployment at ${file}: deploy the VSSNetwork module first ` +
        `(npx hardhat ignition deploy deploy/modules/VSSNetwork.ts --network <name> --parameters <file>)`,
    );
  }
  const recorded = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  const pick = (future: string): string => {
    const address = recorded[`VSSNetwork#${future}`];
    if (!address || !isAddress(address)) throw new Error(`${file} has no VSSNetwork#${future} address`);
    return address;
  };
  return { taskManager: pick("TaskManager"), registry: pick("NodeRegistry"), relayRoots: pick("RelayRoots") };
}

const ERROR_INTERFACES: Interface[] = [
  TaskManager__factory.createInterface(),
  NodeRegistry__factory.createInterface(),
  RelayRoots__factory.createInterface(),
];

/** The custom error in revert data, decoded with the ABIs of the three contracts; null when none matches. */
export function decodeRevert(data: string | null | undefined): ErrorDescription | null {
  if (!data || data === "0x") return null;
  for (const iface of ERROR_INTERFACES) {
    try {
      const parsed = iface.parseError(data);
      if (parsed) return parsed;
    } catch {
      // not this contract's error
    }
  }
  return null;
}
