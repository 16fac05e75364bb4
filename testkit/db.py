"""Throwaway databases holding the legacy schema, and LegacyDB with builders for their rows.

The server comes from MH_DB_HOST / MH_DB_PORT / MH_DB_USER / MH_DB_PASSWORD
(default 127.0.0.1:3306, root, no password). A throwaway database is named with
its caller's prefix (mh_test_, mh_soak, mh_demo, mh_bench): no other name is ever
created or dropped here.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import threading
import uuid
from contextlib import closing, contextmanager
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Set, Tuple

import pymysql

from util.db import split_statements

SERVER: Dict[str, Any] = dict(host=os.environ.get("MH_DB_HOST", "127.0.0.1"),
                              port=int(os.environ.get("MH_DB_PORT", "3306")),
                              user=os.environ.get("MH_DB_USER", "root"),
                              password=os.environ.get("MH_DB_PASSWORD", ""))
TEST_DB_PREFIX = "mh_test_"
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "legacy_schema.sql")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_]+")
_counter = itertools.count()


def connect(database: Optional[str] = None, server: Optional[Mapping[str, Any]] = None,
            **options: Any) -> Any:
    """An autocommit utf8mb4 connection to `server` (default SERVER) with dict rows;
    `options` override any of that (cursorclass, autocommit, connect_timeout...)."""
    settings: Dict[str, Any] = dict(charset="utf8mb4", autocommit=True,
                                    cursorclass=pymysql.cursors.DictCursor)
    settings.update(server or SERVER)
    settings.update(options)
    return pymysql.connect(database=database, **settings)


# ---------------------------------------------------------------- the database factory

def check_name(name: str, prefix: str) -> str:
    """`name`, if it is a throwaway database of `prefix`: anything else could be data."""
    if not name.startswith(prefix) or not _SAFE_NAME.fullmatch(name):
        raise ValueError("refusing database %r: a throwaway database's name starts with %s "
                         "and holds only letters, digits and _" % (name, prefix))
    return name


def throwaway_name(prefix: str = TEST_DB_PREFIX) -> str:
    """A name of this process's own: <prefix><pid>_<n>."""
    return "%s%d_%d" % (prefix, os.getpid(), next(_counter))


def legacy_schema() -> List[str]:
    """The statements of testkit/legacy_schema.sql."""
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return list(split_statements(handle.read()))


def recreate_database(conn: Any, name: str, prefix: str) -> None:
    """Drop `name` if it exists, create it empty and load the legacy schema in it;
    `conn` (an autocommit connection) is left using it."""
    check_name(name, prefix)
    with conn.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS `%s`" % name)
        cursor.execute("CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
                       % name)
        cursor.execute("USE `%s`" % name)
        for statement in legacy_schema():
            cursor.execute(statement)


def drop_database(conn: Any, name: str, prefix: str) -> None:
    check_name(name, prefix)
    with conn.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS `%s`" % name)


@contextmanager
def legacy_database(prefix: str = TEST_DB_PREFIX, server: Optional[Mapping[str, Any]] = None,
                    name: Optional[str] = None, **options: Any) -> Iterator["LegacyDB"]:
    """A fresh database with the legacy schema (named `name`, or a throwaway_name of
    `prefix`) on `server`, as a LegacyDB; dropped on the way out."""
    name = name or throwaway_name(prefix)
    with closing(connect(None, server, **options)) as admin:
        recreate_database(admin, name, prefix)
    legacy = LegacyDB(name, server, **options)
    try:
        yield legacy
    finally:
        legacy.close()
        with closing(connect(None, server, **options)) as admin:
            drop_database(admin, name, prefix)


def apply_sql_file(db: "LegacyDB", path: str) -> None:
    """Run every statement of a shipped SQL file (e.g. deploy/recommended_indexes.sql)."""
    with open(path, encoding="utf-8") as handle:
        for statement in split_statements(handle.read()):
            db.query(statement)


# ---------------------------------------------------------------- LegacyDB

class LegacyDB:
    """A database holding the legacy schema, with builders for its rows."""

    def __init__(self, name: str, server: Optional[Mapping[str, Any]] = None,
                 **options: Any) -> None:
        self.name = name
        self._server = dict(server or SERVER)
        self._options = options
        self.conn = connect(name, self._server, **options)
        self._lock = threading.Lock()

    def reconnect(self) -> None:
        """A new connection (after the server restarted, say)."""
        try:
            self.conn.close()
        except pymysql.err.Error:
            pass  # already gone with the server
        self.conn = connect(self.name, self._server, **self._options)

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
            return int(cursor.lastrowid)

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

    def add_standard_codes(self) -> None:
        """The tests' code tables: province P1 with cities C1 and C2, province P2 with
        city C3; level-1 industries I1 (children I11, I12) and I2 (child I21)."""
        for province, city in (("P1", "C1"), ("P1", "C2"), ("P2", "C3")):
            self.add_city(province, city)
        for code, parent in (("I1", "0"), ("I11", "I1"), ("I12", "I1"), ("I2", "0"),
                             ("I21", "I2")):
            self.add_industry(code, parent)

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


# ---------------------------------------------------------------- campaigns and audiences

def add_campaign(db: LegacyDB, job: str, when: Optional[int] = None,
                 owner: Optional[str] = None, **values: Any) -> int:
    """A campaign of `job` (news, promotion, activity) reaching the standard user, due
    at `when` (server time; default a minute ago); `owner` is its admin_id / user_id
    (the from_uid of its rows); `values` are the builder's own arguments."""
    kinds: Dict[str, Tuple[Callable[..., int], str, str]] = {
        "news": (db.add_news, "push_time", "admin_id"),
        "promotion": (db.add_promotion, "push_time", "admin_id"),
        "activity": (db.add_activity, "onlinetime", "user_id")}
    builder, time_column, owner_column = kinds[job]
    if when is not None:
        values[time_column] = when
    if owner is not None:
        values[owner_column] = owner
    return builder(**values)


def add_matching_users(db: LegacyDB, count: int) -> Set[str]:
    """`count` users whose default card matches city C1 / industry I11 / func F1."""
    users = [(uuid.uuid4().hex, uuid.uuid4().hex) for _ in range(count)]
    db.insert_many("account_basic", ({"user_id": u, "mobile": "", "email": "", "status": "active"}
                                     for u, _ in users))
    db.insert_many("account_basic_detail", ({"user_id": u, "real_name": "李四", "card_id": c,
                                             "city_code": "C1"} for u, c in users))
    db.insert_many("card_info_jsonver", ({"card_id": c, "user_id": u, "cityM_code": "C1"}
                                         for u, c in users))
    db.insert_many("company_info_jsonVer", ({"card_id": c, "ind_code": "I11", "func_code": "F1"}
                                            for _, c in users))
    return {u for u, _ in users}


def written(db: LegacyDB, job: str, campaign_id: int) -> int:
    """The rows the daemon wrote for a campaign so far (0 before its run exists)."""
    return int((db.run(job, campaign_id) or {}).get("written", 0))


def state(db: LegacyDB, job: str, campaign_id: int) -> Optional[str]:
    return (db.run(job, campaign_id) or {}).get("state")


def assert_exactly_once(db: LegacyDB, message_type: int, expected: Set[str]) -> None:
    rows = db.queue_rows(message_type)
    recipients = [row["to_uid"] for row in rows]
    assert len(recipients) == len(set(recipients)), "duplicate recipient rows"
    assert set(recipients) == expected
