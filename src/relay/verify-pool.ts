/**
 * `UploadVerifier` on a pool of worker processes, so that hashing and signature recovery use every core while the
 * main thread serves HTTP and commits. Processes rather than worker threads: circomlibjs's WebAssembly Poseidon
 * (see `useWasmPoseidon`) imports the `web-worker` package, which takes over any worker thread that loads it. Workers
 * run ./verify-worker.ts with tsx (inherited from `tsx` runs, added explicitly under Hardhat, which registers tsx
 * in-process); requests and answers travel over the IPC channel with structured-clone serialisation.
 */
import { fork, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import { BlobFormatError } from "./protocol.js";
import { SignatureError, type UploadVerifier, type VerifiedUpload } from "./verify.js";

/**
 * A request to a worker: `verify` (body and signature), `hash` (body only) or `recover` (signature over `blobHash`
 * only); `signer` is empty in the answer of a `hash`, `blobHash` echoes the request in that of a `recover`.
 */
export type VerifyRequest =
  | { id: number; kind?: "verify"; body: Uint8Array; timestamp: number; signature: string; expected?: string }
  | { id: number; kind: "hash"; body: Uint8Array }
  | { id: number; kind: "recover"; blobHash: string; timestamp: number; signature: string; expected: string };

/** A worker's answer. */
export type VerifyResult =
  | { id: number; ok: VerifiedUpload; error?: undefined }
  | { id: number; ok?: undefined; error: { kind: "format" | "signature" | "other"; message: string } };

interface Pending {
  resolve: (v: VerifiedUpload) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: ChildProcess;
  /** Ids of the requests this worker has not answered yet. */
  ids: Set<number>;
}

/** Least-busy dispatch over `threads` worker processes (default: cores − 1, at least 1); one that dies is replaced. */
export class WorkerVerifier implements UploadVerifier {
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private readonly url: URL;
  private readonly execArgv: string[] | undefined;

  constructor(threads: number = Math.max(1, availableParallelism() - 1)) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError("WorkerVerifier needs at least one thread");
    const isTs = import.meta.url.endsWith(".ts");
    this.url = new URL(`./verify-worker${isTs ? ".ts" : ".js"}`, import.meta.url);
    // Hardhat registers tsx programmatically, which worker threads do not inherit: load it explicitly.
    this.execArgv =
      isTs && !process.execArgv.some((a) => a.includes("tsx"))
        ? [...process.execArgv, "--import", import.meta.resolve("tsx/esm")]
        : undefined;
    for (let i = 0; i < threads; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = fork(this.url, [], {
      execArgv: this.execArgv,
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const slot: Slot = { worker, ids: new Set() };
    worker.on("message", (res: VerifyResult) => {
      slot.ids.delete(res.id);
      const p = this.pending.get(res.id);
      if (!p) return;
      this.pending.delete(res.id);
      if (res.ok) p.resolve(res.ok);
      else if (res.error.kind === "format") p.reject(new BlobFormatError(res.error.message));
      else if (res.error.kind === "signature") p.reject(new SignatureError(res.error.message));
      else p.reject(new Error(res.error.message));
    });
    const died = (reason: unknown) => {
      const error = new Error(`a verification worker died (${String(reason)}); retry the upload`);
      for (const id of slot.ids) {
        this.pending.get(id)?.reject(error);
        this.pending.delete(id);
      }
      slot.ids.clear();
      const i = this.slots.indexOf(slot);
      if (!this.closed && i >= 0) this.slots[i] = this.spawn();
    };
    worker.on("error", (error) => died(error.message));
    worker.on("exit", (code, signal) => died(signal ?? `exit code ${code}`));
    return slot;
  }

  verify(body: Uint8Array, timestamp: number, signature: string, expected?: string): Promise<VerifiedUpload> {
    return this.dispatch({ id: 0, body, timestamp, signature, expected });
  }

  async recover(blobHash: string, timestamp: number, signature: string, expected: string): Promise<string> {
    return (await this.dispatch({ id: 0, kind: "recover", blobHash, timestamp, signature, expected })).signer;
  }

  async hash(body: Uint8Array): Promise<string> {
    return (await this.dispatch({ id: 0, kind: "hash", body })).blobHash;
  }

  private dispatch(req: VerifyRequest): Promise<VerifiedUpload> {
    if (this.closed) return Promise.reject(new Error("the verifier is closed"));
    const id = this.nextId++;
    let slot = this.slots[0];
    for (const s of this.slots) if (s.ids.size < slot.ids.size) slot = s;
    slot.ids.add(id);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      slot.worker.send({ ...req, id });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.worker.exitCode !== null || s.worker.signalCode !== null) return resolve();
            s.worker.once("exit", () => resolve());
            s.worker.kill();
          }),
      ),
    );
    this.slots.length = 0;
    for (const [, p] of this.pending) p.reject(new Error("the verifier is closed"));
    this.pending.clear();
  }
}
