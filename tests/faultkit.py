"""Helpers of the fault-injection suite (tests/test_faults.py).

Big audiences built in a few set-based statements, the daemon's connections
as the server sees them, consistent snapshots of what was committed, a
private MariaDB server the test can stop and start, and the figures of a run.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any, Dict, Iterable, List, Optional, Set

import pymysql

from mg_handling.lock import lock_name
from testkit.db import TEST_DB_PREFIX, LegacyDB, connect, recreate_database
from testkit.process import free_port, read_log, start_daemon, write_config

FULL = os.environ.get("MH_FAULTS", "").strip().lower() == "full"
FULL_ONLY = dict(condition=not FULL, reason="full fault run only: MH_FAULTS=full")


# ---------------------------------------------------------------- seeds and figures

def base_seed() -> int:
    """MH_FAULT_SEED, or a fresh random seed (printed by every test that uses it)."""
    text = os.environ.get("MH_FAULT_SEED", "").strip()
    return int(text) if text else random.SystemRandom().randrange(1, 2 ** 31)


SEED = base_seed()


def rng_for(test_name: str) -> random.Random:
    """A generator per test, derived from the run's seed: one test replays alone."""
    print("\n[faults] %s: MH_FAULT_SEED=%d" % (test_name, SEED))
    return random.Random("%d:%s" % (SEED, test_name))


FIGURES: Dict[str, Any] = {"seed": SEED, "mode": "full" if FULL else "fast", "tests": {}}


def record(test_name: str, **figures: Any) -> None:
    FIGURES["tests"][test_name] = figures
    print("[faults] %s: %s" % (test_name, json.dumps(figures, sort_keys=True)))


def totals() -> Dict[str, Any]:
    tests = FIGURES["tests"].values()
    keys = ("kills", "cuts", "connections_killed", "server_outages", "takeovers",
            "duplicates", "missing", "extra")
    return {key: sum(test.get(key, 0) for test in tests) for key in keys}


# ---------------------------------------------------------------- audiences

class Audience:
    """`count` users that every campaign with region C1 / industry I11 / func F1
    reaches, plus decoys that it must not reach, built with set-based SQL.
    The expected recipients are computed here from the numbering, not read back."""

    def __init__(self, count: int) -> None:
        assert 0 < count < 1000000
        self.count = count
        self.user_ids: Set[str] = {"fu%07d" % n for n in range(1, count + 1)}
        self.mobiles: Set[str] = {"139%08d" % n for n in range(1, count + 1)}


def build_audience(db: LegacyDB, count: int, decoys: int = 300) -> Audience:
    """Every matching user has an active account, a profile in city C1 and a default
    card whose company is in industry I11 with functions 'F1' (see queries.sql
    matching_users). Decoys: inactive accounts, function F10 (F1 must match whole
    codes), a city of another province, an industry of another branch."""
    db.query("DROP TEMPORARY TABLE IF EXISTS fk_digits, fk_numbers")
    db.query("CREATE TEMPORARY TABLE fk_digits (d INT PRIMARY KEY)")
    db.query("INSERT INTO fk_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)")
    db.query("CREATE TEMPORARY TABLE fk_numbers (n INT PRIMARY KEY)")
    db.query("INSERT INTO fk_numbers SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d "
             "+ 10000 * f.d + 100000 * g.d + 1 FROM fk_digits a, fk_digits b, fk_digits c, "
             "fk_digits e, fk_digits f, fk_digits g "
             "WHERE a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d + 100000 * g.d "
             "< %s", [max(count, decoys)])
    people = [("fu", "139", "active", "C1", "I11", "F1", count)]
    if decoys:
        people += [("fi", "130", "inactive", "C1", "I11", "F1", decoys),
                   ("ff", "131", "active", "C1", "I11", "F10", decoys),
                   ("fc", "132", "active", "C3", "I11", "F1", decoys),
                   ("fn", "133", "active", "C1", "I21", "F1", decoys)]
    for prefix, mobile, status, city, industry, func, many in people:
        user = "CONCAT('%s', LPAD(n, 7, '0'))" % prefix
        card = "CONCAT('k%s', LPAD(n, 7, '0'))" % prefix
        db.query("INSERT INTO account_basic (user_id, mobile, email, status) "
                 "SELECT " + user + ", CONCAT(%s, LPAD(n, 8, '0')), "
                 "CONCAT(%s, n, '@fault.test'), %s FROM fk_numbers WHERE n <= %s",
                 [mobile, prefix, status, many])
        db.query("INSERT INTO account_basic_detail (user_id, real_name, card_id, city_code) "
                 "SELECT " + user + ", '王五', " + card + ", %s "
                 "FROM fk_numbers WHERE n <= %s", [city, many])
        db.query("INSERT INTO company_info_jsonVer (card_id, companyName, ind_code, func_code) "
                 "SELECT " + card + ", '公司', %s, %s FROM fk_numbers WHERE n <= %s",
                 [industry, func, many])
    db.query("DROP TEMPORARY TABLE fk_digits, fk_numbers")
    return Audience(count)


# ---------------------------------------------------------------- the daemon as the server sees it

def connection_ids(db: LegacyDB) -> Set[int]:
    """Every connection to the test database but the test's own."""
    rows = db.query("SELECT ID FROM information_schema.PROCESSLIST "
                    "WHERE DB = %s AND ID <> CONNECTION_ID()", [db.name])
    return {row["ID"] for row in rows}


def statements_running(db: LegacyDB, pattern: str, among: Optional[Iterable[int]] = None
                       ) -> List[int]:
    """Connections of the test database running a statement LIKE `pattern`."""
    rows = db.query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s "
                    "AND ID <> CONNECTION_ID() AND COMMAND = 'Query' AND INFO LIKE %s",
                    [db.name, pattern])
    ids = [row["ID"] for row in rows]
    return ids if among is None else [i for i in ids if i in set(among)]


def kill_connections(db: LegacyDB, ids: Iterable[int]) -> int:
    """KILL CONNECTION each id; returns how many were still there to kill."""
    killed = 0
    for connection_id in ids:
        try:
            db.query("KILL CONNECTION %s" % int(connection_id))
            killed += 1
        except pymysql.err.OperationalError as error:
            if error.args[0] != 1094:  # unknown thread id: it ended meanwhile
                raise
    return killed


def lock_holder(db: LegacyDB) -> Optional[int]:
    """The connection holding the daemon's instance lock of this database."""
    return db.scalar("SELECT IS_USED_LOCK(%s)", [lock_name(db.name)])


_TRX_READ = [0.0]


def _innodb_trx(db: LegacyDB, sql: str) -> List[Dict[str, Any]]:
    """Read information_schema.INNODB_TRX fresh. The server refreshes that table's
    cache only when it was not read for 0.1 s: polling it faster shows a frozen
    picture forever, so reads here are spaced by more than that."""
    pause = _TRX_READ[0] + 0.15 - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    try:
        return db.query(sql)
    finally:
        _TRX_READ[0] = time.monotonic()


def transactions_holding_locks(db: LegacyDB, ids: Iterable[int]) -> List[Dict[str, Any]]:
    """InnoDB transactions of these connections that hold row or table locks."""
    ids = sorted(set(ids))
    if not ids:
        return []
    return _innodb_trx(db, "SELECT trx_mysql_thread_id AS id, trx_state AS state, "
                    "trx_lock_structs AS locks, trx_rows_modified AS modified "
                    "FROM information_schema.INNODB_TRX WHERE trx_lock_structs > 0 "
                    "AND trx_mysql_thread_id IN (%s)" % ", ".join("%d" % i for i in ids))


def lock_waiters(db: LegacyDB, ids: Iterable[int]) -> List[int]:
    """Which of these connections wait for a row lock right now."""
    ids = sorted(set(ids))
    if not ids:
        return []
    rows = _innodb_trx(db, "SELECT trx_mysql_thread_id AS id FROM information_schema.INNODB_TRX "
                    "WHERE trx_state = 'LOCK WAIT' AND trx_mysql_thread_id IN (%s)"
                    % ", ".join("%d" % i for i in ids))
    return [row["id"] for row in rows]


# ---------------------------------------------------------------- what was committed

TARGETS = {
    # job: (count of its rows, recipients column query, legacy "sent" query)
    "news": ("SELECT COUNT(*) FROM message_queue WHERE type = 230",
             "SELECT to_uid AS r FROM message_queue WHERE type = 230",
             "SELECT status = 2 FROM sns_qa_push_setting WHERE id = %s"),
    "promotion": ("SELECT COUNT(*) FROM message_promotion WHERE type = 3",
                  "SELECT mobile AS r FROM message_promotion WHERE type = 3",
                  "SELECT status = 2 FROM sys_user_promotion WHERE id = %s"),
    "activity": ("SELECT COUNT(*) FROM message_queue WHERE type = 231",
                 "SELECT to_uid AS r FROM message_queue WHERE type = 231",
                 "SELECT push_state = 2 FROM operation_activity WHERE id = %s"),
}


def progress(db: LegacyDB, job: str, campaign_id: int) -> Dict[str, Any]:
    """The run's state and `written` only: cheap enough to poll every few ms."""
    try:
        rows = db.query("SELECT state, written FROM mh_campaign_run "
                        "WHERE job = %s AND campaign_id = %s", [job, campaign_id])
    except pymysql.err.ProgrammingError:  # the daemon has not created its tables yet
        rows = []
    return rows[0] if rows else {"state": None, "written": 0}


def snapshot(db: LegacyDB, job: str, campaign_id: int) -> Dict[str, Any]:
    """The run, its rows and the legacy flag, read in one consistent snapshot."""
    for _ in range(20):
        try:
            return _snapshot(db, job, campaign_id)
        except pymysql.err.OperationalError as error:
            # 1412: the daemon created its tables after the snapshot began
            if error.args[0] != 1412:
                raise
            time.sleep(0.01)
    return _snapshot(db, job, campaign_id)


def _snapshot(db: LegacyDB, job: str, campaign_id: int) -> Dict[str, Any]:
    count_sql, _, sent_sql = TARGETS[job]
    db.query("START TRANSACTION WITH CONSISTENT SNAPSHOT")
    try:
        try:
            runs = db.query("SELECT state, recipients, written, resume_after, last_audience_id, "
                            "id FROM mh_campaign_run WHERE job = %s AND campaign_id = %s",
                            [job, campaign_id])
        except pymysql.err.ProgrammingError:  # the daemon has not created its tables yet
            runs = []
        run = runs[0] if runs else None
        audience = 0
        if run:
            audience = db.scalar("SELECT COUNT(*) FROM mh_audience WHERE run_id = %s",
                                 [run["id"]])
        rows = db.scalar(count_sql)
        sent = bool(db.scalar(sent_sql, [campaign_id]))
    finally:
        db.query("ROLLBACK")
    return {"state": run["state"] if run else None, "recipients": run["recipients"] if run else 0,
            "written": run["written"] if run else 0, "rows": rows, "sent": sent,
            "audience_rows": audience}


def check_committed_state(snap: Dict[str, Any], expected: int, where: str) -> None:
    """What any crash may leave: a consistent prefix, never a half chunk or an early flag."""
    state = snap["state"]
    if state in (None, "pending"):
        assert snap["rows"] == 0 and not snap["sent"], "%s: rows before the claim: %r" % (
            where, snap)
    elif state == "running":
        assert snap["recipients"] == expected, "%s: frozen audience %r" % (where, snap)
        assert snap["written"] == snap["rows"] < expected, "%s: bookkeeping %r" % (where, snap)
        assert not snap["sent"], "%s: marked sent before all rows exist: %r" % (where, snap)
    else:
        assert state == "done", "%s: unexpected state %r" % (where, snap)
        assert snap["recipients"] == snap["written"] == snap["rows"] == expected, \
            "%s: bookkeeping %r" % (where, snap)
        assert snap["sent"], "%s: done but the legacy row is not marked sent: %r" % (where, snap)


def exactly_once(db: LegacyDB, job: str, expected: Set[str]) -> Dict[str, int]:
    """Duplicates, missing and extra recipients of the job's target rows."""
    rows = [row["r"] for row in db.query(TARGETS[job][1])]
    got = set(rows)
    return {"rows": len(rows), "duplicates": len(rows) - len(got),
            "missing": len(expected - got), "extra": len(got - expected)}


def chunks_in_commit_order(db: LegacyDB, message_type: int) -> List[int]:
    """The sizes of the chunks written to message_queue, in id order. Every chunk is
    one INSERT ... SELECT whose rows share created_time (NOW(3) is fixed for a
    statement), and consecutive chunks are at least a millisecond apart."""
    rows = db.query("SELECT created_time, COUNT(*) AS n, MIN(id) AS first, MAX(id) AS last "
                    "FROM message_queue WHERE type = %s GROUP BY created_time ORDER BY first",
                    [message_type])
    for before, after in zip(rows, rows[1:]):
        assert before["last"] < after["first"], "interleaved chunks: %r %r" % (before, after)
    return [row["n"] for row in rows]


# ---------------------------------------------------------------- processes and logs

class Daemons:
    """Every main.py the test starts; whatever is left is killed at teardown."""

    def __init__(self) -> None:
        self.started: List[subprocess.Popen] = []

    def start(self, config_path: str, *extra: str) -> subprocess.Popen:
        process = start_daemon(config_path, *extra)
        self.started.append(process)
        return process

    @staticmethod
    def kill9(process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def cleanup(self) -> None:
        for process in self.started:
            if process.poll() is None:
                try:
                    process.send_signal(signal.SIGCONT)
                    process.send_signal(signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(10)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()


def log_lines(config_path: str, level: str, text: str, since: int = 0) -> List[str]:
    """Lines of the daemon's log at `level` containing `text`, from offset `since`."""
    return [line for line in read_log(config_path)[since:].splitlines()
            if (" %s " % level) in line and text in line]


def log_size(config_path: str) -> int:
    return len(read_log(config_path))


def outage_lines(config_path: str, since: int = 0) -> List[str]:
    """The Outage WARNING / INFO lines (util/db.py), in order, as 'W' and 'I'."""
    return outage_lines_of(read_log(config_path)[since:])


def outage_lines_of(text: str) -> List[str]:
    events = []
    for line in text.splitlines():
        if " WARNING " in line and "database unreachable" in line:
            events.append("W")
        elif " INFO " in line and "database reachable again" in line:
            events.append("I")
    return events


# ---------------------------------------------------------------- a private MariaDB

def find_binary(*names: str) -> Optional[str]:
    for name in names:
        for folder in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin",
                                                                       "/usr/local/sbin"]:
            path = os.path.join(folder, name)
            if os.access(path, os.X_OK):
                return path
    return None


class PrivateMariaDB:
    """A MariaDB server of the test's own: datadir under `base`, a free port,
    started and stopped as the current user. `stop()` may shut it down cleanly
    (SIGTERM) or crash it (SIGKILL); `start()` brings it back on the same port."""

    SERVER_OPTIONS = ("--innodb-buffer-pool-size=64M", "--innodb-log-file-size=32M",
                      "--skip-log-bin", "--max-connections=100")

    def __init__(self, base: str) -> None:
        self.server = find_binary("mariadbd", "mysqld")
        self.install = find_binary("mariadb-install-db", "mysql_install_db")
        self.base = base
        self.datadir = os.path.join(base, "data")
        self.tmpdir = os.path.join(base, "tmp")  # never /tmp: a starting server empties it
        self.errlog = os.path.join(base, "error.log")
        # Unix socket paths are limited to ~107 bytes: keep the socket short.
        self.sockdir = tempfile.mkdtemp(prefix="mhf-")
        self.socket = os.path.join(self.sockdir, "s.sock")
        self.port = free_port()
        self.process: Optional[subprocess.Popen] = None
        self.user_args = ["--user=root"] if os.geteuid() == 0 else []
        self._started = False

    def initialise(self) -> None:
        os.makedirs(self.tmpdir, exist_ok=True)
        result = subprocess.run(
            [self.install, "--no-defaults", "--datadir=%s" % self.datadir, *self.user_args,
             "--tmpdir=%s" % self.tmpdir,
             "--auth-root-authentication-method=normal", "--skip-test-db",
             *self.SERVER_OPTIONS], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError("mariadb-install-db failed: %s"
                               % (result.stdout + result.stderr)[-2000:])

    def start(self, timeout: float = 60.0) -> None:
        """Start the server (the first time on a fresh free port if the one picked was
        taken meanwhile; afterwards always on the same port) and wait until it answers."""
        assert self.process is None or self.process.poll() is not None
        for _ in range(1 if self._started else 3):
            self.process = subprocess.Popen(
                [self.server, "--no-defaults", *self.user_args, "--datadir=%s" % self.datadir,
                 "--tmpdir=%s" % self.tmpdir, "--socket=%s" % self.socket,
                 "--pid-file=%s" % os.path.join(self.base, "pid"),
                 "--log-error=%s" % self.errlog, "--port=%d" % self.port,
                 "--bind-address=127.0.0.1", *self.SERVER_OPTIONS],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    self.connect().close()
                    self._started = True
                    return
                except pymysql.err.MySQLError:
                    time.sleep(0.05)
            if self.process.poll() is None:
                break  # alive but not answering: give up
            self.port = free_port()
        tail = ""
        if os.path.exists(self.errlog):
            with open(self.errlog, encoding="utf-8", errors="replace") as handle:
                tail = handle.read()[-3000:]
        self.kill()
        raise RuntimeError("private MariaDB did not answer on port %d: %s" % (self.port, tail))

    def stop(self, crash: bool) -> None:
        """Crash (SIGKILL) or shut down (SIGTERM) the server and wait until it is gone."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL if crash else signal.SIGTERM)
        self.process.wait(60)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def connect(self, database: Optional[str] = None) -> Any:
        return connect(database, self.connection(), connect_timeout=2)

    def connection(self) -> Dict[str, Any]:
        """The [database_*] overrides of write_config for this server."""
        return {"host": "127.0.0.1", "port": self.port, "user": "root", "password": ""}

    def create_database(self, name: str) -> LegacyDB:
        """A database with the legacy schema and the standard code tables (as the `db`
        fixture's) on this server; it goes with the server."""
        admin = self.connect()
        try:
            recreate_database(admin, name, TEST_DB_PREFIX)
        finally:
            admin.close()
        legacy = LegacyDB(name, self.connection(), connect_timeout=2)
        legacy.add_standard_codes()
        return legacy

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.sockdir, ignore_errors=True)
        shutil.rmtree(self.datadir, ignore_errors=True)


def private_config(path: str, server: PrivateMariaDB, database: str, **main: Any) -> str:
    return write_config(path, database, server.connection(), **main)
