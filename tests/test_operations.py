"""The operator commands as real processes: preview, status (--json, --check), retry
and cancel, the last two against a live daemon too."""
from __future__ import annotations

import json
import re
import signal
from typing import Dict, List, Tuple

import pytest

from mg_handling.commands import display_width
from testkit.db import add_matching_users, apply_sql_file, assert_exactly_once, connect
from testkit.process import ROOT, one_line, read_log, run_main, start_daemon, write_config
from testkit.wait import wait_until


def per_code(output: str) -> Dict[Tuple[str, str], Tuple[str, int]]:
    """The preview's per-code table: (dimension, code) -> (code table, recipients)."""
    section = output.split("per code", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    rows = {}
    for line in section:
        cells = re.split(r"\s{2,}", line.strip())
        rows[(cells[0], cells[1])] = (cells[2], int(cells[-1].replace(",", "")))
    return rows


def audience_total(output: str) -> int:
    return int(re.search(r"^audience  ([\d,]+) ", output, re.M).group(1).replace(",", ""))


def exact_content(output: str) -> str:
    block = output.split("characters):\n", 1)[1]
    return "\n".join(line[4:] for line in block.splitlines() if line.startswith("    "))


def daemon_tables(db) -> List[str]:
    return [row["TABLE_NAME"] for row in db.query(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME LIKE 'mh\\_%%'", [db.name])]


# ---------------------------------------------------------------- preview

def test_preview_counts_match_an_independent_count_and_the_real_send(db, config_path):
    region_c1 = {db.add_carded_user(city="C1") for _ in range(4)}
    region_p2 = {db.add_carded_user(city="C3", city_code="C3", industry="I12")
                 for _ in range(3)}                           # profile city in P2
    db.add_carded_user(city="C1", industry="I21")              # other industry
    db.add_carded_user(city="C1", func="F2")                   # other function
    db.add_carded_user(city="C1", status="inactive")           # not active
    news = db.add_news(region="C1,P2,X9", industry="I1", func="F1,F7")

    result = run_main(config_path, "preview", "news", str(news))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert audience_total(out) == 7
    assert "would be sent to 7 recipients" in out
    codes = per_code(out)
    assert codes[("region", "C1")] == ("city", 4)
    assert codes[("region", "P2")] == ("province", 3)
    assert codes[("region", "X9")] == ("? in no province_city_code row", 0)
    assert codes[("industry", "I1")] == ("industry, level 1", 7)
    assert codes[("func", "F1")][1] == 7 and codes[("func", "F7")][1] == 0
    sampled = set(re.findall(r"^  ([0-9a-f]{32})  ", out, re.M))
    assert sampled == region_c1 | region_p2
    assert "due       unknown: the daemon has never run on this database" in out
    # Nothing written: not even the daemon's own tables.
    assert daemon_tables(db) == [] and db.queue_rows() == []

    assert run_main(config_path, "--once").returncode == 0
    rows = db.queue_rows(230)
    assert {row["to_uid"] for row in rows} == region_c1 | region_p2
    assert rows[0]["content"] == exact_content(out)


def test_preview_of_an_sms_promotion_counts_mobiles_and_card_holders(db, config_path):
    db.add_carded_user(mobile="13800000001")
    db.add_carded_user(mobile="13800000002")
    db.add_carded_user(mobile=" 13800000002 ")                 # the same number
    db.add_carded_user()                                       # no mobile
    for card, mobile in (("k1", "13800000002"), ("k2", "13900000003"),
                         ("k3", "1" * 19)):                    # too long for an SMS row
        db.add_card(card, city="C1", mobile=mobile)
        db.add_company(card, ind_code="I11", func_code="F1")
    promotion = db.add_promotion(type=3, isalluser=2, content="<p>你好</p>")

    out = run_main(config_path, "preview", "promotion", str(promotion)).stdout
    assert audience_total(out) == 3
    assert "4 matching accounts, 3 of them with a mobile" in out
    assert "message_promotion" in out and "    你好" in out

    assert run_main(config_path, "--once").returncode == 0
    mobiles = [row["mobile"] for row in db.query("SELECT mobile FROM message_promotion")]
    assert sorted(mobiles) == ["13800000001", "13800000002", "13900000003"]


@pytest.mark.parametrize("plan", ["scan", "narrow"])
def test_per_code_counts_agree_with_the_audience_narrowed_to_each_code(db, config_path, plan):
    """The breakdown's one-pass matching against the daemon's own audience SELECT,
    run once per code: every way a user can match a code is represented. With the
    recommended indexes and a region reaching few users, preview takes the narrow
    plan, as the send would."""
    if plan == "narrow":
        apply_sql_file(db, ROOT + "/deploy/recommended_indexes.sql")
        for _ in range(40):
            db.add_user(city_code="C9")  # outside the region: it reaches few users
    db.add_industry("I13", "I1")
    db.add_user(city_code="C2", first_industries=["I12"])      # no card: never matches
    db.add_carded_user(city="", city_code="C2", industry="I21", func="F1 ， F2",
                       first_industries=["I12"])               # province P1 via profile city
    db.add_carded_user(city="C3", industry="I13", func="f2")   # card city; level-2 under I1
    card = "province-card"
    db.add_card(card, province="P2")
    db.add_company(card, ind_code="I2", func_code="F3,F1")
    db.add_user(card_id=card, first_industries=["I11"])        # card province
    db.add_carded_user(city="C1", industry="I11", func="F10")  # F1 must not match F10
    db.add_carded_user(city="C1", industry="I11", func="F1", status="inactive")
    news = db.add_news(region="P1,C3,P2,C1", industry="I1,I12,I2", func="F1,F2,F3,F10,F7")

    import dataclasses

    from mg_handling.commands import database
    from mg_handling.decision import Settings
    from mg_handling.jobs import JOBS_BY_NAME
    from mg_handling.preview import build
    from mg_handling.targeting import DIMENSION_NAMES
    from util.config import load_config
    config = load_config(config_path)
    with database(config) as handle, handle.transaction() as tx:
        report = build(tx, JOBS_BY_NAME["news"], news, Settings.from_config(config))
        targeting = report["plan"].targeting
        expected = []
        for dimension in DIMENSION_NAMES:
            for code in targeting.codes(dimension):
                narrowed = dataclasses.replace(targeting, **{dimension: (code,)})
                expected.append((dimension, code, tx.count_audience(
                    dataclasses.replace(tx.audience_query(narrowed), plan="scan"), "users")))
    assert report["audience"]["plan"] == plan
    assert report["audience"]["total"] == 4
    assert [(dim, code, n) for dim, code, _, n in report["audience"]["codes"]] == expected
    assert [n for _, _, n in expected] == [1, 1, 1, 1, 4, 1, 2, 2, 2, 1, 1, 0]


def test_preview_says_when_a_campaign_becomes_due_and_why_it_would_not_be_sent(
        db, config_path):
    db.add_carded_user()
    later = db.now() + 3600
    activity = db.add_activity(onlinetime=later)
    bad = db.add_news(region="C1;C2")

    out = run_main(config_path, "preview", "activity", str(activity)).stdout
    due_from = db.scalar("SELECT FROM_UNIXTIME(%s)", [later - 150])
    assert "due       not yet: due from %s" % due_from.strftime("%Y-%m-%d %H:%M:%S") in out
    assert "would be sent to 1 recipient\n" in out

    result = run_main(config_path, "preview", "news", str(bad))
    assert result.returncode == 0
    assert "verdict   would be failed, not sent: region: invalid code 'C1;C2'" in result.stdout
    assert "audience" not in result.stdout

    assert run_main(config_path, "--once").returncode == 1
    out = run_main(config_path, "preview", "news", str(bad)).stdout
    assert "due       yes: the daemon's due query returns it now (status 1)" in out
    assert "verdict   failed and not looked at again until its row changes" in out
    assert "last error: region: invalid code 'C1;C2'" in out


@pytest.mark.parametrize("args, code, message", [
    (("preview", "newz", "1"), 2, "invalid choice: 'newz'"),
    (("preview", "news", "0"), 2, "campaign ID must be a positive number"),
    (("preview", "news", "42"), 1, "no news campaign 42: sns_qa_push_setting has no row"),
    (("retry", "promotion", "42"), 1, "no promotion campaign 42"),
    (("cancel", "activity", "42"), 1, "no activity campaign 42"),
    (("status", "--env", "database_nope"), 2, "no database section [database_nope]"),
    (("status", "--once"), 2, "unrecognized arguments: --once"),
])
def test_user_errors_answer_one_line_and_a_non_zero_code(db, config_path, args, code,
                                                         message):
    result = run_main(config_path, *args)
    assert result.returncode == code
    assert message in one_line(result.stderr)


def test_an_unreachable_database_is_one_line_or_a_critical_check(tmp_path):
    config = write_config(str(tmp_path / "db.conf"), "mh_test_x", {"port": 1})
    result = run_main(config, "status")
    assert result.returncode == 2 and "Can't connect" in one_line(result.stderr)
    check = run_main(config, "status", "--check")
    assert check.returncode == 2 and check.stdout.startswith("CRITICAL: ")
    assert len(check.stdout.strip().splitlines()) == 1


# ---------------------------------------------------------------- status --check

class HeldLock:
    """The instance lock held by the test itself, recorded as a daemon would."""

    def __init__(self, db) -> None:
        self.conn = connect(db.name)
        with self.conn.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 0) AS got, CONNECTION_ID() AS id",
                           ["message_handling:" + db.name])
            row = cursor.fetchone()
            assert row["got"] == 1
            cursor.execute("REPLACE INTO mh_instance (lock_name, host, pid, connection_id, "
                           "started_at) VALUES (%s, 'test-host', 4242, %s, NOW())",
                           ["message_handling:" + db.name, row["id"]])

    def release(self) -> None:
        self.conn.close()


def check(config_path: str) -> Tuple[int, str]:
    result = run_main(config_path, "status", "--check")
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout + result.stderr
    return result.returncode, lines[0]


def test_status_check_exit_codes(db, config_path):
    assert check(config_path)[0] == 2   # the daemon never ran here: no tables, no lock
    bad = db.add_news(region="C1;C2")
    assert run_main(config_path, "--once").returncode == 1   # failed
    lock = HeldLock(db)
    try:
        assert check(config_path) == (1, "WARNING: 1 failed (news %d); pid 4242 on "
                                         "test-host holds the lock since %s" % (
                                             bad, _since(db)))
        assert run_main(config_path, "cancel", "news", str(bad)).returncode == 0
        code, line = check(config_path)
        assert code == 0 and line.startswith("OK: pid 4242 on test-host holds the lock")

        late = db.add_news(push_time=db.now() + 150 - 301)   # due for 301 s, not started
        code, line = check(config_path)
        assert code == 1 and line.startswith("WARNING: 1 overdue (news %d);" % late)
        db.query("UPDATE sns_qa_push_setting SET push_time = %s WHERE id = %s",
                 [db.now() + 150 - 200, late])   # due for 200 s only: fine
        assert check(config_path)[0] == 0

        db.query("INSERT INTO mh_campaign_run (job, campaign_id, state, recipients, written,"
                 " started_at, updated_at) VALUES ('activity', 77, 'running', 100, 10, "
                 "NOW() - INTERVAL 20 MINUTE, NOW() - INTERVAL 301 SECOND)")
        assert check(config_path) == (2, "CRITICAL: 1 stuck (activity 77); pid 4242 on "
                                         "test-host holds the lock since %s" % _since(db))
        db.query("UPDATE mh_campaign_run SET updated_at = NOW() WHERE campaign_id = 77")
        assert check(config_path)[0] == 0
    finally:
        lock.release()
    code, line = check(config_path)
    assert code == 2 and line.startswith("CRITICAL: no instance holds the lock "
                                         "message_handling:%s" % db.name)


def _since(db) -> str:
    return db.scalar("SELECT started_at FROM mh_instance").strftime("%Y-%m-%d %H:%M:%S")


# ---------------------------------------------------------------- retry and cancel

def test_cancel_before_start_and_retry_of_a_cancelled_or_expired_campaign(
        db, config_path, run_once):
    user = db.add_carded_user()
    later = db.add_news(push_time=db.now() + 3600)
    result = run_main(config_path, "cancel", "news", str(later))
    assert result.returncode == 0
    assert "before it started: it will not be sent" in result.stdout
    db.query("UPDATE sns_qa_push_setting SET push_time = %s WHERE id = %s",
             [db.now() - 60, later])
    assert run_once() == 0
    assert db.queue_rows() == [] and db.run("news", later)["state"] == "cancelled"

    assert "goes on from the beginning" in run_main(config_path, "retry", "news",
                                                    str(later)).stdout
    assert run_once() == 0
    assert db.recipients(230) == [user] and db.run("news", later)["state"] == "done"

    old = db.add_activity(onlinetime=db.now() - 7200)
    assert run_once(max_lateness_seconds=60) == 0
    assert db.run("activity", old)["state"] == "expired" and db.recipients(231) == []
    result = run_main(config_path, "retry", "activity", str(old))
    assert result.returncode == 0
    assert "it was expired: 7" in result.stdout
    assert "takes it at its next poll" in result.stdout
    assert run_once(max_lateness_seconds=60) == 0
    assert db.recipients(231) == [user]

    for command, message in (("retry", "a retry would send it twice"),
                             ("cancel", "nothing to cancel")):
        refused = run_main(config_path, command, "activity", str(old))
        assert refused.returncode == 1 and message in one_line(refused.stderr)
    never = db.add_promotion(push_time=db.now() + 3600)
    refused = run_main(config_path, "retry", "promotion", str(never))
    assert refused.returncode == 1 and "has no run yet" in one_line(refused.stderr)


def test_cancel_and_retry_a_running_campaign_on_a_live_daemon(db, tmp_path):
    users = add_matching_users(db, 6000)
    news = db.add_news()
    config = write_config(str(tmp_path / "db.conf"), db.name, batch_size=200,
                          max_rows_per_second=800)   # 7.5 s of writing
    daemon = start_daemon(config)
    try:
        wait_until(lambda: (db.run("news", news) or {}).get("written"), timeout=30)
        report = json.loads(run_main(config, "status", "--json").stdout)
        assert (report["instance"]["pid"], report["check"]["status"]) == (daemon.pid, "OK")
        [running] = [c for c in report["campaigns"] if c["state"] == "running"]
        assert running["campaign_id"] == news and 0 < running["written"] < 6000
        refused = run_main(config, "retry", "news", str(news))
        assert refused.returncode == 1 and "is running" in one_line(refused.stderr)

        result = run_main(config, "cancel", "news", str(news))
        assert result.returncode == 0, result.stderr
        kept = int(re.search(r"([\d,]+) of 6,000 rows had been written", result.stdout)
                   .group(1).replace(",", ""))
        assert 0 < kept < 6000 and kept % 200 == 0   # stopped between two chunks
        wait_until(lambda: "stopped: cancelled after %d of 6000 rows" % kept
                   in read_log(config), timeout=10)
        other = db.add_carded_user(city="C2")
        activity = db.add_activity(region="C2")
        wait_until(lambda: (db.run("activity", activity) or {}).get("state") == "done")
        run = db.run("news", news)
        assert (run["state"], run["written"], run["last_error"]) == (
            "cancelled", kept, "cancelled by operator")
        assert len(db.queue_rows(230)) == kept and db.recipients(231) == [other]
        assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id = %s", [news]) == 1

        result = run_main(config, "retry", "news", str(news))
        assert result.returncode == 0
        assert "goes on after the {:,} rows already written".format(kept) in result.stdout
        wait_until(lambda: db.run("news", news)["state"] == "done", timeout=30)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(10) == 0
    assert_exactly_once(db, 230, users)
    assert db.run("news", news)["written"] == 6000
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id = %s", [news]) == 2
    assert " ERROR " not in read_log(config)


def test_status_shows_every_kind_of_campaign_with_chinese_titles_aligned(db, config_path,
                                                                         run_once):
    db.add_carded_user()
    done = db.add_activity(title="活动：名片达人")
    failed = db.add_news(region="C1;C2")
    assert run_once() == 1
    soon = db.add_promotion(title="年终推广 🎉", push_time=db.now() + 3600)
    cancelled = db.add_news(push_time=db.now() + 7200)
    assert run_main(config_path, "cancel", "news", str(cancelled)).returncode == 0

    result = run_main(config_path, "status")
    assert result.returncode == 0
    out = result.stdout
    assert "NONE: no instance holds the lock message_handling:%s" % db.name in out
    assert re.search(r"^  activity +%d +活动：名片达人 +1 +\d+ s +\d{4}-" % done, out, re.M)
    assert re.search(r"^  news +%d +新闻标题 📰 +failed .*unsent +region: invalid code"
                     % failed, out, re.M)
    assert re.search(r"^  promotion +%d +年终推广 🎉 +scheduled" % soon, out, re.M)
    assert re.search(r"^  news +%d +新闻标题 📰 +0 / 0 " % cancelled, out, re.M)
    # CJK characters take two columns: the right-aligned recipients column ends
    # where its header ends.
    header = next(line for line in out.splitlines() if "recipients" in line)
    ending = re.search(r"^  activity +%d +活动：名片达人 +1\b" % done, out, re.M).group(0)
    assert display_width(ending) == display_width(
        header[:header.index("recipients") + len("recipients")])

    report = json.loads(run_main(config_path, "status", "--json").stdout)
    states = {(c["job"], c["campaign_id"]): c["state"] for c in report["campaigns"]}
    assert states == {("activity", done): "done", ("news", failed): "failed",
                      ("promotion", soon): "scheduled", ("news", cancelled): "cancelled"}
    assert report["check"] == {"status": "CRITICAL", "exit_code": 2, "summary":
                               "CRITICAL: no instance holds the lock message_handling:%s; "
                               "1 failed (news %d)" % (db.name, failed)}
