"""How long a statement may take (issue 12): every connection's read timeout, and
the audience freeze's own bound ([main] freeze_timeout), against the real server."""
from __future__ import annotations

import time

import pytest

from mg_handling.states import RunState
from testkit.db import SERVER, LegacyDB, add_campaign, add_matching_users, connect
from util.config import DatabaseConfig
from util.db import Database, ReadTimeout


def database(db: LegacyDB, read_timeout: float) -> Database:
    return Database(DatabaseConfig("t", SERVER["host"], SERVER["port"], SERVER["user"],
                                   SERVER["password"], db.name, "utf8mb4"), 1,
                    read_timeout=read_timeout)


def test_a_statement_longer_than_the_read_timeout_fails_and_the_pool_recovers(db) -> None:
    pool = database(db, read_timeout=1)
    try:
        started = time.monotonic()
        with pytest.raises(ReadTimeout, match="within the read timeout"):
            with pool.transaction() as tx:
                tx.execute("SELECT SLEEP(5)")
        assert time.monotonic() - started < 3
        assert not pool.outage.down  # a slow statement is not an outage
        with pool.transaction() as tx:  # a new connection in its place
            assert tx.row("SELECT 1 AS one")["one"] == 1
            with tx.read_timeout_for(4):  # one long statement may take longer
                assert tx.row("SELECT SLEEP(2) AS slept")["slept"] == 0
            with pytest.raises(ReadTimeout):  # and the usual limit is back after it
                tx.execute("SELECT SLEEP(3)")
    finally:
        pool.close()


def test_a_freeze_longer_than_freeze_timeout_fails_the_campaign(db, run_once) -> None:
    """The freeze waits on a table another session write-locked: after freeze_timeout
    (1 s) the server aborts it (MariaDB max_statement_time), and the campaign is
    recorded failed with the reason, not retried for ever."""
    add_matching_users(db, 3)
    news = add_campaign(db, "news")
    locker = connect(db.name)
    try:
        with locker.cursor() as cursor:
            cursor.execute("LOCK TABLES account_basic_detail WRITE")
        started = time.monotonic()
        assert run_once(freeze_timeout=1) == 1  # a campaign failed
        assert time.monotonic() - started < 15
    finally:
        locker.close()
    run = db.run("news", news)
    assert run["state"] == RunState.FAILED.value
    assert "took longer than [main] freeze_timeout (1 s)" in run["last_error"]
    assert "max_statement_time" in run["last_error"]
    assert db.scalar("SELECT COUNT(*) FROM message_queue") == 0
