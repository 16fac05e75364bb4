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
from typing import Any, Callable, Iterator, List, Sequence

from mg_handling.job import Job
from mg_handling.store import ADDED_RUN_COLUMNS, Campaign, Limits, Store, StoreTransaction
from util.config import Config
from util.db import DatabaseError, MissingTable

EXIT_OK, EXIT_REFUSED, EXIT_ERROR = 0, 1, 2
UNKNOWN_COLUMN = 1054  # MySQL's "Unknown column": a run table of an older version

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
def database(config: Config) -> Iterator[Store]:
    """A one-connection Store; database errors become CommandErrors."""
    store = Store(config.db, max_connections=1,
                  limits=Limits.for_command(config.freeze_timeout))
    try:
        yield store
    except DatabaseError as error:
        raise CommandError(explain(error, config), EXIT_ERROR) from None
    finally:
        store.close()


def explain(error: DatabaseError, config: Config) -> str:
    """A database error as one line for the operator, naming a missing table."""
    if isinstance(error, MissingTable):
        if error.table.startswith("mh_"):
            return ("the daemon's table %s is missing in %s: message_handling has never "
                    "run on this database" % (error.table, config.db.describe()))
        return ("the table %s is missing in %s (renamed or dropped?)"
                % (error.table, config.db.describe()))
    if error.code == UNKNOWN_COLUMN and any("'%s'" % column in str(error)
                                            for column in ADDED_RUN_COLUMNS):
        return ("%s (%s): the daemon's tables are older than this version; the daemon adds "
                "the columns at its next start (so do `retry` and `cancel`)"
                % (error, config.db.describe()))
    return "%s (%s)" % (error, config.db.describe())


# ---------------------------------------------------------------- look-ups

def load_campaign(tx: StoreTransaction, job: Job, campaign_id: int) -> Campaign:
    """The campaign row with the columns its job reads; a CommandError if none."""
    campaign = tx.campaign(job.name, campaign_id)
    if campaign is None:
        raise no_such_campaign(job, campaign_id)
    return campaign


def no_such_campaign(job: Job, campaign_id: int) -> CommandError:
    return CommandError("no %s campaign %d: %s has no row with id %d"
                        % (job.name, campaign_id, job.table, campaign_id))


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


