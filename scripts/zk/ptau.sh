#!/usr/bin/env bash
# Generates the universal powers-of-tau file used by every circuit's Groth16 setup, entirely locally.
#
#   bash scripts/zk/ptau.sh [POWER] [OUT_DIR]      (defaults: 16, circuits/ptau)
#
# Steps: `powersoftau new` -> one contribution with 64 bytes from /dev/urandom, piped to snarkjs's entropy prompt
# (never on the command line, in the environment or on disk; snarkjs also mixes in 64 bytes of its own) ->
# `powersoftau prepare phase2`. On the 2-core development machine 2^16 takes about 20-30 minutes, almost
# all of it in `prepare phase2`, so the prepared file is generated once and committed
# (circuits/ptau/pot16_final.ptau); CI never runs this script.
#
# This is a single-party phase 1: whoever ran it and kept its secret could forge proofs for every circuit set up
# from it, whatever phase 2 did. A live deployment uses a public multi-party phase 1 instead (docs/trusted-setup.md).
set -euo pipefail
POWER="${1:-16}"
OUT="${2:-circuits/ptau}"
SNARKJS="node node_modules/snarkjs/build/cli.cjs"
mkdir -p "$OUT"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
$SNARKJS powersoftau new bn128 "$POWER" "$tmp/pot_0000.ptau"
{
  head -c 64 /dev/urandom | base64 -w0
  echo
} | $SNARKJS powersoftau contribute "$tmp/pot_0000.ptau" "$tmp/pot_0001.ptau" --name="vss-task-network local contribution"
$SNARKJS powersoftau prepare phase2 "$tmp/pot_0001.ptau" "$OUT/pot${POWER}_final.ptau"
$SNARKJS powersoftau verify "$OUT/pot${POWER}_final.ptau" > "$tmp/verify.log" 2>&1 || { cat "$tmp/verify.log"; exit 1; }
echo "ptau 2^$POWER ready in $OUT/pot${POWER}_final.ptau after $(( $(date +%s) - start )) s"
sha256sum "$OUT/pot${POWER}_final.ptau"
