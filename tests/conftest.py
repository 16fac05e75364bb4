"""Fixtures of the integration tests: a real MariaDB/MySQL, a throwaway database per test.

The server comes from MH_DB_HOST / MH_DB_PORT / MH_DB_USER / MH_DB_PASSWORD
(default 127.0.0.1:3306, root, no password). Databases are named mh_test_<pid>_<n>
and dropped after the test: nothing else is touched. The scaffolding itself lives
in testkit/ (shared with tools/ and bench/); nothing here connects before a test
asks for `db`, so tests/unit runs with no server at all.
"""
from __future__ import annotations

import os
import threading
from typing import Any, Callable, Iterator

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from testkit.db import TEST_DB_PREFIX, LegacyDB, legacy_database  # noqa: E402
from testkit.process import write_config  # noqa: E402


@pytest.fixture
def db() -> Iterator[LegacyDB]:
    """A fresh database with the legacy schema and the standard code tables
    (LegacyDB.add_standard_codes)."""
    with legacy_database(TEST_DB_PREFIX) as legacy:
        legacy.add_standard_codes()
        yield legacy


@pytest.fixture
def config_path(db: LegacyDB, tmp_path: Any) -> str:
    return write_config(str(tmp_path / "db.conf"), db.name)


@pytest.fixture
def run_once(config_path: str) -> Callable[..., int]:
    """One poll of every job in-process (as `main.py --once`); returns the exit code."""
    from mg_handling import service
    from util.config import load_config

    def run(**main: Any) -> int:
        path = write_config(config_path, load_config(config_path).db.database, **main) \
            if main else config_path
        return service.run_once(load_config(path), threading.Event())
    return run
