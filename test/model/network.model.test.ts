/**
 * Model-based tests (PROPERTIES.md): random sequences of application, node, relay and clock actions, applied to the
 * chain and to the reference model `src/model/network.ts`, compared after every step. A failing sequence is shrunk
 * to a 1-minimal one (delta debugging over steps) and printed.
 *
 * Runs and length are fixed, with a fixed seed: MODEL_RUNS (default 200) sequences of MODEL_STEPS (default 50)
 * steps; `npm run test:deep` raises them. MODEL_SEED overrides the seed (to reproduce a printed failure).
 */
import { expect } from "chai";
import fc from "fast-check";
import { NetworkModel } from "../../src/model/network.js";
import { TaskAbortReason, TaskStatus } from "../../src/types.js";
import { FEES, STAKES, WARPS, deployWorld, runSequence, shrink, type Action, type World } from "./harness.js";

const RUNS = Number(process.env.MODEL_RUNS ?? 200);
const STEPS = Number(process.env.MODEL_STEPS ?? 50);
const SEED = Number(process.env.MODEL_SEED ?? 0x5eed);

const i8 = fc.nat({ max: 255 });
const bool = fc.boolean();

/** The action generator. Weights favour `advance` (a task's next honest step) so that sequences reach deep states. */
export const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant("create" as const), app: i8, fee: fc.nat({ max: FEES.length - 1 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant("group" as const), app: i8, fee: fc.nat({ max: FEES.length - 1 }) }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("replay" as const), app: i8, task: i8, sameCommitment: bool }) },
  { weight: 14, arbitrary: fc.record({ t: fc.constant("advance" as const), task: i8, pick: i8 }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("params" as const), task: i8, byStranger: bool, inRoot: bool }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("score" as const), task: i8, byOtherNode: bool, score: i8 }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("error" as const), task: i8 }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("validate" as const), task: i8, byStranger: bool, lie: bool }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("result" as const),
      task: i8,
      byOtherNode: bool,
      inRoot: bool,
      proofValid: bool,
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("abort" as const), task: i8, by: i8 }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("warp" as const), seconds: fc.constantFrom(...WARPS) }) },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant("join" as const), node: i8, stake: fc.nat({ max: STAKES.length - 1 }) }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("quit" as const), node: i8 }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("pause" as const), node: i8 }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("resume" as const), node: i8 }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("withdraw" as const), who: i8, registry: bool }) },
);

/** Runs the property, shrinks a failure and returns it printed, or null. */
async function check(
  world: World,
  runs: number,
  steps: number,
  seed: number,
  makeModel?: (c: World["config"]) => NetworkModel,
): Promise<{ report: string; length: number } | null> {
  const details = await fc.check(
    fc.asyncProperty(fc.array(actionArb, { minLength: steps, maxLength: steps }), async (actions) => {
      const failure = await runSequence(world, actions, makeModel);
      if (failure) throw failure;
    }),
    // Shrinking is done over steps by `shrink` below, which removes whole steps; fast-check's value shrinking
    // would re-run 50-step sequences many times for little gain.
    { numRuns: runs, seed, endOnFailure: true },
  );
  if (!details.failed || !details.counterexample) return null;
  const [actions] = details.counterexample;
  const { actions: minimal, failure } = await shrink(world, actions, makeModel);
  const report = [
    `model-based test failed (seed ${seed}, run ${details.numRuns}); minimal sequence of ${minimal.length} steps:`,
    ...minimal.map((a, i) => `  ${i}: ${JSON.stringify(a)}`),
    `failure: ${failure.message}`,
  ].join("\n");
  return { report, length: minimal.length };
}

describe("model-based: chain vs reference model (src/model/network.ts)", function () {
  this.timeout(0);
  let world: World;

  before(async () => {
    world = await deployWorld();
  });

  it(`${RUNS} random sequences of ${STEPS} steps agree with the model at every step (seed ${SEED})`, async () => {
    const failure = await check(world, RUNS, STEPS, SEED);
    if (failure) console.log(failure.report);
    expect(failure?.report ?? null).to.equal(null);
  });

  it("reaches every final state, slashing, eviction and a full queue across the seeded sequences", async () => {
    // Not vacuous: replays 40 of the seeded sequences with a recording model and checks what they reached.
    const reached = new Set<string>();
    const record = (model: NetworkModel) => {
      for (const t of model.tasks.values()) {
        reached.add(TaskStatus[t.status]);
        if (t.status === TaskStatus.EndAborted) reached.add(`abort:${TaskAbortReason[t.abortReason]}`);
      }
      if (model.slashed > 0n) reached.add("slash");
    };
    const samples = fc.sample(fc.array(actionArb, { minLength: STEPS, maxLength: STEPS }), { numRuns: 40, seed: SEED });
    for (const actions of samples) {
      const failure = await runSequence(world, actions, undefined, "seq", record);
      expect(failure?.message ?? null).to.equal(null);
    }
    for (const s of [
      "EndInvalidated",
      "EndSuccess",
      "EndGroupRefund",
      "EndGroupSuccess",
      "abort:Timeout",
      "abort:ValidationTimeout",
      "abort:ResultUploadTimeout",
      "abort:QueueTimeout",
      "abort:TaskFeeTooLow",
      "abort:IncorrectResult",
      "slash",
    ]) {
      expect([...reached], `${s} not reached; reached ${[...reached].join(", ")}`).to.include(s);
    }
  });

  it("catches a wrong model and shrinks the failure to a short printed sequence", async () => {
    // A mutant that refunds the application after a validation timeout instead of paying the node (DESIGN §8).
    class Mutant extends NetworkModel {
      override abortTask(id: string): void {
        const task = this.task(id);
        const timedOutScore = task.status === TaskStatus.ScoreReady;
        super.abortTask(id);
        if (timedOutScore && task.abortReason === TaskAbortReason.ValidationTimeout) {
          // Take the payment back from the node and refund the creator instead.
          const node = task.node!;
          this.tmBalances.set(node, (this.tmBalances.get(node) ?? 0n) - task.fee);
          this.tmBalances.set(task.creator, (this.tmBalances.get(task.creator) ?? 0n) + task.fee);
        }
      }
    }
    const failure = await check(world, 50, STEPS, SEED, (c) => new Mutant(c));
    expect(failure, "the mutant model was not caught").to.not.equal(null);
    console.log(failure!.report);
    expect(failure!.report).to.match(/balance/);
    // join, create, parameters, score, warp past the validation deadline, abort: about six steps.
    expect(failure!.length).to.be.lessThanOrEqual(10);
  });
});
