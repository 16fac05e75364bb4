"""Numbers, durations and times as the operator reads them (status, the status page).

Imports nothing of the daemon, so that any module (web.py, which service.py
imports) can use it without an import cycle.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional


def number(value: Optional[int]) -> str:
    return "-" if value is None else "{:,}".format(value)


def duration(seconds: Optional[float]) -> str:
    """7 s, 3 min 20 s, 2 h 05 min, 3 d 4 h."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    if seconds < 60:
        return "%d s" % seconds
    if seconds < 3600:
        return "%d min %02d s" % divmod(seconds, 60)
    if seconds < 86400:
        return "%d h %02d min" % (seconds // 3600, seconds % 3600 // 60)
    return "%d d %d h" % (seconds // 86400, seconds % 86400 // 3600)


def noun(count: int, singular: str, plural: Optional[str] = None) -> str:
    """The noun that goes with `count`: '1 recipient', '2 recipients', never '1 recipients'."""
    if count == 1:
        return singular
    return plural or singular + "s"


def timestamp(value: Optional[datetime]) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")
