"""What the operator commands (preview, status, retry, cancel) share.

Each command opens a Database of one connection of its own and never takes
the instance lock, so it is safe while the daemon runs. A user error is a
CommandError: one line on stderr and a non-zero exit code, never a traceback.
Output is plain text whose columns line up, Chinese titles included.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import pymysql

from mg_handling.engine import Job
from mg_handling.queries import Q
from mg_handling.service import JOBS
from util.config import Config
from util.db import Database, DatabaseError, Transaction

EXIT_OK, EXIT_REFUSED, EXIT_ERROR = 0, 1, 2
NO_SUCH_TABLE = 1146
JOBS_BY_NAME: Dict[str, Job] = {job.name: job for job in JOBS}
CAMPAIGN_QUERIES = {job.name: getattr(Q, "campaign_" + job.name) for job in JOBS}

Command = Callable[[Config, argparse.Namespace], int]


class CommandError(Exception):
    """The command cannot do what was asked: the message is the one line shown."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def dispatch(command: Command, config: Config, args: argparse.Namespace) -> int:
    """Run a command: its exit code, or one line on stderr for an error."""
    # The pool logs outages as WARNINGs: without a handler Python would print them
    # to stderr on top of the one line that explains the error.
    logging.getLogger().addHandler(logging.NullHandler())
    try:
        return command(config, args)
    except CommandError as error:
        print("message_handling: %s" % error, file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("message_handling: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `status --json | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


@contextmanager
def database(config: Config) -> Iterator[Database]:
    """A one-connection Database; database errors become CommandErrors."""
    db = Database(config.db, max_connections=1)
    try:
        yield db
    except DatabaseError as error:
        raise CommandError(_explain(error, config), EXIT_ERROR) from None
    finally:
        db.close()


def _explain(error: DatabaseError, config: Config) -> str:
    if error.code == NO_SUCH_TABLE and "mh_" in str(error):
        return ("the daemon's tables are missing in %s: message_handling has never run "
                "on this database" % config.db.describe())
    return "%s (%s)" % (error, config.db.describe())


def is_missing_table(error: Exception) -> bool:
    return isinstance(error, pymysql.err.ProgrammingError) and error.args[0] == NO_SUCH_TABLE


# ---------------------------------------------------------------- look-ups

def load_campaign(tx: Transaction, job: Job, campaign_id: int) -> Optional[Dict[str, Any]]:
    """The campaign row with the columns its job reads, or None."""
    return tx.one(CAMPAIGN_QUERIES[job.name], {"campaign_id": campaign_id})


def no_such_campaign(job: Job, campaign_id: int) -> CommandError:
    return CommandError("no %s campaign %d: %s has no row with id %d"
                        % (job.name, campaign_id, job.table, campaign_id))


def load_run(tx: Transaction, job: Job, campaign_id: int) -> Optional[Dict[str, Any]]:
    """The daemon's record of a campaign; None when there is none (or no table yet)."""
    try:
        return tx.one(Q.run_of_campaign, {"job": job.name, "campaign_id": campaign_id})
    except pymysql.err.ProgrammingError as error:
        if is_missing_table(error):
            return None
        raise


@dataclass(frozen=True)
class Clock:
    """The database server's clock: "now" is never the operator's host's."""
    now: datetime
    unix_now: int

    def at(self, unix_time: int) -> datetime:
        """A Unix time as the server's local time (what NOW() would have said)."""
        return self.now - timedelta(seconds=self.unix_now - unix_time)


def read_clock(tx: Transaction) -> Clock:
    row = tx.one(Q.server_clock)
    return Clock(row["now"], int(row["unix_now"]))


# ---------------------------------------------------------------- text

def display_width(text: str) -> int:
    """Terminal columns of `text`: CJK and emoji take two, combining marks none."""
    total = 0
    for char in text:
        if unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        total += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return total


def cut(text: str, width: int) -> str:
    """`text` shortened to at most `width` columns, with an ellipsis."""
    text = " ".join(text.split())
    if display_width(text) <= width:
        return text
    while display_width(text) > width - 1:
        text = text[:-1]
    return text + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
          right: Sequence[int] = (), indent: str = "  ") -> List[str]:
    """Aligned plain-text columns; the columns numbered in `right` align right."""
    cells = [[str(value) for value in row] for row in [list(headers)] + list(rows)]
    widths = [max(display_width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = []
        for i, value in enumerate(row):
            gap = " " * (widths[i] - display_width(value))
            parts.append(gap + value if i in right else value + gap)
        lines.append((indent + "  ".join(parts)).rstrip())
    return lines


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


def timestamp(value: Optional[datetime]) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")
