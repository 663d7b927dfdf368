/** The part of circomlibjs 0.1.7 (untyped JavaScript) that `blob.ts` uses: its WebAssembly Poseidon. */
declare module "circomlibjs" {
  /** A Poseidon hasher over the BN254 scalar field, built once from circomlib's constants. */
  export interface WasmPoseidon {
    (inputs: bigint[]): Uint8Array;
    F: { toObject(element: Uint8Array): bigint };
  }
  export function buildPoseidon(): Promise<WasmPoseidon>;
}
