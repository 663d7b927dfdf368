/**
 * Hardhat Ignition module: deploys and wires the whole on-chain side of the network.
 *
 *   SamplingVerifier ─┐
 *   RelayRoots ───────┼─> TaskManager ──(setTaskManager)──> NodeRegistry
 *   NodeRegistry ─────┘
 *
 * The deployer (account 0) becomes the admin of every contract, wires the registry to the task manager, and grants
 * `RELAY_ROLE` to the relay account. Every parameter can be overridden with a parameters file
 * (`--parameters deploy/parameters/local.json`); defaults are in `src/config.ts`.
 */
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { keccak256, toUtf8Bytes } from "ethers";
import { DEFAULT_REGISTRY_PARAMETERS as R, DEFAULT_TASK_PARAMETERS as T } from "../../src/config.js";

const RELAY_ROLE = keccak256(toUtf8Bytes("RELAY_ROLE"));

export default buildModule("VSSNetwork", (m) => {
  const admin = m.getAccount(0);
  const treasury = m.getParameter("treasury", admin);
  const relay = m.getParameter("relay", admin);

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
  };

  const samplingVerifier = m.contract("SamplingVerifier");
  const relayRoots = m.contract("RelayRoots", [admin]);
  const nodeRegistry = m.contract("NodeRegistry", [admin, registryConfig]);
  const taskManager = m.contract("TaskManager", [admin, nodeRegistry, relayRoots, samplingVerifier, taskConfig]);

  m.call(nodeRegistry, "setTaskManager", [taskManager]);
  m.call(relayRoots, "grantRole", [RELAY_ROLE, relay]);

  return { samplingVerifier, relayRoots, nodeRegistry, taskManager };
});
