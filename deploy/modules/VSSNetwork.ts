/**
 * Hardhat Ignition module: deploys and wires the whole on-chain side of the network.
 *
 *   SamplingVerifier ───────────┐
 *   ParamsConsistencyVerifier ──┤
 *   ResultAvailabilityVerifier ─┼─> TaskManager ──(setTaskManager)──> NodeRegistry
 *   RelayRoots ─────────────────┤
 *   NodeRegistry ───────────────┘
 *
 * The deployer (account 0) is the contracts' first admin: it wires the registry to the task manager (once, for good:
 * `TASK_MANAGER_ROLE` can never be granted again) and grants `RELAY_ROLE` to the relay account. Then it hands
 * `DEFAULT_ADMIN_ROLE` of every contract to a `VSSTimelock` (OpenZeppelin's `TimelockController`) and renounces its
 * own (DESIGN §13.6): from then on parameters, relay roles and root revocation change only through a proposal that
 * waits `timelockDelay` seconds. The timelock has no admin of its own; `governor` (default: the deployer) proposes
 * and cancels, anyone executes a ready proposal.
 *
 * `timelockDelay` must exceed a task's longest life ({@link longestTaskLife}; `test/security/admin-cannot-take-stakes`
 * checks the default against the deployed configuration). Local networks (tests, the demo, `local.json`) use 1 s.
 *
 * Every parameter can be overridden with a parameters file (`--parameters deploy/parameters/local.json`); defaults
 * are in `src/config.ts`.
 */
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import type { ArgumentType, IgnitionModuleBuilder } from "@nomicfoundation/ignition-core";
import { ZeroAddress, ZeroHash, keccak256, toUtf8Bytes } from "ethers";
import {
  DEFAULT_BEACON_PARAMETERS as B,
  DEFAULT_REGISTRY_PARAMETERS as R,
  DEFAULT_TASK_PARAMETERS as T,
} from "../../src/config.js";

const RELAY_ROLE = keccak256(toUtf8Bytes("RELAY_ROLE"));
const DEFAULT_ADMIN_ROLE = ZeroHash;

/**
 * The longest a task can live under a task configuration, in seconds: the sum of every timeout of the
 * configuration (each state's deadline, one after the other), with `resultUploadTimeout` twice (a group's validated
 * task waits one more window for an agreeing member's result, docs/game.md). A parameter change waits longer.
 */
export function longestTaskLife(config: object): bigint {
  const timeouts = Object.entries(config).filter(([name]) => name.endsWith("Timeout"));
  const sum = timeouts.reduce((total, [, value]) => total + BigInt(value as bigint), 0n);
  const resultUpload = timeouts.find(([name]) => name === "resultUploadTimeout")?.[1];
  return sum + BigInt((resultUpload as bigint | undefined) ?? 0n);
}

/** The default timelock delay: two days, and never less than twice the default configuration's longest task life. */
export const DEFAULT_TIMELOCK_DELAY: bigint = ((): bigint => {
  const twice = 2n * longestTaskLife(T);
  const twoDays = 2n * 24n * 60n * 60n;
  return twice > twoDays ? twice : twoDays;
})();

/**
 * The network's contracts, wired, with `coordinator` as the VRF v2.5 coordinator behind the randomness beacon. The live
 * module ({@link VSSNetwork}) takes the coordinator as the `vrfCoordinator` parameter; the local one
 * (`VSSLocalNetwork.ts`) deploys Chainlink's mock coordinator first. Both are the Ignition module "VSSNetwork", so
 * deployments record the same `VSSNetwork#<Contract>` names.
 */
export function defineNetwork(m: IgnitionModuleBuilder, coordinator: ArgumentType) {
  const admin = m.getAccount(0);
  const treasury = m.getParameter("treasury", admin);
  const relay = m.getParameter("relay", admin);
  const governor = m.getParameter("governor", admin);
  const timelockDelay = m.getParameter("timelockDelay", DEFAULT_TIMELOCK_DELAY);

  const registryConfig = {
    minimumStake: m.getParameter("minimumStake", R.minimumStake),
    stakeCap: m.getParameter("stakeCap", R.stakeCap),
    sameModelsBonusBps: m.getParameter("sameModelsBonusBps", R.sameModelsBonusBps),
    treasury,
  };
  const taskConfig = {
    samplingDivisor: m.getParameter("samplingDivisor", T.samplingDivisor),
    distanceThreshold: m.getParameter("distanceThreshold", T.distanceThreshold),
    queueTimeout: m.getParameter("queueTimeout", T.queueTimeout),
    executionTimeout: m.getParameter("executionTimeout", T.executionTimeout),
    validationTimeout: m.getParameter("validationTimeout", T.validationTimeout),
    resultUploadTimeout: m.getParameter("resultUploadTimeout", T.resultUploadTimeout),
    queueSizeFactor: m.getParameter("queueSizeFactor", T.queueSizeFactor),
    minQueueCapacity: m.getParameter("minQueueCapacity", T.minQueueCapacity),
    overhead: m.getParameter("overhead", T.overhead),
    unitTime: m.getParameter("unitTime", T.unitTime),
    uploadTimeout: m.getParameter("uploadTimeout", T.uploadTimeout),
    siblingWindow: m.getParameter("siblingWindow", T.siblingWindow),
    noShowShare: m.getParameter("noShowShare", T.noShowShare),
    minimumFee: m.getParameter("minimumFee", T.minimumFee),
  };

  // The randomness beacon (docs/randomness.md): no owner; bound once to the task manager below.
  const beacon = m.contract("VRFBeacon", [
    coordinator,
    m.getParameter("vrfKeyHash", B.vrfKeyHash),
    m.getParameter("vrfConfirmations", B.vrfConfirmations),
    m.getParameter("beaconRetryAfter", B.beaconRetryAfter),
    m.getParameter("beaconFeePerTask", B.beaconFeePerTask),
  ]);
  const dispatchBounty = m.getParameter("dispatchBounty", B.dispatchBounty);

  const samplingVerifier = m.contract("SamplingVerifier");
  // The Groth16 verifiers generated by scripts/zk/build.sh from the circuits' zkeys (DESIGN §4).
  const paramsVerifier = m.contract("ParamsConsistencyVerifier");
  const resultVerifier = m.contract("ResultAvailabilityVerifier");
  const relayRoots = m.contract("RelayRoots", [admin]);
  const nodeRegistry = m.contract("NodeRegistry", [admin, registryConfig]);
  // TaskRules (group rules, deadlines, proof inputs) and TaskDispatch (the dispatch step) are external libraries
  // linked into TaskManager (and into the TaskSettlement module its constructor deploys): with that module they keep
  // every contract under 20 KiB of code (docs/cost.md).
  const taskRules = m.library("TaskRules");
  const taskDispatch = m.library("TaskDispatch");
  // The timelock (DESIGN §13.6) has no admin of its own; `governor` proposes and cancels, anyone executes.
  const timelock = m.contract("VSSTimelock", [timelockDelay, [governor], [ZeroAddress]]);
  const taskManager = m.contract(
    "TaskManager",
    [
      timelock, // the task manager's only admin, fixed at deployment
      nodeRegistry,
      relayRoots,
      samplingVerifier,
      paramsVerifier,
      resultVerifier,
      beacon,
      dispatchBounty,
      taskConfig,
    ],
    { libraries: { TaskRules: taskRules, TaskDispatch: taskDispatch } },
  );
  const bound = m.call(beacon, "bind", [taskManager]);

  const wired = m.call(nodeRegistry, "setTaskManager", [taskManager]);
  const relayGranted = m.call(relayRoots, "grantRole", [RELAY_ROLE, relay]);

  // The admin hand-over: the timelock becomes the only admin of the registry and the relay roots, after the wiring.
  for (const [name, contract] of [
    ["RelayRoots", relayRoots],
    ["NodeRegistry", nodeRegistry],
  ] as const) {
    const granted = m.call(contract, "grantRole", [DEFAULT_ADMIN_ROLE, timelock], {
      id: `${name}_grantAdminToTimelock`,
      after: [wired, relayGranted, bound],
    });
    m.call(contract, "renounceRole", [DEFAULT_ADMIN_ROLE, admin], { id: `${name}_renounceAdmin`, after: [granted] });
  }

  return {
    beacon,
    taskRules,
    taskDispatch,
    samplingVerifier,
    paramsVerifier,
    resultVerifier,
    relayRoots,
    nodeRegistry,
    taskManager,
    timelock,
  };
}

/** The live-network module: `vrfCoordinator` (the chain's VRF v2.5 coordinator) and `vrfKeyHash` are required. */
export default buildModule("VSSNetwork", (m) => defineNetwork(m, m.getParameter<string>("vrfCoordinator")));
