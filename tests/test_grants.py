"""deploy/grants.sql is enough, and each of its lines on the platform's tables is needed:
the daemon and the operator commands run as an account holding exactly those grants."""
from __future__ import annotations

import json
import os
import re
from typing import Iterator, List, Optional

import pytest

from mg_handling.queries import read_sql
from testkit.db import SERVER, connect
from testkit.process import ROOT, read_log, run_main, write_config
from util.db import split_statements

GRANTS = os.path.join(ROOT, "deploy", "grants.sql")
ACCOUNT = "mh_test_grants_%d" % os.getpid()  # dropped after each test
PASSWORD = "Gr4nts;%(x)s-9f"


def grant_statements(database: str) -> List[str]:
    """grants.sql with its placeholders replaced, as the sed line of its header does."""
    with open(GRANTS, encoding="utf-8") as handle:
        text = handle.read()
    for placeholder, value in (("<database>", database), ("<user>", ACCOUNT),
                               ("<host>", SERVER["host"])):
        text = text.replace(placeholder, value)
    assert "<" not in text.replace("<>", ""), "a placeholder the test does not know"
    return list(split_statements(text))


def table_of(statement: str) -> str:
    return re.search(r"\bON `[^`]+`\.(\w+) TO ", statement).group(1)


def create_account(statements: List[str]) -> None:
    admin = connect()
    try:
        with admin.cursor() as cursor:
            cursor.execute("DROP USER IF EXISTS %s@%s", (ACCOUNT, SERVER["host"]))
            cursor.execute("CREATE USER %s@%s IDENTIFIED BY %s",
                           (ACCOUNT, SERVER["host"], PASSWORD))
            for statement in statements:
                cursor.execute(statement)
    finally:
        admin.close()


@pytest.fixture
def account(db) -> Iterator[object]:
    """create(without=None): the account with grants.sql's grants on db (less the one on
    table `without`); dropped after the test."""
    def create(without: Optional[str] = None) -> None:
        create_account([statement for statement in grant_statements(db.name)
                        if without is None or table_of(statement) != without])
    try:
        yield create
    finally:
        admin = connect()
        try:
            with admin.cursor() as cursor:
                cursor.execute("DROP USER IF EXISTS %s@%s", (ACCOUNT, SERVER["host"]))
        finally:
            admin.close()


def add_one_campaign_of_each_kind(db) -> dict:
    """A user every campaign reaches, and a news, three promotions (in-app, email, SMS
    to users and card holders) and an activity, all due."""
    user = db.add_carded_user(email="zhang@例子.cn", mobile="13800000001")
    return {"user": user,
            "news": db.add_news(),
            "in_app": db.add_promotion(type=1, title="推广 🎉"),
            "email": db.add_promotion(type=2, title="邮件 📧"),
            "sms": db.add_promotion(type=3, isalluser=2, content="短信内容"),
            "activity": db.add_activity(title="活动通知")}  # a utf8 column: no emoji


def test_the_daemon_sends_every_kind_of_campaign_with_exactly_these_grants(db, account,
                                                                         tmp_path):
    account()
    sent = add_one_campaign_of_each_kind(db)
    config = write_config(str(tmp_path / "db.conf"), db.name,
                          {"user": ACCOUNT, "password": PASSWORD})
    result = run_main(config, "--once", timeout=60)
    assert result.returncode == 0, result.stderr + read_log(config)
    assert "denied" not in read_log(config)
    for job, key in (("news", "news"), ("promotion", "in_app"), ("promotion", "email"),
                     ("promotion", "sms"), ("activity", "activity")):
        assert db.run(job, sent[key])["state"] == "done", (job, key, read_log(config))
    assert db.recipients(230) == [sent["user"]]
    assert [row["email"] for row in db.query("SELECT email FROM message_promotion "
                                             "WHERE type = 2")] == ["zhang@例子.cn"]
    assert [row["mobile"] for row in db.query("SELECT mobile FROM message_promotion "
                                              "WHERE type = 3")] == ["13800000001"]
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id = %s",
                     [sent["news"]]) == 2
    assert db.scalar("SELECT push_state FROM operation_activity WHERE id = %s",
                     [sent["activity"]]) == 2

    # The operator commands, with the same db.conf.
    later = db.add_news(push_time=db.now() + 86400)
    preview = run_main(config, "preview", "news", str(later), timeout=60)
    assert preview.returncode == 0, preview.stderr
    assert "denied" not in preview.stdout + preview.stderr
    report = run_main(config, "status", "--json", timeout=60)
    assert json.loads(report.stdout)["database"].startswith(ACCOUNT + "@"), report.stderr
    cancel = run_main(config, "cancel", "news", str(later), timeout=60)
    assert cancel.returncode == 0, cancel.stderr
    retry = run_main(config, "retry", "news", str(later), timeout=60)
    assert retry.returncode == 0, retry.stderr
    assert db.run("news", later)["state"] == "retry"


PLATFORM_TABLES = [table_of(statement) for statement in grant_statements("d")
                   if not table_of(statement).startswith("mh_")]


@pytest.mark.parametrize("table", PLATFORM_TABLES)
def test_each_grant_on_the_platforms_tables_is_needed(db, account, tmp_path, table):
    """Without its line, some campaign of add_one_campaign_of_each_kind is refused."""
    account(without=table)
    add_one_campaign_of_each_kind(db)
    config = write_config(str(tmp_path / "db.conf"), db.name,
                          {"user": ACCOUNT, "password": PASSWORD})
    result = run_main(config, "--once", timeout=60)
    assert result.returncode != 0
    log = read_log(config)
    assert "denied" in log and table in log, log


def test_every_table_of_the_daemon_schema_has_its_grant_line():
    created = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", read_sql("daemon_schema.sql"))
    assert created
    granted = {table_of(statement): statement for statement in grant_statements("d")}
    for table in created:
        assert table in granted, "deploy/grants.sql has no line for %s" % table
        assert "CREATE" in granted[table]
