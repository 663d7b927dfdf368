#!/usr/bin/env bash
# Builds every circuit of the protocol: r1cs/wasm/sym -> Groth16 zkey -> verification key -> Solidity verifier.
#
#   bash scripts/zk/build.sh [--force] [Name ...]        (default: all circuits in CIRCUITS below)
#   npm run zk:build
#
# For each circuit `circuits/<Name>.circom` (which must declare `component main`):
#   1. circom2 --r1cs --wasm --sym --O2 -l node_modules        -> build/zk/<Name>/<Name>.r1cs, <Name>_js/<Name>.wasm
#   2. snarkjs groth16 setup with circuits/ptau/pot16_final.ptau -> <Name>_0000.zkey   (deterministic)
#   3. snarkjs zkey beacon with the fixed BEACON_HASH below, 2^10 iterations -> <Name>_final.zkey (deterministic)
#   4. snarkjs zkey export verificationkey                     -> build/zk/<Name>/verification_key.json
#   5. snarkjs zkey export solidityverifier, contract renamed to <Name>Verifier, with a do-not-edit header
#                                                              -> contracts/verifiers/<Name>Verifier.sol
# Steps 2-3 contain no randomness, so the final zkey, and hence the committed verifier, is a pure function of the
# circuit sources, the ptau file and the tool versions; scripts/zk/check-verifiers.sh relies on this.
#
# Beacon: BEACON_HASH = sha256("vss-task-network beacon v1") (hex, no 0x: snarkjs's CLI rejects the prefix)
#       = 7a67e61e43f94e728481ebf10d5e4b977f18760c27078076ef32db1c27863dd0 (recomputed and checked below),
#   numIterationsExp = 10 (2^10 hash iterations).
# A fixed public beacon adds no secrecy: together with the single-party ptau (circuits/ptau/README.md) this is a
# DEVELOPMENT setup. A production deployment replaces the ptau with a public ceremony's and runs a real
# multi-party phase 2 before the beacon.
#
# Cache: build/zk/<Name>/inputs.sha256 holds the sha256 of (circuits/<Name>.circom and every file it includes,
# transitively, circomlib's included; the ptau sha256; this script; the circom2 and snarkjs versions). When it
# matches, steps 1-4 are skipped; step 5 always runs (it is cheap and keeps contracts/verifiers/ in sync with the
# zkey). --force ignores the cache.
#
# Env: VERIFIER_OUT_DIR (default contracts/verifiers) — check-verifiers.sh exports into a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/../.."

CIRCUITS=(ParamsConsistency ResultAvailability)
PTAU=circuits/ptau/pot16_final.ptau
BEACON_TEXT="vss-task-network beacon v1"
BEACON_ITERATIONS_EXP=10
OUT_ROOT=build/zk
VERIFIER_OUT_DIR="${VERIFIER_OUT_DIR:-contracts/verifiers}"
CIRCOM=(node node_modules/circom2/cli.js)
SNARKJS=(node node_modules/snarkjs/build/cli.cjs)
export NODE_OPTIONS="${NODE_OPTIONS:---max-old-space-size=8192}"

FORCE=0
SELECTED=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) SELECTED+=("$arg") ;;
  esac
done
[ ${#SELECTED[@]} -eq 0 ] && SELECTED=("${CIRCUITS[@]}")

BEACON_HASH="$(printf '%s' "$BEACON_TEXT" | sha256sum | cut -d' ' -f1)"
[ "$BEACON_HASH" = "7a67e61e43f94e728481ebf10d5e4b977f18760c27078076ef32db1c27863dd0" ] || { echo "beacon mismatch"; exit 1; }
[ -f "$PTAU" ] || { echo "missing $PTAU (see circuits/ptau/README.md)"; exit 1; }
PTAU_SHA="$(sha256sum "$PTAU" | cut -d' ' -f1)"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The circuit's own sources: circuits/<Name>.circom and every file it includes, transitively (resolved like circom:
# relative to the including file, then under node_modules), so that editing one circuit does not rebuild the others.
circuit_sources() {
  node -e '
    const fs = require("fs"), path = require("path");
    const seen = new Set(), todo = [path.resolve(process.argv[1])];
    while (todo.length) {
      const f = todo.pop();
      if (seen.has(f)) continue;
      seen.add(f);
      for (const m of fs.readFileSync(f, "utf8").matchAll(/^\s*include\s+"([^"]+)"/gm)) {
        const cands = [path.resolve(path.dirname(f), m[1]), path.resolve("node_modules", m[1])];
        const hit = cands.find((c) => fs.existsSync(c));
        if (!hit) { console.error("unresolved include " + m[1] + " in " + f); process.exit(1); }
        todo.push(hit);
      }
    }
    console.log([...seen].map((f) => path.relative(process.cwd(), f)).sort().join("\n"));
  ' "$1"
}

# Fingerprint of everything a circuit's artefacts depend on.
inputs_hash() {
  local src="$1" files
  files="$(circuit_sources "$src")"
  {
    echo "$files" | xargs sha256sum
    echo "ptau $PTAU_SHA"
    echo "script $(sha256sum "$0" | cut -d' ' -f1)"
    echo "circom2 $(node -p 'require("./node_modules/circom2/package.json").version')"
    echo "snarkjs $(node -p 'require("./node_modules/snarkjs/package.json").version')"
    echo "beacon $BEACON_HASH $BEACON_ITERATIONS_EXP"
  } | sha256sum | cut -d' ' -f1
}

# snark LOG OUTPUT args...: runs snarkjs; fails unless it exits 0, logs no [ERROR] and OUTPUT exists (the snarkjs CLI
# exits 0 on some errors, e.g. an invalid beacon hash).
snark() {
  local log="$1" output="$2"
  shift 2
  rm -f "$output"
  if ! "${SNARKJS[@]}" "$@" > "$log" 2>&1 || grep -q 'ERROR' "$log" || [ ! -s "$output" ]; then
    sed 's/\x1b\[[0-9;]*m//g' "$log"
    echo "snarkjs $1 $2 failed (log: $log)"
    exit 1
  fi
}

export_verifier() {
  local name="$1" dir="$2"
  local out="$VERIFIER_OUT_DIR/${name}Verifier.sol" tmp
  tmp="$(mktemp)"
  snark "$dir/export.log" "$tmp" zkey export solidityverifier "$dir/${name}_final.zkey" "$tmp"
  grep -q '^contract Groth16Verifier ' "$tmp" || { echo "unexpected verifier template"; exit 1; }
  mkdir -p "$VERIFIER_OUT_DIR"
  {
    head -n 1 "$tmp" # SPDX line
    echo "// GENERATED by scripts/zk/build.sh — do not edit."
    echo "// Groth16 verifier of circuits/${name}.circom, exported by snarkjs from the zkey derived from"
    echo "// circuits/ptau/pot16_final.ptau with the beacon"
    echo "// ${BEACON_HASH} (2^${BEACON_ITERATIONS_EXP} iterations)."
    echo "// Regenerate with \`npm run zk:build\`; CI checks it with \`npm run zk:check\`."
    tail -n +2 "$tmp" | sed "s/^contract Groth16Verifier /contract ${name}Verifier /"
  } > "$out"
  rm -f "$tmp"
  echo "  verifier      -> $out"
}

build_one() {
  local name="$1"
  local src="circuits/${name}.circom" dir="$OUT_ROOT/$name" t0 t hash
  if [ ! -f "$src" ]; then
    echo "== $name: $src does not exist yet, skipped"
    return 0
  fi
  t0=$(now)
  hash="$(inputs_hash "$src")"
  mkdir -p "$dir"
  echo "== $name"
  if [ "$FORCE" = 0 ] && [ -f "$dir/inputs.sha256" ] && [ "$(cat "$dir/inputs.sha256")" = "$hash" ] \
     && [ -f "$dir/${name}_final.zkey" ] && [ -f "$dir/verification_key.json" ] && [ -f "$dir/${name}_js/${name}.wasm" ]; then
    echo "  cache hit (inputs $hash): compile and setup skipped"
  else
    rm -f "$dir/inputs.sha256"
    t=$(now)
    "${CIRCOM[@]}" "$src" --r1cs --wasm --sym --O2 -l node_modules -o "$dir" > "$dir/compile.log" 2>&1 \
      || { cat "$dir/compile.log"; exit 1; }
    # generate_witness.js is CommonJS while the package is "type": "module".
    echo '{ "type": "commonjs" }' > "$dir/${name}_js/package.json"
    echo "  compile       $(elapsed "$t") s"
    "${SNARKJS[@]}" r1cs info "$dir/${name}.r1cs" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' | sed -n 's/.*snarkJS: /  /p' | grep -E 'Constraints|Private|Public|Wires|Outputs' || true
    t=$(now)
    snark "$dir/setup.log" "$dir/${name}_0000.zkey" groth16 setup "$dir/${name}.r1cs" "$PTAU" "$dir/${name}_0000.zkey"
    echo "  groth16 setup $(elapsed "$t") s"
    t=$(now)
    snark "$dir/beacon.log" "$dir/${name}_final.zkey" zkey beacon "$dir/${name}_0000.zkey" "$dir/${name}_final.zkey" \
      "$BEACON_HASH" "$BEACON_ITERATIONS_EXP" -n="$BEACON_TEXT"
    rm -f "$dir/${name}_0000.zkey"
    echo "  zkey beacon   $(elapsed "$t") s"
    snark "$dir/vkey.log" "$dir/verification_key.json" zkey export verificationkey "$dir/${name}_final.zkey" \
      "$dir/verification_key.json"
    echo "$hash" > "$dir/inputs.sha256"
  fi
  export_verifier "$name" "$dir"
  echo "  zkey sha256   $(sha256sum "$dir/${name}_final.zkey" | cut -d' ' -f1) ($(du -m "$dir/${name}_final.zkey" | cut -f1) MB)"
  echo "  total         $(elapsed "$t0") s"
}

echo "beacon $BEACON_HASH (2^$BEACON_ITERATIONS_EXP iterations), ptau $PTAU"
for name in "${SELECTED[@]}"; do
  build_one "$name"
done
