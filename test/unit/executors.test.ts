/**
 * The stand-in executors and the score rule the node agent applies to their results (src/node/executor.ts), and the
 * application client's input check (no chain needed).
 */
import { expect } from "chai";
import { JsonRpcProvider, Wallet, toUtf8Bytes } from "ethers";
import {
  DishonestExecutor,
  ImageExecutor,
  InvalidParametersError,
  MAX_TEXT_RESULT_BYTES,
  StandInExecutor,
  TextExecutor,
  scoreOf,
  type ExecutionRequest,
} from "../../src/node/index.js";
import { AppClient } from "../../src/app/index.js";
import { imageScore, textScore } from "../../src/crypto/phash.js";
import { hammingDistance64, scoresMatch } from "../../src/crypto/simhash.js";
import { TaskType } from "../../src/types.js";

const PROMPTS = ["a lighthouse at dawn", "a red fox in the snow", "a paper boat", "a city of glass", "a stone bridge"];

function request(taskType: TaskType, params: object | string): ExecutionRequest {
  const bytes = toUtf8Bytes(typeof params === "string" ? params : JSON.stringify(params));
  return { taskIDCommitment: "0x" + "11".repeat(32), taskType, params: bytes };
}

async function rejects(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => null,
    (e: unknown) => e,
  );
}

describe("node executors (src/node/executor.ts)", function () {
  it("image: the same node renders the same image twice; two nodes' noisy images still match", async function () {
    for (const [i, prompt] of PROMPTS.entries()) {
      const r = request(TaskType.SD, { prompt, seed: i });
      const a1 = (await new ImageExecutor("node-a").execute(r)).result;
      const a2 = (await new ImageExecutor("node-a").execute(r)).result;
      const b = (await new ImageExecutor("node-b").execute(r)).result;
      expect(Buffer.from(a1).equals(Buffer.from(a2))).to.equal(true);
      expect(a1).to.have.length(4096);
      expect(Buffer.from(a1).equals(Buffer.from(b))).to.equal(false); // the noise differs per node ...
      expect(scoresMatch(TaskType.SD, imageScore(a1), imageScore(b))).to.equal(true); // ... the scores still match
    }
  });

  it("image: the noise is configurable and zero noise gives the clean render", async function () {
    const r = request(TaskType.SD, { prompt: "a quiet river" });
    const clean1 = (await new ImageExecutor("a", { fraction: 0, amplitude: 0 }).execute(r)).result;
    const clean2 = (await new ImageExecutor("b", { fraction: 0, amplitude: 0 }).execute(r)).result;
    const heavy = (await new ImageExecutor("a", { fraction: 1, amplitude: 40 }).execute(r)).result;
    expect(Buffer.from(clean1).equals(Buffer.from(clean2))).to.equal(true);
    const changed = heavy.reduce((n, p, i) => n + (p !== clean1[i] ? 1 : 0), 0);
    expect(changed).to.be.greaterThan(3000);
  });

  it("image: different prompts give different scenes", async function () {
    const x = imageScore((await new ImageExecutor().execute(request(TaskType.SD, { prompt: PROMPTS[0] }))).result);
    const y = imageScore((await new ImageExecutor().execute(request(TaskType.SD, { prompt: PROMPTS[1] }))).result);
    expect(hammingDistance64(BigInt(x), BigInt(y))).to.be.greaterThan(10);
  });

  it("text: deterministic across nodes, within the result circuit's capacity, and prompt-dependent", async function () {
    const r = request(TaskType.LLM, { prompt: "Tell a story", seed: 3, max_tokens: 10_000 });
    const a = (await new StandInExecutor("node-a").execute(r)).result;
    const b = (await new StandInExecutor("node-b").execute(r)).result;
    expect(Buffer.from(a).equals(Buffer.from(b))).to.equal(true);
    expect(a.length).to.be.at.most(MAX_TEXT_RESULT_BYTES);
    const other = (await new TextExecutor().execute(request(TaskType.LLM, { prompt: "Another story", seed: 3 })))
      .result;
    expect(textScore(other)).to.not.equal(textScore(a));
  });

  it("dishonest: its scores never match an honest node's, for images and text", async function () {
    for (const prompt of PROMPTS) {
      for (const taskType of [TaskType.SD, TaskType.LLM]) {
        const r = request(taskType, { prompt });
        const honest = scoreOf(taskType, (await new StandInExecutor("h").execute(r)).result);
        const cheat = scoreOf(taskType, (await new DishonestExecutor().execute(r)).result);
        expect(scoresMatch(taskType, honest, cheat)).to.equal(false);
      }
    }
  });

  it("rejects parameters that can never run with InvalidParametersError", async function () {
    const executor = new StandInExecutor();
    for (const params of ["not JSON", "[1, 2]", "{}", '{"prompt": ""}', '{"prompt": "x", "seed": -1}']) {
      expect(await rejects(executor.execute(request(TaskType.SD, params)))).to.be.instanceOf(InvalidParametersError);
    }
    const bad = { taskIDCommitment: "0x", taskType: TaskType.SD, params: new Uint8Array([0xff, 0xfe]) };
    expect(await rejects(executor.execute(bad))).to.be.instanceOf(InvalidParametersError);
    expect(await rejects(new TextExecutor().execute(request(TaskType.SD, { prompt: "x" })))).to.be.instanceOf(
      InvalidParametersError,
    );
  });

  it("scoreOf: only results the result circuit can carry get a score", function () {
    expect(() => scoreOf(TaskType.SD, new Uint8Array(4095))).to.throw(/4096 bytes/);
    expect(() => scoreOf(TaskType.LLM, new Uint8Array(MAX_TEXT_RESULT_BYTES + 1))).to.throw(/at most/);
    expect(scoreOf(TaskType.LLM, toUtf8Bytes("hi"))).to.equal(textScore(toUtf8Bytes("hi")));
  });
});

describe("application client input check (src/app/client.ts)", function () {
  it("rejects parameters larger than a parameter blob before sending anything", async function () {
    // An unreachable RPC: the check must fail before the client talks to the chain.
    const provider = new JsonRpcProvider("http://127.0.0.1:9", undefined, { staticNetwork: true });
    const wallet = Wallet.createRandom().connect(provider);
    const zero = "0x" + "00".repeat(20);
    const app = new AppClient({
      wallet: new Wallet(wallet.privateKey, provider),
      addresses: { taskManager: zero, registry: zero, relayRoots: zero },
      relayUrl: "http://127.0.0.1:9",
    });
    const error = await rejects(app.submitTask({ taskType: TaskType.LLM, params: "x".repeat(2078), fee: 1n }));
    expect(error).to.be.instanceOf(RangeError);
    expect((error as Error).message).to.match(/2078 bytes; at most 2077/);
    provider.destroy();
  });
});
