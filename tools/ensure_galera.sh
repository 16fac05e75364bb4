#!/usr/bin/env bash
# The project's own 3-node MariaDB Galera cluster, for the cluster tests (issue 11).
#
#   bash tools/ensure_galera.sh start          start (or reuse) the cluster; returns when all
#                                              three nodes are Synced in one primary component
#   bash tools/ensure_galera.sh stop           stop the three nodes (node 1 last: it bootstraps next)
#   bash tools/ensure_galera.sh status         one line per node; exit 0 only when all are Synced
#   bash tools/ensure_galera.sh env            the nodes' ports as shell assignments
#   bash tools/ensure_galera.sh start-node N   start node N alone (recovering its position first
#                                              after a crash); returns once it wrote its pid file,
#                                              which a joiner does after its state transfer.
#                                              testkit/galera.py uses it to restart a killed node
#
# Everything lives under <repo>/.galera/ (MH_GALERA_DIR): ports.env, and per node nodeN/ with
# my.cnf, data/, the pid file, socket and error.log. Ports are free loopback ports chosen at the
# first start (a block of four per node from MH_GALERA_BASE_PORT, 24300: SQL, galera
# replication, IST, rsync SST) and kept while they stay free.
#
# The nodes run as the unprivileged user `mysql` when this script runs as root: rsync SST
# started as root drops to `nobody` and fails. SQL listens on 0.0.0.0 so that a process in a
# network namespace (testkit/netns.py) reaches a node through its veth address; the accounts
# only admit 127.0.0.1 and that private link-local range (MH_GALERA_CLIENT_HOSTS), and these
# nodes exist only for tests. Replication, IST and SST stay on 127.0.0.1.
#
# Environment: MH_GALERA_DIR, MH_GALERA_BASE_PORT, MH_GALERA_PROVIDER (the galera-4 library,
# found with dpkg -L), MH_GALERA_CLIENT_HOSTS ('169.254.213.%'), MH_INSTALL_GALERA (0; 1 =
# apt-get install galera-4, rsync, mariadb-server when missing).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${MH_GALERA_DIR:-$REPO/.galera}"
STATE="$BASE/ports.env"
HOST=127.0.0.1
NODES=(1 2 3)
CLIENT_HOSTS="${MH_GALERA_CLIENT_HOSTS:-169.254.213.%}"
[[ "$CLIENT_HOSTS" =~ ^[0-9.%/]+$ ]] || { echo "ensure_galera: MH_GALERA_CLIENT_HOSTS must be an IPv4 host pattern such as 169.254.213.%" >&2; exit 1; }
SYNC_SECONDS=120      # a node started and Synced (a joiner's SST included)
STOP_SECONDS=60
export PATH="$PATH:/usr/sbin:/usr/local/sbin"

log() { echo "ensure_galera: $*"; }
die() { echo "ensure_galera: $*" >&2; exit 1; }

RUN_AS=()             # how the server runs: as mysql when we are root
[ "$(id -u)" -eq 0 ] && RUN_AS=(--user=mysql)

node_dir() { echo "$BASE/node$1"; }
cnf() { echo "$(node_dir "$1")/my.cnf"; }
pidfile() { echo "$(node_dir "$1")/mariadbd.pid"; }
errlog() { echo "$(node_dir "$1")/error.log"; }

# ------------------------------------------------------------------ packages

provider() {
    if [ -n "${MH_GALERA_PROVIDER:-}" ]; then echo "$MH_GALERA_PROVIDER"; return 0; fi
    dpkg -L galera-4 2>/dev/null | grep -m1 '/libgalera_smm\.so$' || true
}

missing_packages() {
    local missing=()
    [ -n "$(provider)" ] || missing+=(galera-4)
    command -v rsync >/dev/null || missing+=(rsync)
    command -v mariadbd >/dev/null || missing+=(mariadb-server)
    command -v mariadb >/dev/null || missing+=(mariadb-client)
    echo "${missing[@]}"
}

install_packages() {
    local missing; missing="$(missing_packages)"
    [ -z "$missing" ] && return 0
    [ "${MH_INSTALL_GALERA:-0}" = "1" ] || \
        die "missing packages: $missing (apt-get install -y $missing, or set MH_INSTALL_GALERA=1)"
    [ "$(id -u)" -eq 0 ] || die "MH_INSTALL_GALERA=1 needs root to install: $missing"
    log "installing $missing with apt-get (MH_INSTALL_GALERA=1)"
    # Keep the package from starting the system service: the cluster's nodes are our own.
    local policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
        trap "rm -f '$policy'" EXIT
    fi
    apt-get update -q
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
    [ -z "$(missing_packages)" ] || die "still missing after apt-get: $(missing_packages)"
}

# ------------------------------------------------------------------ ports and configuration

# Blocks of four consecutive free TCP ports (SQL, galera, IST, SST), one per node.
pick_ports() {
    python3 - "${MH_GALERA_BASE_PORT:-24300}" "${#NODES[@]}" <<'EOF'
import socket, sys
base, nodes = int(sys.argv[1]), int(sys.argv[2])
def free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as mariadbd does: TIME_WAIT is free
        try:
            s.bind(("0.0.0.0", port))   # SQL binds 0.0.0.0: a port free there is free on loopback too
        except OSError:
            return False
    return True
blocks = []
port = base
while len(blocks) < nodes and port < base + 4000:
    if all(free(port + i) for i in range(4)):
        blocks.append(port)
    port += 4
if len(blocks) < nodes:
    sys.exit("no %d free blocks of 4 ports from %d" % (nodes, base))
print("MH_GALERA_HOST=127.0.0.1")
for name, offset in (("PORTS", 0), ("GCOMM_PORTS", 1), ("IST_PORTS", 2), ("SST_PORTS", 3)):
    print("MH_GALERA_%s=%s" % (name, ",".join(str(b + offset) for b in blocks)))
EOF
}

load_state() {
    [ -f "$STATE" ] || return 1
    # shellcheck disable=SC1090
    . "$STATE"
    IFS=, read -r -a SQL_PORTS <<<"$MH_GALERA_PORTS"
    IFS=, read -r -a GCOMM_PORTS <<<"$MH_GALERA_GCOMM_PORTS"
    IFS=, read -r -a IST_PORTS <<<"$MH_GALERA_IST_PORTS"
    IFS=, read -r -a SST_PORTS <<<"$MH_GALERA_SST_PORTS"
}

sql_port() { echo "${SQL_PORTS[$(($1 - 1))]}"; }

# Are all of the cluster's ports free (checked before starting a stopped cluster)?
ports_free() {
    local p
    for p in "${SQL_PORTS[@]}" "${GCOMM_PORTS[@]}" "${IST_PORTS[@]}" "${SST_PORTS[@]}"; do
        (: >"/dev/tcp/$HOST/$p") 2>/dev/null && return 1
    done
    return 0
}

write_state() {
    mkdir -p "$BASE"
    { pick_ports; echo "MH_GALERA_DIR=$BASE"; } >"$STATE.tmp" || die "cannot pick ports"
    mv "$STATE.tmp" "$STATE"
    load_state
}

write_config() {
    local n=$1 dir i gcomm=""
    dir="$(node_dir "$n")"
    for i in "${!NODES[@]}"; do gcomm+="${gcomm:+,}$HOST:${GCOMM_PORTS[$i]}"; done
    i=$((n - 1))
    mkdir -p "$dir/tmp"
    cat >"$(cnf "$n")" <<EOF
# Written by tools/ensure_galera.sh: node $n of the test cluster. Rewritten at each start.
[mariadbd]
datadir = $dir/data
socket = $dir/mariadbd.sock
pid-file = $(pidfile "$n")
log-error = $(errlog "$n")
# Its own temporary directory: a server starting deletes every #sql* file in its tmpdir,
# which in a shared /tmp pulls the internal temporary tables from under every other server's
# running queries (the server on 3306 crashed with signal 11, and parallel bootstraps failed).
tmpdir = $dir/tmp
port = ${SQL_PORTS[$i]}
bind-address = 0.0.0.0
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
innodb_buffer_pool_size = 128M
# What Galera needs from the server.
binlog_format = ROW
default_storage_engine = InnoDB
innodb_autoinc_lock_mode = 2
wsrep_on = ON
wsrep_provider = $PROVIDER
wsrep_cluster_name = mh_test_cluster_$(printf '%s' "$BASE" | cksum | cut -d' ' -f1)
wsrep_cluster_address = gcomm://$gcomm
wsrep_node_name = node$n
wsrep_node_address = $HOST:${GCOMM_PORTS[$i]}
wsrep_node_incoming_address = $HOST:${SQL_PORTS[$i]}
wsrep_sst_method = rsync
wsrep_sst_receive_address = $HOST:${SST_PORTS[$i]}
wsrep_provider_options = "gmcast.listen_addr=tcp://$HOST:${GCOMM_PORTS[$i]};ist.recv_addr=$HOST:${IST_PORTS[$i]};gcache.size=128M"
EOF
}

init_datadir() {
    local n=$1 dir; dir="$(node_dir "$n")"
    [ -d "$dir/data/mysql" ] && return 0
    rm -rf "$dir/data"
    if ! mariadb-install-db --defaults-file="$(cnf "$n")" "${RUN_AS[@]}" \
            --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1; then
        tail -n 20 "$dir/install.log" >&2
        die "mariadb-install-db failed for node $n (log: $dir/install.log)"
    fi
}

init_all_datadirs() {  # in parallel: about 1.5 s instead of 4.5 s
    local n pids=()
    for n in "${NODES[@]}"; do init_datadir "$n" & pids+=($!); done
    for n in "${pids[@]}"; do wait "$n" || die "could not initialise every datadir"; done
}

# The nodes write their pid file, socket and logs in their own folder.
own_node_dirs() {
    [ "$(id -u)" -eq 0 ] || return 0
    local n; for n in "${NODES[@]}"; do chown -R mysql:mysql "$(node_dir "$n")"; done
}

# ------------------------------------------------------------------ processes

# The pid of node N's server, only if that process is ours (its command line names our my.cnf).
node_pid() {
    local file pid; file="$(pidfile "$1")"
    [ -f "$file" ] || return 1
    pid="$(cat "$file")"
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--defaults-file=$(cnf "$1")" || return 1
    echo "$pid"
}

node_sql() {  # node, statement -> tab-separated rows; bounded, fails on a frozen node
    timeout 5 mariadb --no-defaults --protocol=TCP -h "$HOST" -P "$(sql_port "$1")" -uroot \
        --connect-timeout=3 -N -B -e "$2" 2>/dev/null
}

# "state status size" of node N, e.g. "4 Primary 3"; fails when the node does not answer.
node_state() {
    local out
    out="$(node_sql "$1" "SHOW GLOBAL STATUS WHERE Variable_name IN
        ('wsrep_local_state', 'wsrep_cluster_status', 'wsrep_cluster_size')")" || return 1
    awk '{v[$1] = $2} END {print v["wsrep_local_state"], v["wsrep_cluster_status"], v["wsrep_cluster_size"]}' <<<"$out"
}

node_synced() {  # node [size]: Synced in the primary component (of that size)
    local state; state="$(node_state "$1")" || return 1
    set -- $state "${2:-}"
    [ "$1" = 4 ] && [ "$2" = Primary ] && { [ -z "$4" ] || [ "$3" = "$4" ]; }
}

wait_synced() {  # node size
    local n=$1 size=$2 deadline=$((SECONDS + SYNC_SECONDS))
    until node_synced "$n" "$size"; do
        node_pid "$n" >/dev/null || { tail -n 30 "$(errlog "$n")" >&2; die "node $n died while joining"; }
        [ "$SECONDS" -lt "$deadline" ] || die "node $n not Synced (cluster size $size) within ${SYNC_SECONDS}s: $(node_state "$n" || echo no answer)"
        sleep 0.5
    done
}

# After a crash grastate.dat holds seqno -1: find the position in InnoDB (--wsrep-recover)
# and write it into grastate.dat, the documented manual step, so that the node asks for the
# missing write sets only (IST) instead of a full copy. Galera sometimes leaves the file with
# an undefined uuid (00000000-..., marked unsafe at the crash) and then ignores a
# --wsrep-start-position; the written position it uses. Each recovery is kept in recover.log.
recovered_position() {
    local n=$1 dir grastate position
    dir="$(node_dir "$n")"; grastate="$dir/data/grastate.dat"
    [ -f "$grastate" ] && grep -q '^seqno: *-1' "$grastate" || return 0
    { echo "== $(date '+%F %T') recovery; grastate.dat was:"; grep -E '^(uuid|seqno):' "$grastate"; } \
        >>"$dir/recover.log"
    mariadbd --defaults-file="$(cnf "$n")" "${RUN_AS[@]}" --wsrep-recover \
        --log-error="$dir/recover.last.log" >/dev/null 2>&1 || true
    cat "$dir/recover.last.log" >>"$dir/recover.log"
    position="$(grep -o 'Recovered position: .*' "$dir/recover.last.log" | tail -n 1 | cut -d' ' -f3)"
    [ -n "$position" ] && [ "${position##*:}" != "-1" ] || return 0
    sed -i -e "s/^uuid:.*/uuid:    ${position%:*}/" -e "s/^seqno:.*/seqno:   ${position##*:}/" \
        "$grastate"
    echo "$position"
}

declare -A LAUNCHED=()   # node -> pid of the mariadbd started by this run

launch_node() {  # node [--wsrep-new-cluster]: start its server, do not wait
    local n=$1 extra=() position
    shift
    node_pid "$n" >/dev/null && { log "node $n already running (pid $(node_pid "$n"))"; return 0; }
    position="$(recovered_position "$n")"
    [ -n "$position" ] && extra+=(--wsrep-start-position="$position")
    rm -f "$(pidfile "$n")"
    log "starting node $n on $HOST:$(sql_port "$n")${1:+ ($1)}${position:+ from $position}"
    setsid nohup mariadbd --defaults-file="$(cnf "$n")" "${RUN_AS[@]}" "${extra[@]}" "$@" \
        </dev/null >>"$(node_dir "$n")/nohup.out" 2>&1 &
    LAUNCHED[$n]=$!
}

# A joiner writes its pid file once its state transfer is done.
wait_started() {
    local n=$1 deadline=$((SECONDS + SYNC_SECONDS))
    until node_pid "$n" >/dev/null; do
        kill -0 "${LAUNCHED[$n]}" 2>/dev/null || { tail -n 30 "$(errlog "$n")" >&2; die "node $n exited at start"; }
        [ "$SECONDS" -lt "$deadline" ] || die "node $n wrote no pid file within ${SYNC_SECONDS}s"
        sleep 0.2
    done
}

stop_node() {
    local n=$1 pid deadline
    pid="$(node_pid "$n")" || return 0
    kill -CONT "$pid" 2>/dev/null || true   # a test may have left it SIGSTOPped
    kill -TERM "$pid"
    deadline=$((SECONDS + STOP_SECONDS))
    while kill -0 "$pid" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || die "node $n (pid $pid) did not stop within ${STOP_SECONDS}s"
        sleep 0.2
    done
    log "node $n (pid $pid) stopped"
}

# ------------------------------------------------------------------ the cluster

running_nodes() { local n; for n in "${NODES[@]}"; do node_pid "$n" >/dev/null && echo "$n"; done; return 0; }

# The node to bootstrap a stopped cluster from: the one marked safe_to_bootstrap (the last to
# stop cleanly), else the highest recovered seqno, which is then marked safe.
bootstrap_node() {
    local n best="" best_seqno=-2 seqno grastate
    for n in "${NODES[@]}"; do
        grastate="$(node_dir "$n")/data/grastate.dat"
        [ -f "$grastate" ] || continue
        grep -q '^safe_to_bootstrap: *1' "$grastate" && { echo "$n"; return 0; }
        seqno="$(recovered_position "$n")"; seqno="${seqno##*:}"
        [ -n "$seqno" ] || seqno="$(awk '/^seqno:/ {print $2}' "$grastate")"
        [ "$seqno" -gt "$best_seqno" ] && { best=$n; best_seqno=$seqno; }
    done
    [ -n "$best" ] || { echo 1; return 0; }   # fresh datadirs: node 1
    sed -i 's/^safe_to_bootstrap: *0/safe_to_bootstrap: 1/' "$(node_dir "$best")/data/grastate.dat"
    echo "$best"
}

grant_test_accounts() {  # on the bootstrapped node; Galera replicates accounts to the others
    local socket; socket="$(node_dir "$1")/mariadbd.sock"
    mariadb --no-defaults -S "$socket" -uroot -e "
        CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
        GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
        CREATE USER IF NOT EXISTS 'root'@'$CLIENT_HOSTS';
        GRANT ALL ON *.* TO 'root'@'$CLIENT_HOSTS' WITH GRANT OPTION;" \
        || die "cannot create the test accounts on node $1"
}

all_synced() { local n; for n in "${NODES[@]}"; do node_synced "$n" "${#NODES[@]}" || return 1; done; }

# What an interrupted cluster test may leave: frozen nodes (SIGSTOP) and nodes isolated from
# the group (gmcast.isolate=1, testkit/galera.py). Wake and reconnect them.
undo_test_faults() {
    local n pid
    for n in $(running_nodes); do
        pid="$(node_pid "$n")" && kill -CONT "$pid"
        node_sql "$n" "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'" >/dev/null || true
    done
    sleep 1   # let the nodes see each other before judging the components
}

cmd_start() {
    local started=$SECONDS n first primary=""
    install_packages
    PROVIDER="$(provider)"
    if load_state && [ -n "$(running_nodes)" ]; then
        all_synced && { log "cluster already running and Synced (ports $MH_GALERA_PORTS)"; return 0; }
        undo_test_faults
        for n in $(running_nodes); do node_synced "$n" && { primary=$n; break; }; done
        if [ -z "$primary" ]; then   # leftovers without a primary component: start over
            log "nodes $(running_nodes | tr '\n' ' ')run without a primary component: restarting the cluster"
            cmd_stop
        fi
    fi
    if [ -z "$primary" ]; then
        { load_state && ports_free; } || write_state
        for n in "${NODES[@]}"; do write_config "$n"; done
        own_node_dirs
        init_all_datadirs
        first="$(bootstrap_node)"
        launch_node "$first" --wsrep-new-cluster
        wait_started "$first"
        wait_synced "$first" 1
        grant_test_accounts "$first"
        primary=$first
    fi
    for n in "${NODES[@]}"; do node_pid "$n" >/dev/null || launch_node "$n"; done
    for n in "${!LAUNCHED[@]}"; do wait_started "$n"; done
    for n in "${NODES[@]}"; do wait_synced "$n" "${#NODES[@]}"; done
    log "cluster Synced in $((SECONDS - started))s: SQL ports $MH_GALERA_PORTS on $HOST"
}

cmd_stop() {
    load_state || { log "no cluster set up under $BASE"; return 0; }
    local i
    for ((i = ${#NODES[@]} - 1; i >= 0; i--)); do stop_node "${NODES[$i]}"; done
}

cmd_status() {
    load_state || { log "no cluster set up under $BASE"; return 1; }
    local n pid state lstate cstatus size healthy=0
    for n in "${NODES[@]}"; do
        pid="$(node_pid "$n")" || pid=none
        state="not answering"
        if [ "$pid" != none ] && read -r lstate cstatus size < <(node_state "$n"); then
            state="local_state=$lstate cluster=$cstatus size=$size"
        fi
        node_synced "$n" "${#NODES[@]}" || healthy=1
        echo "node$n port=$(sql_port "$n") pid=$pid $state"
    done
    return "$healthy"
}

cmd_env() {
    load_state || die "no cluster set up under $BASE (run: bash tools/ensure_galera.sh start)"
    cat "$STATE"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    start-node)
        [[ "${2:-}" =~ ^[123]$ ]] || die "usage: $0 start-node 1|2|3"
        load_state || die "no cluster set up under $BASE"
        PROVIDER="$(provider)"; write_config "$2"; own_node_dirs
        launch_node "$2"
        [ -z "${LAUNCHED[$2]:-}" ] || wait_started "$2" ;;
    *) die "usage: $0 start|stop|status|env|start-node N" ;;
esac
