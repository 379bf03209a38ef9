#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the store tests (tests/store.rs,
# tests/ops_replicas.rs).
#
#   scripts/postgres.sh [start]   install PostgreSQL from Debian if missing,
#                                 start (or reuse) the cluster in target/pg,
#                                 create the role and database, and print
#                                 the URL to export as
#                                 SNF_OCCI_TEST_POSTGRES_URL (stdout: the URL
#                                 only; everything else goes to stderr)
#   scripts/postgres.sh stop      stop the cluster (its files stay, so the
#                                 next start is quick)
#
# Idempotent: a running cluster is reused, a stopped one restarted. The
# cluster listens on 127.0.0.1 only, on a free port chosen at its first
# start and kept in target/pg/port. The role can create databases, so a
# test can make itself a fresh one per run. PostgreSQL refuses to run as
# root: as root the cluster runs as the `postgres` user, which owns
# target/pg.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PG_DIR="$PWD/target/pg"
DATA="$PG_DIR/data"
ROLE=snf_occi
DATABASE=snf_occi_test

log() { echo "postgres.sh: $*" >&2; }

pg_bin_dir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

# Runs a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A port someone listens on, or that a socket holds as its local address
# (a connection's ephemeral port): PostgreSQL could not bind it.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    ! python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

BIN=$(pg_bin_dir || true)

if [ "${1:-start}" = stop ]; then
    if [ -n "$BIN" ] && [ -f "$DATA/PG_VERSION" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
    fi
    exit 0
fi
if [ "${1:-start}" != start ]; then
    echo "usage: $0 [start|stop]" >&2
    exit 2
fi

if [ -z "$BIN" ]; then
    log "installing PostgreSQL from Debian"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
    BIN=$(pg_bin_dir) || { log "no initdb after installing postgresql"; exit 1; }
fi

mkdir -p "$PG_DIR"
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$PG_DIR"
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
    log "initdb in $DATA"
    # Local (socket) connections are the owner's; TCP needs the password.
    as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --no-locale >/dev/null
fi

if [ ! -f "$PG_DIR/port" ]; then
    # Below Linux's ephemeral range (32768-60999), where outgoing
    # connections (a load test's thousands) take their local ports.
    port=15432
    while port_in_use "$port"; do port=$((port + 1)); done
    as_owner sh -c "echo $port > '$PG_DIR/port'"
fi
PORT=$(cat "$PG_DIR/port")

if ! as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    if port_in_use "$PORT"; then
        log "port $PORT (target/pg/port) is taken by another program; remove target/pg to start afresh"
        exit 1
    fi
    log "starting the cluster on 127.0.0.1:$PORT"
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$PG_DIR/log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories='$PG_DIR' -c fsync=off -c max_connections=200" \
        start >/dev/null
fi

if [ ! -f "$PG_DIR/password" ]; then
    as_owner sh -c "umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > '$PG_DIR/password'"
fi
PASSWORD=$(as_owner cat "$PG_DIR/password")

psql_owner() {
    as_owner "$BIN/psql" -h "$PG_DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"
}
if [ "$(psql_owner -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
    psql_owner -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'" >/dev/null
fi
if [ "$(psql_owner -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]; then
    psql_owner -c "CREATE DATABASE $DATABASE OWNER $ROLE" >/dev/null
fi

echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
