"""Issue 3, point 5: start-up faults, with the real main.py as a process.

Already covered elsewhere, not repeated here:
- --once, closed port: exit 2, one line, no password
  (test_config.py::test_unreachable_database_exits_2_with_one_line);
- --once, unknown account: exit 2, "authentication failed", password nowhere
  (test_config.py::test_wrong_password_exits_2_says_authentication_failed_without_the_password);
- long-running, unknown account: exit 2, one line, password nowhere
  (test_process.py::test_long_running_mode_exits_2_on_a_wrong_password);
- long-running, closed port: "cannot start yet", still running, SIGTERM exits 0
  (test_process.py::test_long_running_mode_waits_for_an_unreachable_database);
- --once, db.conf mode 0644: the warning's text, and none at 0600
  (test_process.py::test_a_config_readable_by_others_is_warned_about_at_start);
- util.db's translation of 1045 (test_db_errors.py).

Added here: what the --once line says (where and why), an unresolvable host name; the
backoff itself (doubling delays, really waited) and the start once the database comes
up (a TCP forwarder started late); the wrong password of an account that exists, at
DEBUG level, in both modes; an unknown database; the warning as a WARNING line in the
long-running mode; a server that accepts connections but never answers, a password
outside Latin-1, and a db.conf readable by its group.
"""
from __future__ import annotations

import datetime
import os
import re
import signal
import socket
import time

import pytest

from testkit.db import SERVER
from testkit.process import free_port, one_line, read_log, run_main, start_daemon, write_config
from testkit.relay import Relay
from testkit.wait import wait_until

PASSWORD = "Wr0ng#Pw;%(x)s-7c1e"  # distinctive: not a word, not a prefix of anything logged
RETRY = re.compile(r"^(?P<time>\S+) WARNING MainThread cannot start yet \(.*\); "
                   r"trying again in (?P<delay>\d+) s$", re.M)


def config_for(tmp_path, database="mh_test_startup_nowhere", **connection_and_main):
    connection = {key: connection_and_main.pop(key) for key in ("host", "port", "user",
                                                                 "password")
                  if key in connection_and_main}
    return write_config(str(tmp_path / "db.conf"), database, connection,
                        **connection_and_main)


def run_forever_until_exit(config: str, timeout: float = 30):
    """The long-running mode, expected to exit on its own: (code, stdout, stderr)."""
    daemon = start_daemon(config)
    try:
        out, err = daemon.communicate(timeout=timeout)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.communicate()
    return daemon.returncode, out, err


def stop(daemon, timeout: float = 10) -> int:
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
    try:
        return daemon.wait(timeout)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


@pytest.fixture
def silent_port():
    """A port that accepts TCP connections and never says a word (a hung server, or a
    proxy whose backend is gone): the kernel completes the handshake, nobody answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


# ---------------------------------------------------------------- --once, unreachable

@pytest.mark.parametrize("host,port,reason,seconds", [
    ("127.0.0.1", None, "Connection refused", 10),
    # the resolver's wording varies (no such name; no DNS reachable at all)
    ("mh-no-such-host.invalid", 3306, "not known|name resolution|No address", 30),
], ids=["closed port", "unknown host name"])
def test_once_unreachable_database_says_where_and_why_in_one_line(tmp_path, host, port,
                                                                   reason, seconds):
    port = port or free_port()
    config = config_for(tmp_path, host=host, port=port, password=PASSWORD)
    started = time.monotonic()
    result = run_main(config, "--once", timeout=60)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("message_handling: ")
    assert "Can't connect" in line and re.search(reason, line)
    assert "%s:%d" % (host, port) in line
    assert result.stdout == ""
    assert time.monotonic() - started < seconds
    log = read_log(config)
    assert "ERROR MainThread" in log and "%s:%d" % (host, port) in log
    assert PASSWORD not in result.stderr + log


def test_once_against_a_silent_server_exits_2_instead_of_hanging(tmp_path, silent_port):
    config = config_for(tmp_path, port=silent_port)
    result = run_main(config, "--once", timeout=12)  # connect_timeout is 5 s
    assert result.returncode == 2
    assert "timed out" in one_line(result.stderr)


def test_long_running_mode_retries_a_silent_server_and_stops_on_sigterm(tmp_path,
                                                                         silent_port):
    config = config_for(tmp_path, port=silent_port)
    daemon = start_daemon(config)
    try:
        deadline = time.monotonic() + 10  # connect_timeout is 5 s
        while time.monotonic() < deadline and not RETRY.search(read_log(config)):
            time.sleep(0.2)
        assert RETRY.search(read_log(config)), "no retry logged: hung in the handshake"
        assert daemon.poll() is None
        started = time.monotonic()
        assert stop(daemon, timeout=8) == 0
        assert time.monotonic() - started < 8
    finally:
        stop(daemon, timeout=0.1)


# ---------------------------------------------------------------- long-running, backoff

def test_long_running_mode_backs_off_then_writes_once_the_database_is_reachable(db,
                                                                                 tmp_path):
    user = db.add_carded_user()
    news, promotion, activity = db.add_news(), db.add_promotion(), db.add_activity()
    # Listening only once started: before, the port refuses connections like a server that
    # is down.
    forwarder = Relay((SERVER["host"], SERVER["port"]), port=free_port())
    config = write_config(str(tmp_path / "db.conf"), db.name, {"port": forwarder.port})
    daemon = start_daemon(config)
    try:
        wait_until(lambda: len(RETRY.findall(read_log(config))) >= 2, timeout=15,
                   interval=0.05)
        assert daemon.poll() is None, "the daemon exited instead of waiting"
        assert db.queue_rows() == []
        forwarder.start()
        wait_until(lambda: all((db.run(job, campaign) or {}).get("state") == "done"
                               for job, campaign in (("news", news), ("promotion", promotion),
                                                     ("activity", activity))),
                   timeout=20, interval=0.1)
        assert stop(daemon) == 0
    finally:
        stop(daemon, timeout=0.1)
        forwarder.close()
    log = read_log(config)
    retries = [(datetime.datetime.fromisoformat(m["time"]), int(m["delay"]))
               for m in RETRY.finditer(log)]
    assert [delay for _, delay in retries] == [1, 2, 4, 8, 16][:len(retries)]
    for (when, delay), (later, _) in zip(retries, retries[1:]):
        assert (later - when).total_seconds() >= delay - 0.05, "announced %d s, waited less" \
            % delay
    assert log.index("message_handling started") > log.rindex("cannot start yet")
    assert log.count("database unreachable") == 1, "one outage, reported once"
    assert log.index("database reachable again") > log.rindex("cannot start yet")
    assert [row["to_uid"] for row in db.queue_rows(230)] == [user]
    assert sorted(row["to_uid"] for row in db.queue_rows(231)) == [user, user]
    assert " ERROR " not in log


# ---------------------------------------------------------------- wrong password, database

@pytest.mark.parametrize("mode", ["--once", "long-running"])
def test_wrong_password_of_an_existing_account_is_never_shown(tmp_path, mode):
    """SERVER's own account with a wrong password (the existing tests use an account that
    does not exist), and the log at DEBUG, where a driver could be chattier."""
    config = config_for(tmp_path, password=PASSWORD, log_level="DEBUG")
    if mode == "--once":
        result = run_main(config, "--once", timeout=30)
        code, out, err = result.returncode, result.stdout, result.stderr
    else:
        code, out, err = run_forever_until_exit(config)
    assert code == 2
    line = one_line(err)
    assert "authentication failed" in line and "'%s'" % SERVER["user"] in line
    log = read_log(config)
    assert "authentication failed" in log
    assert "cannot start yet" not in log  # a wrong account is not waited for
    for text in (out, err, log):
        assert PASSWORD not in text
        assert PASSWORD[:8] not in text


@pytest.mark.parametrize("mode", ["--once", "long-running"])
def test_non_latin1_password_is_a_clean_authentication_failure(tmp_path, mode):
    password = "密码-" + PASSWORD
    config = config_for(tmp_path, password=password)
    if mode == "--once":
        result = run_main(config, "--once", timeout=30)
        code, out, err = result.returncode, result.stdout, result.stderr
    else:
        code, out, err = run_forever_until_exit(config)
    log = read_log(config)
    assert code == 2, err
    assert "authentication failed" in one_line(err)
    assert "authentication failed" in log
    for text in (out, err, log):
        assert password not in text and "密码" not in text


@pytest.mark.parametrize("mode", ["--once", "long-running"])
def test_unknown_database_exits_2_naming_it(tmp_path, mode):
    config = config_for(tmp_path, database="mh_test_no_such_database_%d" % os.getpid())
    if mode == "--once":
        result = run_main(config, "--once", timeout=30)
        code, err = result.returncode, result.stderr
    else:
        code, _, err = run_forever_until_exit(config)
    assert code == 2
    line = one_line(err)
    assert "Unknown database" in line and "mh_test_no_such_database_%d" % os.getpid() in line


# ---------------------------------------------------------------- db.conf permissions

def warnings_before_start(config):
    log = read_log(config)
    head = log[:log.index("message_handling started")]
    return [line for line in head.splitlines() if " WARNING " in line]


def test_world_readable_config_is_a_warning_at_start_of_the_long_running_mode(db, tmp_path):
    config = write_config(str(tmp_path / "db.conf"), db.name)
    os.chmod(config, 0o644)
    daemon = start_daemon(config)
    try:
        wait_until(lambda: "message_handling started" in read_log(config), timeout=20)
    finally:
        assert stop(daemon) == 0
    warning = one_line("\n".join(warnings_before_start(config)))
    assert re.match(r"^\S+ WARNING MainThread ", warning)
    assert config in warning and "readable by other users" in warning
    assert "chmod 600" in warning


def test_group_readable_config_is_warned_about(db, tmp_path):
    config = write_config(str(tmp_path / "db.conf"), db.name)
    os.chmod(config, 0o640)
    assert run_main(config, "--once", timeout=30).returncode == 0
    assert "readable by other users" in read_log(config)

