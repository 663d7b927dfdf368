/**
 * Regression, issue 11 item 7 (DESIGN §13.6): the admin could take every stake. `DEFAULT_ADMIN_ROLE` administered
 * `TASK_MANAGER_ROLE`, so the admin granted it to itself, set the treasury (then a `setConfig` field) to itself, and
 * called `startNode` + `slash` on each node: 1,600 tokens taken from four nodes on the old contracts.
 *
 * Now: `TASK_MANAGER_ROLE` is wired once and its admin is a role nobody can hold; the treasury is fixed at
 * deployment; and the admin of every contract is a `VSSTimelock` with no admin of its own, the deployer having
 * renounced. This file deploys with the real Ignition module and tries every route, both as the deployer (the old
 * admin) and as the timelock itself (the full admin power, through a delayed proposal), and asserts that no stake
 * moves.
 */
import { expect } from "chai";
import { Wallet, ZeroHash, keccak256, parseEther, toUtf8Bytes, type Result, type Signer } from "ethers";
import { DEFAULT_TIMELOCK_DELAY, longestTaskLife } from "../../deploy/modules/VSSNetwork.js";
// The local module: the live one's contracts and defaults, with a mock VRF coordinator (the live one needs a real one).
import VSSNetwork from "../../deploy/modules/VSSLocalNetwork.js";
import { NodeRegistry__factory, TaskManager__factory } from "../../typechain-types/index.js";
import { DEFAULT_REGISTRY_PARAMETERS } from "../../src/config.js";
import {
  STAKE,
  connection,
  deployNetwork,
  ethers,
  joinNode,
  networkHelpers,
  type Network,
} from "../helpers/fixture.js";

const TASK_MANAGER_ROLE = keccak256(toUtf8Bytes("TASK_MANAGER_ROLE"));
const UNGRANTABLE_ROLE = keccak256(toUtf8Bytes("UNGRANTABLE_ROLE"));
const DEFAULT_ADMIN_ROLE = ZeroHash;
const PROPOSER_ROLE = keccak256(toUtf8Bytes("PROPOSER_ROLE"));

describe("security: the admin cannot take stakes (issue 11 item 7)", function () {
  async function fourNodesStaked(): Promise<Network> {
    const net = await deployNetwork();
    for (const node of net.nodes.slice(0, 4)) await (await joinNode(net, node)).wait();
    return net;
  }

  /** Everything a theft would change: stakes, the registry's balance and who may withdraw from it. */
  async function stakeState(net: Network, thieves: string[]) {
    return {
      totalStaked: await net.registry.totalStaked(),
      balance: await ethers.provider.getBalance(await net.registry.getAddress()),
      stakes: await Promise.all(net.nodes.slice(0, 4).map(async (n) => (await net.registry.getNode(n.address)).stake)),
      statuses: await Promise.all(net.nodes.slice(0, 4).map((n) => net.registry.nodeStatus(n.address))),
      thievesWithdrawable: await Promise.all(thieves.map((t) => net.registry.withdrawable(t))),
      treasuryWithdrawable: await net.registry.withdrawable(net.treasury.address),
    };
  }

  it("the deployer handed the admin role to the timelock and kept nothing; the timelock has no admin of its own", async function () {
    const net = await networkHelpers.loadFixture(fourNodesStaked);
    const deployer = await net.admin.getAddress();
    const timelock = await net.timelock.getAddress();
    for (const contract of [net.registry, net.relayRoots]) {
      expect(await contract.hasRole(DEFAULT_ADMIN_ROLE, deployer)).to.equal(false);
      expect(await contract.hasRole(DEFAULT_ADMIN_ROLE, timelock)).to.equal(true);
    }
    // The task manager has no roles: its only admin function answers to the timelock, fixed at deployment.
    expect(await net.taskManager.ADMIN()).to.equal(timelock);
    // TimelockController: only the timelock administers itself (admin = address(0) at construction).
    expect(await net.timelock.hasRole(DEFAULT_ADMIN_ROLE, deployer)).to.equal(false);
    expect(await net.timelock.hasRole(DEFAULT_ADMIN_ROLE, timelock)).to.equal(true);
    expect(await net.timelock.hasRole(PROPOSER_ROLE, deployer)).to.equal(true);
    // The role that guards slashing: held by the task manager alone, administered by a role nobody holds.
    expect(await net.registry.hasRole(TASK_MANAGER_ROLE, await net.taskManager.getAddress())).to.equal(true);
    expect(await net.registry.getRoleAdmin(TASK_MANAGER_ROLE)).to.equal(UNGRANTABLE_ROLE);
    expect(await net.registry.getRoleAdmin(UNGRANTABLE_ROLE)).to.equal(UNGRANTABLE_ROLE);
    expect(await net.registry.treasury()).to.equal(net.treasury.address);
    // There is no setTreasury any more.
    expect(NodeRegistry__factory.abi.filter((f) => f.type === "function").map((f) => f.name)).to.not.include(
      "setTreasury",
    );
  });

  it("the default timelock delay is longer than a task's longest life under the deployed configuration", async function () {
    // The module with its defaults (no timelockDelay): what a live network gets.
    const [deployer] = await ethers.getSigners();
    const deployed = await connection.ignition.deploy(VSSNetwork, {
      parameters: { VSSNetwork: { relay: deployer.address, treasury: Wallet.createRandom().address } },
    });
    const config = await TaskManager__factory.connect(await deployed.taskManager.getAddress(), deployer).config();
    const life = longestTaskLife((config as unknown as Result).toObject());
    expect(life).to.be.greaterThan(0n);
    const delay = await deployed.timelock.getMinDelay();
    expect(delay).to.equal(DEFAULT_TIMELOCK_DELAY);
    expect(delay).to.be.greaterThan(life);
  });

  for (const who of ["the deployer (the old admin)", "the timelock (every admin power)"] as const) {
    it(`${who} cannot move a stake by any route`, async function () {
      const net = await networkHelpers.loadFixture(fourNodesStaked);
      const actor: Signer = who.startsWith("the deployer") ? net.admin : net.governor;
      const actorAddress = await actor.getAddress();
      const thief = net.stranger.address;
      const before = await stakeState(net, [actorAddress, thief]);
      expect(before.totalStaked).to.equal(4n * STAKE);
      const registry = net.registry.connect(actor);
      const nodes = net.nodes.slice(0, 4).map((n) => n.address);

      /** Each step of the old attack, and its variants, must revert. */
      const attempts: [string, () => Promise<unknown>][] = [
        ["grant TASK_MANAGER_ROLE to itself", () => registry.grantRole(TASK_MANAGER_ROLE, actorAddress)],
        ["grant TASK_MANAGER_ROLE to an accomplice", () => registry.grantRole(TASK_MANAGER_ROLE, thief)],
        ["grant the role that administers it", () => registry.grantRole(UNGRANTABLE_ROLE, actorAddress)],
        ["revoke the task manager", () => registry.revokeRole(TASK_MANAGER_ROLE, net.taskManager)],
        ["wire another task manager", () => registry.setTaskManager(actorAddress)],
        [
          "redirect slashed stake (setConfig's treasury)",
          () => registry.setConfig({ ...DEFAULT_REGISTRY_PARAMETERS, treasury: thief }),
        ],
        ["start a node as if it were the task manager", () => registry.startNode(nodes[0], ZeroHash)],
        ["slash a node", () => registry.slash(nodes[0], ZeroHash)],
        ["release a node", () => registry.releaseNode(nodes[0], 1)],
        ["withdraw the stakes", () => registry.withdraw()],
      ];
      for (const [what, attempt] of attempts) {
        let reverted = false;
        try {
          await (await (attempt() as Promise<{ wait(): Promise<unknown> }>)).wait();
        } catch {
          reverted = true;
        }
        expect(reverted, what).to.equal(true);
      }
      // What the admin can still do, parameters, moves no stake either: the highest stake cap and minimum stake.
      if (actor === net.governor) {
        await (
          await registry.setConfig({
            ...DEFAULT_REGISTRY_PARAMETERS,
            minimumStake: parseEther("1000000"),
            stakeCap: parseEther("1000000"),
            treasury: net.treasury.address,
          })
        ).wait();
      }
      // Revoking the task manager and granting: both steps refused, also as a batch proposal.
      expect(await net.registry.hasRole(TASK_MANAGER_ROLE, await net.taskManager.getAddress())).to.equal(true);
      expect(await net.registry.hasRole(TASK_MANAGER_ROLE, actorAddress)).to.equal(false);
      expect(await net.registry.hasRole(TASK_MANAGER_ROLE, thief)).to.equal(false);
      expect(await stakeState(net, [actorAddress, thief])).to.deep.equal(before);
      // The nodes still own their stakes: each quits and withdraws all of it.
      for (const node of net.nodes.slice(0, 4)) {
        await (await net.registry.connect(node).quit()).wait();
        expect(await net.registry.withdrawable(node.address)).to.equal(STAKE);
      }
    });
  }

  it("a proposal that grants TASK_MANAGER_ROLE and then slashes, executed as one batch by the timelock, reverts", async function () {
    const net = await networkHelpers.loadFixture(fourNodesStaked);
    const timelock = await net.timelock.getAddress();
    const registry = await net.registry.getAddress();
    const iface = NodeRegistry__factory.createInterface();
    const node = net.nodes[0].address;
    const calls = [
      iface.encodeFunctionData("grantRole", [TASK_MANAGER_ROLE, timelock]),
      iface.encodeFunctionData("startNode", [node, ZeroHash]),
      iface.encodeFunctionData("slash", [node, ZeroHash]),
    ];
    const before = await stakeState(net, [timelock]);
    const proposer = net.timelock.connect(net.admin);
    const salt = keccak256(toUtf8Bytes("steal"));
    const targets = calls.map(() => registry);
    const values = calls.map(() => 0n);
    await (
      await proposer.scheduleBatch(targets, values, calls, ZeroHash, salt, await net.timelock.getMinDelay())
    ).wait();
    await networkHelpers.mine(2);
    await expect(proposer.executeBatch(targets, values, calls, ZeroHash, salt))
      .to.be.revertedWithCustomError(net.registry, "AccessControlUnauthorizedAccount")
      .withArgs(timelock, UNGRANTABLE_ROLE);
    expect(await stakeState(net, [timelock])).to.deep.equal(before);
  });
});
