"""Connections cut under a running daemon, and the instance lock taken away from it."""
from __future__ import annotations

import time

from mg_handling.lock import lock_name
from testkit.db import add_matching_users, assert_exactly_once, connect, state, written
from testkit.process import read_log, start_daemon, write_config
from testkit.wait import wait_until


def daemon_connections(db) -> list:
    """Ids of every connection to the test database but the test's own."""
    rows = db.query("SELECT ID FROM information_schema.PROCESSLIST "
                    "WHERE DB = %s AND ID <> CONNECTION_ID()", [db.name])
    return [row["ID"] for row in rows]


def kill(db, connection_ids) -> None:
    for connection_id in connection_ids:
        try:
            db.query("KILL CONNECTION %s", [connection_id])
        except Exception:  # it may have ended on its own meanwhile
            pass


def test_connections_killed_mid_fanout_never_double_write(db, tmp_path):
    users = add_matching_users(db, 30000)
    news = db.add_news()
    config = write_config(str(tmp_path / "db.conf"), db.name, batch_size=500)
    daemon = start_daemon(config)
    try:
        cuts = 0
        while state(db, "news", news) != "done" and cuts < 4:
            if written(db, "news", news) > 0:
                kill(db, daemon_connections(db))
                cuts += 1
                time.sleep(0.3)
            else:
                time.sleep(0.02)
        wait_until(lambda: state(db, "news", news) == "done", timeout=90)
        assert cuts >= 2, "the fan-out ended before the connections were cut"
        assert daemon.poll() is None, "the daemon died"
    finally:
        daemon.terminate()
        assert daemon.wait(15) == 0
    assert_exactly_once(db, 230, users)
    run = db.run("news", news)
    assert (run["recipients"], run["written"]) == (30000, 30000)
    log = read_log(config)
    assert "database unreachable" in log or "instance lock" in log
    assert "Traceback" not in log


def test_no_chunk_is_written_while_another_session_holds_the_lock(db, tmp_path):
    users = add_matching_users(db, 20000)
    news = db.add_news()
    config = write_config(str(tmp_path / "db.conf"), db.name, batch_size=200)
    daemon = start_daemon(config)
    thief = connect(db.name)
    try:
        wait_until(lambda: written(db, "news", news) > 0)
        name = lock_name(db.name)
        with thief.cursor() as cursor:
            for _ in range(50):  # the daemon's keeper may win the race: cut again
                holder = db.scalar("SELECT IS_USED_LOCK(%s)", [name])
                if holder:
                    kill(db, [holder])
                cursor.execute("SELECT GET_LOCK(%s, 0) AS got", [name])
                if cursor.fetchone()["got"] == 1:
                    break
            else:
                raise AssertionError("could not take the lock away from the daemon")
        time.sleep(0.5)  # a chunk that began before the theft may still commit
        frozen = written(db, "news", news)
        time.sleep(2.0)
        assert written(db, "news", news) == frozen, "a chunk was written without the lock"
        assert state(db, "news", news) == "running"
        thief.close()  # the lock is free again: the daemon takes it back and finishes
        wait_until(lambda: state(db, "news", news) == "done", timeout=60)
        assert daemon.poll() is None
    finally:
        if thief.open:
            thief.close()
        daemon.terminate()
        assert daemon.wait(15) == 0
    assert_exactly_once(db, 230, users)
    log = read_log(config)
    assert "standing by: another instance holds the lock" in log
    assert "held again" in log
