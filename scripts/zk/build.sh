#!/usr/bin/env bash
# Builds every circuit of the protocol with a per-machine trusted setup: r1cs/wasm/sym -> phase 2 ceremony with one
# secret contribution -> verification key -> Solidity verifier in contracts/verifiers/ (generated, not committed).
#
#   bash scripts/zk/build.sh [--force] [Name ...]        (default: every circuits/*.circom with a `component main`)
#   bash scripts/zk/build.sh --adopt [Name ...]          (use a final zkey from a multi-party ceremony, see below)
#   npm run zk:build                                     (also run by the pre-scripts of build, test, demo, ...)
#
# For each circuit `circuits/<Name>.circom`, in $VSS_ZK_DIR/<Name>/ (default build/zk/<Name>/):
#   1. circom2 --r1cs --wasm --sym --O2 -l node_modules       -> <Name>.r1cs, <Name>_js/<Name>.wasm, <Name>.sym
#   2. ceremony.ts init (snarkjs groth16 setup, δ = 1)         -> <Name>_0000.zkey, setup_verification_key.json
#   3. ceremony.ts contribute, 64 bytes of /dev/urandom held only in memory (never on disk, argv, env or a log)
#                                                              -> <Name>_final.zkey (+ <Name>_final.transcript.json)
#      <Name>_0000.zkey is deleted; setup_verification_key.json (the public δ = 1 key) stays for the regression test
#      test/security/forged-proofs.test.ts.
#   4. ceremony.ts finalize                                    -> verification_key.json, <Name>Verifier.sol
#   5. <Name>Verifier.sol is copied to contracts/verifiers/ (only when it differs, so Hardhat does not recompile).
# Whoever runs this could have kept the secret of step 3, nobody else has it: this is a development setup for tests,
# the demo and local networks. Live networks use the multi-party procedure of docs/trusted-setup.md.
#
# Cache: step 1 is skipped when <Name>/compile.sha256 matches the hash of the circuit's sources (every file it
# includes, transitively) and the circom2 version; steps 2-4 are skipped when <Name>/ceremony.sha256 matches the hash
# of the r1cs, the ptau, the snarkjs version and CEREMONY_VERSION below. The secret contribution is never skipped:
# a cache hit reuses this machine's own earlier contribution. --force redoes everything.
#
# Env:
#   VSS_ZK_DIR      where the artefacts are built and cached (default build/zk). Any other folder (for example
#                   ~/.cache/vss-zk, shared by several clones) is linked into build/zk/<Name>, where the SDK,
#                   tests and scripts read them.
#   VSS_ZK_PTAU     phase-1 file (default circuits/ptau/pot16_final.ptau).
#   VSS_ZK_VERIFY=1 also run `zkey verify` during the build (npm run zk:check always does).
#   VERIFIER_OUT_DIR where the Solidity verifiers are copied (default contracts/verifiers).
set -euo pipefail
cd "$(dirname "$0")/../.."

# Bump when the ceremony procedure changes, so that every cached zkey is rebuilt.
CEREMONY_VERSION="per-machine-v1"
ZK_DIR="${VSS_ZK_DIR:-build/zk}"
PTAU="${VSS_ZK_PTAU:-circuits/ptau/pot16_final.ptau}"
VERIFIER_OUT_DIR="${VERIFIER_OUT_DIR:-contracts/verifiers}"
CIRCOM=(node node_modules/circom2/cli.js)
SNARKJS=(node node_modules/snarkjs/build/cli.cjs)
CEREMONY=(node node_modules/tsx/dist/cli.mjs scripts/zk/ceremony.ts)
export NODE_OPTIONS="${NODE_OPTIONS:---max-old-space-size=8192}"
# shellcheck source=scripts/zk/common.sh
source scripts/zk/common.sh

FORCE=0
ADOPT=0
SELECTED=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    --adopt) ADOPT=1 ;;
    -h | --help)
      sed -n '2,36p' "$0"
      exit 0
      ;;
    *) SELECTED+=("$arg") ;;
  esac
done
[ ${#SELECTED[@]} -eq 0 ] && mapfile -t SELECTED < <(all_circuits)

[ -f "$PTAU" ] || {
  echo "missing $PTAU (see circuits/ptau/README.md)"
  exit 1
}
PTAU_SHA="$(sha256sum "$PTAU" | cut -d' ' -f1)"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

ceremony_hash() {
  {
    echo "r1cs $(sha256sum "$1" | cut -d' ' -f1)"
    echo "ptau $PTAU_SHA"
    echo "snarkjs $(node -p 'require("./node_modules/snarkjs/package.json").version')"
    echo "ceremony $CEREMONY_VERSION"
  } | sha256sum | cut -d' ' -f1
}

# Copies the verifier into VERIFIER_OUT_DIR unless it is already identical there (keeps Hardhat's build cache warm).
install_verifier() {
  local src="$1" out="$VERIFIER_OUT_DIR/$(basename "$1")"
  mkdir -p "$VERIFIER_OUT_DIR"
  if cmp -s "$src" "$out"; then
    echo "  verifier      $out (unchanged)"
  else
    cp "$src" "$out"
    echo "  verifier      -> $out"
  fi
}

build_one() {
  local name="$1"
  local src="circuits/${name}.circom" dir="$ZK_DIR/$name" t0 t chash khash
  [ -f "$src" ] || {
    echo "== $name: $src does not exist"
    exit 1
  }
  t0=$(now)
  mkdir -p "$dir"
  # Several clones may share VSS_ZK_DIR: one build per circuit at a time.
  exec 9> "$dir/.lock"
  flock 9
  echo "== $name ($dir)"
  rm -f "$dir/inputs.sha256" # cache key of the old beacon-only build: never reuse its zkey

  chash="$(compile_hash "$src")"
  if [ "$FORCE" = 0 ] && [ "$(cat "$dir/compile.sha256" 2> /dev/null)" = "$chash" ] \
    && [ -f "$dir/${name}.r1cs" ] && [ -f "$dir/${name}_js/${name}.wasm" ]; then
    echo "  compile       cached"
  else
    rm -f "$dir/compile.sha256" "$dir/ceremony.sha256"
    t=$(now)
    "${CIRCOM[@]}" "$src" --r1cs --wasm --sym --O2 -l node_modules -o "$dir" > "$dir/compile.log" 2>&1 \
      || {
        cat "$dir/compile.log"
        exit 1
      }
    # generate_witness.js is CommonJS while the package is "type": "module".
    echo '{ "type": "commonjs" }' > "$dir/${name}_js/package.json"
    echo "$chash" > "$dir/compile.sha256"
    echo "  compile       $(elapsed "$t") s"
    "${SNARKJS[@]}" r1cs info "$dir/${name}.r1cs" 2>&1 | sed 's/\x1b\[[0-9;]*m//g' | sed -n 's/.*snarkJS: /  /p' \
      | grep -E 'Constraints|Private|Public|Outputs' || true
  fi

  khash="$(ceremony_hash "$dir/${name}.r1cs")"
  if [ "$ADOPT" = 1 ]; then
    [ -f "$dir/${name}_final.zkey" ] || {
      echo "  --adopt: put the ceremony's ${name}_final.zkey (and its .transcript.json) in $dir first"
      exit 1
    }
    rm -f "$dir/ceremony.sha256"
    t=$(now)
    "${CEREMONY[@]}" finalize "$dir/${name}.r1cs" "$PTAU" "$dir/${name}_final.zkey" "$dir/verification_key.json" \
      "$dir/${name}Verifier.sol" > "$dir/ceremony.log" 2>&1 || {
      cat "$dir/ceremony.log"
      exit 1
    }
    echo "$khash" > "$dir/ceremony.sha256"
    echo "  adopted       $dir/${name}_final.zkey (zkey verify OK, $(elapsed "$t") s)"
  elif [ "$FORCE" = 0 ] && [ "$(cat "$dir/ceremony.sha256" 2> /dev/null)" = "$khash" ] \
    && [ -f "$dir/${name}_final.zkey" ] && [ -f "$dir/verification_key.json" ] && [ -f "$dir/${name}Verifier.sol" ]; then
    echo "  ceremony      cached (this machine's own contribution)"
  else
    rm -f "$dir/ceremony.sha256" "$dir/${name}_final.zkey" "$dir/${name}_final.transcript.json"
    local tc
    tc=$(now)
    t=$(now)
    "${CEREMONY[@]}" init "$dir/${name}.r1cs" "$PTAU" "$dir/${name}_0000.zkey" > "$dir/ceremony.log" 2>&1 \
      || {
        cat "$dir/ceremony.log"
        exit 1
      }
    "${CEREMONY[@]}" export-vk "$dir/${name}_0000.zkey" "$dir/setup_verification_key.json" >> "$dir/ceremony.log" 2>&1
    echo "  setup         $(elapsed "$t") s (groth16 setup, δ = 1)"
    t=$(now)
    "${CEREMONY[@]}" contribute "$dir/${name}_0000.zkey" "$dir/${name}_final.zkey" \
      --name "per-machine contribution ($(hostname), $(date -u +%FT%TZ))" >> "$dir/ceremony.log" 2>&1 \
      || {
        cat "$dir/ceremony.log"
        exit 1
      }
    rm -f "$dir/${name}_0000.zkey" "$dir/${name}_0000.transcript.json"
    echo "  contribute    $(elapsed "$t") s (secret entropy from /dev/urandom, not kept)"
    t=$(now)
    local verify=(--skip-verify)
    [ "${VSS_ZK_VERIFY:-0}" = 1 ] && verify=()
    "${CEREMONY[@]}" finalize "$dir/${name}.r1cs" "$PTAU" "$dir/${name}_final.zkey" "$dir/verification_key.json" \
      "$dir/${name}Verifier.sol" "${verify[@]}" >> "$dir/ceremony.log" 2>&1 \
      || {
        cat "$dir/ceremony.log"
        exit 1
      }
    echo "  finalize      $(elapsed "$t") s (vk + verifier$([ ${#verify[@]} -eq 0 ] && echo ", zkey verify"))"
    echo "  ceremony      $(elapsed "$tc") s in all"
    echo "$khash" > "$dir/ceremony.sha256"
  fi
  exec 9>&-

  if [ "$(cd "$ZK_DIR" && pwd -P)" != "$(mkdir -p build/zk && cd build/zk && pwd -P)" ]; then
    # Artefacts built elsewhere: link them where the SDK and the tests look.
    rm -rf "build/zk/$name"
    ln -s "$(cd "$dir" && pwd -P)" "build/zk/$name"
  fi
  install_verifier "$dir/${name}Verifier.sol"
  echo "  zkey sha256   $(sha256sum "$dir/${name}_final.zkey" | cut -d' ' -f1) ($(du -m "$dir/${name}_final.zkey" | cut -f1) MB)"
  echo "  total         $(elapsed "$t0") s"
}

echo "ptau $PTAU (sha256 $PTAU_SHA), artefacts in $ZK_DIR"
for name in "${SELECTED[@]}"; do
  build_one "$name"
done
