/**
 * The relay's persistence, behind the `BlobStore` interface, and its SQLite implementation (`node:sqlite`).
 *
 * Durability: `putBlob` resolves only after the transaction that holds the blob has committed. The SQLite store
 * runs in WAL mode with `synchronous=FULL`, so every commit fsyncs the write-ahead log: an acknowledged blob survives
 * a process crash and a power failure. (`synchronous=NORMAL` in WAL mode would survive a process crash but could lose
 * the last commits on power loss, which would break the promise of the 201.) The fsync cost is amortised by group
 * commit: the uploads that become ready while one commit's fsync blocks the thread, or in the same event-loop turn,
 * are inserted together in the next transaction.
 *
 * Batches: a batch's composition is written (one transaction: the batch row, one `batch_blobs` row per member and
 * each member's `blobs.batch_id`) before its root is ever sent to the chain, so the root is a function of the
 * database and a restarted relay posts exactly the same root.
 *
 * A larger deployment implements the same interface with the bytes on an object store (write the object, then
 * commit the metadata row; an object without a row is garbage, never an acknowledged blob) and the metadata in a
 * replicated SQL database; see ./README.md.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Hex32 } from "./protocol.js";

/** A blob to store. */
export interface NewBlob {
  hash: Hex32;
  bytes: Uint8Array;
  uploader: string;
  /** Milliseconds since the epoch. */
  receivedAt: number;
}

/** pending: composition fixed, root not sent; posting: a transaction may have been sent; posted: root on-chain. */
export type BatchStatus = "pending" | "posting" | "posted";

/** A closed batch. */
export interface BatchRecord {
  id: number;
  root: Hex32;
  blobCount: number;
  status: BatchStatus;
  /** Milliseconds since the epoch. */
  createdAt: number;
  txHash: string | null;
  blockNumber: number | null;
  /** Chain timestamp (seconds) of the post, from `rootPostedAt`. */
  postedAt: number | null;
  attempts: number;
  lastError: string | null;
}

/** What the relay knows about a stored blob. */
export interface BlobInfo {
  hash: Hex32;
  size: number;
  uploader: string;
  receivedAt: number;
  batchId: number | null;
}

/** Counters for `/v1/health`. */
export interface StoreStats {
  totalBlobs: number;
  unbatchedBlobs: number;
  /** Blobs without a posted root (unbatched or in an unposted batch). */
  pendingBlobs: number;
  pendingBatches: number;
  postedBatches: number;
  lastPosted: BatchRecord | null;
}

/** Everything the relay persists. All writes are durable when their promise resolves. */
export interface BlobStore {
  /** Stores a blob (idempotent); resolves after the commit with true when it was new. */
  putBlob(blob: NewBlob): Promise<boolean>;
  /** The bytes of a blob, or undefined. */
  getBlob(hash: Hex32): Promise<Uint8Array | undefined>;
  /** The metadata of a blob, or undefined. */
  blobInfo(hash: Hex32): Promise<BlobInfo | undefined>;
  /** Number of blobs not yet in a batch, and the oldest one's receive time (ms) or null. */
  unbatched(): Promise<{ count: number; oldestReceivedAt: number | null }>;
  /**
   * Closes a batch of at most `maxBlobs` unbatched blobs, oldest first, with the root `rootOf(hashes)`; writes its
   * composition atomically and returns it (null when nothing is unbatched).
   */
  closeBatch(maxBlobs: number, rootOf: (hashes: Hex32[]) => Hex32): Promise<BatchRecord | null>;
  /** The member hashes of a batch in their stored order. */
  batchMembers(batchId: number): Promise<Hex32[]>;
  getBatch(batchId: number): Promise<BatchRecord | undefined>;
  /** Batches whose root is not known to be on-chain, oldest first. */
  unpostedBatches(): Promise<BatchRecord[]>;
  /** Marks a batch as being posted (before sending), optionally with the transaction hash (after sending). */
  markPosting(batchId: number, txHash: string | null): Promise<void>;
  markPosted(batchId: number, txHash: string | null, blockNumber: number | null, postedAt: number): Promise<void>;
  /** Records a failed posting attempt. */
  recordFailure(batchId: number, error: string): Promise<void>;
  stats(): Promise<StoreStats>;
  /** Reads (or on first use writes) a configuration value; used to pin the database to one chain and contract. */
  pin(key: string, value: string): Promise<string>;
  /** Overwrites a configuration value (re-pinning after an operator accepted a chain reset). */
  setMeta(key: string, value: string): Promise<void>;
  /** Every posted batch, oldest first (re-checked against the chain at start). */
  postedBatches(): Promise<BatchRecord[]>;
  /**
   * Returns posted batches to `pending` (no transaction, block or time), because their roots are not on-chain: a
   * reorg or a chain reset dropped them. Their composition, and so their root, stays the same.
   */
  markUnposted(batchIds: readonly number[]): Promise<void>;
  close(): Promise<void>;
}

interface BatchRow {
  id: number;
  root: string;
  blob_count: number;
  status: BatchStatus;
  created_at: number;
  tx_hash: string | null;
  block_number: number | null;
  posted_at: number | null;
  attempts: number;
  last_error: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
  id           INTEGER PRIMARY KEY,
  root         TEXT NOT NULL UNIQUE,
  blob_count   INTEGER NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('pending', 'posting', 'posted')),
  created_at   INTEGER NOT NULL,
  tx_hash      TEXT,
  block_number INTEGER,
  posted_at    INTEGER,
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_error   TEXT
);
CREATE TABLE IF NOT EXISTS blobs (
  hash        TEXT PRIMARY KEY,
  bytes       BLOB NOT NULL,
  size        INTEGER NOT NULL,
  uploader    TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  batch_id    INTEGER REFERENCES batches (id)
);
CREATE INDEX IF NOT EXISTS blobs_unbatched ON blobs (batch_id) WHERE batch_id IS NULL;
CREATE TABLE IF NOT EXISTS batch_blobs (
  batch_id  INTEGER NOT NULL REFERENCES batches (id),
  position  INTEGER NOT NULL,
  blob_hash TEXT NOT NULL UNIQUE REFERENCES blobs (hash),
  PRIMARY KEY (batch_id, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS batches_unposted ON batches (status) WHERE status <> 'posted';
`;

function toBatch(row: BatchRow): BatchRecord {
  return {
    id: row.id,
    root: row.root,
    blobCount: row.blob_count,
    status: row.status,
    createdAt: row.created_at,
    txHash: row.tx_hash,
    blockNumber: row.block_number,
    postedAt: row.posted_at,
    attempts: row.attempts,
    lastError: row.last_error,
  };
}

interface QueuedPut {
  blob: NewBlob;
  resolve: (isNew: boolean) => void;
  reject: (error: unknown) => void;
}

/** Options of `SqliteBlobStore`. */
export interface SqliteStoreOptions {
  /** `FULL` (default): every commit is fsynced. `NORMAL`: faster, may lose the last commits on power loss. */
  synchronous?: "FULL" | "NORMAL";
  /**
   * Group commit window: uploads arriving within this time of the first one share a transaction and its fsync.
   * 0 (the default) commits at the end of the current event-loop turn, which measured best: while one fsync blocks
   * the thread, the next group gathers anyway.
   */
  groupCommitMs?: number;
}

/** `BlobStore` on one SQLite file (blob bytes inline), WAL mode, group commit. One process per file. */
export class SqliteBlobStore implements BlobStore {
  private readonly db: DatabaseSync;
  private readonly s: Record<string, StatementSync>;
  private queue: QueuedPut[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly groupCommitMs: number;

  constructor(
    readonly path: string,
    options: SqliteStoreOptions = {},
  ) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.groupCommitMs = options.groupCommitMs ?? 0;
    this.db = new DatabaseSync(path, { enableForeignKeyConstraints: true });
    try {
      // One relay process per database: EXCLUSIVE locking makes a second process fail at once instead of racing.
      this.db.exec("PRAGMA locking_mode = EXCLUSIVE");
      this.db.exec("PRAGMA journal_mode = WAL");
      this.db.exec(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`);
      this.db.exec("BEGIN IMMEDIATE");
      this.db.exec(SCHEMA);
      this.db.exec("COMMIT");
    } catch (error) {
      this.db.close();
      const message = error instanceof Error ? error.message : String(error);
      if (/locked|busy/i.test(message)) {
        throw new Error(
          `the relay database ${path} is in use by another process (${message}); stop the other relay or use another --db`,
        );
      }
      throw error;
    }
    const p = (sql: string) => this.db.prepare(sql);
    this.s = {
      insertBlob: p(
        "INSERT INTO blobs (hash, bytes, size, uploader, received_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING",
      ),
      getBytes: p("SELECT bytes FROM blobs WHERE hash = ?"),
      info: p("SELECT hash, size, uploader, received_at, batch_id FROM blobs WHERE hash = ?"),
      unbatchedCount: p("SELECT count(*) AS n FROM blobs WHERE batch_id IS NULL"),
      oldestUnbatched: p("SELECT received_at FROM blobs WHERE batch_id IS NULL ORDER BY rowid LIMIT 1"),
      takeUnbatched: p("SELECT hash FROM blobs WHERE batch_id IS NULL ORDER BY rowid LIMIT ?"),
      insertBatch: p("INSERT INTO batches (root, blob_count, status, created_at) VALUES (?, ?, 'pending', ?)"),
      insertMember: p("INSERT INTO batch_blobs (batch_id, position, blob_hash) VALUES (?, ?, ?)"),
      setBlobBatch: p("UPDATE blobs SET batch_id = ? WHERE hash = ?"),
      members: p("SELECT blob_hash FROM batch_blobs WHERE batch_id = ? ORDER BY position"),
      getBatch: p("SELECT * FROM batches WHERE id = ?"),
      unposted: p("SELECT * FROM batches WHERE status <> 'posted' ORDER BY id"),
      markPosting: p("UPDATE batches SET status = 'posting', tx_hash = coalesce(?, tx_hash) WHERE id = ?"),
      markPosted: p(
        "UPDATE batches SET status = 'posted', tx_hash = coalesce(?, tx_hash), block_number = ?, posted_at = ?, last_error = NULL WHERE id = ?",
      ),
      failure: p("UPDATE batches SET attempts = attempts + 1, last_error = ? WHERE id = ?"),
      totalBlobs: p("SELECT count(*) AS n FROM blobs"),
      pendingInBatches: p(
        "SELECT coalesce(sum(blob_count), 0) AS n, count(*) AS b FROM batches WHERE status <> 'posted'",
      ),
      postedBatches: p("SELECT count(*) AS n FROM batches WHERE status = 'posted'"),
      lastPosted: p("SELECT * FROM batches WHERE status = 'posted' ORDER BY id DESC LIMIT 1"),
      getMeta: p("SELECT value FROM meta WHERE key = ?"),
      setMeta: p("INSERT INTO meta (key, value) VALUES (?, ?)"),
      replaceMeta: p(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ),
      posted: p("SELECT * FROM batches WHERE status = 'posted' ORDER BY id"),
      unpost: p(
        "UPDATE batches SET status = 'pending', tx_hash = NULL, block_number = NULL, posted_at = NULL WHERE id = ?",
      ),
    };
  }

  putBlob(blob: NewBlob): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error("the blob store is closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ blob, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        if (this.groupCommitMs > 0) setTimeout(() => this.flush(), this.groupCommitMs);
        else setImmediate(() => this.flush());
      }
    });
  }

  /** Group commit: every queued blob in one transaction, then every promise. */
  private flush(): void {
    this.flushScheduled = false;
    const items = this.queue;
    this.queue = [];
    if (items.length === 0) return;
    const results: boolean[] = [];
    try {
      this.db.exec("BEGIN IMMEDIATE");
      for (const { blob } of items) {
        const r = this.s.insertBlob.run(
          blob.hash,
          blob.bytes,
          blob.bytes.length,
          blob.uploader.toLowerCase(),
          blob.receivedAt,
        );
        results.push(Number(r.changes) === 1);
      }
      this.db.exec("COMMIT");
    } catch (error) {
      try {
        if (this.db.isTransaction) this.db.exec("ROLLBACK");
      } catch {
        // the original error is what matters
      }
      for (const item of items) item.reject(error);
      return;
    }
    items.forEach((item, i) => item.resolve(results[i]));
  }

  async getBlob(hash: Hex32): Promise<Uint8Array | undefined> {
    const row = this.s.getBytes.get(hash.toLowerCase()) as { bytes: Uint8Array } | undefined;
    return row?.bytes;
  }

  async blobInfo(hash: Hex32): Promise<BlobInfo | undefined> {
    const row = this.s.info.get(hash.toLowerCase()) as
      { hash: string; size: number; uploader: string; received_at: number; batch_id: number | null } | undefined;
    if (!row) return undefined;
    return {
      hash: row.hash,
      size: row.size,
      uploader: row.uploader,
      receivedAt: row.received_at,
      batchId: row.batch_id,
    };
  }

  async unbatched(): Promise<{ count: number; oldestReceivedAt: number | null }> {
    const count = (this.s.unbatchedCount.get() as { n: number }).n;
    const oldest = this.s.oldestUnbatched.get() as { received_at: number } | undefined;
    return { count, oldestReceivedAt: oldest?.received_at ?? null };
  }

  async closeBatch(maxBlobs: number, rootOf: (hashes: Hex32[]) => Hex32): Promise<BatchRecord | null> {
    const hashes = (this.s.takeUnbatched.all(maxBlobs) as { hash: string }[]).map((r) => r.hash);
    if (hashes.length === 0) return null;
    const root = rootOf(hashes).toLowerCase();
    let id: number;
    this.db.exec("BEGIN IMMEDIATE");
    try {
      id = Number(this.s.insertBatch.run(root, hashes.length, Date.now()).lastInsertRowid);
      hashes.forEach((h, i) => {
        this.s.insertMember.run(id, i, h);
        this.s.setBlobBatch.run(id, h);
      });
      this.db.exec("COMMIT");
    } catch (error) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw error;
    }
    return toBatch(this.s.getBatch.get(id) as unknown as BatchRow);
  }

  async batchMembers(batchId: number): Promise<Hex32[]> {
    return (this.s.members.all(batchId) as { blob_hash: string }[]).map((r) => r.blob_hash);
  }

  async getBatch(batchId: number): Promise<BatchRecord | undefined> {
    const row = this.s.getBatch.get(batchId) as unknown as BatchRow | undefined;
    return row ? toBatch(row) : undefined;
  }

  async unpostedBatches(): Promise<BatchRecord[]> {
    return (this.s.unposted.all() as unknown as BatchRow[]).map(toBatch);
  }

  async markPosting(batchId: number, txHash: string | null): Promise<void> {
    this.s.markPosting.run(txHash, batchId);
  }

  async markPosted(
    batchId: number,
    txHash: string | null,
    blockNumber: number | null,
    postedAt: number,
  ): Promise<void> {
    this.s.markPosted.run(txHash, blockNumber, postedAt, batchId);
  }

  async recordFailure(batchId: number, error: string): Promise<void> {
    this.s.failure.run(error.slice(0, 2000), batchId);
  }

  async stats(): Promise<StoreStats> {
    const unbatchedBlobs = (this.s.unbatchedCount.get() as { n: number }).n;
    const inBatches = this.s.pendingInBatches.get() as { n: number; b: number };
    const last = this.s.lastPosted.get() as unknown as BatchRow | undefined;
    return {
      totalBlobs: (this.s.totalBlobs.get() as { n: number }).n,
      unbatchedBlobs,
      pendingBlobs: unbatchedBlobs + inBatches.n,
      pendingBatches: inBatches.b,
      postedBatches: (this.s.postedBatches.get() as { n: number }).n,
      lastPosted: last ? toBatch(last) : null,
    };
  }

  async pin(key: string, value: string): Promise<string> {
    const row = this.s.getMeta.get(key) as { value: string } | undefined;
    if (row) return row.value;
    this.s.setMeta.run(key, value);
    return value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.s.replaceMeta.run(key, value);
  }

  async postedBatches(): Promise<BatchRecord[]> {
    return (this.s.posted.all() as unknown as BatchRow[]).map(toBatch);
  }

  async markUnposted(batchIds: readonly number[]): Promise<void> {
    if (batchIds.length === 0) return;
    this.db.exec("BEGIN IMMEDIATE");
    try {
      for (const id of batchIds) this.s.unpost.run(id);
      this.db.exec("COMMIT");
    } catch (error) {
      if (this.db.isTransaction) this.db.exec("ROLLBACK");
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.queue.length > 0) this.flush();
    this.db.close();
  }
}
