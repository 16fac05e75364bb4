"""Connections cut under a running daemon, and the instance lock taken away from it."""
from __future__ import annotations

import time

from mg_handling.lock import lock_name
from testkit.db import add_matching_users, assert_exactly_once, state, written
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


def test_no_chunk_is_written_while_another_instance_holds_the_lease(db, tmp_path):
    """A thief takes the lease row over (a new epoch, as a takeover does): the
    daemon's next fence matches no row, so no chunk commits; a standby daemon waits,
    takes the lease back once the thief releases it, and finishes exactly once."""
    users = add_matching_users(db, 20000)
    news = db.add_news()
    config = write_config(str(tmp_path / "db.conf"), db.name, batch_size=200,
                          standby="true", lock_timeout=3)
    daemon = start_daemon(config)
    try:
        wait_until(lambda: written(db, "news", news) > 0)
        db.query("UPDATE mh_lease SET epoch = epoch + 1, holder = 'thief:1:x:y', "
                 "host = '小偷', pid = 1, expires_at = NOW(6) + INTERVAL 1 HOUR "
                 "WHERE lock_name = %s", [lock_name(db.name)])
        time.sleep(0.5)  # a chunk whose fence ran before the theft may still commit
        frozen = written(db, "news", news)
        time.sleep(3.0)
        assert written(db, "news", news) == frozen, "a chunk was written without the lease"
        assert state(db, "news", news) == "running"
        db.query("UPDATE mh_lease SET holder = '', expires_at = NOW(6) WHERE lock_name = %s",
                 [lock_name(db.name)])
        wait_until(lambda: state(db, "news", news) == "done", timeout=60)
        assert daemon.poll() is None
    finally:
        daemon.terminate()
        assert daemon.wait(15) == 0
    assert_exactly_once(db, 230, users)
    log = read_log(config)
    assert "taken over by pid 1 on 小偷" in log and "stands by" in log
    assert "standing by: the instance lease" in log
    assert log.count("instance lease %r taken (epoch" % lock_name(db.name)) == 2
