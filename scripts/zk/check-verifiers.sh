#!/usr/bin/env bash
# CI check of the trusted setup and of the verifiers the contracts are built with (npm run zk:check).
#
#   bash scripts/zk/check-verifiers.sh [Name ...]        (default: every circuits/*.circom with a `component main`)
#
# For each circuit, on the artefacts of $VSS_ZK_DIR/<Name>/ (default build/zk/<Name>/, see build.sh), without
# rebuilding or changing anything:
#   - the r1cs was compiled from the current sources (compile.sha256), so the check is about this circuit;
#   - `snarkjs zkey verify` of <Name>_final.zkey against the r1cs and the ptau passes, and the chain has at least one
#     contribution that is not a public beacon (a setup-only or beacon-only zkey lets anyone forge proofs);
#   - verification_key.json is the key of that zkey, and the constants of contracts/verifiers/<Name>Verifier.sol
#     (α, β, γ, δ, every ICᵢ, the number of public signals) are that key;
#   - the zkey's sha256 is the one its transcript recorded.
# Also fails when a verifier is tracked by Git (they are generated per setup: docs/trusted-setup.md).
# `zkey verify` recomputes the setup, so this takes about as long as the build's setup step.
set -euo pipefail
cd "$(dirname "$0")/../.."

ZK_DIR="${VSS_ZK_DIR:-build/zk}"
PTAU="${VSS_ZK_PTAU:-circuits/ptau/pot16_final.ptau}"
VERIFIER_DIR="${VERIFIER_OUT_DIR:-contracts/verifiers}"
CEREMONY=(node node_modules/tsx/dist/cli.mjs scripts/zk/ceremony.ts)
export NODE_OPTIONS="${NODE_OPTIONS:---max-old-space-size=8192}"
# shellcheck source=scripts/zk/common.sh
source scripts/zk/common.sh

SELECTED=("$@")
[ ${#SELECTED[@]} -eq 0 ] && mapfile -t SELECTED < <(all_circuits)

status=0
for name in "${SELECTED[@]}"; do
  dir="$ZK_DIR/$name"
  sol="$VERIFIER_DIR/${name}Verifier.sol"
  missing=()
  for f in "$dir/${name}.r1cs" "$dir/${name}_final.zkey" "$dir/verification_key.json" "$sol"; do
    [ -f "$f" ] || missing+=("$f")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "FAIL  $name: missing ${missing[*]} (run npm run zk:build)"
    status=1
    continue
  fi
  if [ "$(cat "$dir/compile.sha256" 2> /dev/null)" != "$(compile_hash "circuits/${name}.circom")" ]; then
    echo "FAIL  $name: $dir/${name}.r1cs is not compiled from the current circuits/${name}.circom (run npm run zk:build)"
    status=1
    continue
  fi
  t=$(date +%s)
  if ! "${CEREMONY[@]}" check "$dir/${name}.r1cs" "$PTAU" "$dir/${name}_final.zkey" "$dir/verification_key.json" "$sol"; then
    echo "FAIL  $name"
    status=1
  else
    echo "      $name checked in $(($(date +%s) - t)) s"
  fi
done

if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  tracked="$(git ls-files -- "$VERIFIER_DIR/*.sol")"
  if [ -n "$tracked" ]; then
    echo "FAIL  generated verifiers are tracked by Git (each setup makes its own; see docs/trusted-setup.md):"
    echo "$tracked"
    status=1
  fi
fi
exit "$status"
