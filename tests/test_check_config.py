"""`main.py check-config` against a real MariaDB: as root, and as the least-privileged
account of deploy/grants.sql (less one line); sends nothing, writes nothing."""
from __future__ import annotations

import os
from typing import List, Tuple

from test_grants import ACCOUNT, PASSWORD, account  # noqa: F401  (a fixture)

from testkit.db import SERVER, apply_sql_file
from testkit.process import ROOT, free_port, one_line, run_main, write_config

INDEXES = os.path.join(ROOT, "deploy", "recommended_indexes.sql")


def check_config(config: str) -> Tuple[int, List[str]]:
    result = run_main(config, "check-config", timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(line.split()[0] in ("OK", "WARNING", "ERROR") for line in lines), \
        result.stdout + result.stderr
    return result.returncode, lines


def levelled(lines: List[str], level: str) -> List[str]:
    return [line for line in lines if line.split()[0] == level]


def test_a_ready_database_is_ok_and_nothing_is_written_or_sent(db, tmp_path):
    db.add_carded_user()
    news = db.add_news()   # due: check-config must not send it
    apply_sql_file(db, INDEXES)
    config = write_config(str(tmp_path / "db.conf"), db.name)
    code, lines = check_config(config)
    assert code == 0, lines
    assert not levelled(lines, "WARNING") and not levelled(lines, "ERROR")
    assert any("mh_campaign_run does not exist yet" in line for line in lines), lines
    assert db.queue_rows() == [] and db.run("news", news) is None
    assert not db.query("SHOW TABLES LIKE 'mh\\_%%'")   # created nothing
    assert not os.path.exists(str(tmp_path / "pushing.log"))

    assert run_main(config, "--once").returncode == 0   # now the daemon's tables exist
    code, lines = check_config(config)
    assert code == 0 and any("mh_campaign_run is current" in line for line in lines), lines


def test_a_missing_grant_is_named(db, account, tmp_path):  # noqa: F811
    apply_sql_file(db, INDEXES)
    config = write_config(str(tmp_path / "db.conf"), db.name,
                          {"user": ACCOUNT, "password": PASSWORD})
    account()
    code, lines = check_config(config)
    assert code == 0, lines
    assert any("holds every privilege of deploy/grants.sql" in line for line in lines)

    account(without="operation_activity")
    code, lines = check_config(config)
    assert code == 2, lines
    assert "ERROR   %s@%s lacks SELECT, UPDATE (push_state, push_count) on operation_activity " \
           "(deploy/grants.sql)" % (ACCOUNT, SERVER["host"]) in lines, lines
    assert len(levelled(lines, "ERROR")) == 1, lines   # not also "table ... is missing"

    account(without="message_queue")
    code, lines = check_config(config)
    assert code == 2
    assert [line for line in levelled(lines, "ERROR") if "INSERT on message_queue" in line]


def test_missing_columns_wrong_types_and_indexes_are_findings(db, tmp_path):
    config = write_config(str(tmp_path / "db.conf"), db.name)
    code, lines = check_config(config)   # no recommended index: warnings only
    assert code == 1, lines
    assert any("no index starts with account_basic_detail.city_code" in line
               for line in levelled(lines, "WARNING")), lines
    db.query("ALTER TABLE message_queue MODIFY created_time datetime NULL")
    db.query("ALTER TABLE account_basic DROP COLUMN email")
    db.query("RENAME TABLE industry_category TO industry_category_old")
    code, lines = check_config(config)
    assert code == 2
    errors = levelled(lines, "ERROR")
    assert "ERROR   column message_queue.created_time is datetime; the daemon expects an " \
           "integer type" in errors, lines
    assert "ERROR   column account_basic.email is missing" in errors
    assert "ERROR   table industry_category is missing" in errors


def test_an_older_run_table_is_a_warning(db, tmp_path):
    config = write_config(str(tmp_path / "db.conf"), db.name)
    apply_sql_file(db, INDEXES)
    assert run_main(config, "--once").returncode == 0
    db.query("ALTER TABLE mh_campaign_run DROP COLUMN requested_by")
    code, lines = check_config(config)
    assert code == 1
    assert levelled(lines, "WARNING") == [
        "WARNING mh_campaign_run lacks the columns requested_by of this version: the daemon "
        "adds them at its next start"]


def test_an_unreachable_database_is_an_error(tmp_path):
    port = free_port()
    config = write_config(str(tmp_path / "db.conf"), "mh_test_x", {"port": port})
    code, lines = check_config(config)
    assert code == 2
    assert "cannot read the database" in levelled(lines, "ERROR")[0]
    assert ":%d/" % port in levelled(lines, "ERROR")[0]
    bad = tmp_path / "bad.conf"
    bad.write_text("[main]\nenv = nowhere\n", encoding="utf-8")
    result = run_main(str(bad), "check-config")
    assert result.returncode == 2 and "nowhere" in one_line(result.stderr)
