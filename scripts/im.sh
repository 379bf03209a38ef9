#!/usr/bin/env bash
# The Infrastructure Manager's OCCI connector (grycap IM 1.19.1, its own
# code: tools/im/im_occi_check.py) against `snf-occi serve`, the default
# pipeline on the embedded simulator with its default delays, on free
# ports. Fails when the check reports any failure.
#
#   1. The whole lifecycle (Keystone discovery through the gateway's
#      keystone_facade, launch with a new and an existing disk, state
#      polling, stop/start/reboot, adding a disk, removing and adding a
#      public IP, finalize, a launch that asks for a size), with the two
#      settings a site serving IM users makes:
#      - app.occi.suspend = "shutdown": IM's stop() always sends
#        `suspend`, which Cyclades cannot do (501 otherwise);
#      - instance type C2R2048D20, whose disks are ext_archipelago
#        volumes: IM creates its disks before the compute, and Synnefo
#        attaches a volume only to a server of its own volume type, while
#        drbd volumes (the harness's default C1R1024D20drbd) cannot exist
#        on their own.
#   2. IM's Keystone v2 VOMS flow (`--auth-only --proxy`) on a VOMS site:
#      the challenge sends clients to astavoms (the simulator's, behind
#      tools/im/dn_header_proxy.py standing in for its TLS front, which
#      forwards a VOMS proxy of the tests' PKI with every request it
#      relays: over plain HTTP, IM's own proxy file never leaves IM).
#
# The tool is copied to target/im and installed there the first time
# (tools/im/install.sh: a venv with IM and its dependencies from PyPI).
#
# Usage: scripts/im.sh [path/to/snf-occi]   (default: target/debug)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=${1:-target/debug/snf-occi}
[ -x "$BIN" ] || cargo build --bin snf-occi
TOOL=target/im
if [ ! -x "$TOOL/venv-im/bin/python" ]; then
    rm -rf "$TOOL"
    mkdir -p target
    cp -r tools/im "$TOOL"
    "$TOOL/install.sh"
fi
# The scripts as this checkout has them (the venv stays).
cp tools/im/*.py tools/im/*.md tools/im/*.sh "$TOOL/"
PY="$TOOL/venv-im/bin/python"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    PIDS=()
}
trap 'cleanup; rm -rf "$WORK"' EXIT

# serve NAME [ENV=VALUE...]: the default pipeline (or $CONFIG) on fresh
# free ports; sets URL and SIM.
serve() {
    local name=$1
    shift
    local port sim_port
    port=$(free_port)
    sim_port=$(free_port)
    URL="http://127.0.0.1:$port"
    SIM="http://127.0.0.1:$sim_port"
    env "$@" \
        SNF_OCCI_SERVER__LISTEN="127.0.0.1:$port" \
        SNF_OCCI_SERVER__PUBLIC_URL="$URL" \
        SNF_OCCI_SIMULATOR__LISTEN="127.0.0.1:$sim_port" \
        SNF_OCCI_STORE__URL="sqlite://$WORK/$name.db?mode=rwc" \
        "$BIN" serve --config "${CONFIG:-snf-occi.pipeline.toml}" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        curl -sf "$URL/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "server did not start:"
    cat "$WORK/$name.log"
    exit 1
}

status=0

echo "== IM lifecycle on the default pipeline (suspend = shutdown, C2R2048D20)"
serve lifecycle SNF_OCCI_APP__OCCI__SUSPEND=shutdown
"$PY" "$TOOL/im_occi_check.py" --url "$URL" --token alice-token \
    --instance-type C2R2048D20 --http-log "$TOOL/http.log" | tee "$WORK/lifecycle.out" || true
tail -n 1 "$WORK/lifecycle.out" | grep -qx '[0-9]* passed, 0 failed' || status=1
cleanup

echo "== IM's Keystone v2 VOMS flow through astavoms"
# A VOMS proxy of the tests' PKI (examples/test_voms_proxy.rs), its holder
# mapped to alice at the simulator's astavoms; the pipeline file with that
# mapping added and its challenge pointing at the DN proxy, which relays
# to the simulator's astavoms with the chain as a TLS front end would.
cargo run -q --example test_voms_proxy -- "$WORK/proxy.pem" >"$WORK/holder"
HOLDER_DN=$(sed -n 1p "$WORK/holder")
HOLDER_VO=$(sed -n 2p "$WORK/holder")
DN_PORT=$(free_port)
cp snf-occi.pipeline.toml "$WORK/voms.toml"
cat >>"$WORK/voms.toml" <<TOML

[[simulator.voms_users]]
dn = "$HOLDER_DN"
vo = "$HOLDER_VO"
user = "a11ce000-0000-4000-8000-000000000001"
project = "d3m0d3m0-0000-4000-8000-000000000001"
TOML
CONFIG="$WORK/voms.toml" serve voms \
    SNF_OCCI_FILTER__KEYSTONE__KEYSTONE_URL="http://127.0.0.1:$DN_PORT/astavoms"
python3 "$TOOL/dn_header_proxy.py" --listen "127.0.0.1:$DN_PORT" --upstream "$SIM" \
    --dn "$HOLDER_DN" --chain "$WORK/proxy.pem" &
PIDS+=($!)
for _ in $(seq 1 50); do
    curl -s "http://127.0.0.1:$DN_PORT/astavoms" >/dev/null 2>&1 && break
    sleep 0.1
done
"$PY" "$TOOL/im_occi_check.py" --url "$URL" --token alice-token --auth-only \
    --proxy "$WORK/proxy.pem" | tee "$WORK/voms.out" || true
grep -q '^PASS auth.keystone_flow(proxy)' "$WORK/voms.out" || status=1
tail -n 1 "$WORK/voms.out" | grep -qx '[0-9]* passed, 0 failed' || status=1
cleanup

if [ "$status" -ne 0 ]; then
    echo "IM check failed"
fi
exit "$status"
