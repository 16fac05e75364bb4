#!/usr/bin/env bash
# Make sure a MariaDB server answers at $MH_DB_HOST:$MH_DB_PORT (user root, empty password).
#
#   bash tools/ensure_mariadb.sh         ensure a server is reachable (see below)
#   bash tools/ensure_mariadb.sh stop    stop the private server started by this script
#
# 1. Something already answers there -> check the root login, print one line, exit 0.
# 2. mariadbd/mysqld is installed     -> start a PRIVATE server (data, socket, pid, log
#    under <repo>/.mariadb/), wait until it answers, exit 0.
# 3. Not installed                    -> print how to install it and exit 1, or, with
#    MH_INSTALL_MARIADB=1, apt-get install it and continue with 2.
#
# Environment: MH_DB_HOST (127.0.0.1), MH_DB_PORT (3306), MH_INSTALL_MARIADB (0),
#              MH_MARIADB_DIR (<repo>/.mariadb, where the private server lives).
set -euo pipefail

HOST="${MH_DB_HOST:-127.0.0.1}"
PORT="${MH_DB_PORT:-3306}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${MH_MARIADB_DIR:-$REPO/.mariadb}"
DATADIR="$BASE/data"
SOCKET="$BASE/mysqld.sock"
PIDFILE="$BASE/mysqld.pid"
ERRLOG="$BASE/error.log"
WAIT_SECONDS=60

log() { echo "ensure_mariadb: $*"; }
die() { echo "ensure_mariadb: $*" >&2; exit 1; }

# Unix socket paths are limited to ~107 bytes; fall back to /tmp for deep checkouts.
if [ "${#SOCKET}" -gt 100 ]; then
    SOCKET="/tmp/mh-mariadb-$(printf '%s' "$BASE" | cksum | cut -d' ' -f1).sock"
fi

# Does anything accept a TCP connection at HOST:PORT? (needs no mariadb client)
port_open() {
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$HOST" "$PORT" <<'EOF' 2>/dev/null
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except OSError:
    sys.exit(1)
EOF
    else
        timeout 2 bash -c ": >/dev/tcp/$HOST/$PORT" 2>/dev/null
    fi
}

client() { command -v mariadb 2>/dev/null || command -v mysql 2>/dev/null || true; }

# Root login with an empty password over TCP; true when no client is installed.
root_login_ok() {
    local c; c="$(client)"
    [ -z "$c" ] && return 0
    "$c" --no-defaults --protocol=TCP -h "$HOST" -P "$PORT" -uroot -e 'select 1' >/dev/null
}

find_bin() {  # first of the given names found in PATH, /usr/sbin, /usr/local/sbin
    local name dir
    for name in "$@"; do
        for dir in ${PATH//:/ } /usr/sbin /usr/local/sbin; do
            if [ -x "$dir/$name" ]; then echo "$dir/$name"; return 0; fi
        done
    done
    return 1
}

pid_alive() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

stop_private() {
    if ! pid_alive; then log "no private server running (pid file $PIDFILE)"; return 0; fi
    local pid; pid="$(cat "$PIDFILE")"
    kill "$pid"
    for _ in $(seq 1 "$WAIT_SECONDS"); do
        kill -0 "$pid" 2>/dev/null || { log "private server (pid $pid) stopped"; return 0; }
        sleep 1
    done
    die "private server (pid $pid) did not stop within ${WAIT_SECONDS}s"
}

report_running() {
    root_login_ok || die "a server answers at $HOST:$PORT but 'root' with an empty password cannot log in"
    log "MariaDB answers at $HOST:$PORT ($1)"
    exit 0
}

install_mariadb() {
    local sudo=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo="sudo"
    log "installing mariadb-server with apt-get (MH_INSTALL_MARIADB=1)"
    # Keep the package from starting the system service: we run our own private server.
    local policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ] && [ -z "$sudo" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
        trap "rm -f '$policy'" EXIT
    fi
    $sudo apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server mariadb-client
}

[ "${1:-}" = "stop" ] && { stop_private; exit 0; }
[ -n "${1:-}" ] && die "unknown argument '$1' (usage: $0 [stop])"

# 1. Already running?
port_open && report_running "already running"

# 3. Not installed?
if ! find_bin mariadbd mysqld >/dev/null; then
    if [ "${MH_INSTALL_MARIADB:-0}" != "1" ]; then
        die "MariaDB is not installed: run 'apt-get install -y mariadb-server' (Debian/Ubuntu), or set MH_INSTALL_MARIADB=1"
    fi
    install_mariadb
    find_bin mariadbd mysqld >/dev/null || die "mariadb-server installed but no mariadbd/mysqld found"
    port_open && report_running "started by the package"
fi

# 2. Private server under $BASE.
SERVER="$(find_bin mariadbd mysqld)"
USER_ARGS=()
[ "$(id -u)" -eq 0 ] && USER_ARGS=(--user=root)
# Its own tmpdir: a starting server deletes every #sql* file of its tmpdir, and /tmp
# holds the temporary tables of whatever other server runs on this machine.
TMPDIR_OWN="$BASE/tmp"
mkdir -p "$BASE" "$TMPDIR_OWN"

if ! pid_alive; then
    if [ ! -d "$DATADIR/mysql" ]; then
        INSTALL_DB="$(find_bin mariadb-install-db mysql_install_db)" || die "mariadb-install-db not found"
        log "initialising $DATADIR"
        rm -rf "$DATADIR"
        if ! "$INSTALL_DB" --no-defaults --datadir="$DATADIR" --tmpdir="$TMPDIR_OWN" "${USER_ARGS[@]}" \
                --auth-root-authentication-method=normal --skip-test-db >"$BASE/install.log" 2>&1; then
            tail -n 30 "$BASE/install.log" >&2
            rm -rf "$DATADIR"
            die "mariadb-install-db failed (log: $BASE/install.log)"
        fi
    fi
    log "starting private server $SERVER on $HOST:$PORT (data in $DATADIR)"
    setsid nohup "$SERVER" --no-defaults "${USER_ARGS[@]}" \
        --datadir="$DATADIR" --tmpdir="$TMPDIR_OWN" --socket="$SOCKET" --pid-file="$PIDFILE" --log-error="$ERRLOG" \
        --port="$PORT" --bind-address="$HOST" </dev/null >>"$BASE/nohup.out" 2>&1 &
    STARTED_PID=$!
else
    STARTED_PID="$(cat "$PIDFILE")"
    log "private server already running (pid $STARTED_PID), waiting for it on $HOST:$PORT"
fi

for _ in $(seq 1 "$WAIT_SECONDS"); do
    if port_open && root_login_ok 2>/dev/null; then
        report_running "private server, pid $STARTED_PID, data in $DATADIR"
    fi
    kill -0 "$STARTED_PID" 2>/dev/null || break
    sleep 1
done

echo "ensure_mariadb: private server did not answer at $HOST:$PORT; tail of $ERRLOG:" >&2
tail -n 30 "$ERRLOG" >&2 2>/dev/null || true
exit 1
