/**
 * Access-control matrix (PROPERTIES.md P7): every external state-changing function of every contract, called by
 * every role, in a state where the intended caller's call succeeds; only the intended roles succeed, and every other
 * role is refused with the function's access error. The function list is derived from the ABIs, so a new
 * state-changing function without a row fails the first test.
 *
 * The verifiers are the test-only mocks (proofs are not the subject; see test/model/harness.ts).
 */
import { expect } from "chai";
import {
  Interface,
  keccak256,
  parseEther,
  solidityPacked,
  toUtf8Bytes,
  ZeroAddress,
  ZeroHash,
  type ContractTransactionResponse,
  type Signer,
} from "ethers";
import {
  NodeRegistry__factory,
  RelayRoots__factory,
  SamplingVerifier__factory,
  TaskManager__factory,
} from "../../typechain-types/index.js";
import { taskNonce } from "../../src/crypto/commitment.js";
import { BlobBatch } from "../../src/crypto/merkle.js";
import { DEFAULT_REGISTRY_PARAMETERS } from "../../src/config.js";
import { TaskAbortReason } from "../../src/types.js";
import {
  BJJ,
  BJJ_WITNESS,
  MODEL_SDXL,
  SCORES,
  TASK_CONFIG,
  VALID_PROOF,
  connection,
  deliverAndDispatch,
  deployWorld,
  type Actor,
  type World,
} from "../model/harness.js";

const { ethers, networkHelpers } = connection;

const ROLES = ["admin", "relay", "app", "node", "otherNode", "stranger", "registry", "taskManager"] as const;
type Role = (typeof ROLES)[number];
const ANYONE: readonly Role[] = ROLES;

interface Ctx {
  w: World;
  ids: string[];
  guid: string;
  root: string;
  extra: Record<string, unknown>;
}

interface Row {
  /** `Contract.function` as in the ABI. */
  fn: string;
  /** What the scenario is (a function may have several). */
  scenario: string;
  allowed: readonly Role[];
  /** The error every other role gets. */
  denied: string;
  setup: (ctx: Ctx) => Promise<void>;
  call: (ctx: Ctx, signer: Signer) => Promise<ContractTransactionResponse>;
}

let counter = 0;
const fresh = (label: string) => keccak256(toUtf8Bytes(`access:${label}:${++counter}`));

async function join(w: World, node: Actor): Promise<void> {
  await (
    await w.registry
      .connect(node.signer)
      .join("NVIDIA GeForce RTX 4090", 24n, [2, 5, 0], BJJ, BJJ_WITNESS, [MODEL_SDXL], {
        value: DEFAULT_REGISTRY_PARAMETERS.minimumStake,
      })
  ).wait();
}

function taskInput(guid: string, nonce: string) {
  return {
    taskType: 0,
    taskIDCommitment: keccak256(solidityPacked(["bytes32", "bytes32"], [guid, nonce])),
    nonce,
    modelIDs: [MODEL_SDXL],
    minimumVRAM: 8n,
    requiredGPU: ZeroHash,
    requiredGPUVRAM: 0n,
    taskVersion: [2, 0, 0] as [number, number, number],
    taskSize: 1n,
    appPublicKey: BJJ,
  };
}

async function create(ctx: Ctx, guid = fresh("guid"), k: 0 | 1 | 2 = 0): Promise<string> {
  const input = taskInput(guid, taskNonce(guid, k)); // member k of the GUID (DESIGN §13.2)
  await (await ctx.w.tm.connect(ctx.w.apps[0].signer).createTask(input, { value: parseEther("0.01") })).wait();
  const receipt = await deliverAndDispatch(ctx.w, input); // the seed comes with dispatch (docs/randomness.md)
  const created = receipt.logs.map((l) => ctx.w.tm.interface.parseLog(l)).find((p) => p?.name === "TaskCreated");
  ctx.extra[input.taskIDCommitment] = BigInt(created!.args[2]);
  ctx.ids.push(input.taskIDCommitment);
  ctx.guid = guid;
  return input.taskIDCommitment;
}

async function uploadParams(ctx: Ctx, id: string): Promise<void> {
  const blob = fresh("params");
  const batch = new BlobBatch([blob]);
  await (await ctx.w.relayRoots.connect(ctx.w.relay.signer).postRoot(batch.root, 1)).wait();
  await (await ctx.w.tm.connect(ctx.w.apps[0].signer).reportTaskParametersUploaded(id, blob, batch.root, [])).wait();
}

function vrfProof(ctx: Ctx, id: string, number: bigint) {
  return {
    pk: ctx.w.apps[0].publicKey,
    gamma: [number, 0n] as [bigint, bigint],
    c: 1n,
    s: 0n,
    seed: ctx.extra[id] as bigint,
    uWitness: ZeroAddress,
    cGammaWitness: [0n, 0n] as [bigint, bigint],
    sHashWitness: [0n, 0n] as [bigint, bigint],
    zInv: 0n,
  };
}

/** node-0 joins; app-0 creates a task, which node-0 (the only node) takes; node-1 joins after. */
async function started(ctx: Ctx): Promise<string> {
  await join(ctx.w, ctx.w.nodes[0]);
  const id = await create(ctx);
  await join(ctx.w, ctx.w.nodes[1]);
  return id;
}

async function paramsUploaded(ctx: Ctx): Promise<string> {
  const id = await started(ctx);
  await uploadParams(ctx, id);
  return id;
}

async function scoreReady(ctx: Ctx): Promise<string> {
  const id = await paramsUploaded(ctx);
  await (await ctx.w.tm.connect(ctx.w.nodes[0].signer).submitTaskScore(id, SCORES[0])).wait();
  return id;
}

async function validated(ctx: Ctx): Promise<string> {
  const id = await scoreReady(ctx);
  await (await ctx.w.tm.connect(ctx.w.apps[0].signer).validateSingleTask(id, vrfProof(ctx, id, 11n))).wait();
  return id;
}

/** Three nodes, a group of three tasks with scores; node-0 runs the first. node-3 is the "other node". */
async function groupReady(ctx: Ctx): Promise<void> {
  const guid = fresh("group");
  for (let i = 0; i < 3; i++) {
    await join(ctx.w, ctx.w.nodes[i]);
    await create(ctx, guid, i as 0 | 1 | 2);
  }
  await join(ctx.w, ctx.w.nodes[3]);
  for (let i = 0; i < 3; i++) {
    const id = ctx.ids[i];
    await uploadParams(ctx, id);
    const node = (await ctx.w.tm.getTask(id)).selectedNode;
    const actor = ctx.w.nodes.find((n) => n.address === node)!;
    await (await ctx.w.tm.connect(actor.signer).submitTaskScore(id, SCORES[0])).wait();
  }
}

/** A refund credited to app-0 in the task manager (a queued task it ended at its queue timeout). */
async function appCredited(ctx: Ctx): Promise<void> {
  const id = await create(ctx);
  await networkHelpers.time.increaseTo(await ctx.w.tm.deadlineOf(id));
  await (await ctx.w.tm.connect(ctx.w.apps[0].signer).abortTask(id)).wait();
}

const none = async () => {};

const ROWS: Row[] = [
  // ------------------------------------------------------------------ TaskManager: applications
  {
    fn: "TaskManager.createTask",
    scenario: "anyone may be an application",
    allowed: ANYONE,
    denied: "",
    setup: none,
    call: (c, s) =>
      c.w.tm.connect(s).createTask(taskInput(fresh("g"), fresh("n")), { value: TASK_CONFIG.minimumFee[0] }),
  },
  {
    fn: "TaskManager.registerAppKey",
    scenario: "the check is about the key, not the account: anyone may register one",
    allowed: ANYONE,
    denied: "",
    setup: none,
    call: (c, s) => c.w.tm.connect(s).registerAppKey(BJJ, BJJ_WITNESS),
  },
  {
    fn: "TaskManager.reportTaskParametersUploaded",
    scenario: "Started",
    allowed: ["app"],
    denied: "TaskNotCreator",
    setup: async (c) => {
      await started(c);
      c.extra.blob = fresh("p");
      const batch = new BlobBatch([c.extra.blob as string]);
      await (await c.w.relayRoots.connect(c.w.relay.signer).postRoot(batch.root, 1)).wait();
      c.root = batch.root;
    },
    call: (c, s) => c.w.tm.connect(s).reportTaskParametersUploaded(c.ids[0], c.extra.blob as string, c.root, []),
  },
  {
    fn: "TaskManager.validateSingleTask",
    scenario: "ScoreReady",
    allowed: ["app"],
    denied: "TaskNotCreator",
    setup: async (c) => void (await scoreReady(c)),
    call: (c, s) => c.w.tm.connect(s).validateSingleTask(c.ids[0], vrfProof(c, c.ids[0], 11n)),
  },
  {
    fn: "TaskManager.validateTaskGroup",
    scenario: "three scored members",
    allowed: ["app"],
    denied: "TaskNotCreator",
    setup: groupReady,
    call: (c, s) =>
      c.w.tm
        .connect(s)
        .validateTaskGroup(c.ids[0], c.ids[1], c.ids[2], c.guid, vrfProof(c, c.ids[0], 10n), VALID_PROOF),
  },
  {
    fn: "TaskManager.abortTask",
    scenario: "Queued, before its deadline: nobody, not even the creator (DESIGN §13.1)",
    allowed: [],
    denied: "TaskDeadlineNotReached",
    setup: async (c) => void (await create(c)),
    call: (c, s) => c.w.tm.connect(s).abortTask(c.ids[0]),
  },
  {
    fn: "TaskManager.abortTask",
    scenario: "Started, after its deadline: anyone ends it",
    allowed: ANYONE,
    denied: "",
    setup: async (c) => {
      await started(c);
      await networkHelpers.time.increase(Number(TASK_CONFIG.executionTimeout) + 1);
    },
    call: (c, s) => c.w.tm.connect(s).abortTask(c.ids[0]),
  },
  // ------------------------------------------------------------------ TaskManager: nodes
  {
    fn: "TaskManager.submitTaskScore",
    scenario: "ParametersUploaded",
    allowed: ["node"],
    denied: "TaskNotSelectedNode",
    setup: async (c) => void (await paramsUploaded(c)),
    call: (c, s) => c.w.tm.connect(s).submitTaskScore(c.ids[0], SCORES[0]),
  },
  {
    fn: "TaskManager.reportTaskError",
    scenario: "ParametersUploaded",
    allowed: ["node"],
    denied: "TaskNotSelectedNode",
    setup: async (c) => void (await paramsUploaded(c)),
    call: (c, s) => c.w.tm.connect(s).reportTaskError(c.ids[0], 1),
  },
  {
    fn: "TaskManager.declineTask",
    scenario: "ParametersUploaded, a reason the application caused",
    allowed: ["node"],
    denied: "TaskNotSelectedNode",
    setup: async (c) => void (await paramsUploaded(c)),
    call: (c, s) => c.w.tm.connect(s).declineTask(c.ids[0], TaskAbortReason.AppKeyInvalid),
  },
  {
    fn: "TaskManager.reportTaskResultUploaded",
    scenario: "Validated",
    allowed: ["node"],
    denied: "TaskNotSelectedNode",
    setup: async (c) => {
      await validated(c);
      c.extra.blob = fresh("r");
      const batch = new BlobBatch([c.extra.blob as string]);
      await (await c.w.relayRoots.connect(c.w.relay.signer).postRoot(batch.root, 1)).wait();
      c.root = batch.root;
    },
    call: (c, s) =>
      c.w.tm.connect(s).reportTaskResultUploaded(c.ids[0], c.extra.blob as string, c.root, [], VALID_PROOF),
  },
  // ------------------------------------------------------------------ TaskManager: dispatch (docs/randomness.md)
  {
    fn: "TaskManager.dispatchTasks",
    scenario: "nothing pending: anyone may dispatch (and earn the bounties)",
    allowed: ANYONE,
    denied: "",
    setup: none,
    call: (c, s) => c.w.tm.connect(s).dispatchTasks([]),
  },
  {
    fn: "TaskManager.releaseDeferred",
    scenario: "the pool is open: anyone may free deferred releases",
    allowed: ANYONE,
    denied: "",
    setup: none,
    call: (c, s) => c.w.tm.connect(s).releaseDeferred(16),
  },
  // ------------------------------------------------------------------ TaskManager: registry hook, admin, payments
  {
    fn: "TaskManager.onNodeAvailable",
    scenario: "a node became available",
    allowed: ["registry"],
    denied: "TaskCallerNotRegistry",
    setup: async (c) => join(c.w, c.w.nodes[0]),
    call: (c, s) => c.w.tm.connect(s).onNodeAvailable(c.w.nodes[0].address),
  },
  {
    fn: "TaskManager.setConfig",
    scenario: "new parameters",
    allowed: ["admin"],
    denied: "TaskCallerNotAdmin",
    setup: none,
    call: (c, s) => c.w.tm.connect(s).setConfig({ ...TASK_CONFIG, queueTimeout: 7200n, siblingWindow: 9000n }),
  },
  {
    fn: "TaskManager.withdraw",
    scenario: "app-0 has a refund",
    allowed: ["app"],
    denied: "PaymentNothingToWithdraw",
    setup: appCredited,
    call: (c, s) => c.w.tm.connect(s).withdraw(),
  },
  {
    fn: "TaskManager.withdrawTo",
    scenario: "app-0 has a refund",
    allowed: ["app"],
    denied: "PaymentNothingToWithdraw",
    setup: appCredited,
    call: (c, s) => c.w.tm.connect(s).withdrawTo(c.w.stranger.address),
  },
  // ------------------------------------------------------------------ NodeRegistry
  {
    fn: "NodeRegistry.join",
    scenario: "nobody joined yet: anyone may be a node",
    allowed: ANYONE,
    denied: "",
    setup: none,
    call: (c, s) =>
      c.w.registry
        .connect(s)
        .join("NVIDIA GeForce RTX 4090", 24n, [2, 5, 0], BJJ, BJJ_WITNESS, [MODEL_SDXL], { value: parseEther("400") }),
  },
  ...(["quit", "pause"] as const).map((op): Row => ({
    fn: `NodeRegistry.${op}`,
    scenario: "node-0 Available",
    allowed: ["node"],
    denied: "NodeInvalidStatus",
    setup: async (c) => join(c.w, c.w.nodes[0]),
    call: (c, s) => c.w.registry.connect(s)[op](),
  })),
  {
    fn: "NodeRegistry.resume",
    scenario: "node-0 Paused",
    allowed: ["node"],
    denied: "NodeInvalidStatus",
    setup: async (c) => {
      await join(c.w, c.w.nodes[0]);
      await (await c.w.registry.connect(c.w.nodes[0].signer).pause()).wait();
    },
    call: (c, s) => c.w.registry.connect(s).resume(),
  },
  {
    fn: "NodeRegistry.reportModelDownloaded",
    scenario: "node-0 joined",
    allowed: ["node"],
    denied: "NodeInvalidStatus",
    setup: async (c) => join(c.w, c.w.nodes[0]),
    call: (c, s) => c.w.registry.connect(s).reportModelDownloaded(keccak256(toUtf8Bytes("another-model"))),
  },
  {
    fn: "NodeRegistry.refreshHealth",
    scenario: "node-0 joined: anyone may bring its health up to date",
    allowed: ANYONE,
    denied: "",
    setup: async (c) => join(c.w, c.w.nodes[0]),
    call: (c, s) => c.w.registry.connect(s).refreshHealth(c.w.nodes[0].address),
  },
  {
    fn: "NodeRegistry.selectNode",
    scenario: "node-0 Available",
    allowed: ["taskManager"],
    denied: "AccessControlUnauthorizedAccount",
    setup: async (c) => join(c.w, c.w.nodes[0]),
    call: (c, s) =>
      c.w.registry.connect(s).selectNode(
        {
          taskType: 0,
          requiredGPU: ZeroHash,
          requiredGPUVRAM: 0n,
          minimumVRAM: 8n,
          version: [2, 0, 0],
          modelIDs: [MODEL_SDXL],
        },
        1n,
      ),
  },
  {
    fn: "NodeRegistry.startNode",
    scenario: "node-0 Available",
    allowed: ["taskManager"],
    denied: "AccessControlUnauthorizedAccount",
    setup: async (c) => join(c.w, c.w.nodes[0]),
    call: (c, s) => c.w.registry.connect(s).startNode(c.w.nodes[0].address, ZeroHash),
  },
  {
    fn: "NodeRegistry.releaseNode",
    scenario: "node-0 Busy",
    allowed: ["taskManager"],
    denied: "AccessControlUnauthorizedAccount",
    setup: async (c) => void (await started(c)),
    call: (c, s) => c.w.registry.connect(s).releaseNode(c.w.nodes[0].address, 0),
  },
  {
    fn: "NodeRegistry.recordGroupScore",
    scenario: "node-0 joined",
    allowed: ["taskManager"],
    denied: "AccessControlUnauthorizedAccount",
    setup: async (c) => join(c.w, c.w.nodes[0]),
    call: (c, s) => c.w.registry.connect(s).recordGroupScore(c.w.nodes[0].address, 10),
  },
  {
    fn: "NodeRegistry.slash",
    scenario: "node-0 Busy",
    allowed: ["taskManager"],
    denied: "AccessControlUnauthorizedAccount",
    setup: async (c) => void (await started(c)),
    call: (c, s) => c.w.registry.connect(s).slash(c.w.nodes[0].address, c.ids[0]),
  },
  {
    fn: "NodeRegistry.setConfig",
    scenario: "new parameters",
    allowed: ["admin"],
    denied: "AccessControlUnauthorizedAccount",
    setup: none,
    call: (c, s) =>
      c.w.registry.connect(s).setConfig({ ...DEFAULT_REGISTRY_PARAMETERS, treasury: c.w.treasury.address }),
  },
  {
    fn: "NodeRegistry.setTaskManager",
    scenario: "a fresh registry, not wired yet (the deployed one refuses everyone: it is wired once)",
    allowed: ["admin"],
    denied: "AccessControlUnauthorizedAccount",
    setup: async (c) => {
      const fresh = await new NodeRegistry__factory(c.w.admin).deploy(await c.w.admin.getAddress(), {
        ...DEFAULT_REGISTRY_PARAMETERS,
        treasury: c.w.treasury.address,
      });
      c.extra.registry = await fresh.getAddress();
    },
    call: (c, s) => NodeRegistry__factory.connect(c.extra.registry as string, s).setTaskManager(c.w.tm),
  },
  {
    fn: "NodeRegistry.withdraw",
    scenario: "node-0 quit and has its stake to withdraw",
    allowed: ["node"],
    denied: "PaymentNothingToWithdraw",
    setup: async (c) => {
      await join(c.w, c.w.nodes[0]);
      await (await c.w.registry.connect(c.w.nodes[0].signer).quit()).wait();
    },
    call: (c, s) => c.w.registry.connect(s).withdraw(),
  },
  {
    fn: "NodeRegistry.withdrawTo",
    scenario: "node-0 quit and has its stake to withdraw",
    allowed: ["node"],
    denied: "PaymentNothingToWithdraw",
    setup: async (c) => {
      await join(c.w, c.w.nodes[0]);
      await (await c.w.registry.connect(c.w.nodes[0].signer).quit()).wait();
    },
    call: (c, s) => c.w.registry.connect(s).withdrawTo(c.w.stranger.address),
  },
  ...roleRows("NodeRegistry", (w) => w.registry),
  // DESIGN §13.6: TASK_MANAGER_ROLE is wired once; nobody, the admin included, can grant or revoke it again.
  {
    fn: "NodeRegistry.grantRole",
    scenario: "TASK_MANAGER_ROLE, to anyone: nobody may",
    allowed: [],
    denied: "AccessControlUnauthorizedAccount",
    setup: none,
    call: async (c, s) =>
      c.w.registry.connect(s).grantRole(await c.w.registry.TASK_MANAGER_ROLE(), c.w.stranger.address),
  },
  {
    fn: "NodeRegistry.revokeRole",
    scenario: "TASK_MANAGER_ROLE, from the task manager: nobody may",
    allowed: [],
    denied: "AccessControlUnauthorizedAccount",
    setup: none,
    call: async (c, s) => c.w.registry.connect(s).revokeRole(await c.w.registry.TASK_MANAGER_ROLE(), c.w.tm),
  },
  // ------------------------------------------------------------------ RelayRoots
  {
    fn: "RelayRoots.postRoot",
    scenario: "a new root",
    allowed: ["relay"],
    denied: "AccessControlUnauthorizedAccount",
    setup: none,
    call: (c, s) => c.w.relayRoots.connect(s).postRoot(fresh("root"), 1),
  },
  {
    fn: "RelayRoots.revokeRoot",
    scenario: "a posted root",
    allowed: ["admin"],
    denied: "AccessControlUnauthorizedAccount",
    setup: async (c) => {
      c.root = fresh("root");
      await (await c.w.relayRoots.connect(c.w.relay.signer).postRoot(c.root, 1)).wait();
    },
    call: (c, s) => c.w.relayRoots.connect(s).revokeRoot(c.root),
  },
  ...roleRows("RelayRoots", (w) => w.relayRoots, "relay"),
];

/** grantRole / revokeRole (admin only) and renounceRole (only the holder itself) of an AccessControl contract. */
function roleRows(
  name: string,
  contract: (w: World) => World["registry"] | World["relayRoots"],
  holder: Role = "admin",
): Row[] {
  const role = keccak256(toUtf8Bytes("TEST_ROLE"));
  return [
    {
      fn: `${name}.grantRole`,
      scenario: "grant a role",
      allowed: ["admin"],
      denied: "AccessControlUnauthorizedAccount",
      setup: none,
      call: (c, s) => contract(c.w).connect(s).grantRole(role, c.w.stranger.address),
    },
    {
      fn: `${name}.revokeRole`,
      scenario: "revoke a granted role",
      allowed: ["admin"],
      denied: "AccessControlUnauthorizedAccount",
      setup: async (c) =>
        void (await (await contract(c.w).connect(c.w.admin).grantRole(role, c.w.stranger.address)).wait()),
      call: (c, s) => contract(c.w).connect(s).revokeRole(role, c.w.stranger.address),
    },
    {
      fn: `${name}.renounceRole`,
      scenario: `the ${holder} renounces its own role`,
      allowed: [holder],
      denied: "AccessControlBadConfirmation",
      setup: none,
      call: async (c, s) => {
        const c2 = contract(c.w);
        const which = holder === "relay" ? await (c2 as World["relayRoots"]).RELAY_ROLE() : ZeroHash;
        const account = holder === "relay" ? c.w.relay.address : await c.w.admin.getAddress();
        return c2.connect(s).renounceRole(which, account);
      },
    },
  ];
}

function stateChanging(abi: readonly { type: string; name?: string; stateMutability?: string }[]): string[] {
  return abi
    .filter((f) => f.type === "function" && f.stateMutability !== "view" && f.stateMutability !== "pure")
    .map((f) => f.name!);
}

describe("access-control matrix (every state-changing function × every role)", function () {
  let world: World;
  let signers: Record<Role, Signer>;
  let base: Awaited<ReturnType<typeof networkHelpers.takeSnapshot>>;

  before(async () => {
    world = await deployWorld();
    const impersonate = async (address: string) => {
      await networkHelpers.impersonateAccount(address);
      await networkHelpers.setBalance(address, parseEther("1000000"));
      return ethers.getSigner(address);
    };
    signers = {
      admin: world.admin,
      relay: world.relay.signer,
      app: world.apps[0].signer,
      node: world.nodes[0].signer,
      otherNode: world.nodes[1].signer,
      stranger: world.stranger.signer,
      registry: await impersonate(await world.registry.getAddress()),
      taskManager: await impersonate(await world.tm.getAddress()),
    };
    base = await networkHelpers.takeSnapshot();
  });

  it("has a row for every external state-changing function in the ABIs", () => {
    const expected = [
      ...stateChanging(TaskManager__factory.abi).map((f) => `TaskManager.${f}`),
      ...stateChanging(NodeRegistry__factory.abi).map((f) => `NodeRegistry.${f}`),
      ...stateChanging(RelayRoots__factory.abi).map((f) => `RelayRoots.${f}`),
      ...stateChanging(SamplingVerifier__factory.abi).map((f) => `SamplingVerifier.${f}`),
    ].sort();
    const covered = [...new Set(ROWS.map((r) => r.fn))].sort();
    expect(covered).to.deep.equal(expected);
    // SamplingVerifier is stateless: it has no state-changing function at all.
    expect(stateChanging(SamplingVerifier__factory.abi)).to.deep.equal([]);
  });

  for (const row of ROWS) {
    it(`${row.fn} (${row.scenario}): ${row.allowed.length === ROLES.length ? "anyone" : `only ${row.allowed.join(", ")}`}`, async () => {
      await base.restore();
      const ctx: Ctx = { w: world, ids: [], guid: ZeroHash, root: ZeroHash, extra: {} };
      await row.setup(ctx);
      const ready = await networkHelpers.takeSnapshot();
      const outcomes: string[] = [];
      for (const role of ROLES) {
        await ready.restore();
        let outcome: string;
        try {
          await (await row.call(ctx, signers[role])).wait();
          outcome = "ok";
        } catch (e) {
          const data = (e as { data?: string }).data;
          const parsed = data ? (world.errors.parseError(data) ?? accessErrors.parseError(data)) : null;
          outcome = parsed?.name ?? `unknown: ${(e as Error).message.slice(0, 200)}`;
        }
        outcomes.push(`${role}:${outcome}`);
      }
      const expected = ROLES.map((role) => `${role}:${row.allowed.includes(role) ? "ok" : row.denied}`);
      expect(outcomes).to.deep.equal(expected);
    });
  }
});

const accessErrors = new Interface([
  "error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)",
  "error AccessControlBadConfirmation()",
]);
