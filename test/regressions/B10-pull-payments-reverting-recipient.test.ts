/**
 * B10 (DESIGN §9, §11): the reference implementation pushed payouts and refunds, so a recipient whose `receive`
 * reverts blocked the state transition that paid it. Payouts are credited instead: the transition goes through, the
 * contract recipient is credited, its own withdraw fails with `PaymentTransferFailed` and the balance stays for a
 * later withdraw (to itself once it accepts ether, or to another address). A recipient that re-enters the withdraw
 * path cannot be paid twice.
 */
import { expect } from "chai";
import {
  BJJ_KEY,
  FEE,
  GPU_4090,
  MODEL_SDXL,
  SCORE_A,
  STAKE,
  deployNetwork,
  ethers,
  expectSolvent,
  joinNode,
  networkHelpers,
  publishBlobs,
  resultBlob,
  samplingProof,
  taskInput,
  uploadParameters,
  createTask,
  deliverWord,
  type Network,
} from "../helpers/fixture.js";
import { dispatchPending } from "../../src/chain/dispatch.js";
import {
  HEALTH_ONE,
  actAs,
  at,
  deployReentrantReceiver,
  deployRevertingReceiver,
  type ContractActor,
} from "../helpers/actors.js";
import { newTaskIdentity } from "../../src/crypto/commitment.js";
import { subgroupWitness } from "../../src/crypto/babyjub.js";
import { NodeStatus, TaskAbortReason, TaskStatus } from "../../src/types.js";
import { DEFAULT_TASK_PARAMETERS } from "../../src/config.js";

/** What the node of a Started task is credited when the application never uploads (DESIGN §13.3). */
const NO_SHOW = (FEE * DEFAULT_TASK_PARAMETERS.noShowShare) / 10_000n;

/** ReentrantReceiver.Mode */
const Mode = { WithdrawCaught: 0, WithdrawToCaught: 1, WithdrawBubbled: 2 } as const;

describe("regression B10: pull payments — a reverting recipient blocks nothing", function () {
  async function emptyNetwork(): Promise<Network> {
    return deployNetwork();
  }

  /** Joins `actor` as a node (the stake sent through the forwarding call). */
  async function joinAsContract(net: Network, actor: ContractActor) {
    await (
      await actAs(
        actor,
        net.admin,
        net.registry,
        "join",
        [GPU_4090, 24, [2, 5, 0], BJJ_KEY, subgroupWitness(BJJ_KEY), [MODEL_SDXL]],
        STAKE,
      )
    ).wait();
  }

  /** Creates a task from `actor` as the application. */
  async function createAsContract(net: Network, actor: ContractActor, fee = FEE) {
    const id = newTaskIdentity();
    await (
      await actAs(actor, net.admin, net.taskManager, "createTask", [taskInput(id.commitment, id.nonce)], fee)
    ).wait();
    // The VRF service's word, then the dispatch (docs/randomness.md).
    await deliverWord(net);
    await dispatchPending(net.taskManager, net.stranger);
    return id.commitment;
  }

  describe("a node implemented as a contract that refuses ether", function () {
    it("is credited on result upload; its withdraw fails and the balance stays; withdrawTo elsewhere works", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const tm = net.taskManager;
      const [app] = net.apps;
      const actor = await deployRevertingReceiver(net);
      const nodeAddress = await actor.getAddress();
      await joinAsContract(net, actor);
      expect(await net.registry.nodeStatus(nodeAddress)).to.equal(NodeStatus.Available);

      const task = await createTask(net, app, { sampled: false });
      expect((await tm.getTask(task.commitment)).selectedNode).to.equal(nodeAddress);
      await uploadParameters(net, app, task.commitment);
      await (await actAs(actor, net.admin, tm, "submitTaskScore", [task.commitment, SCORE_A])).wait();
      await (await tm.connect(app).validateSingleTask(task.commitment, samplingProof(app, task.seed))).wait();

      // The payout does not block the transition.
      const upload = await resultBlob(net, task.commitment);
      const [result] = await publishBlobs(net, [upload.blobHash]);
      const tx = actAs(actor, net.admin, tm, "reportTaskResultUploaded", [
        task.commitment,
        result.blobHash,
        result.root,
        result.proof,
        upload.proof,
      ]);
      await expect(tx).to.emit(tm, "TaskSuccess").withArgs(task.commitment, result.blobHash);
      await expect(tx).to.emit(tm, "TaskFeePaid").withArgs(task.commitment, nodeAddress, FEE);
      await expect(tx).to.emit(tm, "BalanceCredited").withArgs(nodeAddress, FEE);
      expect(await tm.taskStatus(task.commitment)).to.equal(TaskStatus.EndSuccess);
      expect(await tm.withdrawable(nodeAddress)).to.equal(FEE);
      expect(await net.registry.nodeStatus(nodeAddress)).to.equal(NodeStatus.Available);
      await expectSolvent(net);

      // Its own withdraw fails; nothing is lost.
      await expect(actAs(actor, net.admin, tm, "withdraw", []))
        .to.be.revertedWithCustomError(tm, "PaymentTransferFailed")
        .withArgs(nodeAddress, FEE);
      expect(await tm.withdrawable(nodeAddress)).to.equal(FEE);
      expect(await tm.totalWithdrawable()).to.equal(FEE);
      expect(await ethers.provider.getBalance(nodeAddress)).to.equal(0n);
      await expectSolvent(net);

      // It can send its balance elsewhere.
      const operator = net.stranger.address;
      const before = await ethers.provider.getBalance(operator);
      await expect(actAs(actor, net.admin, tm, "withdrawTo", [operator]))
        .to.emit(tm, "Withdrawn")
        .withArgs(nodeAddress, operator, FEE);
      expect(await ethers.provider.getBalance(operator)).to.equal(before + FEE);
      expect(await tm.withdrawable(nodeAddress)).to.equal(0n);
      await expectSolvent(net);
    });

    it("is paid after a validation timeout that a stranger triggers; its stake comes back on quit", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const tm = net.taskManager;
      const reg = net.registry;
      const [app] = net.apps;
      const actor = await deployRevertingReceiver(net);
      const nodeAddress = await actor.getAddress();
      await joinAsContract(net, actor);
      const task = await createTask(net, app, { sampled: false });
      await uploadParameters(net, app, task.commitment);
      await (await actAs(actor, net.admin, tm, "submitTaskScore", [task.commitment, SCORE_A])).wait();

      await at(await tm.deadlineOf(task.commitment));
      const tx = tm.connect(net.stranger).abortTask(task.commitment);
      await expect(tx)
        .to.emit(tm, "TaskAborted")
        .withArgs(task.commitment, net.stranger.address, TaskStatus.ScoreReady, TaskAbortReason.ValidationTimeout);
      await expect(tx).to.emit(tm, "TaskFeePaid").withArgs(task.commitment, nodeAddress, FEE);
      expect(await tm.withdrawable(nodeAddress)).to.equal(FEE);
      expect((await reg.getNode(nodeAddress)).health).to.equal(HEALTH_ONE);

      // Quit: the stake is credited in the registry, whose withdraw fails the same way until ether is accepted.
      await expect(actAs(actor, net.admin, reg, "quit", []))
        .to.emit(reg, "NodeQuit")
        .withArgs(nodeAddress, STAKE);
      expect(await reg.withdrawable(nodeAddress)).to.equal(STAKE);
      await expect(actAs(actor, net.admin, reg, "withdraw", []))
        .to.be.revertedWithCustomError(reg, "PaymentTransferFailed")
        .withArgs(nodeAddress, STAKE);
      expect(await reg.withdrawable(nodeAddress)).to.equal(STAKE);
      await expectSolvent(net);

      await (await actor.setAcceptPayments(true)).wait();
      await expect(actAs(actor, net.admin, reg, "withdraw", [])).to.changeEtherBalance(ethers, nodeAddress, STAKE);
      await expect(actAs(actor, net.admin, tm, "withdraw", [])).to.changeEtherBalance(ethers, nodeAddress, FEE);
      expect(await reg.withdrawable(nodeAddress)).to.equal(0n);
      expect(await tm.withdrawable(nodeAddress)).to.equal(0n);
      await expectSolvent(net);
    });
  });

  describe("an application implemented as a contract that refuses ether", function () {
    it("is refunded when a stranger ends its timed-out task and when it ends its timed-out queued one", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const tm = net.taskManager;
      const actor = await deployRevertingReceiver(net);
      const appAddress = await actor.getAddress();
      const [node] = net.nodes;
      await joinNode(net, node);

      // Started → Timeout, ended by a stranger: the application's no-show, the node credited noShowShare.
      const started = await createAsContract(net, actor);
      expect(await tm.taskStatus(started)).to.equal(TaskStatus.Started);
      const queued = await createAsContract(net, actor);
      expect(await tm.taskStatus(queued)).to.equal(TaskStatus.Queued);
      await at(await tm.deadlineOf(started));
      const tx = tm.connect(net.stranger).abortTask(started);
      await expect(tx)
        .to.emit(tm, "TaskAborted")
        .withArgs(started, net.stranger.address, TaskStatus.Started, TaskAbortReason.Timeout);
      await expect(tx)
        .to.emit(tm, "TaskFeeRefunded")
        .withArgs(started, appAddress, FEE - NO_SHOW);
      // The released node takes the queued task in the same transaction.
      await expect(tx).to.emit(tm, "TaskStarted").withArgs(queued, node.address);

      // A queued task ended by the contract itself at its queue timeout (no cancel while queued).
      const third = await createAsContract(net, actor);
      await at(await tm.deadlineOf(third));
      await expect(actAs(actor, net.admin, tm, "abortTask", [third]))
        .to.emit(tm, "TaskAborted")
        .withArgs(third, appAddress, TaskStatus.Queued, TaskAbortReason.QueueTimeout);
      expect(await tm.withdrawable(appAddress)).to.equal(2n * FEE - NO_SHOW);
      await expectSolvent(net);

      await expect(actAs(actor, net.admin, tm, "withdraw", []))
        .to.be.revertedWithCustomError(tm, "PaymentTransferFailed")
        .withArgs(appAddress, 2n * FEE - NO_SHOW);
      expect(await tm.withdrawable(appAddress)).to.equal(2n * FEE - NO_SHOW);
      await expectSolvent(net);
    });
  });

  describe("a reentrant receiver", function () {
    /** The receiver, credited with FEE after its queued task timed out, while another application's 5 FEE sit in escrow. */
    async function creditedReceiver(net: Network, mode: number) {
      const tm = net.taskManager;
      const receiver = await deployReentrantReceiver(net);
      const address = await receiver.getAddress();
      await (await receiver.configure(await tm.getAddress(), mode)).wait();
      const own = await createAsContract(net, receiver);
      await networkHelpers.time.increaseTo(await tm.deadlineOf(own));
      await (await actAs(receiver, net.admin, tm, "abortTask", [own])).wait();
      await createTask(net, net.apps[0], { fee: 5n * FEE });
      expect(await tm.withdrawable(address)).to.equal(FEE);
      expect(await ethers.provider.getBalance(await tm.getAddress())).to.equal(6n * FEE);
      return { receiver, address };
    }

    const reentrancyError = (net: Network) =>
      net.taskManager.interface.getError("ReentrancyGuardReentrantCall")!.selector;

    for (const [name, mode] of [
      ["withdraw", Mode.WithdrawCaught],
      ["withdrawTo (cross-function)", Mode.WithdrawToCaught],
    ] as const) {
      it(`re-entering ${name} from receive fails; the receiver is paid exactly once`, async function () {
        const net = await networkHelpers.loadFixture(emptyNetwork);
        const tm = net.taskManager;
        const { receiver, address } = await creditedReceiver(net, mode);

        await expect(actAs(receiver, net.admin, tm, "withdraw", []))
          .to.emit(tm, "Withdrawn")
          .withArgs(address, address, FEE);
        expect(await receiver.reentryAttempts()).to.equal(1n);
        expect(await receiver.reentrySuccesses()).to.equal(0n);
        expect(await receiver.lastReentryError()).to.equal(reentrancyError(net));
        expect(await ethers.provider.getBalance(address)).to.equal(FEE);
        expect(await tm.withdrawable(address)).to.equal(0n);
        expect(await ethers.provider.getBalance(await tm.getAddress())).to.equal(5n * FEE);
        await expectSolvent(net);

        // And a second, later withdraw has nothing left.
        await expect(actAs(receiver, net.admin, tm, "withdraw", []))
          .to.be.revertedWithCustomError(tm, "PaymentNothingToWithdraw")
          .withArgs(address);
      });
    }

    it("a receive that reverts on the failed re-entry makes the withdraw fail; the balance stays", async function () {
      const net = await networkHelpers.loadFixture(emptyNetwork);
      const tm = net.taskManager;
      const { receiver, address } = await creditedReceiver(net, Mode.WithdrawBubbled);
      await expect(actAs(receiver, net.admin, tm, "withdraw", []))
        .to.be.revertedWithCustomError(tm, "PaymentTransferFailed")
        .withArgs(address, FEE);
      expect(await tm.withdrawable(address)).to.equal(FEE);
      expect(await ethers.provider.getBalance(address)).to.equal(0n);
      expect(await ethers.provider.getBalance(await tm.getAddress())).to.equal(6n * FEE);
      await expectSolvent(net);
    });
  });
});
