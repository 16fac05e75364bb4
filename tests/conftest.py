"""Every test runs against a real MariaDB/MySQL, in a throwaway database of its own.

The server comes from MH_DB_HOST / MH_DB_PORT / MH_DB_USER /
MH_DB_PASSWORD (default 127.0.0.1:3306, root, no password). Databases are
named mh_test_<pid>_<n> and dropped after the test: nothing else is touched.
"""
from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import uuid
from typing import Any, Dict, Iterable, List, Optional

import pymysql
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from mg_handling.queries import read_sql  # noqa: E402
from util.db import split_statements  # noqa: E402

SERVER = dict(host=os.environ.get("MH_DB_HOST", "127.0.0.1"),
              port=int(os.environ.get("MH_DB_PORT", "3306")),
              user=os.environ.get("MH_DB_USER", "root"),
              password=os.environ.get("MH_DB_PASSWORD", ""))
TEST_DB_PREFIX = "mh_test_"
_counter = itertools.count()


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers", "cluster: needs the 3-node Galera cluster of tools/ensure_galera.sh "
        "(make cluster-test)")


def connect(database: Optional[str] = None) -> Any:
    return pymysql.connect(database=database, charset="utf8mb4", autocommit=True,
                           cursorclass=pymysql.cursors.DictCursor, **SERVER)


class LegacyDB:
    """A throwaway database holding the legacy schema, with builders for its rows."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.conn = connect(name)
        self._lock = threading.Lock()

    # -- plain SQL ---------------------------------------------------------
    def query(self, sql: str, params: Any = None) -> List[Dict[str, Any]]:
        with self._lock, self.conn.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def scalar(self, sql: str, params: Any = None) -> Any:
        rows = self.query(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def insert(self, table: str, **values: Any) -> int:
        columns = ", ".join("`%s`" % column for column in values)
        marks = ", ".join(["%s"] * len(values))
        with self._lock, self.conn.cursor() as cursor:
            cursor.execute("INSERT INTO `%s` (%s) VALUES (%s)" % (table, columns, marks),
                           list(values.values()))
            return cursor.lastrowid

    def insert_many(self, table: str, rows: Iterable[Dict[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        columns = list(rows[0])
        sql = "INSERT INTO `%s` (%s) VALUES (%s)" % (
            table, ", ".join("`%s`" % c for c in columns), ", ".join(["%s"] * len(columns)))
        with self._lock, self.conn.cursor() as cursor:
            cursor.executemany(sql, [[row[c] for c in columns] for row in rows])

    def now(self) -> int:
        return int(self.scalar("SELECT UNIX_TIMESTAMP()"))

    # -- code tables -------------------------------------------------------
    def add_city(self, province_code: str, prefecture_code: str, city: str = "城市",
                 province: str = "省") -> None:
        self.insert("province_city_code", country="中国", province_code=province_code,
                    province=province, prefecture_code=prefecture_code, city=city)

    def add_industry(self, category_id: str, parent_id: str = "0", name: str = "行业") -> None:
        self.insert("industry_category", category_id=category_id, parent_id=parent_id,
                    name=name)

    # -- people and cards ----------------------------------------------------
    def add_user(self, user_id: Optional[str] = None, *, city_code: str = "",
                 card_id: str = "", status: str = "active", mobile: str = "",
                 email: str = "", first_industries: Iterable[str] = ()) -> str:
        """An account with its detail row (and first-use industries)."""
        user_id = user_id or uuid.uuid4().hex
        self.insert("account_basic", user_id=user_id, mobile=mobile, email=email,
                    status=status)
        self.insert("account_basic_detail", user_id=user_id, real_name="张三",
                    card_id=card_id, city_code=city_code)
        for code in first_industries:
            self.insert("account_basic_category_map", account_id=user_id, category_id=code)
        return user_id

    def add_card(self, card_id: str, *, city: str = "", province: str = "",
                 mobile: str = "", user_id: str = "", side: int = 0) -> None:
        self.insert("card_info_jsonver", card_id=card_id, user_id=user_id, side=side,
                    name="名片", mobile=mobile, cityM_code=city, provinceM_code=province)

    def add_company(self, card_id: str, *, ind_code: Optional[str] = None,
                    func_code: Optional[str] = None) -> None:
        self.insert("company_info_jsonVer", card_id=card_id, companyName="公司",
                    ind_code=ind_code, func_code=func_code)

    def add_carded_user(self, *, city: str = "C1", industry: str = "I11", func: str = "F1",
                        **user: Any) -> str:
        """A user whose default card matches (city, industry, func): the usual recipient."""
        card_id = uuid.uuid4().hex
        self.add_card(card_id, city=city)
        self.add_company(card_id, ind_code=industry, func_code=func)
        return self.add_user(card_id=card_id, **user)

    # -- campaigns -----------------------------------------------------------
    def add_news(self, *, region: str = "C1", industry: str = "I11", func: str = "F1",
                 content: Any = None, push_time: Optional[int] = None, status: int = 1,
                 admin_id: str = "admin-1") -> int:
        if content is None:
            content = [{"newsid": "n1", "title": "新闻标题 📰", "url": "https://x/n1"}]
        if not isinstance(content, str):
            content = json.dumps(content, ensure_ascii=False)
        return self.insert("sns_qa_push_setting", push_time=self._due(push_time),
                           region=region, industry=industry, func=func, content=content,
                           admin_id=admin_id, status=status, created_time=1700000000)

    def add_promotion(self, *, type: int = 1, isalluser: int = 1, region: str = "C1",
                      industry: str = "I11", func: str = "F1", title: Optional[str] = "推广",
                      content: str = "推广内容", json_data: str = "",
                      push_time: Optional[int] = None, status: int = 1,
                      url: str = "https://x/p", pro_id: Optional[str] = None,
                      admin_id: str = "admin-2") -> int:
        return self.insert("sys_user_promotion", pro_id=pro_id or uuid.uuid4().hex, type=type,
                           isalluser=isalluser, push_time=self._due(push_time), region=region,
                           industry=industry, func=func, title=title, content=content,
                           created_time=1700000001, admin_id=admin_id, status=status, url=url,
                           json_data=json_data)

    def add_activity(self, *, region: str = "C1", industry: str = "I11", func: str = "F1",
                     title: Optional[str] = "活动", content: Optional[str] = "活动内容",
                     image: Optional[str] = "https://x/a.png", json_data: str = "",
                     onlinetime: Optional[int] = None, offlinetime: int = 0,
                     isnotify: int = 2, push_state: int = 1, state: int = 2,
                     activity_id: Optional[str] = None, user_id: str = "admin-3",
                     url: str = "https://x/a") -> int:
        return self.insert("operation_activity", activity_id=activity_id or uuid.uuid4().hex,
                           isnotify=isnotify, push_state=push_state, region=region,
                           industry=industry, func=func, image=image, title=title,
                           content=content, onlinetime=self._due(onlinetime),
                           offlinetime=offlinetime, user_id=user_id, created_time=1700000002,
                           state=state, url=url, json_data=json_data)

    def _due(self, when: Optional[int]) -> int:
        return self.now() - 60 if when is None else when

    # -- what the daemon wrote -------------------------------------------------
    def queue_rows(self, message_type: Optional[int] = None) -> List[Dict[str, Any]]:
        if message_type is None:
            return self.query("SELECT * FROM message_queue ORDER BY id")
        return self.query("SELECT * FROM message_queue WHERE type = %s ORDER BY id",
                          [message_type])

    def recipients(self, message_type: Optional[int] = None) -> List[str]:
        return sorted(row["to_uid"] for row in self.queue_rows(message_type))

    def run(self, job: str, campaign_id: int) -> Optional[Dict[str, Any]]:
        """The daemon's record of a campaign (None before the daemon created its tables)."""
        try:
            rows = self.query("SELECT * FROM mh_campaign_run WHERE job = %s AND campaign_id = %s",
                              [job, campaign_id])
        except pymysql.err.ProgrammingError:
            return None
        return rows[0] if rows else None

    def close(self) -> None:
        self.conn.close()


def create_database(name: str) -> None:
    assert name.startswith(TEST_DB_PREFIX)
    admin = connect()
    try:
        with admin.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS `%s`" % name)
            cursor.execute("CREATE DATABASE `%s` CHARACTER SET utf8mb4" % name)
            cursor.execute("USE `%s`" % name)
            for statement in split_statements(read_sql("legacy_schema.sql")):
                cursor.execute(statement)
    finally:
        admin.close()


def apply_sql_file(db: "LegacyDB", path: str) -> None:
    """Run every statement of a shipped SQL file (e.g. deploy/recommended_indexes.sql)."""
    with open(path, encoding="utf-8") as handle:
        for statement in split_statements(handle.read()):
            db.query(statement)


def drop_database(name: str) -> None:
    assert name.startswith(TEST_DB_PREFIX)
    admin = connect()
    try:
        with admin.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS `%s`" % name)
    finally:
        admin.close()


@pytest.fixture
def db():
    """A fresh database with the legacy schema and a small standard code table:
    province P1 with cities C1 and C2, province P2 with city C3; level-1
    industries I1 (children I11, I12) and I2 (child I21)."""
    name = "%s%d_%d" % (TEST_DB_PREFIX, os.getpid(), next(_counter))
    create_database(name)
    legacy = LegacyDB(name)
    for province, city in (("P1", "C1"), ("P1", "C2"), ("P2", "C3")):
        legacy.add_city(province, city)
    for code, parent in (("I1", "0"), ("I11", "I1"), ("I12", "I1"), ("I2", "0"),
                         ("I21", "I2")):
        legacy.add_industry(code, parent)
    try:
        yield legacy
    finally:
        legacy.close()
        drop_database(name)


def write_config(path: str, database: str, connection: Optional[Dict[str, Any]] = None,
                 **main: Any) -> str:
    """A db.conf for `database` on the test server (`connection` overrides host, port,
    user or password) with [main] overrides; returns its path."""
    settings = {"env": "database_test", "poll_interval": 0.2, "log_file": "pushing.log"}
    settings.update(main)
    server = dict(SERVER, **(connection or {}))
    lines = ["[main]"] + ["%s = %s" % item for item in settings.items()]
    lines += ["", "[database_test]"] + ["%s = %s" % item for item in server.items()]
    lines += ["database = %s" % database, ""]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    os.chmod(path, 0o600)
    return path


def read_log(config_path: str) -> str:
    """The daemon's pushing.log beside `config_path` ('' before it exists)."""
    path = os.path.join(os.path.dirname(config_path), "pushing.log")
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as handle:
        return handle.read()


@pytest.fixture
def config_path(db, tmp_path):
    return write_config(str(tmp_path / "db.conf"), db.name)


@pytest.fixture
def run_once(config_path):
    """One poll of every job in-process (as `main.py --once`); returns the exit code."""
    from mg_handling import service
    from util.config import load_config

    def run(**main: Any) -> int:
        path = write_config(config_path, load_config(config_path).db.database, **main) \
            if main else config_path
        return service.run_once(load_config(path), threading.Event())
    return run


def main_command(config_path: str, *extra: str) -> List[str]:
    return [sys.executable, os.path.join(ROOT, "main.py"), "--config", config_path, *extra]


def run_main(config_path: str, *extra: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run main.py as a real process and wait for it."""
    return subprocess.run(main_command(config_path, *extra), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
