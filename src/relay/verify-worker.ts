/** Worker process of `WorkerVerifier`: runs `verifyUpload` for the relay; exits when the relay goes away. */
import { BlobFormatError } from "./protocol.js";
import { SignatureError, hashBody, recoverUploader, verifyUpload } from "./verify.js";
import type { VerifyRequest, VerifyResult } from "./verify-pool.js";
import { useWasmPoseidon } from "../crypto/blob.js";

if (!process.send) throw new Error("verify-worker runs as a child process of WorkerVerifier (it needs an IPC channel)");
const send = process.send.bind(process);
const ready = useWasmPoseidon(); // listen at once: IPC messages that arrive before a listener are dropped

process.on("message", async (req: VerifyRequest) => {
  await ready;
  let out: VerifyResult;
  try {
    if (req.kind === "hash") out = { id: req.id, ok: { blobHash: hashBody(req.body), signer: "" } };
    else if (req.kind === "recover") {
      const signer = recoverUploader(req.blobHash, req.timestamp, req.signature, req.expected);
      out = { id: req.id, ok: { blobHash: req.blobHash, signer } };
    } else out = { id: req.id, ok: verifyUpload(req.body, req.timestamp, req.signature, req.expected) };
  } catch (error) {
    const kind = error instanceof BlobFormatError ? "format" : error instanceof SignatureError ? "signature" : "other";
    out = { id: req.id, error: { kind, message: (error as Error).message } };
  }
  send(out);
});
process.on("disconnect", () => process.exit(0));
