"""The real main.py as a process: crash and restart, single instance, signals."""
from __future__ import annotations

import os
import signal
import time

import pytest

from testkit.db import add_matching_users, assert_exactly_once, connect, state, written
from testkit.process import read_log, run_main, start_daemon, write_config
from testkit.wait import wait_until


def daemon_table_exists(db, table: str) -> bool:
    return bool(db.scalar("SELECT COUNT(*) FROM information_schema.tables "
                          "WHERE table_schema = %s AND table_name = %s", [db.name, table]))


def test_sigkill_mid_fanout_then_restart_writes_everyone_exactly_once(db, tmp_path):
    users = add_matching_users(db, 30000)
    news = db.add_news()
    config = write_config(str(tmp_path / "db.conf"), db.name, batch_size=1000)
    kills = 0
    for _ in range(3):
        daemon = start_daemon(config)
        try:
            wait_until(lambda: written(db, "news", news) > 0 or state(db, "news", news) == "done")
        except AssertionError:
            daemon.kill()  # never leave a daemon behind a failed test
            daemon.wait(10)
            raise
        if state(db, "news", news) == "done":
            daemon.terminate()
            daemon.wait(10)
            break
        time.sleep(0.05)
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(10)
        kills += 1
        run = db.run("news", news)
        assert run["written"] == db.scalar("SELECT COUNT(*) FROM message_queue")
        assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id = %s", [news]) \
            == (2 if run["state"] == "done" else 1)
    assert kills >= 1, "the fan-out finished before any kill: the test proved nothing"
    assert run_main(config, "--once").returncode == 0
    assert_exactly_once(db, 230, users)
    run = db.run("news", news)
    assert (run["state"], run["recipients"], run["written"]) == ("done", 30000, 30000)
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id = %s", [news]) == 2
    # The audience of a done campaign is housekeeping, pruned at the next start.
    assert db.scalar("SELECT COUNT(*) FROM mh_audience") == 30000
    assert run_main(config, "--once").returncode == 0
    assert db.scalar("SELECT COUNT(*) FROM mh_audience") == 0


def test_second_instance_exits_2_and_names_the_holder(db, config_path):
    first = start_daemon(config_path)
    try:
        wait_until(lambda: daemon_table_exists(db, "mh_lease")
                   and db.scalar("SELECT COUNT(*) FROM mh_lease WHERE holder <> ''"))
        second = run_main(config_path, "--once", timeout=30)
        assert second.returncode == 2
        assert "another instance holds the lock" in second.stderr
        assert "pid %d" % first.pid in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        first.terminate()
        first.wait(10)


def test_sigterm_exits_0_promptly_and_leaves_no_half_chunk(db, tmp_path):
    users = add_matching_users(db, 20000)
    news = db.add_news()
    config = write_config(str(tmp_path / "db.conf"), db.name, batch_size=500)
    daemon = start_daemon(config)
    wait_until(lambda: written(db, "news", news) > 0)
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(10) == 0
    run = db.run("news", news)
    assert run["written"] == db.scalar("SELECT COUNT(*) FROM message_queue")
    assert run_main(config, "--once").returncode == 0
    assert_exactly_once(db, 230, users)
    assert "message_handling stopped" in read_log(config)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_idle_daemon_stops_on_signal_with_exit_0(db, config_path, signum):
    daemon = start_daemon(config_path)
    wait_until(lambda: "started" in read_log(config_path))
    daemon.send_signal(signum)
    assert daemon.wait(10) == 0


def test_running_daemon_sees_campaigns_created_after_it_started(db, config_path):
    user = db.add_carded_user()
    daemon = start_daemon(config_path)
    try:
        first = db.add_news()
        wait_until(lambda: state(db, "news", first) == "done", timeout=20)
        second = db.add_activity()
        wait_until(lambda: state(db, "activity", second) == "done", timeout=20)
        assert db.recipients(230) == [user] and db.recipients(231) == [user]
    finally:
        daemon.terminate()
        assert daemon.wait(10) == 0


def test_long_running_mode_waits_for_an_unreachable_database(tmp_path):
    config = write_config(str(tmp_path / "db.conf"), "mh_test_x", {"port": 1})
    daemon = start_daemon(config)
    wait_until(lambda: "cannot start yet" in read_log(config), timeout=20)
    assert daemon.poll() is None, "the daemon exited instead of waiting"
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(10) == 0


def test_long_running_mode_exits_2_on_a_wrong_password(tmp_path):
    config = write_config(str(tmp_path / "db.conf"), "mh_test_x",
                          {"user": "mh_nobody", "password": "Pw-9f8e7d!"})
    daemon = start_daemon(config)
    out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 2
    assert "authentication failed" in err and len(err.strip().splitlines()) == 1
    assert "Pw-9f8e7d!" not in out + err + read_log(config)


def test_sigterm_while_a_campaign_transaction_is_blocked_exits_promptly_and_loses_nothing(
        db, config_path):
    users = add_matching_users(db, 50)
    news = db.add_news(status=2)  # not due yet
    blocker = connect(db.name)
    daemon = start_daemon(config_path)
    try:
        wait_until(lambda: daemon_table_exists(db, "mh_lease"))
        with blocker.cursor() as cursor:  # an uncommitted run row: the claim must wait on it
            cursor.execute("BEGIN")
            cursor.execute("INSERT INTO mh_campaign_run (job, campaign_id, state) "
                           "VALUES ('news', %s, 'pending')", [news])
        db.query("UPDATE sns_qa_push_setting SET status = 1 WHERE id = %s", [news])
        wait_until(lambda: db.scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "
                                     "DB = %s AND INFO LIKE 'INSERT IGNORE INTO mh_campaign_run%%'",
                                     [db.name]))
        started = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
        assert time.monotonic() - started < 10
    finally:
        blocker.close()  # rolls the blocking row back
        if daemon.poll() is None:
            daemon.kill()
    assert db.run("news", news) is None
    assert db.queue_rows() == []
    assert run_main(config_path, "--once").returncode == 0
    assert_exactly_once(db, 230, users)


def test_a_config_readable_by_others_is_warned_about_at_start(db, config_path):
    os.chmod(config_path, 0o644)
    assert run_main(config_path, "--once").returncode == 0
    assert "is readable by other users" in read_log(config_path)
    os.chmod(config_path, 0o600)
    open(os.path.join(os.path.dirname(config_path), "pushing.log"), "w").close()
    assert run_main(config_path, "--once").returncode == 0
    assert "readable by other users" not in read_log(config_path)
