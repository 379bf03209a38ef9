#!/usr/bin/env bash
# Drives Synnefo's own CLI, kamaki 0.16 (Python 2), against a running
# simulator: usage check.sh IDENTITY_URL TOKEN. Every step must succeed
# and show what a user would look for; the first failure stops the run.
#
# kamaki comes from `pip install --target target/kamaki-py2 kamaki==0.16`
# under Python 2.7 (KAMAKI_PY2 = that interpreter, KAMAKI_LIB = that dir).
set -euo pipefail
URL="$1"; TOKEN="$2"
PY2="${KAMAKI_PY2:-python2.7}"
LIB="${KAMAKI_LIB:-target/kamaki-py2}"
CFG="$(mktemp)"
trap 'rm -f "$CFG"' EXIT
k() { PYTHONPATH="$LIB" "$PY2" "$LIB/bin/kamaki" -c "$CFG" "$@"; }
# run ARGS...: runs kamaki, shows its output, stops on a non-zero exit.
run() {
  echo "== kamaki $*"
  if ! out="$(k "$@" 2>&1)"; then echo "$out"; echo "FAILED: kamaki $* exited non-zero"; exit 1; fi
  echo "$out"
}
expect() { # expect PATTERN OUTPUT
  if ! grep -qE -- "$1" <<<"$2"; then echo "FAILED: expected /$1/ in:"; echo "$2"; exit 1; fi
}

k config set cloud.sim.url "$URL" >/dev/null
k config set cloud.sim.token "$TOKEN" >/dev/null
k config set default_cloud sim >/dev/null

run user info; expect 'a11ce000|alice' "$out"
run flavor list; expect 'C2R2048D20' "$out"
run image list; expect 'Debian' "$out"
run network list; expect 'Public IPv4 Network' "$out"
run server create --name kamaki-vm --flavor-id 1 --image-id 0e5a4c4b-d2a1-4c1d-9d2b-debian000001
id="$(grep -oE '^id: *[0-9]+' <<<"$out" | grep -oE '[0-9]+' | head -1)"
[ -n "$id" ] || { echo "FAILED: no server id"; exit 1; }
run server wait "$id" --status BUILD
run server info "$id"; expect 'ACTIVE' "$out"
run server list; expect "kamaki-vm" "$out"
run server shutdown "$id" --wait
run server info "$id"; expect 'STOPPED' "$out"
run server start "$id" --wait
run server info "$id"; expect 'ACTIVE' "$out"
run server reboot "$id" --wait
run server info "$id"; expect 'ACTIVE' "$out"
run volume create --size 2 --name kamaki-vol --volume-type 1 --server-id "$id"
vid="$(grep -oE '^id: *[0-9]+' <<<"$out" | grep -oE '[0-9]+' | head -1)"
[ -n "$vid" ] || { echo "FAILED: no volume id"; exit 1; }
run volume list; expect 'kamaki-vol' "$out"
run volume delete "$vid"
run volume list; if grep -q kamaki-vol <<<"$out"; then echo "FAILED: volume still listed"; exit 1; fi
run server delete "$id" --wait
run server list; if grep -q kamaki-vm <<<"$out"; then echo "FAILED: server still listed"; exit 1; fi
echo "kamaki: all steps passed"
