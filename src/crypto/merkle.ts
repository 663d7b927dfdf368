/**
 * Relay batches as Merkle trees (DESIGN §3).
 *
 * A batch is OpenZeppelin's standard Merkle tree over the blob hashes, `StandardMerkleTree.of(leaves, ["bytes32"])`:
 * leaf = keccak256(bytes.concat(keccak256(abi.encode(blobHash)))), sorted-pair hashing. `RelayRoots.verifyBlob`
 * checks exactly this encoding with OpenZeppelin's `MerkleProof`.
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import type { Bytes32 } from "./commitment.js";

/** Where a blob sits: the batch root and its sibling path. */
export interface BlobInclusion {
  blobHash: Bytes32;
  root: Bytes32;
  proof: Bytes32[];
}

/** A closed batch of blob hashes with its tree. */
export class BlobBatch {
  readonly tree: StandardMerkleTree<[string]>;
  private readonly index = new Map<string, number>();

  /** @param blobHashes The batch's blob hashes (at least one; duplicates are kept once). */
  constructor(blobHashes: readonly Bytes32[]) {
    const unique = [...new Set(blobHashes.map((h) => h.toLowerCase()))];
    if (unique.length === 0) throw new Error("a batch needs at least one blob hash");
    this.tree = StandardMerkleTree.of(
      unique.map((h) => [h] as [string]),
      ["bytes32"],
    );
    for (const [i, [value]] of this.tree.entries()) this.index.set(value.toLowerCase(), i);
  }

  /** The root that the relay posts on-chain. */
  get root(): Bytes32 {
    return this.tree.root;
  }

  /** Number of distinct blobs in the batch. */
  get size(): number {
    return this.index.size;
  }

  /** The inclusion proof of `blobHash`; throws when the blob is not in this batch. */
  inclusion(blobHash: Bytes32): BlobInclusion {
    const i = this.index.get(blobHash.toLowerCase());
    if (i === undefined) throw new Error(`blob ${blobHash} is not in batch ${this.root}`);
    return { blobHash, root: this.root, proof: this.tree.getProof(i) };
  }
}

/** Checks an inclusion proof off-chain, with the same leaf encoding as `RelayRoots.verifyBlob`. */
export function verifyInclusion({ blobHash, root, proof }: BlobInclusion): boolean {
  return StandardMerkleTree.verify(root, ["bytes32"], [blobHash], proof);
}
