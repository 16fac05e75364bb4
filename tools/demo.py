#!/usr/bin/env python3
"""`make demo`: a fresh demo database, one pass of the daemon, what it wrote.

Run from anywhere as a plain script (`.venv/bin/python tools/demo.py`):

1. reads db.conf (repo root), section [database_demo], and refuses any
   database name that does not start with mh_demo, because it DROPS it;
2. recreates that database, loads testkit/legacy_schema.sql and the
   demo data of tools/demo_data.py (3000 users, one due and one not-yet-due
   campaign per kind);
3. runs `main.py --once --env database_demo` from the repo root; when
   [main] metrics_port is set, runs the daemon long-running instead and prints
   the status page's address, until the due campaigns are settled and then
   Ctrl-C (or at once when stdin is not a terminal);
4. prints the daemon's bookkeeping (mh_campaign_run) per campaign, the rows
   of message_queue / message_promotion by type, and a few samples.

Exit status: 0, the daemon's own non-zero status, 2 for a refused or bad
configuration, 1 for a database error.
"""
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
import pymysql  # noqa: E402
from demo_data import load_demo_data  # noqa: E402  (beside this script: sys.path[0])

from mg_handling.commands import display_width  # noqa: E402
from mg_handling.states import RunState  # noqa: E402
from testkit.db import recreate_database  # noqa: E402
from util.config import ConfigError, load_config  # noqa: E402

CONFIG_PATH = os.path.join(ROOT, "db.conf")
ENV = "database_demo"
DEMO_PREFIX = "mh_demo"
RUN_TABLE = "mh_campaign_run"
CONTENT_CHARS = 120


class DemoError(Exception):
    """A one-line reason to stop, with the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------- output

def _cell(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())


def _cut(text: str, chars: int = CONTENT_CHARS) -> str:
    return text if len(text) <= chars else text[:chars] + "…"


def print_table(headers, rows, indent: str = "  ") -> None:
    """Aligned columns; numbers right-aligned; the last column is not padded."""
    cells = [[_cell(v) for v in row] for row in rows]

    def is_number(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    numeric = [any(is_number(row[i]) for row in rows)
               and all(is_number(row[i]) or row[i] in ("", None) for row in rows)
               for i in range(len(headers))]
    widths = [max([display_width(h)] + [display_width(row[i]) for row in cells])
              for i, h in enumerate(headers)]
    rules = list(widths)
    if not numeric[-1]:  # a long last column (content) gets a short rule
        rules[-1] = max(display_width(headers[-1]), min(widths[-1], 40))

    def line(values):
        parts = []
        for i, value in enumerate(values):
            pad = " " * (widths[i] - display_width(value))
            if numeric[i]:
                parts.append(pad + value)
            elif i == len(values) - 1:
                parts.append(value)
            else:
                parts.append(value + pad)
        return (indent + "  ".join(parts)).rstrip()

    print(line(headers))
    print(indent + "  ".join("-" * w for w in rules))
    for row in cells:
        print(line(row))


def heading(text: str) -> None:
    print()
    print("== %s" % text)


# ---------------------------------------------------------------- database

def load_demo_config(path: str = CONFIG_PATH, env: str = ENV):
    """The [database_demo] section, refused unless its database is mh_demo*."""
    try:
        config = load_config(path, env)
    except ConfigError as error:
        raise DemoError("demo: %s" % error, 2) from None
    name = config.db.database
    if not name.startswith(DEMO_PREFIX) or not re.match(r"^[A-Za-z0-9_]+$", name):
        raise DemoError(
            "demo: refusing to drop database %r: the [%s] database name must start "
            "with %s (and hold only letters, digits and _)" % (name, env, DEMO_PREFIX),
            2)
    return config


def connect(db, database=None, autocommit: bool = False):
    try:
        return pymysql.connect(
            host=db.host, port=db.port, user=db.user, password=db.password,
            database=database, charset="utf8mb4", autocommit=autocommit,
            connect_timeout=10)
    except pymysql.err.MySQLError as error:
        raise DemoError("demo: cannot connect to %s:%d as %s: %s"
                        % (db.host, db.port, db.user, error.args[-1])) from None


def recreate_demo_database(db) -> None:
    """DROP and CREATE the demo database, then load the legacy schema."""
    connection = connect(db, autocommit=True)
    try:
        recreate_database(connection, db.database, DEMO_PREFIX)
    finally:
        connection.close()


def fill_database(db) -> dict:
    connection = connect(db, db.database)
    try:
        return load_demo_data(connection)
    finally:
        connection.close()


def print_summary(db, summary: dict, seconds: float) -> None:
    due = sum(1 for c in summary["campaigns"] if c["due"])
    print("demo database %s@%s:%d/%s ready in %.1f s:"
          % (db.user, db.host, db.port, db.database, seconds))
    print("  users     %d (%d active), %d with a default card, %d first-use industries"
          % (summary["users"], summary["active_users"], summary["users_with_card"],
             summary["category_maps"]))
    print("  cards     %d (%d of people who are not users), %d card rows, %d companies"
          % (summary["cards"], summary["extra_cards"], summary["card_rows"],
             summary["company_rows"]))
    print("  reference %d provinces / %d cities, %d industries, %d functions"
          % (summary["provinces"], summary["cities"], summary["industries"],
             summary["functions"]))
    print("  campaigns %d due now, %d for tomorrow (should stay untouched)"
          % (due, len(summary["campaigns"]) - due))


# ---------------------------------------------------------------- daemon

def run_daemon(command=None, cwd: str = ROOT) -> int:
    """Run the daemon once; its output goes straight to the terminal."""
    if command is None:
        command = [sys.executable, "main.py", "--once", "--env", ENV]
    heading("running: %s" % " ".join(["python"] + list(command[1:])))
    sys.stdout.flush()
    started = time.time()
    try:
        status = subprocess.run(command, cwd=cwd).returncode
    except OSError as error:
        print("  cannot start the daemon: %s" % error)
        return 1
    sys.stdout.flush()
    seconds = time.time() - started
    if status == 0:
        print("  daemon finished in %.1f s" % seconds)
    elif status < 0:
        print("  daemon killed by signal %d after %.1f s" % (-status, seconds))
        return 128 - status
    else:
        print("  daemon exited with status %d after %.1f s" % (status, seconds))
    return status


def run_daemon_with_page(config, campaigns) -> int:
    """The daemon long-running, its status page's address printed; stopped (SIGTERM,
    by its pid) once the due campaigns are settled and the operator pressed Ctrl-C."""
    command = [sys.executable, "main.py", "--env", ENV]
    heading("running: %s" % " ".join(["python"] + command[1:]))
    print("  status page: http://%s:%d/   (/healthz, /metrics)"
          % (config.metrics_address, config.metrics_port))
    sys.stdout.flush()
    process = subprocess.Popen(command, cwd=ROOT)
    try:
        wait_for_settled(config.db, sum(1 for c in campaigns if c["due"]), process)
        if sys.stdin.isatty() and process.poll() is None:
            print("  the due campaigns are settled; Ctrl-C stops the daemon")
            while process.poll() is None:
                time.sleep(0.5)
    except KeyboardInterrupt:
        print()
    finally:
        if process.poll() is None:
            process.terminate()
        status = process.wait()
    return status


def wait_for_settled(db, due: int, process, timeout: float = 300) -> None:
    connection = connect(db, db.database, autocommit=True)
    deadline = time.time() + timeout
    try:
        while process.poll() is None and time.time() < deadline:
            with connection.cursor() as cursor:
                if _table_exists(cursor, RUN_TABLE):
                    cursor.execute("SELECT COUNT(*) FROM mh_campaign_run"
                                   " WHERE state NOT IN (%s, %s)",
                                   (RunState.PENDING.value, RunState.RUNNING.value))
                    if cursor.fetchone()[0] >= due:
                        return
            time.sleep(0.5)
    finally:
        connection.close()


# ---------------------------------------------------------------- report

def _table_exists(cursor, table: str) -> bool:
    cursor.execute("SELECT COUNT(*) FROM information_schema.TABLES"
                   " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", (table,))
    return cursor.fetchone()[0] > 0


def report_runs(cursor, campaigns) -> None:
    heading("campaigns and the daemon's bookkeeping (%s)" % RUN_TABLE)
    runs = {}
    if _table_exists(cursor, RUN_TABLE):
        cursor.execute("SELECT job, campaign_id, state, recipients, written, last_error"
                       " FROM mh_campaign_run")
        runs = {(job, campaign_id): rest for job, campaign_id, *rest in cursor.fetchall()}
    rows = []
    for campaign in campaigns:
        base = [campaign["kind"], campaign["id"], "due" if campaign["due"] else "tomorrow",
                _cut(campaign["title"], 24)]
        run = runs.get((campaign["kind"], campaign["id"]))
        if run is None:
            rows.append(base + ["(no row)", "", "", ""])
        else:
            state, recipients, written, last_error = run
            rows.append(base + [state, recipients, written, _cut(_cell(last_error), 60)])
    print_table(["kind", "id", "push", "title", "state", "recipients", "written",
                 "last_error"], rows)


def _counts_by_type(cursor, table: str) -> None:
    cursor.execute("SELECT type, COUNT(*) FROM %s GROUP BY type ORDER BY type" % table)
    rows = [[int(t), int(n)] for t, n in cursor.fetchall()]
    if not rows:
        print("  %s: no rows" % table)
        return
    print("  %s: %d rows" % (table, sum(n for _t, n in rows)))
    print_table(["type", "rows"], rows, "    ")


def _sample_ids(cursor, table: str, count: int = 3):
    """The first row of each type, then the next rows, up to `count`."""
    cursor.execute("SELECT MIN(id) FROM %s GROUP BY type ORDER BY type" % table)
    ids = [row[0] for row in cursor.fetchall()][:count]
    if len(ids) < count:
        cursor.execute("SELECT id FROM %s ORDER BY id LIMIT %d" % (table, count * 2))
        ids += [row[0] for row in cursor.fetchall() if row[0] not in ids]
    return sorted(ids[:count])


def report_messages(cursor) -> None:
    heading("rows written")
    for table in ("message_queue", "message_promotion"):
        _counts_by_type(cursor, table)

    ids = _sample_ids(cursor, "message_queue")
    if ids:
        heading("message_queue samples")
        cursor.execute(
            "SELECT q.type, q.to_uid, d.real_name, q.title, q.content"
            " FROM message_queue q LEFT JOIN account_basic_detail d"
            " ON d.user_id = q.to_uid WHERE q.id IN (%s) ORDER BY q.id"
            % ", ".join("%s" for _ in ids), ids)
        rows = [[int(t), _cell(uid), _cell(name or ""), _cut(_cell(title), 30),
                 _cut(_cell(content))] for t, uid, name, title, content in cursor]
        print_table(["type", "to_uid", "name", "title", "content"], rows)

    ids = _sample_ids(cursor, "message_promotion")
    if ids:
        heading("message_promotion samples")
        cursor.execute(
            "SELECT type, mobile, title, content FROM message_promotion"
            " WHERE id IN (%s) ORDER BY id" % ", ".join("%s" for _ in ids), ids)
        rows = [[int(t), _cell(mobile), _cut(_cell(title), 30), _cut(_cell(content))]
                for t, mobile, title, content in cursor]
        print_table(["type", "mobile", "title", "content"], rows)


def report(db, campaigns) -> None:
    connection = connect(db, db.database, autocommit=True)
    try:
        with connection.cursor() as cursor:
            report_runs(cursor, campaigns)
            report_messages(cursor)
    finally:
        connection.close()


# ---------------------------------------------------------------- main

def main() -> int:
    try:
        config = load_demo_config()
        started = time.time()
        recreate_demo_database(config.db)
        summary = fill_database(config.db)
        print_summary(config.db, summary, time.time() - started)
        if config.metrics_port:
            status = run_daemon_with_page(config, summary["campaigns"])
        else:
            status = run_daemon()
        report(config.db, summary["campaigns"])
    except DemoError as error:
        print(error, file=sys.stderr)
        return error.status
    except pymysql.err.MySQLError as error:
        print("demo: database error: %s" % (error.args[-1] if error.args else error),
              file=sys.stderr)
        return 1
    if status:
        print()
        print("demo: the daemon exited with status %d" % status)
    return status


if __name__ == "__main__":
    sys.exit(main())
