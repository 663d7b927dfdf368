#!/usr/bin/env bash
# CI check: the committed contracts/verifiers/<Name>Verifier.sol are exactly what the deterministically derived
# zkeys export.
#
#   bash scripts/zk/check-verifiers.sh [--force] [Name ...]     (npm run zk:check)
#
# Runs scripts/zk/build.sh (which uses build/zk/ as a cache when the circuit sources are unchanged) with the
# verifiers exported into a temporary directory, then compares them byte for byte with the committed files. A
# circuit whose source exists but whose verifier is missing or different fails the check. Also reports uncommitted
# changes under contracts/verifiers/ when run inside a Git work tree.
set -euo pipefail
cd "$(dirname "$0")/../.."

fresh="$(mktemp -d)"
trap 'rm -rf "$fresh"' EXIT
VERIFIER_OUT_DIR="$fresh" bash scripts/zk/build.sh "$@"

status=0
checked=0
for exported in "$fresh"/*Verifier.sol; do
  [ -e "$exported" ] || continue
  name="$(basename "$exported")"
  committed="contracts/verifiers/$name"
  checked=$((checked + 1))
  if [ ! -f "$committed" ]; then
    echo "FAIL  $committed is missing (run npm run zk:build and commit it)"
    status=1
  elif cmp -s "$exported" "$committed"; then
    echo "ok    $committed matches the export of build/zk/${name%Verifier.sol}/${name%Verifier.sol}_final.zkey"
  else
    echo "FAIL  $committed differs from the export of the derived zkey:"
    diff -u "$committed" "$exported" | head -40 || true
    status=1
  fi
done
[ "$checked" -gt 0 ] || { echo "FAIL  no verifier was exported"; status=1; }

if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  if ! git diff --quiet -- contracts/verifiers/ || [ -n "$(git ls-files --others --exclude-standard -- contracts/verifiers/)" ]; then
    echo "note  contracts/verifiers/ has uncommitted changes:"
    git status --short -- contracts/verifiers/
  fi
fi
exit "$status"
