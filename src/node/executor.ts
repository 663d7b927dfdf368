/**
 * The `Executor` interface: what a node agent (`./agent.ts`) calls to run a task, and the stand-in executors that
 * need no GPU.
 *
 * ## Plugging in a real inference engine
 *
 * Implement {@link Executor}. The agent hands `execute` the decrypted task parameters (the bytes the application
 * encrypted: for the engines here, the JSON of the source document, e.g. `{"version": "2.0.0", "base_model": …,
 * "prompt": …}`) and the task type. The engine returns the result bytes. The agent computes the score (the sim hash)
 * from those bytes itself, exactly as the ResultAvailability circuit recomputes it, so the engine never deals with
 * hashes or proofs:
 *
 * - image tasks (`TaskType.SD`, `SD_FT`): the result must be one 64×64 8-bit grayscale image, row-major, 4,096 bytes
 *   (`PHASH_PIXELS`). The circuit's result blob holds 4 KiB, so an engine that renders larger or colour images
 *   converts its output to this form (e.g. grayscale + area downsampling) before returning it. The score is the
 *   image's 64-bit DCT pHash; two honest nodes' images must land within `distanceThreshold` bits (24 by default).
 * - text tasks (`TaskType.LLM`): the result is the UTF-8 output, at most 4,123 bytes (`byteCapacity(RESULT_CAPACITY)`),
 *   and must be deterministic (greedy decoding, fixed seed): text scores match only when equal.
 *
 * Errors: throw {@link InvalidParametersError} only when the parameters can never run on any node (malformed JSON,
 * a missing prompt, a LoRA for another base model...): the agent then calls `reportTaskError`, which a validation
 * group would invalidate if other nodes did run the task. Throw {@link ModelUnavailableError} when a model or LoRA
 * that the task names cannot be downloaded from its source for good (it does not exist, or its source refuses it):
 * the agent then declines the task neutrally (`declineTask(ModelDownloadFailed)`: refund, no penalty, no pay).
 * Throw anything else for failures that are the node's own (out of memory, a model download that timed out): the
 * agent retries until the task's execution deadline and never reports those on-chain.
 *
 * `execute` may take as long as the engine needs; the agent keeps following the chain meanwhile, and the task's
 * execution deadline (`TaskConfig.executionTimeout`, 15 min by default) bounds it.
 */
import { keccak256, toUtf8Bytes } from "ethers";
import { RESULT_CAPACITY, byteCapacity } from "../crypto/blob.js";
import { PHASH_PIXELS, imageScore, textScore } from "../crypto/phash.js";
import { scene, seededRandom, withNoise } from "../sim/images.js";
import { TaskType } from "../types.js";

/** What the agent asks an executor to run. */
export interface ExecutionRequest {
  /** The task's commitment (for logs and caches; executors must not make the result depend on it). */
  taskIDCommitment: string;
  taskType: TaskType;
  /** The decrypted task parameters. */
  params: Uint8Array;
}

/** What an executor returns. */
export interface ExecutionResult {
  /** Image tasks: a 64×64 grayscale image (4,096 bytes). Text tasks: UTF-8 text, at most 4,123 bytes. */
  result: Uint8Array;
}

/** A task engine. See the file comment for the contract. */
export interface Executor {
  /** A short name for logs and tables. */
  readonly name: string;
  execute(request: ExecutionRequest): Promise<ExecutionResult>;
}

/** The parameters can never run (on any node): the agent reports `ParametersValidationFailed` on-chain. */
export class InvalidParametersError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidParametersError";
  }
}

/**
 * A model or LoRA the task names cannot be downloaded from its source, for a reason the application caused (it
 * does not exist, or its source refuses it): the agent declines the task with `ModelDownloadFailed` (DESIGN §13.3's
 * neutral end). Not for transient failures (a timeout, a full disk): those are the node's own, throw another error.
 */
export class ModelUnavailableError extends Error {
  constructor(
    readonly model: string,
    message: string,
  ) {
    super(message);
    this.name = "ModelUnavailableError";
  }
}

/** Largest text result the result circuit can carry. */
export const MAX_TEXT_RESULT_BYTES = byteCapacity(RESULT_CAPACITY);

/** Whether `taskType` is compared as an image (pHash) rather than as text. */
export function isImageTask(taskType: TaskType): boolean {
  return taskType !== TaskType.LLM;
}

/**
 * The score (sim hash) of a result, as `submitTaskScore` takes it and the result circuit recomputes it; throws when
 * the result does not have the shape the circuit accepts for `taskType`.
 */
export function scoreOf(taskType: TaskType, result: Uint8Array): string {
  if (isImageTask(taskType)) {
    if (result.length !== PHASH_PIXELS) {
      throw new Error(`an image result must be a 64×64 grayscale image (${PHASH_PIXELS} bytes), got ${result.length}`);
    }
    return imageScore(result);
  }
  if (result.length > MAX_TEXT_RESULT_BYTES) {
    throw new Error(`a text result must be at most ${MAX_TEXT_RESULT_BYTES} bytes, got ${result.length}`);
  }
  return textScore(result);
}

// =================================================================================================================
// Parameters of the stand-in executors
// =================================================================================================================

/** The fields of the source document's task parameters that the stand-in executors read. */
export interface StandInParams {
  prompt: string;
  base_model?: { name: string } | string;
  seed?: number;
  max_tokens?: number;
}

/**
 * Parses the JSON task parameters; throws {@link InvalidParametersError} when they are not a JSON object with a
 * non-empty `prompt`, or when `seed` / `max_tokens` are not non-negative integers.
 */
export function parseStandInParams(params: Uint8Array): StandInParams {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(params));
  } catch (error) {
    throw new InvalidParametersError(`the task parameters are not UTF-8 JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidParametersError("the task parameters are not a JSON object");
  }
  const p = value as Record<string, unknown>;
  if (typeof p.prompt !== "string" || p.prompt.length === 0) {
    throw new InvalidParametersError('the task parameters have no "prompt" string');
  }
  for (const field of ["seed", "max_tokens"] as const) {
    if (p[field] !== undefined && !(Number.isSafeInteger(p[field]) && (p[field] as number) >= 0)) {
      throw new InvalidParametersError(`"${field}" must be a non-negative integer`);
    }
  }
  return p as unknown as StandInParams;
}

function seedOf(...parts: string[]): number {
  return Number(BigInt(keccak256(toUtf8Bytes(parts.join("\u0000")))) % 2_147_483_647n);
}

// =================================================================================================================
// Stand-in executors
// =================================================================================================================

/** Pixel noise of {@link ImageExecutor}: ±`amplitude` on a `fraction` of the pixels. */
export interface PixelNoise {
  fraction: number;
  amplitude: number;
}

/**
 * Image tasks without a GPU: a deterministic procedural 64×64 scene drawn from the prompt and seed, plus small pixel
 * noise drawn from `noiseSeed` (so two nodes render slightly different images, as two GPUs do, and the chain's
 * similarity rule is exercised). With the default noise (±2 on 30 % of the pixels) the pHash moves by at most a few
 * bits, far below the threshold of 24.
 */
export class ImageExecutor implements Executor {
  readonly name = "image";
  constructor(
    private readonly noiseSeed: string = "",
    readonly noise: PixelNoise = { fraction: 0.3, amplitude: 2 },
  ) {}

  async execute({ taskType, params }: ExecutionRequest): Promise<ExecutionResult> {
    if (!isImageTask(taskType)) throw new InvalidParametersError(`the image executor cannot run task type ${taskType}`);
    const p = parseStandInParams(params);
    const image = scene(seedOf("image", p.prompt, String(p.seed ?? 0)));
    if (this.noise.fraction <= 0 || this.noise.amplitude <= 0) return { result: image };
    const noiseSeed = seedOf("noise", this.noiseSeed, keccak256(params));
    return { result: withNoise(image, noiseSeed, this.noise.fraction, this.noise.amplitude) };
  }
}

const WORDS = (
  "the a quiet river mountain light shadow morning evening city forest song stone wind road river star " +
  "ancient bright small distant golden silver crosses follows holds remembers waits under over beyond near"
).split(" ");

/**
 * Text tasks without a GPU: a deterministic "completion" of the prompt (words drawn from a seeded generator), up to
 * `max_tokens` words (default 40). Every honest node returns exactly the same bytes.
 */
export class TextExecutor implements Executor {
  readonly name = "text";

  async execute({ taskType, params }: ExecutionRequest): Promise<ExecutionResult> {
    if (isImageTask(taskType)) throw new InvalidParametersError(`the text executor cannot run task type ${taskType}`);
    const p = parseStandInParams(params);
    const random = seededRandom(seedOf("text", p.prompt, String(p.seed ?? 0)));
    const words: string[] = [];
    const count = Math.min(p.max_tokens ?? 40, MAX_TEXT_RESULT_BYTES); // more words than bytes cannot fit anyway
    for (let i = 0; i < count; i++) words.push(WORDS[Math.floor(random() * WORDS.length)]);
    const bytes = toUtf8Bytes(`${p.prompt} … ${words.join(" ")}.`);
    if (bytes.length <= MAX_TEXT_RESULT_BYTES) return { result: bytes };
    // Cut to the circuit's capacity without splitting a UTF-8 character.
    let end = MAX_TEXT_RESULT_BYTES;
    while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
    return { result: bytes.slice(0, end) };
  }
}

/** Runs image tasks with an {@link ImageExecutor} and text tasks with a {@link TextExecutor}. */
export class StandInExecutor implements Executor {
  readonly name = "stand-in";
  private readonly image: ImageExecutor;
  private readonly text = new TextExecutor();

  constructor(noiseSeed = "", noise?: PixelNoise) {
    this.image = new ImageExecutor(noiseSeed, noise);
  }

  execute(request: ExecutionRequest): Promise<ExecutionResult> {
    return isImageTask(request.taskType) ? this.image.execute(request) : this.text.execute(request);
  }
}

/**
 * A dishonest node for demos and tests: it skips the work and makes up a result it can still prove (its score is
 * the made-up result's own hash). Images: the honest image's negative, whose pHash differs in almost every bit;
 * text: a fixed sentence. A validation group catches it; an unsampled task pays it.
 */
export class DishonestExecutor implements Executor {
  readonly name = "dishonest";
  private readonly honest = new StandInExecutor("", { fraction: 0, amplitude: 0 });

  async execute(request: ExecutionRequest): Promise<ExecutionResult> {
    const { result } = await this.honest.execute(request);
    if (isImageTask(request.taskType)) return { result: result.map((p) => 255 - p) };
    return { result: toUtf8Bytes("made-up result") };
  }
}
