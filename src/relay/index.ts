/** The DA/Relay service: library API. See ./README.md. */
export {
  ChainIdentityError,
  StoreUnavailableError,
  createRelay,
  errorMessage,
  RELAY_DEFAULTS,
  RELAY_ROLE,
  RELAY_ROOTS_ABI,
  type Relay,
  type RelayOptions,
} from "./relay.js";
export {
  API_PREFIX,
  HEADER_ADDRESS,
  HEADER_BLOB_HASH,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  MAX_CLOCK_SKEW_S,
  UPLOAD_DOMAIN,
  BlobFormatError,
  blobElementsFromBytes,
  blobHashOfBytes,
  signUpload,
  uploadDigest,
  type ErrorResponse,
  type HealthResponse,
  type Hex32,
  type PendingResponse,
  type PosterState,
  type ProofResponse,
  type SignedUpload,
  type UploadResponse,
} from "./protocol.js";
export {
  RelayBlobMismatchError,
  RelayClient,
  RelayHttpError,
  RelayProofInvalidError,
  type RelayClientOptions,
} from "./client.js";
export {
  SqliteBlobStore,
  type BatchRecord,
  type BatchStatus,
  type BlobInfo,
  type BlobStore,
  type NewBlob,
} from "./store.js";
export { TokenBuckets, type RateLimit } from "./ratelimit.js";
export { InlineVerifier, SignatureError, type UploadVerifier, type VerifiedUpload } from "./verify.js";
export { WorkerVerifier } from "./verify-pool.js";
