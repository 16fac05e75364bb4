"""The cluster test kit against the real 3-node Galera cluster (tools/ensure_galera.sh).

What a node loss, a frozen node, a node cut from quorum and a cut network look like to a
client, measured: every test prints its figures ("[cluster] ..."). Run with
`make cluster-test`, which starts the cluster and sets MH_CLUSTER_TESTS=1; without it
these tests are skipped. Each test leaves the cluster with three Synced nodes.
"""
from __future__ import annotations

import itertools
import os
import select
import subprocess
import sys
import textwrap
import time
from typing import Iterator, List, Tuple

import pymysql
import pytest

from testkit.db import TEST_DB_PREFIX
from testkit.galera import Cluster
from testkit.netns import NetNs

pytestmark = pytest.mark.cluster

NOT_READY = (1047, 1180)    # WSREP not prepared for application use / not in Primary Component
HANDSHAKE_READ_TIMEOUT = 2.0
_counter = itertools.count()


def report(what: str, **figures: float) -> None:
    print("\n[cluster] %s: %s" % (what, ", ".join(
        "%s=%.2fs" % (name, value) for name, value in figures.items())))


@pytest.fixture
def scratch(cluster: Cluster) -> Iterator[str]:
    """A database of this test with a table `notes`; afterwards the cluster is repaired
    (three Synced nodes, whatever the test did to them) and the database dropped."""
    name = "%scluster_%d_%d" % (TEST_DB_PREFIX, os.getpid(), next(_counter))
    execute(cluster, 1, "CREATE DATABASE `%s` CHARACTER SET utf8mb4" % name)
    execute(cluster, 1, "CREATE TABLE `%s`.notes (id INT AUTO_INCREMENT PRIMARY KEY, "
                        "body VARCHAR(100) NOT NULL) ENGINE=InnoDB" % name)
    yield name
    report("repair after the test", took=cluster.repair())
    execute(cluster, 1, "DROP DATABASE `%s`" % name)


def execute(cluster: Cluster, node: int, sql: str, params: Tuple[object, ...] = (),
            **options: float) -> List[Tuple[object, ...]]:
    """Run one statement on a node with a fresh connection; its rows."""
    connection = cluster.connect(node, **options)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params or None)
            return list(cursor.fetchall())
    finally:
        connection.close()


def add_note(cluster: Cluster, node: int, database: str, body: str, **options: float) -> None:
    execute(cluster, node, "INSERT INTO `%s`.notes (body) VALUES (%%s)" % database, (body,),
            **options)


def notes_on(cluster: Cluster, node: int, database: str) -> List[str]:
    """The notes as the node sees them once it applied every commit of the cluster."""
    connection = cluster.connect(node)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION wsrep_sync_wait = 1")
            cursor.execute("SELECT body FROM `%s`.notes ORDER BY id" % database)
            return [row[0] for row in cursor.fetchall()]
    finally:
        connection.close()


@pytest.mark.cluster_ci
def test_a_write_on_node_1_is_read_on_node_3(cluster: Cluster, scratch: str) -> None:
    started = time.monotonic()
    add_note(cluster, 1, scratch, "写在节点一 🚀")
    written = time.monotonic()
    assert notes_on(cluster, 3, scratch) == ["写在节点一 🚀"]
    report("write on node 1, causal read on node 3", write=written - started,
           read=time.monotonic() - written)


def test_a_sigkilled_node_restarts_and_rejoins_by_ist(cluster: Cluster, scratch: str) -> None:
    killed_pid = cluster.kill(3)
    seen = cluster.wait_cluster_size(1, 2, timeout=30)
    add_note(cluster, 1, scratch, "节点三不在时写入 ✅")   # node 3 must fetch this on rejoin
    log_offset = cluster.node(3).error_log.stat().st_size
    rejoined = cluster.restart(3, timeout=120)
    with open(cluster.node(3).error_log, encoding="utf-8", errors="replace") as log:
        log.seek(log_offset)
        restart_log = log.read()
    report("SIGKILL node 3", survivors_saw_the_loss=seen, restart_to_synced=rejoined)
    assert cluster.pid(3) not in (None, killed_pid)
    # rsync's script runs on every join; only a full copy logs "rsync SST completed".
    assert "IST received" in restart_log and "rsync SST completed" not in restart_log
    assert notes_on(cluster, 3, scratch) == ["节点三不在时写入 ✅"]


def test_a_sigstopped_node_is_dropped_then_rejoins_after_sigcont(cluster: Cluster,
                                                                  scratch: str) -> None:
    cluster.sigstop(3)
    frozen = time.monotonic()
    # The cluster cannot commit until it evicts the silent node (evs.suspect_timeout).
    add_note(cluster, 1, scratch, "冻结期间写入 🧊", read_timeout=60)
    write_stall = time.monotonic() - frozen
    cluster.wait_cluster_size(1, 2, timeout=30)
    dropped = time.monotonic() - frozen
    # The kernel accepts the TCP connection; the handshake then waits for the frozen server,
    # and only read_timeout ends that wait (connect_timeout covers the TCP connect alone).
    connecting = time.monotonic()
    with pytest.raises(pymysql.OperationalError):
        cluster.connect(3, connect_timeout=1, read_timeout=HANDSHAKE_READ_TIMEOUT)
    handshake = time.monotonic() - connecting
    cluster.sigcont(3)
    rejoined = cluster.wait_synced(3, timeout=90)
    report("SIGSTOP node 3", write_on_node_1_stalled=write_stall,
           node_1_saw_a_component_of_2=dropped, connect_to_frozen_node_failed_after=handshake,
           sigcont_to_synced=rejoined)
    assert HANDSHAKE_READ_TIMEOUT - 0.1 <= handshake <= HANDSHAKE_READ_TIMEOUT + 1
    assert cluster.cluster_size(1) == 3
    assert notes_on(cluster, 3, scratch) == ["冻结期间写入 🧊"]


def test_a_node_cut_from_quorum_refuses_writes_then_rejoins(cluster: Cluster,
                                                           scratch: str) -> None:
    out = cluster.isolate(3, timeout=30)
    with pytest.raises(pymysql.OperationalError) as refused:
        add_note(cluster, 3, scratch, "少数派写入 ❌")
    add_note(cluster, 1, scratch, "多数派写入 ✅")
    cluster.set_provider_option(3, "gmcast.isolate=0")
    codes, accepted = writes_until_accepted(cluster, 3, scratch, timeout=60)
    synced = cluster.wait_synced(3, timeout=60)
    report("node 3 cut from quorum (gmcast.isolate)", non_primary_after=out,
           writes_refused_until=accepted, synced_after=synced)
    print("[cluster] codes answered by node 3 while rejoining, in order: %s" % codes)
    assert refused.value.args[0] in NOT_READY
    assert set(codes) <= set(NOT_READY)
    assert notes_on(cluster, 3, scratch) == ["多数派写入 ✅", "回来了 🔁"]


def test_a_lone_survivor_is_healed_with_pc_bootstrap(cluster: Cluster, scratch: str) -> None:
    cluster.kill(2)
    cluster.kill(3)
    lost = cluster.wait_non_primary(1, timeout=30)
    with pytest.raises(pymysql.OperationalError) as refused:
        add_note(cluster, 1, scratch, "失去法定人数 ❌")
    healing = time.monotonic()
    healed_node = cluster.heal(timeout=30)
    add_note(cluster, 1, scratch, "独自恢复 🩹")
    healed = time.monotonic() - healing
    second = cluster.restart(2, timeout=120)
    third = cluster.restart(3, timeout=120)
    report("SIGKILL nodes 2 and 3, pc.bootstrap on node 1", node_1_non_primary_after=lost,
           bootstrap_to_first_write=healed, restart_node_2=second, restart_node_3=third)
    assert refused.value.args[0] in NOT_READY
    assert healed_node == 1
    assert notes_on(cluster, 3, scratch) == ["独自恢复 🩹"]


def writes_until_accepted(cluster: Cluster, node: int, database: str,
                          timeout: float) -> Tuple[List[int], float]:
    """Try a write on the node every 0.1 s until it commits one ("回来了 🔁"): the distinct
    error codes in the order they came, and the seconds until the write went through."""
    codes: List[int] = []
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            add_note(cluster, node, database, "回来了 🔁", read_timeout=10)
            return codes, time.monotonic() - started
        except pymysql.OperationalError as error:
            if not codes or codes[-1] != error.args[0]:
                codes.append(error.args[0])
        time.sleep(0.1)
    raise AssertionError("node %d still refused writes after %.0fs: %s" % (node, timeout, codes))


# A client inside the namespace: connects, says "connected", waits for a line on stdin,
# then reads the notes and prints "ok <seconds>" or "error <seconds> <code>".
CLIENT = textwrap.dedent("""
    import sys, time, pymysql
    host, port, database, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    connection = pymysql.connect(host=host, port=port, user="root", password="", database=database,
                                 connect_timeout=5, read_timeout=timeout, write_timeout=timeout)
    print("connected", flush=True)
    sys.stdin.readline()
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT body FROM notes")
        print("ok %.3f" % (time.monotonic() - started), flush=True)
    except pymysql.MySQLError as error:
        print("error %.3f %d" % (time.monotonic() - started, error.args[0]), flush=True)
""")
READ_TIMEOUT = 3.0


def read_line(process: "subprocess.Popen[str]", timeout: float) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise AssertionError("no line from pid %d within %.0fs" % (process.pid, timeout))
    return process.stdout.readline().strip()


def client_read(ns: NetNs, cluster: Cluster, database: str, cut_first: bool) -> str:
    """Start the client in the namespace against node 1, cut the link if asked, let it read;
    its last line."""
    client = ns.popen([sys.executable, "-c", CLIENT, ns.host_address, str(cluster.ports[0]),
                       database, str(READ_TIMEOUT)],
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert read_line(client, 15) == "connected"
        if cut_first:
            ns.cut()
        assert client.stdin is not None
        client.stdin.write("go\n")
        client.stdin.flush()
        return read_line(client, READ_TIMEOUT + 10)
    finally:
        client.kill()
        client.wait(10)


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and veth links need root")
def test_a_cut_link_ends_a_read_at_its_read_timeout(cluster: Cluster, scratch: str) -> None:
    add_note(cluster, 1, scratch, "网络测试 🌐")
    with NetNs.create() as ns:
        cut = client_read(ns, cluster, scratch, cut_first=True).split()
        ns.restore()
        after = client_read(ns, cluster, scratch, cut_first=False).split()
    report("read through a cut veth link", read_timeout=READ_TIMEOUT, failed_after=float(cut[1]))
    assert cut[0] == "error" and cut[2] == "2013"          # lost connection during query
    assert READ_TIMEOUT - 0.1 <= float(cut[1]) <= READ_TIMEOUT + 2
    assert after[0] == "ok"
