"""Operator states seen by the engine (cancelled, retry), the throttle and progress lines.

The commands that set these states (`main.py cancel|retry`) are tested in
test_operations.py; here the state is set directly, to test what the engine
does with it.
"""
from __future__ import annotations

import logging
import signal
import threading
import time

from mg_handling import engine, service
from testkit.db import add_matching_users, assert_exactly_once, written
from testkit.process import start_daemon, write_config
from testkit.wait import wait_until
from util.config import load_config


def run_in_thread(config_path: str, **main) -> threading.Thread:
    path = write_config(config_path, load_config(config_path).db.database, **main)
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault(
        "code", service.run_once(load_config(path), threading.Event())))
    thread.result = result
    thread.start()
    return thread


def set_state(db, job: str, campaign_id: int, state: str) -> None:
    db.query("UPDATE mh_campaign_run SET state = %s WHERE job = %s AND campaign_id = %s",
             [state, job, campaign_id])


def cancel_mid_way(db, config_path: str, news: int, after_rows: int) -> None:
    """A throttled one-shot run of the news campaign, cancelled once it wrote `after_rows`."""
    thread = run_in_thread(config_path, batch_size=100, max_rows_per_second=1000)
    wait_until(lambda: written(db, "news", news) >= after_rows, timeout=30)
    set_state(db, "news", news, "cancelled")
    thread.join(30)
    assert thread.result["code"] == 0


def test_a_cancelled_run_stops_between_chunks_and_never_comes_back(db, config_path, run_once,
                                                                    caplog):
    users = add_matching_users(db, 3000)
    news = db.add_news()
    cancel_mid_way(db, config_path, news, 300)
    run = db.run("news", news)
    rows = db.recipients(230)
    assert run["state"] == "cancelled"
    assert 300 <= run["written"] == len(rows) < len(users)
    assert len(set(rows)) == len(rows) and set(rows) <= users
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id = %s", [news]) != 2
    assert any("stopped: cancelled after %d of 3000 rows" % run["written"] in r.getMessage()
               for r in caplog.records if r.levelno == logging.WARNING)
    db.query("UPDATE sns_qa_push_setting SET content = %s WHERE id = %s",
             ['[{"newsid": "n2", "title": "改过"}]', news])
    assert run_once() == 0
    assert db.recipients(230) == rows and db.run("news", news)["state"] == "cancelled"


def test_retry_of_a_cancelled_run_resumes_where_it_stopped(db, config_path, run_once):
    users = add_matching_users(db, 1500)
    news = db.add_news()
    cancel_mid_way(db, config_path, news, 200)
    set_state(db, "news", news, "retry")
    assert run_once() == 0
    assert_exactly_once(db, 230, users)
    run = db.run("news", news)
    assert (run["state"], run["written"], run["recipients"]) == ("done", 1500, 1500)
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id = %s", [news]) == 2


def test_retry_overrides_max_lateness(db, run_once):
    user = db.add_carded_user()
    news = db.add_news(push_time=db.now() - 7200)
    assert run_once(max_lateness_seconds=3600) == 0
    assert db.run("news", news)["state"] == "expired"
    assert run_once(max_lateness_seconds=3600) == 0
    assert db.run("news", news)["state"] == "expired", "expired stays expired on its own"
    set_state(db, "news", news, "retry")
    assert run_once(max_lateness_seconds=3600) == 0
    assert db.run("news", news)["state"] == "done"
    assert db.recipients(230) == [user]


def test_retry_of_a_failed_campaign_whose_row_is_still_bad_fails_again(db, run_once):
    db.add_carded_user()
    news = db.add_news(content="not json")
    assert run_once() == 1
    first = db.run("news", news)
    set_state(db, "news", news, "retry")
    assert run_once() == 1
    again = db.run("news", news)
    assert again["state"] == "failed" and "content" in again["last_error"]
    assert again["attempts"] == first["attempts"] + 1


def test_max_rows_per_second_throttles_and_progress_is_logged(db, run_once, monkeypatch,
                                                              caplog):
    users = add_matching_users(db, 1200)
    db.add_news()
    monkeypatch.setattr(engine, "PROGRESS_SECONDS", 0.5)
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    assert run_once(max_rows_per_second=400) == 0
    # 1200 rows at 400 rows/s: the last chunk may start at 2 s, never earlier.
    assert time.monotonic() - started >= 2.0
    assert_exactly_once(db, 230, users)
    progress = [r.getMessage() for r in caplog.records if "rows written (" in r.getMessage()]
    assert progress, "no progress line"
    assert "of 1200 rows written" in progress[0] and "ETA" in progress[0]
    sizes = db.query("SELECT COUNT(*) AS n FROM message_queue GROUP BY created_time")
    assert max(row["n"] for row in sizes) <= 400, "a chunk holds at most one second of rows"


def test_an_idle_job_logs_only_a_heartbeat_and_a_busy_poll_one_line(db, config_path,
                                                                    monkeypatch, caplog):
    from mg_handling import worker
    monkeypatch.setattr(worker, "HEARTBEAT_SECONDS", 0.6)
    caplog.set_level(logging.INFO)
    db.add_carded_user()
    stop = threading.Event()
    config = load_config(config_path)
    database, fanout = service.start(config, stop)
    job = service.JOBS[0]
    thread = threading.Thread(target=worker.run_job, args=(job, fanout, stop, 0.05))
    try:
        thread.start()
        time.sleep(1.0)
        db.add_news()
        wait_until(lambda: any("poll handled 1 done" in r.getMessage() for r in caplog.records))
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(10)
        service.stop_all(database, fanout)
    lines = [r.getMessage() for r in caplog.records if r.name == "mg_handling.worker"]
    heartbeats = [line for line in lines if "alive" in line]
    assert heartbeats and all("nothing due" in line for line in heartbeats)
    assert len(heartbeats) <= 3, "at most one heartbeat per HEARTBEAT_SECONDS"
    assert len(lines) == len(heartbeats) + 1, lines


def test_the_long_running_mode_prunes_a_done_audience_after_the_poll(db, config_path):
    users = add_matching_users(db, 500)
    news = db.add_news()
    daemon = start_daemon(config_path)
    try:
        wait_until(lambda: written(db, "news", news) == 500, timeout=30)
        wait_until(lambda: db.scalar("SELECT COUNT(*) FROM mh_audience") == 0, timeout=10)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(10)
    assert_exactly_once(db, 230, users)
