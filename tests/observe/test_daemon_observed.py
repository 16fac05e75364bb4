"""A real daemon watched the ways an operator watches it (issue 12): a real
Prometheus scraping its metrics while it sends, its status page in headless
Chromium during a fan-out, systemd's notify socket, and a job stuck on a
statement (another session holds LOCK TABLES ... WRITE on its table)."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, Mapping

import pytest
from PIL import Image

from mg_handling import service
from mg_handling.jobs import JOBS_BY_NAME
from mg_handling.messages import Delivery
from mg_handling.news import NewsJob
from mg_handling.supervisor import Supervisor
from mg_handling.worker import run_job
from observe.daemon_kit import NotifySocket, daemon, healthz, stopped
from observe.test_prometheus import has_value, one_value
from observe.test_status_page import bar_share
from testkit.db import LegacyDB, add_campaign, add_matching_users, connect, state
from testkit.observe import Prometheus, chromium_dom, chromium_screenshot
from testkit.process import free_port, one_line, read_log, run_main, write_config
from testkit.wait import wait_until
from util.config import load_config

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "status-page.png"


def count(db: LegacyDB, table: str) -> int:
    return int(db.scalar("SELECT COUNT(*) FROM %s" % table))  # a fixed name of the test


def run_row(db: LegacyDB, job: str, campaign_id: int) -> Dict[str, Any]:
    return db.run(job, campaign_id) or {}


def test_prometheus_reads_what_the_daemon_wrote(db: LegacyDB, tmp_path: Path) -> None:
    """Every value read back through Prometheus' API equals the database's own count."""
    add_matching_users(db, 2000)
    port = free_port()
    path = write_config(str(tmp_path / "db.conf"), db.name, metrics_port=port, batch_size=250,
                        max_rows_per_second=500, poll_interval=0.5)
    (tmp_path / "prometheus").mkdir()
    with Prometheus("127.0.0.1:%d" % port, tmp_path / "prometheus") as prometheus, \
            daemon(path) as process:
        prometheus.wait_for("message_handling_lock_held", has_value(1), timeout=60)
        assert one_value(prometheus.query("message_handling_database_up")) == 1
        news = add_campaign(db, "news")
        # Scraped while it sends: the audience's size, and part of it written.
        wait_until(lambda: state(db, "news", news) == "running", 30, "the fan-out",
                   alive=[process])
        recipients = int(run_row(db, "news", news)["recipients"])
        assert recipients >= 2000
        prometheus.wait_for('message_handling_running_audience_rows{job="news",state="total"}',
                            has_value(recipients), timeout=20)
        wait_until(lambda: state(db, "news", news) == "done", 60, "the campaign sent",
                   alive=[process])
        rows = count(db, "message_queue")
        assert rows == recipients
        prometheus.wait_for(
            'message_handling_rows_written_total{job="news",table="message_queue"}',
            has_value(rows))
        assert one_value(prometheus.query(
            'message_handling_campaigns_total{job="news",outcome="done"}')) == 1
        assert one_value(prometheus.query(
            'sum(message_handling_campaigns_total{outcome!="done"})')) == 0
        assert one_value(prometheus.query(
            'message_handling_campaign_seconds_count{job="news"}')) == 1
        # 2000 rows at 500 rows/s: at least 3 s from the claim to done.
        assert one_value(prometheus.query(
            'message_handling_campaign_seconds_sum{job="news"}')) >= 3
        prometheus.wait_for('message_handling_running_audience_rows{job="news",state="total"}',
                            has_value(0))
        assert one_value(prometheus.query(
            'sum(message_handling_rows_written_total{table="message_promotion"})')) == 0
        polled = prometheus.query("time() - message_handling_last_poll_timestamp_seconds")
        assert len(polled) == 3 and all(age < 10 for _, age in polled), polled
        assert one_value(prometheus.query(
            'message_handling_poll_seconds_count{job="activity"}')) > 3
        stopped(process, path)


def test_notify_socket_ready_status_watchdog_stopping(db: LegacyDB, tmp_path: Path) -> None:
    """systemd's side of Type=notify: READY=1 once the lock is held (mh_lease names
    the daemon by then), STATUS= lines, WATCHDOG=1 every half interval, STOPPING=1."""
    notify = NotifySocket(tmp_path / "notify")
    path = write_config(str(tmp_path / "db.conf"), db.name, poll_interval=0.5)
    try:
        with daemon(path, notify, watchdog_seconds=1.0) as process:
            wait_until(lambda: notify.seen("READY=1"), 60, "READY=1", alive=[process])
            holder = db.query("SELECT pid FROM mh_lease WHERE expires_at > NOW(6)")
            assert [row["pid"] for row in holder] == [process.pid]
            wait_until(lambda: len(notify.times("WATCHDOG=1")) >= 4, 30, "4 pings",
                       alive=[process])
            pings = notify.times("WATCHDOG=1")
            gaps = [later - earlier for earlier, later in zip(pings, pings[1:])]
            assert all(0.3 < gap < 1.0 for gap in gaps), gaps  # half of WATCHDOG_USEC
            assert notify.seen("STATUS=idle")
            assert not notify.seen("STOPPING=1")
            stopped(process, path)
            notify.drain()
            assert notify.received[-1][1] == "STOPPING=1", notify.received[-5:]
    finally:
        notify.close()


def bar_value(dom: str) -> int:
    """The rows written, as the first progress bar of the page says."""
    found = re.search(r'role="progressbar" aria-valuemin="0" aria-valuemax="\d+" '
                      r'aria-valuenow="(\d+)"', dom)
    assert found, dom[-3000:]
    return int(found.group(1))


def test_status_page_in_chromium_during_a_fan_out(db: LegacyDB, tmp_path: Path) -> None:
    """The page as a browser renders it while a campaign is written chunk by chunk:
    the campaign, a bar that moved between two loads, the three jobs polling, and
    the failed campaign of the last day with its reason. With MH_KEEP_SCREENSHOT=1
    the screenshot becomes the README's docs/status-page.png (pids and times differ
    on every run: not rewritten by default, so a test run leaves the tree clean)."""
    add_matching_users(db, 3000)
    port = free_port()
    path = write_config(str(tmp_path / "db.conf"), db.name, metrics_port=port, batch_size=100,
                        max_rows_per_second=120, poll_interval=0.5)
    url = "http://127.0.0.1:%d/" % port
    with daemon(path) as process:
        broken = add_campaign(db, "news", content=[])
        news = add_campaign(db, "news", content=[
            {"newsid": "n42", "title": "双十一会员专享券 🎁", "url": "https://x/n42"}])
        wait_until(lambda: int(run_row(db, "news", news).get("written") or 0) > 300, 60,
                   "the fan-out under way", alive=[process])
        first = chromium_dom(url)
        seen = bar_value(first)
        wait_until(lambda: int(run_row(db, "news", news)["written"]) > seen + 400, 30,
                   "more rows written", alive=[process])
        second = chromium_dom(url)
        assert bar_value(second) > seen
        assert state(db, "news", broken) == "failed"
        for dom in (first, second):
            assert "双十一会员专享券 🎁" in dom
            assert dom.count('<span class="badge good">polling</span>') == 3, dom
            assert '<span class="badge good">healthy</span>' in dom
        assert '<span class="badge bad">failed</span>' in second
        assert "content: 'data' must be a non-empty list of news items" in second
        assert "writing chunk" in second  # what the news job is doing
        shot = chromium_screenshot(url, tmp_path / "status-page.png", width=1280, height=1000)
        with Image.open(shot) as image:
            share = bar_share(image)
        assert bar_value(second) / 3000 - 0.02 < share < 1.0
        assert state(db, "news", news) == "running"  # still sending: the shot shows it
        if os.environ.get("MH_KEEP_SCREENSHOT") == "1":  # a new one for the README
            shutil.copyfile(shot, SCREENSHOT)
        stopped(process, path)


def status_check(path: str) -> "subprocess.CompletedProcess[str]":
    return run_main(path, "status", "--check", timeout=60)


def test_a_job_stuck_on_a_locked_table(db: LegacyDB, tmp_path: Path) -> None:
    """Another session holds LOCK TABLES sns_qa_push_setting WRITE: within the stuck
    limit (max(3 x 1 s, 60 s)) `status --check` is CRITICAL naming news and what it
    was doing, /healthz 503, WATCHDOG=1 stops; promotion and activity campaigns are
    sent all along; once the table is unlocked all is well again."""
    add_matching_users(db, 5)
    port = free_port()
    notify = NotifySocket(tmp_path / "notify")
    path = write_config(str(tmp_path / "db.conf"), db.name, metrics_port=port, poll_interval=1)
    try:
        with daemon(path, notify, watchdog_seconds=2.0) as process:
            wait_until(lambda: notify.seen("READY=1"), 60, "READY=1", alive=[process])
            wait_until(lambda: healthz(port)[0] == 200, 30, "healthy", alive=[process])
            # A failed news campaign: its title is read from the locked table.
            broken = add_campaign(db, "news", content=[])
            wait_until(lambda: state(db, "news", broken) == "failed", 30, "news failed",
                       alive=[process])
            locker = connect(db.name)
            try:
                with locker.cursor() as cursor:
                    cursor.execute("LOCK TABLES sns_qa_push_setting WRITE")
                locked_at = time.monotonic()
                campaigns = [("promotion", add_campaign(db, "promotion")),
                             ("activity", add_campaign(db, "activity"))]
                wait_until(lambda: all(state(db, *each) == "done" for each in campaigns), 30,
                           "promotion and activity sent", alive=[process])
                result = wait_until(lambda: (lambda r: r if r.returncode == 2 else None)(
                    status_check(path)), 100, "status --check CRITICAL", interval=1,
                    alive=[process])
                stuck_after = time.monotonic() - locked_at
                line = result.stdout.strip()
                assert 60 <= stuck_after < 90, (stuck_after, line)
                assert line.startswith("CRITICAL: job news has not completed a poll for 1 min"), \
                    line
                # Its statement waits for the lock until the server ends the wait (two thirds
                # of lock_timeout), then the job backs off and polls again.
                assert re.search(r"\(doing: (polling sns_qa_push_setting|backing off after an "
                                 r"error)\)", line), line
                assert "sns_qa_push_setting unreadable" in line  # status itself waited 5 s
                code, health = healthz(port)
                assert code == 503 and health["reason"].startswith(
                    "job news has not completed a poll for"), health
                notify.drain()
                time.sleep(3)  # pings come every second while healthy
                assert "WATCHDOG=1" not in [line for _, line in notify.drain()]
                late = add_campaign(db, "activity")
                wait_until(lambda: state(db, "activity", late) == "done", 30,
                           "activity sent while news is stuck", alive=[process])
            finally:
                locker.close()  # UNLOCK TABLES
            wait_until(lambda: healthz(port)[0] == 200, 30, "healthy again", alive=[process])
            unlocked = time.monotonic()
            wait_until(lambda: any(when > unlocked for when in notify.times("WATCHDOG=1")), 10,
                       "WATCHDOG=1 again", alive=[process])
            after = status_check(path)
            # Only the failed campaign is left: WARNING, nothing stuck nor unreadable.
            assert (after.returncode, after.stdout.split(";")[0]) == (
                1, "WARNING: 1 failed (news %d)" % broken)
            stopped(process, path)
        assert "Lock wait timeout exceeded" in read_log(path)  # the news job's error
    finally:
        notify.close()


class ExplodingNews(NewsJob):
    """A news job whose first campaign raises SystemExit in its thread, as a bug in
    the loop itself would (a poll's Exception is caught; this is not)."""
    exploded = False

    def delivery(self, row: Mapping[str, Any]) -> Delivery:
        if not ExplodingNews.exploded:
            ExplodingNews.exploded = True
            raise SystemExit("boom in delivery")
        return super().delivery(row)


def test_a_dead_job_thread_is_restarted(db: LegacyDB, tmp_path: Path,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """In-process, against the real database: the news thread dies of SystemExit,
    the supervisor logs one line and starts it again, which sends the campaign; the
    promotion thread is the same thread all along."""
    add_matching_users(db, 3)
    config = load_config(write_config(str(tmp_path / "db.conf"), db.name, poll_interval=0.2))
    stop = threading.Event()
    store, fanout = service.start(config, stop)
    supervisor = Supervisor(stop)
    supervisor.add("news", run_job, ExplodingNews(), fanout, stop, 0.2)
    supervisor.add("promotion", run_job, JOBS_BY_NAME["promotion"], fanout, stop, 0.2)
    try:
        news = add_campaign(db, "news")
        supervisor.start()
        promotion_thread = supervisor.threads["promotion"]
        assert wait_until(supervisor.restart_dead, 30, "the news thread's death") == ["news"]
        assert "job thread news died: SystemExit('boom in delivery'); restarted" \
            in caplog.messages
        wait_until(lambda: state(db, "news", news) == "done", 30, "news sent after the restart")
        assert supervisor.restart_dead() == []
        assert supervisor.threads["promotion"] is promotion_thread and promotion_thread.is_alive()
        errors = {view.name: view.last_error for view in fanout.watch.views()}
        assert errors["news"] == "SystemExit: boom in delivery"
    finally:
        stop.set()
        assert supervisor.join(10) == []
        service.stop_all(store, fanout)


def test_a_metrics_port_in_use_is_a_start_up_error(db: LegacyDB, tmp_path: Path) -> None:
    """Exit 2 with one line naming the key (systemd does not restart it: the port
    stays taken), the instance lock released."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = write_config(str(tmp_path / "db.conf"), db.name, metrics_port=port)
        result = run_main(path, timeout=60)
    assert result.returncode == service.EXIT_ERROR
    assert one_line(result.stderr) == (
        "message_handling: [main] metrics_port: cannot listen on 127.0.0.1 port %d: "
        "Address already in use" % port)
    assert not db.scalar("SELECT COUNT(*) FROM mh_lease WHERE holder <> '' "
                         "AND expires_at > NOW(6)"), "the lease was not given back"
