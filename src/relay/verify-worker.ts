/** Worker thread of `WorkerVerifier`: runs `verifyUpload` for the main thread. */
import { parentPort } from "node:worker_threads";
import { BlobFormatError } from "./protocol.js";
import { SignatureError, verifyUpload } from "./verify.js";
import type { VerifyRequest, VerifyResult } from "./verify-pool.js";

parentPort!.on("message", (req: VerifyRequest) => {
  let out: VerifyResult;
  try {
    out = { id: req.id, ok: verifyUpload(req.body, req.timestamp, req.signature, req.expected) };
  } catch (error) {
    const kind = error instanceof BlobFormatError ? "format" : error instanceof SignatureError ? "signature" : "other";
    out = { id: req.id, error: { kind, message: (error as Error).message } };
  }
  parentPort!.postMessage(out);
});
