"""What every benchmark script shares: the server, the throwaway-database guard,
the daemon under test first on sys.path (MH_DAEMON_ROOT: another checkout's SQL and code)."""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional

import pymysql

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The daemon under test: this repository, or another checkout of it (e.g. a
# baseline to compare with) named by MH_DAEMON_ROOT. Its code, SQL and
# deploy/recommended_indexes.sql are used, its main.py is run.
DAEMON_ROOT = os.path.abspath(os.environ.get("MH_DAEMON_ROOT") or ROOT)
if DAEMON_ROOT not in sys.path:
    sys.path.insert(0, DAEMON_ROOT)

from testkit.db import check_name  # noqa: E402
from testkit.db import connect as testkit_connect  # noqa: E402

BENCH_PREFIX = "mh_bench"
DEFAULT_DATABASE = "mh_bench"


def check_bench_name(name: str) -> str:
    """Only throwaway databases named mh_bench* are ever dropped or written."""
    try:
        return check_name(name, BENCH_PREFIX)
    except ValueError as error:
        raise SystemExit(str(error)) from None


def connect(database: Optional[str] = None, **extra: Any) -> Any:
    """An autocommit connection (tuples); `database` must be a bench database."""
    if database is not None:
        check_bench_name(database)
    options = dict(cursorclass=pymysql.cursors.Cursor, local_infile=False)
    options.update(extra)
    return testkit_connect(database, **options)


def rows(conn: Any, sql: str, params: Any = None) -> List[Dict[str, Any]]:
    with conn.cursor(pymysql.cursors.DictCursor) as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def scalar(conn: Any, sql: str, params: Any = None) -> Any:
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return row[0] if row else None


def execute(conn: Any, sql: str, params: Any = None) -> int:
    with conn.cursor() as cursor:
        return cursor.execute(sql, params)


@contextmanager
def timer() -> Iterator[Dict[str, float]]:
    """`with timer() as t: ...` then t["seconds"]."""
    result = {"seconds": 0.0}
    started = time.monotonic()
    try:
        yield result
    finally:
        result["seconds"] = time.monotonic() - started


def log(message: str, *args: Any) -> None:
    print(time.strftime("%H:%M:%S ") + (message % args if args else message), flush=True)
