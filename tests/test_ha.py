"""Hot standby on one MariaDB server: a standby takes over from an active instance
that dies, freezes or is cut off on another host, within lock_timeout + poll_interval
+ 5 s, and every recipient gets exactly one row. "Another host": the active instance
runs in a UTS namespace of its own with another host name, so that the standby cannot
see that its process is gone and must wait for the lease to expire, as it would; cut
off, it runs in a network namespace and reaches the server through a veth link (and a
relay to 127.0.0.1, where the server listens) that the test takes down.

MH_HA_TRIALS=10 repeats each case (make faults runs them so); each trial prints
the takeover it measured.
"""
from __future__ import annotations

import os
import signal
import statistics
import subprocess
import time
from typing import List

import faultkit as fk
import pytest

from testkit.db import SERVER, add_matching_users, assert_exactly_once, state, written
from testkit.netns import NetNs
from testkit.process import ROOT, main_command, read_log, run_main, start_daemon, write_config
from testkit.relay import Relay
from testkit.wait import wait_until

LOCK_TIMEOUT = 3
POLL_INTERVAL = 0.2
BOUND = LOCK_TIMEOUT + POLL_INTERVAL + 5
TRIALS = int(os.environ.get("MH_HA_TRIALS", "1"))
TAKEOVERS: dict = {}


def start_on_other_host(config: str, host: str) -> "subprocess.Popen[str]":
    """main.py under another host name (a UTS namespace; the tests run as root)."""
    command = ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', host,
               *main_command(config)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def lease_pid(db) -> int:
    """The pid holding the lease now (None before the daemon made its tables)."""
    if not db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE "
                     "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'mh_lease'"):
        return None
    return db.scalar("SELECT pid FROM mh_lease WHERE holder <> '' AND expires_at > NOW(6)")


def record(case: str, seconds: float) -> None:
    TAKEOVERS.setdefault(case, []).append(seconds)
    times: List[float] = TAKEOVERS[case]
    print("\ntakeover after %s: %.2f s (trial %d; median %.2f s, worst %.2f s; bound %.1f s)"
          % (case, seconds, len(times), statistics.median(times), max(times), BOUND))


def instance_config(path: str, database: str, batch_size: int = 500, **connection) -> str:
    return write_config(path, database, connection=connection or None, batch_size=batch_size,
                        max_rows_per_second=4000, standby="true", lock_timeout=LOCK_TIMEOUT,
                        poll_interval=POLL_INTERVAL)


@pytest.fixture
def two_hosts(db, tmp_path):
    """Active instance A on host-a (its own UTS namespace), standby B here."""
    processes: List[subprocess.Popen] = []
    configs = []
    for name in ("a", "b"):
        os.makedirs(str(tmp_path / name))
        configs.append(instance_config(str(tmp_path / name / "db.conf"), db.name))
    yield configs, processes
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.kill()
        process.wait(10)


@pytest.mark.parametrize("trial", range(TRIALS))
@pytest.mark.parametrize("failure", ["SIGKILL", "SIGSTOP"])
def test_the_standby_takes_over_from_a_dead_or_frozen_active_instance(
        db, two_hosts, failure, trial):
    configs, processes = two_hosts
    users = add_matching_users(db, 30000)
    news = db.add_news()
    a = start_on_other_host(configs[0], "host-a")
    processes.append(a)
    wait_until(lambda: written(db, "news", news) > 2000, 60, "A writing", alive=[a])
    b = start_daemon(configs[1])
    processes.append(b)
    wait_until(lambda: "standing by" in read_log(configs[1]), 30, "B standing by", alive=[b])
    assert "is held by pid %d on host-a" % a.pid in read_log(configs[1])
    status = run_main(configs[1], "status").stdout
    assert "pid %d on host-a holds the lock" % a.pid in status
    assert "standing by: pid %d on " % b.pid in status
    a.send_signal(getattr(signal, failure))
    failed_at = time.monotonic()
    before = written(db, "news", news)
    wait_until(lambda: lease_pid(db) == b.pid, BOUND + 10, "B holding the lease", 0.02,
               alive=[b])
    takeover = time.monotonic() - failed_at
    wait_until(lambda: state(db, "news", news) == "done", 120, "B finishing", alive=[b])
    if failure == "SIGSTOP":
        a.send_signal(signal.SIGCONT)  # wakes up with a stale lease: commits nothing
        wait_until(lambda: "stands by" in read_log(configs[0]), 30, "A stepping down",
                   alive=[a])
    record(failure, takeover)
    assert takeover <= BOUND
    assert written(db, "news", news) == len(users) > before
    assert_exactly_once(db, 230, users)
    assert "sent to" not in read_log(configs[0])
    b.send_signal(signal.SIGTERM)
    assert b.wait(15) == 0


A_BATCH, B_BATCH = 300, 700  # who wrote a chunk, by its size


@pytest.mark.parametrize("trial", range(TRIALS))
@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and veth links need root")
def test_a_network_cut_active_instance_is_replaced_and_commits_nothing_after(
        db, two_hosts, trial):
    """The link between A and the server is cut mid-fan-out: B takes over within the bound,
    A notices within it (no statement hangs longer), and once the link is back A commits
    nothing: it stands by."""
    configs, processes = two_hosts
    users = add_matching_users(db, 30000)
    news = db.add_news()
    with NetNs.create() as ns, \
            Relay((SERVER["host"], SERVER["port"]), ns.host_address).start() as relay:
        instance_config(configs[0], db.name, A_BATCH, host=ns.host_address, port=relay.port)
        instance_config(configs[1], db.name, B_BATCH)
        a = ns.popen(main_command(configs[0]), cwd=ROOT, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE, text=True)
        processes.append(a)
        wait_until(lambda: written(db, "news", news) > 2000, 60, "A writing", alive=[a])
        b = start_daemon(configs[1])
        processes.append(b)
        wait_until(lambda: "standing by" in read_log(configs[1]), 30, "B standing by",
                   alive=[b])
        logged = len(read_log(configs[0]))
        ns.cut()
        cut_at = time.monotonic()
        time.sleep(0.3)  # what A had committed is visible by now
        before = written(db, "news", news)
        wait_until(lambda: lease_pid(db) == b.pid, BOUND + 10, "B holding the lease", 0.02,
                   alive=[b])
        takeover = time.monotonic() - cut_at
        wait_until(lambda: " WARNING " in read_log(configs[0])[logged:], BOUND, "A noticing",
                   alive=[a])
        wait_until(lambda: state(db, "news", news) == "done", 120, "B finishing", alive=[b])
        ns.restore()
        wait_until(lambda: "stands by" in read_log(configs[0]), 60, "A standing by",
                   alive=[a])
    record("a network cut", takeover)
    assert takeover <= BOUND
    sizes = fk.chunks_in_commit_order(db, 230)
    a_chunks = before // A_BATCH
    assert set(sizes[:a_chunks]) == {A_BATCH} and sum(sizes[:a_chunks]) == before, sizes
    assert A_BATCH not in sizes[a_chunks:-1], "a chunk of A after the cut: %s" % sizes
    assert_exactly_once(db, 230, users)
    assert "sent to" not in read_log(configs[0])


def test_a_clean_stop_hands_the_lease_over_at_once(db, tmp_path):
    """SIGTERM releases the lease: the standby does not wait for it to expire."""
    configs = [write_config(str(tmp_path / ("%s.conf" % name)), db.name, standby="true",
                            lock_timeout=30, log_file="%s.log" % name) for name in "ab"]
    a = start_daemon(configs[0])
    b = None
    try:
        wait_until(lambda: lease_pid(db) == a.pid, 30, "A holding the lease", alive=[a])
        b = start_daemon(configs[1])
        wait_until(lambda: db.scalar("SELECT COUNT(*) FROM mh_standby WHERE pid = %s",
                                     [b.pid]), 30, "B standing by", alive=[b])
        a.send_signal(signal.SIGTERM)
        assert a.wait(15) == 0
        stopped = time.monotonic()
        wait_until(lambda: lease_pid(db) == b.pid, 10, "B holding the lease", 0.02, alive=[b])
        assert time.monotonic() - stopped < 5, "B waited for the lease to expire"
        # B takes the lease, then forgets its standby record: right after, not before.
        wait_until(lambda: not db.scalar("SELECT COUNT(*) FROM mh_standby WHERE pid = %s",
                                         [b.pid]), 5, "B no longer standing by", alive=[b])
    finally:
        for process in (a, b):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(15)
