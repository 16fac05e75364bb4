"""The traps of an operator's first week (issue 13), each as it was met: a typo'd
code, a platform table renamed under the running daemon, a false OVERDUE after
cancel and retry, and `--daemon` answering 0 when it cannot run."""
from __future__ import annotations

import json
import re
import signal
import time

from test_operations import HeldLock, check

from testkit.db import add_matching_users, state
from testkit.process import one_line, read_log, run_main, start_daemon, write_config
from testkit.wait import wait_until

# mh_campaign_run as the daemon created it before issue 13's columns.
OLD_RUN_TABLE = (
    "CREATE TABLE mh_campaign_run (id bigint NOT NULL AUTO_INCREMENT, "
    "job varchar(16) NOT NULL, campaign_id bigint NOT NULL, state varchar(16) NOT "
    "NULL, fingerprint char(64) NOT NULL DEFAULT '', target varchar(32) NOT NULL "
    "DEFAULT '', message mediumtext NULL, recipients int NOT NULL DEFAULT 0, "
    "written int NOT NULL DEFAULT 0, resume_after bigint NOT NULL DEFAULT 0, "
    "last_audience_id bigint NOT NULL DEFAULT 0, attempts int NOT NULL DEFAULT 0, "
    "last_error varchar(1000) NOT NULL DEFAULT '', created_at datetime NOT NULL "
    "DEFAULT CURRENT_TIMESTAMP, started_at datetime NULL, finished_at datetime "
    "NULL, updated_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (id), "
    "UNIQUE KEY job_campaign (job, campaign_id), KEY state (state, job)) "
    "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")


# ---------------------------------------------------------------- 1. a typo'd code

def test_a_typo_code_is_named_and_the_campaign_is_sent_once_the_row_is_fixed(
        db, config_path, run_once):
    user = db.add_carded_user(city="C1", industry="I11")
    news = db.add_news(region="C1O", industry="I11,I1l")   # letter O; letter l
    preview = run_main(config_path, "preview", "news", str(news))
    assert preview.returncode == 0, preview.stderr
    verdict = re.search(r"^verdict   (.*)$", preview.stdout, re.M).group(1)
    assert "0 recipients" in verdict
    assert "region C1O" in verdict and "industry I1l" in verdict, verdict
    assert "I11" not in verdict.replace("I1l", "")

    once = run_main(config_path, "--once")   # the legacy rule: marked sent, 0 recipients
    assert once.returncode == 0, once.stderr
    assert db.run("news", news)["state"] == "done"
    [line] = [line for line in read_log(config_path).splitlines() if "matched nobody" in line]
    assert "region C1O (in no province_city_code row)" in line, line
    assert "industry I1l (in no industry_category row)" in line, line

    lock = HeldLock(db)
    try:
        code, line = check(config_path)
        assert code == 1 and "1 sent to nobody (news %d)" % news in line, line
    finally:
        lock.release()

    db.query("UPDATE sns_qa_push_setting SET region = 'C1', industry = 'I11' WHERE id = %s",
             [news])
    retry = run_main(config_path, "retry", "news", str(news))
    assert retry.returncode == 0, retry.stderr
    assert "0 recipients" in retry.stdout and "due again" in retry.stdout, retry.stdout
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id = %s", [news]) == 1
    assert run_once() == 0
    assert db.recipients(230) == [user]
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id = %s", [news]) == 2
    refused = run_main(config_path, "retry", "news", str(news))   # 1 row written now
    assert refused.returncode == 1 and "twice" in one_line(refused.stderr)


def test_retry_of_an_activity_sent_to_nobody_makes_its_row_due_again(db, config_path,
                                                                     run_once):
    activity = db.add_activity(region="C3")   # a known city nobody lives in
    assert run_once() == 0
    assert db.scalar("SELECT push_state FROM operation_activity WHERE id = %s",
                     [activity]) == 2
    user = db.add_carded_user(city="C3")
    retry = run_main(config_path, "retry", "activity", str(activity))
    assert retry.returncode == 0, retry.stderr
    assert db.scalar("SELECT push_state FROM operation_activity WHERE id = %s",
                     [activity]) == 1
    assert run_once() == 0
    assert db.recipients(231) == [user]
    row = db.query("SELECT push_state, push_count FROM operation_activity WHERE id = %s",
                   [activity])[0]
    assert (row["push_state"], row["push_count"]) == (2, 1)


# ---------------------------------------------------------------- 2. a table renamed

def test_a_platform_table_renamed_under_the_daemon_is_one_error_and_one_recovery(
        db, tmp_path):
    config = write_config(str(tmp_path / "db.conf"), db.name)
    user = db.add_carded_user()
    daemon = start_daemon(config)
    try:
        wait_until(lambda: "message_handling started" in read_log(config), timeout=20)
        db.query("RENAME TABLE operation_activity TO operation_activity_gone")
        wait_until(lambda: "operation_activity" in read_log(config), timeout=20)
        news = db.add_news()   # the other jobs go on
        wait_until(lambda: state(db, "news", news) == "done", timeout=20)
        code, line = check(config)
        assert code == 2 and "operation_activity" in line, line
        assert "never run" not in line, line
        db.query("RENAME TABLE operation_activity_gone TO operation_activity")
        activity = db.add_activity()
        wait_until(lambda: state(db, "activity", activity) == "done", timeout=90)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
    log = read_log(config)
    assert "Traceback" not in log, log
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "operation_activity" in errors[0], log
    back = [line for line in log.splitlines() if " INFO " in line and "operation_activity" in
            line and "back" in line]
    assert len(back) == 1, log
    assert db.recipients(230) == [user] and db.recipients(231) == [user]
    for job in ("news", "activity", "promotion"):   # the thread name is not said twice
        assert "%s %s campaign" % (job, job) not in log, log


# ---------------------------------------------------------------- 3. no false OVERDUE

def test_a_retry_waiting_for_its_send_time_is_not_overdue(db, config_path):
    activity = db.add_activity(onlinetime=db.now() + 3600)
    assert run_main(config_path, "cancel", "activity", str(activity)).returncode == 0
    assert run_main(config_path, "retry", "activity", str(activity)).returncode == 0
    db.query("UPDATE mh_campaign_run SET updated_at = NOW() - INTERVAL 301 SECOND")
    lock = HeldLock(db)
    try:
        code, line = check(config_path)
        assert code == 0, line
        db.query("UPDATE operation_activity SET onlinetime = %s WHERE id = %s",
                 [db.now() + 150 - 301, activity])   # due for 301 s, not taken
        code, line = check(config_path)
        assert code == 1 and "1 overdue (activity %d)" % activity in line, line
    finally:
        lock.release()


# ---------------------------------------------------------------- 4. --daemon's answer

def test_daemon_mode_answers_with_the_childs_start_or_failure(db, tmp_path):
    config = write_config(str(tmp_path / "db.conf"), db.name)
    assert run_main(config, "--once").returncode == 0   # the daemon's tables; nothing is due
    lock = HeldLock(db)
    try:
        busy = run_main(config, "--daemon", timeout=30)
    finally:
        lock.release()
    assert busy.returncode == 2, busy.stdout + busy.stderr
    assert "another instance holds the lock" in busy.stderr and "pid 4242" in busy.stderr

    wrong = write_config(str(tmp_path / "wrong.conf"), db.name,
                         {"password": "not-the-password"}, log_file="wrong.log")
    denied = run_main(wrong, "--daemon", timeout=30)
    assert denied.returncode == 2, denied.stdout + denied.stderr
    assert "authentication failed" in denied.stderr
    assert "not-the-password" not in denied.stdout + denied.stderr

    absent = write_config(str(tmp_path / "absent.conf"), db.name + "_absent",
                          log_file="absent.log")
    unknown = run_main(absent, "--daemon", timeout=30)
    assert unknown.returncode == 2 and "Unknown database" in unknown.stderr, unknown.stderr


# ---------------------------------------------------------------- rough edges

def test_retry_of_a_row_that_is_still_invalid_is_refused_with_the_reason(db, config_path,
                                                                         run_once):
    bad = db.add_news(region="C1;C2")
    assert run_once() == 1
    refused = run_main(config_path, "retry", "news", str(bad))
    assert refused.returncode == 1
    assert "region" in one_line(refused.stderr) and "C1;C2" in refused.stderr
    assert db.run("news", bad)["state"] == "failed"


def test_cancel_and_retry_say_who_asked_and_the_daemon_says_it_took_the_retry(
        db, config_path):
    import getpass
    import socket
    db.add_carded_user()
    news = db.add_news(push_time=db.now() + 3600)
    assert run_main(config_path, "cancel", "news", str(news)).returncode == 0
    who = "%s@%s" % (getpass.getuser(), socket.gethostname())
    report = json.loads(run_main(config_path, "status", "--json").stdout)
    [entry] = [e for e in report["campaigns"] if e["campaign_id"] == news]
    assert entry["requested"] == "cancel" and entry["requested_by"] == who, entry
    assert entry["requested_at"]
    assert run_main(config_path, "retry", "news", str(news)).returncode == 0
    text = run_main(config_path, "status").stdout
    assert "retry by %s" % who in text, text
    db.query("UPDATE sns_qa_push_setting SET push_time = %s WHERE id = %s",
             [db.now() - 60, news])
    assert run_main(config_path, "--once").returncode == 0
    taken = [line for line in read_log(config_path).splitlines() if "retry" in line]
    assert taken and who in taken[0], read_log(config_path)


def test_an_old_run_table_gets_the_new_columns(db, config_path, run_once):
    db.query(OLD_RUN_TABLE)
    user = db.add_carded_user()
    db.add_news()
    assert run_once() == 0 and db.recipients(230) == [user]
    assert run_once() == 0   # a second start: nothing to add
    columns = {row["COLUMN_NAME"] for row in db.query(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND "
        "TABLE_NAME = 'mh_campaign_run'", [db.name])}
    assert {"requested", "requested_by", "requested_at", "resumed_at",
            "written_at_resume"} <= columns


def test_status_eta_counts_only_the_time_since_the_run_resumed(db, config_path, run_once):
    assert run_once() == 0   # the daemon's tables
    db.query("INSERT INTO mh_campaign_run (job, campaign_id, state, recipients, written, "
             "started_at, resumed_at, written_at_resume, updated_at) VALUES ('news', 5, "
             "'running', 1000, 300, NOW() - INTERVAL 1 HOUR, NOW() - INTERVAL 20 SECOND, "
             "100, NOW())")
    report = json.loads(run_main(config_path, "status", "--json").stdout)
    [entry] = [e for e in report["campaigns"] if e["state"] == "running"]
    assert 8 <= entry["rows_per_second"] <= 10.5, entry   # 200 rows in 20 s
    assert 60 <= entry["eta_seconds"] <= 90, entry


def test_status_json_prints_an_error_object_when_the_database_fails(tmp_path):
    config = write_config(str(tmp_path / "db.conf"), "mh_test_x", {"port": 1})
    result = run_main(config, "status", "--json")
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert "Can't connect" in report["error"] and report["exit_code"] == 2
    assert "127.0.0.1:1" in report["error"]


def test_status_shows_the_title_of_a_failed_campaign(db, config_path, run_once):
    bad = db.add_activity(title="春季招聘会", json_data="{not json")
    assert run_once() == 1
    report = json.loads(run_main(config_path, "status", "--json").stdout)
    [entry] = [e for e in report["campaigns"] if e["campaign_id"] == bad]
    assert entry["state"] == "failed" and entry["title"] == "春季招聘会", entry
    text = run_main(config_path, "status").stdout
    assert "database server's clock" in text and "host's clock" in text, text


def test_a_wrong_password_is_an_authentication_failure_not_an_outage(db, tmp_path):
    config = write_config(str(tmp_path / "db.conf"), db.name, {"password": "wrong-one"})
    once = run_main(config, "--once")
    assert once.returncode == 2 and "authentication failed" in one_line(once.stderr)
    daemon = start_daemon(config)
    assert daemon.wait(30) == 2
    assert "authentication failed" in daemon.stderr.read()
    log = read_log(config)
    assert "authentication failed" in log and "unreachable" not in log, log


def test_waiting_for_the_database_names_its_port_and_sigterm_says_stopped(tmp_path):
    from testkit.process import free_port
    port = free_port()
    config = write_config(str(tmp_path / "db.conf"), "mh_test_x", {"port": port})
    daemon = start_daemon(config)
    try:
        wait_until(lambda: "cannot start yet" in read_log(config), timeout=20)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0
    log = read_log(config)
    waiting = [line for line in log.splitlines() if "cannot start yet" in line
               or "unreachable" in line]
    assert waiting and all(":%d" % port in line for line in waiting), log
    assert log.rstrip().endswith("message_handling stopped"), log


def test_preview_says_one_user_and_one_account(db, config_path):
    db.add_carded_user()
    news = db.add_news()
    out = run_main(config_path, "preview", "news", str(news)).stdout
    assert "1 registered user " in out and "the first matching account\n" in out, out


def test_status_on_a_run_table_older_than_this_version_says_what_upgrades_it(db, config_path):
    db.query(OLD_RUN_TABLE)
    result = run_main(config_path, "status")
    assert result.returncode == 2
    assert "older than this version" in one_line(result.stderr)
    assert run_main(config_path, "cancel", "news", "1").returncode == 1   # no such campaign
    assert run_main(config_path, "status").returncode == 0   # cancel upgraded it first


def test_status_rate_of_a_campaign_resumed_after_a_restart_leaves_out_the_pause(db, tmp_path):
    add_matching_users(db, 6000)
    news = db.add_news()
    config = write_config(str(tmp_path / "db.conf"), db.name, batch_size=100,
                          max_rows_per_second=400)   # 15 s of writing
    first = start_daemon(config)
    try:
        wait_until(lambda: (db.run("news", news) or {}).get("written", 0) >= 800, timeout=30)
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(15) == 0
    time.sleep(6)   # the pause a rate over the whole run would count
    second = start_daemon(config)
    try:
        wait_until(lambda: "written" in json.dumps(running_entries(config)), timeout=20)
        time.sleep(4)  # the rate is counted in whole seconds: 2 s could read as 3
        [entry] = running_entries(config)
        assert entry["rows_per_second"] > 300, entry   # about 400, not (rows) / (run + pause)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0


def running_entries(config: str) -> list:
    report = json.loads(run_main(config, "status", "--json").stdout)
    return [entry for entry in report["campaigns"] if entry["state"] == "running"]
