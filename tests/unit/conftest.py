"""The unit tier: no database, no process, seconds in all (`pytest tests/unit`)."""
from typing import Any, NoReturn

import pymysql
import pytest


@pytest.fixture(autouse=True)
def no_database(monkeypatch: Any) -> None:
    """A unit test that tries to connect fails at once, whether a server runs or not."""
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise AssertionError("a unit test tried to connect to a database")
    monkeypatch.setattr(pymysql, "connect", refuse)
