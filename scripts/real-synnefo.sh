#!/usr/bin/env bash
# GRNET's own Synnefo 0.20 (real Astakos and Cyclades code, fake Ganeti)
# on loopback, for the scenarios, the differential test and pOCCI.
#
#   scripts/real-synnefo.sh [start]   copy the harness (REAL_SYNNEFO_TOOL,
#                                     default ../shared/tools/real-synnefo)
#                                     to target/real-synnefo, install it the
#                                     first time, start it in the background
#                                     on a free port of 26000-26099 (with its
#                                     own PostgreSQL cluster) and wait until
#                                     it answers; stdout: the two lines to
#                                     eval, setting SNF_OCCI_TEST_SYNNEFO_URL
#                                     and SNF_OCCI_TEST_SYNNEFO_TOKENS
#   scripts/real-synnefo.sh stop      stop it (API and cluster)
#
# Everything else goes to stderr; the harness's own log is
# target/real-synnefo/start.log and data/synnefo.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

HERE=$PWD/target/real-synnefo
TOOL=${REAL_SYNNEFO_TOOL:-../shared/tools/real-synnefo}
log() { echo "real-synnefo.sh: $*" >&2; }

stop() {
    [ -x "$HERE/stop.sh" ] && "$HERE/stop.sh" >&2 || true
}

# Cyclades deletes a detached volume through a "helper server" of the
# site's: a STOPPED VM of the operator's (`api/util.py`,
# `get_random_helper_vm`) that the volume is attached to while Ganeti
# removes it. Without one every DELETE of a volume that was ever attached
# answers 404 "Helper server not found." (and, through a Python 2
# `except A, B:` slip in that function, every later lookup of an unknown
# server id in the same process answers 400 "Invalid server ID."). A real
# site has one; the harness does not, so it is made here once per data
# folder: a verified, accepted user `helper@example.org` owning a helper
# server of flavor 1 and the first image, started and then stopped.
helper_server() {
    local port=$1 uuid image row hlog=$HERE/data/helper-server.log
    snf() { (cd "$HERE" && REAL_SYNNEFO_PORT=$port ./snf.sh "$@"); }
    [ -f "$HERE/data/helper-server.$port" ] && return 0
    if ! snf user-list --output-format=csv | grep -q helper@example.org; then
        snf user-add --password=helper-pass helper@example.org Helper Server >>"$hlog" 2>&1
    fi
    uuid=$(snf user-list --output-format=csv | awk -F, '/helper@example.org/ {print $4}')
    [ -n "$uuid" ] || { log "no uuid for helper@example.org"; exit 1; }
    snf user-modify --verify --no-confirm "$uuid" >>"$hlog" 2>&1 || true
    snf user-modify --accept --no-confirm "$uuid" >>"$hlog" 2>&1 || true
    if [ -z "$(snf server-list --user "$uuid" --output-format=csv | sed 1d)" ]; then
        image=$(snf image-list | grep -oE '^ *[0-9a-f]{8}-[0-9a-f-]{27}' | head -n 1 | tr -d ' ')
        snf server-create --helper --user "$uuid" --name helper \
            --password helper-pass --flavor 1 --image "$image" >>"$hlog" 2>&1 ||
            { log "helper server not created:"; tail -n 20 "$hlog" >&2; exit 1; }
    fi
    # The fake Ganeti completes the build within seconds; stop it then.
    for _ in $(seq 1 60); do
        row=$(snf server-list --user "$uuid" --output-format=csv | sed -n 2p)
        case "$row" in
            *,STOPPED,*)
                touch "$HERE/data/helper-server.$port"
                log "helper server ${row%%,*} ready (stopped)"
                return 0 ;;
            *,STARTED,*) snf server-modify "${row%%,*}" --action=stop >>"$hlog" 2>&1 || true ;;
        esac
        sleep 1
    done
    log "the helper server did not reach STOPPED:"; tail -n 20 "$hlog" >&2
    exit 1
}

start() {
    if [ ! -x "$HERE/venv27/bin/python" ]; then
        [ -d "$TOOL" ] || { log "no harness at $TOOL (set REAL_SYNNEFO_TOOL)"; exit 1; }
        mkdir -p target
        rm -rf "$HERE"
        cp -r "$TOOL" "$HERE"
        chmod -R u+w "$HERE"
        log "installing into $HERE"
        "$HERE/install.sh" >&2
    fi
    stop
    local port
    port=$(python3 - <<'PY'
import socket
for p in range(26000, 26100):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); s.close()
        t = socket.socket(); t.bind(("127.0.0.1", p + 1)); t.close()
        print(p); break
    except OSError:
        pass
PY
)
    log "starting on 127.0.0.1:$port"
    # Every descriptor of the background job goes to the log: a job that
    # kept this script's stdout would hold the pipe of a caller's
    # `$(scripts/real-synnefo.sh start)` open, and the caller would wait
    # for the harness to exit (CI once hung there for its whole budget).
    (cd "$HERE" && exec nohup ./start.sh "$port") </dev/null >"$HERE/start.log" 2>&1 &
    local url="http://127.0.0.1:$port/identity/v2.0"
    for _ in $(seq 1 300); do
        if [ -s "$HERE/data/tokens.env" ] &&
           curl -sf --max-time 10 -X POST "$url/tokens" -o /dev/null 2>/dev/null; then
            break
        fi
        sleep 1
    done
    curl -sf --max-time 10 -X POST "$url/tokens" -o /dev/null ||
        { log "it did not start:"; tail -n 40 "$HERE/start.log" >&2; exit 1; }
    helper_server "$port"
    # shellcheck disable=SC1091
    . "$HERE/data/tokens.env"
    echo "export SNF_OCCI_TEST_SYNNEFO_URL=$url"
    echo "export SNF_OCCI_TEST_SYNNEFO_TOKENS=$ALICE_TOKEN,$BOB_TOKEN"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
