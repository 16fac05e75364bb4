"""How each contender is timed on one campaign: the daemon (main.py --once as a
child process), the floor (one INSERT ... SELECT) and the legacy style (the
audience query, then one autocommitted INSERT per recipient); and the daemon idle.
"""
from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Tuple

import floor
import pymysql
from campaigns import NEWS, Campaign, campaign_row, make_due
from common import DAEMON_ROOT, execute, log, rows, scalar, timer
from explain import daemon_select

from mg_handling.messages import Delivery
from mg_handling.news import NewsJob
from mg_handling.promotion import PromotionJob
from testkit import process

DAEMON_TIMEOUT = 1800
_SENT = re.compile(r" sent to \S+: \d+ recipients.* in ([0-9.]+) s ")
NO_SUCH_TABLE = 1146
IDLE_USER = "mh_bench_idle"
JOBS = 3  # news, promotion, activity: one thread each


@dataclass
class Run:
    seconds: float
    rows: int
    rss_kb: int = 0
    cpu_seconds: float = 0.0
    ok: bool = True
    note: str = ""
    logged_seconds: Optional[float] = None  # the daemon's own figure, start-up excluded
    query_seconds: Optional[float] = None   # legacy: its audience query, inserts excluded

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> Dict[str, Any]:
        return dict(asdict(self), rows_per_s=round(self.rows_per_s, 1))


def median(runs: List[Run]) -> Run:
    """The run of median time (the failed ones count as the slowest)."""
    ordered = sorted(runs, key=lambda run: (not run.ok, run.seconds))
    return ordered[(len(ordered) - 1) // 2]


def delivery_of(conn: Any, campaign: Campaign) -> Delivery:
    """What the daemon writes for this campaign, built by the daemon's own job."""
    job = NewsJob() if campaign.kind == NEWS else PromotionJob()
    return job.delivery(campaign_row(conn, campaign))


# ------------------------------------------------------------------ resets
def reset_outputs(conn: Any, campaign: Campaign) -> None:
    execute(conn, "TRUNCATE TABLE `%s`" % campaign.output_table)


def reset_daemon(conn: Any, campaign: Campaign) -> None:
    """Forget the daemon's bookkeeping and arm the campaign again."""
    for sql in ("DELETE FROM mh_campaign_run", "TRUNCATE TABLE mh_audience"):
        try:
            execute(conn, sql)
        except pymysql.err.ProgrammingError as error:
            if error.args[0] != NO_SUCH_TABLE:  # before the daemon's first start
                raise
    make_due(conn, campaign)


# ------------------------------------------------------------------ daemon
def write_config(directory: str, database: str, user: Optional[Dict[str, str]] = None,
                 **main: Any) -> str:
    """A db.conf for the daemon as `user` (default the server's); [main] overrides
    with None values left out. Returns its path."""
    settings: Dict[str, Any] = {"poll_interval": 1, "log_level": "INFO"}
    settings.update(main)
    return process.write_config(os.path.join(directory, "db.conf"), database,
                                dict(user or {}, charset="utf8mb4"), env="database_bench",
                                **settings)


def daemon_command(config_path: str, *extra: str) -> List[str]:
    return process.main_command(config_path, *extra, root=DAEMON_ROOT)


def run_daemon(conn: Any, campaign: Campaign, config_path: str) -> Run:
    """main.py --once on the armed campaign: wall time and the child's peak RSS."""
    reset_outputs(conn, campaign)
    reset_daemon(conn, campaign)
    with tempfile.TemporaryFile() as errors:
        started = time.monotonic()
        child = subprocess.Popen(daemon_command(config_path, "--once"), cwd=DAEMON_ROOT,
                                 stdin=subprocess.DEVNULL, stdout=errors, stderr=errors)
        watchdog = threading.Timer(DAEMON_TIMEOUT, child.kill)
        watchdog.start()
        status, usage, peak_kb = wait_sampling_rss(child.pid)
        seconds = time.monotonic() - started
        watchdog.cancel()
        child.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        output = errors.read().decode("utf-8", "replace").strip()
    written = scalar(conn, "SELECT COUNT(*) FROM `%s`" % campaign.output_table)
    note = "exit %d, ru_maxrss %d KB" % (child.returncode, usage.ru_maxrss)
    if child.returncode != 0:
        errors_logged = [line for line in _log_lines(config_path) if " ERROR " in line]
        note += "; log: " + " / ".join(line.strip()[:300] for line in errors_logged[-2:])
    return Run(seconds, written, peak_kb, usage.ru_utime + usage.ru_stime,
               child.returncode == 0, note + ("; " + output[-300:] if output else ""),
               daemon_reported_seconds(config_path))


def wait_sampling_rss(pid: int, every: float = 0.05) -> Tuple[int, Any, int]:
    """Wait for a child; returns (status, rusage, peak RSS in KB).

    The peak is the child's own VmHWM (/proc/PID/status), sampled until it exits:
    ru_maxrss of os.wait4 also counts the instant between fork and exec, when the
    child still is a copy of this (bigger) process, so it is only an upper bound."""
    peak = 0
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return status, usage, peak or usage.ru_maxrss
        peak = max(peak, process.proc_status_kib(pid, "VmHWM") or 0)
        time.sleep(every)


def daemon_log_tail(config_path: str, lines: int = 5) -> str:
    return "".join(_log_lines(config_path)[-lines:])


def daemon_reported_seconds(config_path: str) -> Optional[float]:
    """The campaign's time as the daemon logs it ("sent to ...: N recipients in S s"):
    the wall time less the process start (imports, pool, schema, lock)."""
    for line in reversed(_log_lines(config_path)):
        found = _SENT.search(line)
        if found:
            return float(found.group(1))
    return None


def _log_lines(config_path: str) -> List[str]:
    path = os.path.join(os.path.dirname(config_path), "pushing.log")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.readlines()


# ------------------------------------------------------------------ floor, legacy
def run_floor(conn: Any, campaign: Campaign, delivery: Delivery, shape: str) -> Run:
    reset_outputs(conn, campaign)
    with timer() as took:
        written = execute(conn, floor.floor_sql(campaign, shape),
                          floor.floor_params(campaign, delivery))
    return Run(took["seconds"], written, note="shape %s" % shape)


def run_best_floor(conn: Any, campaign: Campaign, delivery: Delivery,
                   shapes: List[str]) -> Run:
    """The floor is the best statement: each shape once, the fastest counts. Every
    shape must write the same number of rows (the last one's rows stay written)."""
    tried = [run_floor(conn, campaign, delivery, shape) for shape in shapes]
    best = min(tried, key=lambda run: run.seconds)
    if len(tried) > 1:
        best.note += " (tried: %s)" % ", ".join("%s %.2f s" % (run.note[6:], run.seconds)
                                                for run in tried)
    if len({run.rows for run in tried}) > 1:
        best.ok, best.note = False, best.note + "; SHAPES WROTE DIFFERENT ROW COUNTS"
    return best


LEGACY_INSERT = {
    NEWS: "INSERT INTO message_queue (type, to_uid, from_uid, content, nflag, created_time,"
          " modified_time, isread, title) VALUES (%(message_type)s, %(recipient)s,"
          " %(from_uid)s, %(content)s, 0, CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED),"
          " CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED), 0, %(title)s)",
    "sms": "INSERT INTO message_promotion (type, mobile, email, title, content, created_time,"
           " modified_time, status) VALUES (%(message_type)s, %(recipient)s, '', %(title)s,"
           " %(content)s, UNIX_TIMESTAMP(), UNIX_TIMESTAMP(), 0)",
}


def run_legacy(conn: Any, campaign: Campaign, delivery: Delivery, sample: int) -> Run:
    """The daemon's audience query (the floor's when the daemon has no SELECT-only
    one), every recipient pulled into Python, then one autocommitted INSERT per
    recipient for a sample, extrapolated to the whole audience."""
    reset_outputs(conn, campaign)
    params = floor.floor_params(campaign, delivery)
    daemon_query = daemon_select(conn, campaign, delivery)
    sql, query_params, source = (daemon_query + ("daemon's",) if daemon_query else
                                 (floor.audience_sql(campaign, campaign.shape), params, "floor's"))
    with timer() as select:
        audience, chosen = fetch_audience(conn, sql, query_params, sample)
    with timer() as inserts:
        with conn.cursor() as cursor:
            for recipient in chosen:
                cursor.execute(LEGACY_INSERT[campaign.kind], dict(params, recipient=recipient))
    per_row = inserts["seconds"] / max(len(chosen), 1)
    seconds = select["seconds"] + per_row * audience
    return Run(seconds, audience, note="%s query %.1f s + %d inserts in %.1f s (%.0f rows/s),"
               " extrapolated" % (source, select["seconds"], len(chosen), inserts["seconds"],
                                  1 / max(per_row, 1e-9)),
               query_seconds=select["seconds"])


def fetch_audience(conn: Any, sql: str, params: Dict[str, Any], keep: int
                   ) -> Tuple[int, List[str]]:
    """Every recipient travels to the client (as the legacy daemon fetched them);
    only the first `keep` are kept, so that this process stays small."""
    count, kept = 0, []
    with conn.cursor(pymysql.cursors.SSCursor) as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall_unbuffered():
            if count < keep:
                kept.append(row[0])
            count += 1
    return count, kept


# ------------------------------------------------------------------ checks
FINGERPRINT = {
    "message_queue": ("to_uid", "type, from_uid, title, content, nflag, isread"),
    "message_promotion": ("mobile", "type, email, title, content, status"),
}


def fingerprint(conn: Any, table: str) -> Dict[str, Any]:
    """The written rows as a multiset of recipients (count and two order-free
    checksums), their distinct count, and the distinct message columns."""
    recipient, message = FINGERPRINT[table]
    found = rows(conn, "SELECT COUNT(*) AS n, COUNT(DISTINCT {r}) AS distinct_n,"
                       " CAST(SUM(CRC32({r})) AS CHAR) AS sum1,"
                       " CAST(SUM(CRC32(CONCAT('#', {r}, '#'))) AS CHAR) AS sum2,"
                       " COUNT(DISTINCT {m}) AS messages,"
                       " MIN(MD5(CONCAT_WS('|', {m}))) AS message"
                       " FROM `{t}`".format(r=recipient, m=message, t=table))[0]
    return found


def same_rows(daemon: Dict[str, Any], other: Dict[str, Any]) -> bool:
    keys = ("n", "sum1", "sum2", "message")
    return all(daemon[key] == other[key] for key in keys)


# ------------------------------------------------------------------ idle
def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc/PID/stat."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:  # it has exited
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def user_statistics(conn: Any, user: str) -> Dict[str, int]:
    found = rows(conn, "SELECT * FROM information_schema.USER_STATISTICS WHERE USER = %s",
                 [user])
    return {key: value for key, value in found[0].items()
            if isinstance(value, (int, float))} if found else {}


def create_idle_user(conn: Any, database: str) -> Dict[str, str]:
    """A MariaDB account for the idle daemon alone, so that its statements can be
    counted apart from every other client of the server."""
    password = secrets.token_hex(16)
    execute(conn, "DROP USER IF EXISTS %s@'%%'", [IDLE_USER])
    execute(conn, "CREATE USER %s@'%%' IDENTIFIED BY %s", [IDLE_USER, password])
    execute(conn, "GRANT ALL ON `%s`.* TO %%s@'%%%%'" % database, [IDLE_USER])
    return {"user": IDLE_USER, "password": password}


def measure_idle(conn: Any, database: str, seconds: float, poll_interval: float) -> Dict[str, Any]:
    """The long-running daemon with nothing due: statements per poll and CPU."""
    userstat = scalar(conn, "SELECT @@GLOBAL.userstat")
    directory = tempfile.mkdtemp(prefix="mh_bench_idle_")
    try:
        account = create_idle_user(conn, database)
        execute(conn, "SET GLOBAL userstat = 1")
        config = write_config(directory, database, account, poll_interval=poll_interval)
        return _idle_run(conn, config, seconds, poll_interval)
    finally:
        execute(conn, "SET GLOBAL userstat = %s", [userstat])
        execute(conn, "DROP USER IF EXISTS %s@'%%'", [IDLE_USER])


def _idle_run(conn: Any, config: str, seconds: float, poll_interval: float) -> Dict[str, Any]:
    child = subprocess.Popen(daemon_command(config), cwd=DAEMON_ROOT, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(max(5.0, 3 * poll_interval))  # start-up: schema, lock, first polls
        before, cpu_before, started = user_statistics(conn, IDLE_USER), cpu_seconds(child.pid), \
            time.monotonic()
        time.sleep(seconds)
        after, cpu_after = user_statistics(conn, IDLE_USER), cpu_seconds(child.pid)
        elapsed = time.monotonic() - started
        alive = child.poll() is None
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        exit_code = child.wait(timeout=60)
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in after}
    polls = elapsed / poll_interval
    return {"seconds": round(elapsed, 1), "poll_interval": poll_interval,
            "polls_per_job": round(polls, 1), "cpu_seconds": round(cpu_after - cpu_before, 2),
            "server_counters": delta, "exit_code_after_sigterm": exit_code,
            "ok": alive and exit_code == 0 and delta.get("SELECT_COMMANDS", 0) > 0,
            "selects_per_poll": round(delta.get("SELECT_COMMANDS", 0) / polls, 2),
            "statements_per_poll": round((delta.get("SELECT_COMMANDS", 0)
                                          + delta.get("UPDATE_COMMANDS", 0)
                                          + delta.get("OTHER_COMMANDS", 0)) / polls, 2),
            "rows_read_per_poll": round(delta.get("ROWS_READ", 0) / polls, 1),
            "jobs": JOBS}


# ------------------------------------------------------------------ server
def set_buffer_pool(conn: Any, size: int, wait: float = 300) -> int:
    """SET GLOBAL innodb_buffer_pool_size (dynamic on MariaDB) and wait for the resize."""
    execute(conn, "SET GLOBAL innodb_buffer_pool_size = %s", [size])
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        status = rows(conn, "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_resize_status'")
        text = status[0]["Value"] if status else ""
        if "Completed" in text or not text or "not needed" in text:
            break
        time.sleep(1)
    actual = int(scalar(conn, "SELECT @@GLOBAL.innodb_buffer_pool_size"))
    log("innodb_buffer_pool_size = %d MiB", actual // 1048576)
    return actual


def warm_cache(conn: Any, tables: List[str]) -> None:
    """Read every index of the campaign's tables once (the cached pass)."""
    for table in tables:
        for index in rows(conn, "SELECT DISTINCT index_name FROM information_schema.STATISTICS"
                                " WHERE table_schema = DATABASE() AND table_name = %s",
                          [table]):
            scalar(conn, "SELECT COUNT(*) FROM `%s` FORCE INDEX (`%s`)"
                   % (table, index["index_name"]))
