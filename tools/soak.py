#!/usr/bin/env python3
"""Soak test of message_handling (issue 3, point 6; not run in CI).

    .venv/bin/python tools/soak.py                  # 10 minutes
    .venv/bin/python tools/soak.py --minutes 2 --keep

1. recreates a throwaway database (default `mh_soak`; any name not starting with
   mh_soak is refused, because it is DROPPED) with the legacy schema and, set-based,
   `--cities` x `--users-per-city` matching users (default 40 x 1,000) plus
   non-matching ones: every user of city SCnn has a default card whose company is in
   industry S11/S12 (under level-1 S1) with functions including SF1 or SF3 and SF2;
2. starts the real daemon, long-running (`main.py --config <tmp>/db.conf`);
3. for `--minutes`, every `--every` seconds adds one campaign to each of the three
   tables (news, promotion in-app / email / SMS in turn, activity), each reaching
   1 to 20 cities or 1 to 4 provinces, i.e. 1,000 to 20,000 recipients; some are
   due at once, some only 30 s later;
4. waits for every campaign to be written (at most `--drain` seconds), samples once
   more and stops the daemon with SIGTERM;
5. checks and prints: every campaign written exactly once to exactly its audience
   (computed here from the construction, not by the daemon's SQL), marked sent, its
   run `done`; no stray row; the daemon's RSS at the end within 10 % of its RSS after
   the first minute; its number of server connections (information_schema.PROCESSLIST)
   not growing after the first minute and never above its pool + lock; no ERROR line
   in pushing.log; exit 0 on SIGTERM.

Exit status: 0 every check passed, 1 a check failed, 2 a refused or bad setup.
The server comes from MH_DB_HOST / MH_DB_PORT / MH_DB_USER / MH_DB_PASSWORD
(default 127.0.0.1:3306, root, no password), like the tests.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Set

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
import pymysql  # noqa: E402

from mg_handling.jobs import JOBS  # noqa: E402
from testkit.db import connect as connect_dicts  # noqa: E402
from testkit.db import drop_database, recreate_database  # noqa: E402
from testkit.process import main_command, proc_status_kib, write_config  # noqa: E402

PREFIX = "mh_soak"
CITIES_PER_PROVINCE = 5
NOISE_USERS = 5000           # users no campaign reaches
FIRST_MINUTE = 60.0
RSS_TOLERANCE = 0.10
MAX_CONNECTIONS = len(JOBS) + 2 + 1   # the pool of service.start, and the lock's own
LATER = 180                  # push_time now + 180: due 30 s later with push_ahead 150


class SetupError(Exception):
    """A refused or impossible setup: one line, exit 2."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="how long campaigns keep arriving (default 10)")
    parser.add_argument("--database", default=PREFIX,
                        help="throwaway database, DROPPED first; must start with mh_soak")
    parser.add_argument("--every", type=float, default=10.0,
                        help="seconds between two arrivals (one campaign per table each)")
    parser.add_argument("--cities", type=int, default=40, help="cities (multiple of 5)")
    parser.add_argument("--users-per-city", type=int, default=1000)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--sample", type=float, default=5.0,
                        help="seconds between two RSS / connection samples")
    parser.add_argument("--drain", type=float, default=300.0,
                        help="seconds to wait at the end for the last campaigns")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true",
                        help="keep the database and the daemon's folder (log, db.conf)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"mh_soak[0-9A-Za-z_]*", args.database):
        parser.error("refusing database %r: the soak drops it, so its name must start "
                     "with mh_soak (letters, digits, _)" % args.database)
    if args.cities < CITIES_PER_PROVINCE or args.cities % CITIES_PER_PROVINCE:
        parser.error("--cities must be a positive multiple of %d" % CITIES_PER_PROVINCE)
    if args.minutes <= 0 or args.every <= 0 or args.users_per_city < 1:
        parser.error("--minutes, --every and --users-per-city must be positive")
    return args


def connect(database: Optional[str] = None) -> Any:
    """The soak reads rows as tuples."""
    return connect_dicts(database, cursorclass=pymysql.cursors.Cursor)


def query(conn: Any, sql: str, params: Any = None) -> List[tuple]:
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


# ---------------------------------------------------------------- the population

def city(index: int) -> str:
    return "SC%02d" % index


def province(index: int) -> str:
    return "SP%d" % index


def create_database(name: str, cities: int, per_city: int) -> None:
    """The legacy schema and its users, set-based (a few seconds for 45,000 users)."""
    admin = connect()
    try:
        recreate_database(admin, name, PREFIX)
        with admin.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO province_city_code (country, province_code, province,"
                " prefecture_code, city) VALUES ('中国', %s, '浸泡省', %s, '浸泡市')",
                [(province(c // CITIES_PER_PROVINCE), city(c)) for c in range(cities)])
        query(admin, "INSERT INTO industry_category (category_id, parent_id, name) VALUES "
                     "('S1', '0', '浸泡'), ('S11', 'S1', '浸泡一'), ('S12', 'S1', '浸泡二'),"
                     " ('S2', '0', '其他'), ('S21', 'S2', '其他一')")
        # n < matching: user n lives in city n % cities; the others match nothing.
        matching = cities * per_city
        total = matching + NOISE_USERS
        query(admin, "CREATE TABLE soak_digit (d INT NOT NULL)")
        query(admin, "INSERT INTO soak_digit VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)")
        query(admin, "CREATE TABLE soak_seq (n INT NOT NULL PRIMARY KEY)")
        query(admin, "INSERT INTO soak_seq SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d"
                     " + 10000 * f.d + 100000 * g.d AS n FROM soak_digit a, soak_digit b,"
                     " soak_digit c, soak_digit e, soak_digit f, soak_digit g"
                     " HAVING n < %s", [total])
        city_sql = ("IF(n < %d, CONCAT('SC', LPAD(n MOD %d, 2, '0')), 'SN00')"
                    % (matching, cities))
        province_sql = ("IF(n < %d, CONCAT('SP', (n MOD %d) DIV %d), 'SN')"
                        % (matching, cities, CITIES_PER_PROVINCE))
        query(admin, "INSERT INTO account_basic (user_id, mobile, email, status) SELECT"
                     " CONCAT('soak-u', n), CONCAT('139', LPAD(n, 8, '0')),"
                     " CONCAT('u', n, '@soak.example'), 'active' FROM soak_seq")
        query(admin, "INSERT INTO account_basic_detail (user_id, real_name, card_id,"
                     " city_code) SELECT CONCAT('soak-u', n), '浸泡用户',"
                     " MD5(CONCAT('soak-card-', n)), %s FROM soak_seq" % city_sql)
        query(admin, "INSERT INTO card_info_jsonver (card_id, user_id, side, name, mobile,"
                     " provinceM_code, cityM_code) SELECT MD5(CONCAT('soak-card-', n)),"
                     " CONCAT('soak-u', n), 0, '名片', CONCAT('139', LPAD(n, 8, '0')),"
                     " %s, %s FROM soak_seq" % (province_sql, city_sql))
        query(admin, "INSERT INTO company_info_jsonVer (card_id, user_id, companyName,"
                     " ind_code, func_code) SELECT MD5(CONCAT('soak-card-', n)),"
                     " CONCAT('soak-u', n), '浸泡公司',"
                     " IF(n >= %d, 'S21', IF(n MOD 2 = 0, 'S11', 'S12')),"
                     " IF(n >= %d, 'SF9', IF(n MOD 3 = 0, 'SF1，SF2', 'SF2, SF3'))"
                     " FROM soak_seq" % (matching, matching))
        query(admin, "DROP TABLE soak_seq")
        query(admin, "DROP TABLE soak_digit")
    finally:
        admin.close()


# ---------------------------------------------------------------- campaigns

class Campaigns:
    """Adds campaigns and remembers, for each, whom it must reach."""

    def __init__(self, conn: Any, rng: random.Random, cities: int, per_city: int) -> None:
        self.conn, self.rng, self.cities, self.per_city = conn, rng, cities, per_city
        self.added: List[Dict[str, Any]] = []
        self._promotions = 0

    def _targets(self) -> Dict[str, Any]:
        rng = self.rng
        provinces = self.cities // CITIES_PER_PROVINCE
        if rng.random() < 0.3:
            chosen = rng.sample(range(provinces), rng.randint(1, min(4, provinces)))
            region = ",".join(province(p) for p in chosen)
            cities = {c for p in chosen for c in range(p * CITIES_PER_PROVINCE,
                                                       (p + 1) * CITIES_PER_PROVINCE)}
        else:
            cities = set(rng.sample(range(self.cities), rng.randint(1, min(20, self.cities))))
            region = rng.choice([",", "，", " , "]).join(city(c) for c in sorted(cities))
        return dict(region=region, industry=rng.choice(["S1", "S11,S12", "S12， S11"]),
                    func=rng.choice(["SF2", "SF1,SF3", "SF3，SF1"]), cities=cities)

    def add_round(self) -> None:
        for job in ("news", "promotion", "activity"):
            self._add(job)

    def _add(self, job: str) -> None:
        number = len(self.added) + 1
        now = query(self.conn, "SELECT UNIX_TIMESTAMP()")[0][0]
        push_time = now + LATER if self.rng.random() < 0.2 else now - 10
        targets = self._targets()
        row = dict(region=targets["region"], industry=targets["industry"],
                   func=targets["func"])
        campaign = dict(job=job, number=number, cities=targets["cities"], push_time=push_time,
                        expected=len(targets["cities"]) * self.per_city, kind="queue")
        if job == "news":
            content = {"messagetype": 230, "params": {"data": [
                {"newsid": "soak-%d" % number, "title": "浸泡新闻 %d 📰" % number,
                 "url": "https://news.example.com/soak/%d" % number}]}}
            campaign["key"] = "soak-news-%d" % number
            campaign["id"] = self._insert("sns_qa_push_setting", dict(
                row, push_time=push_time, content=json.dumps(content, ensure_ascii=False),
                created_time=now, admin_id=campaign["key"], status=1))
        elif job == "promotion":
            self._promotions += 1
            kind = (1, 2, 3)[self._promotions % 3]  # in-app, email, SMS in turn
            campaign["kind"] = {1: "queue", 2: "email", 3: "sms"}[kind]
            campaign["key"] = "soak-promotion-%d" % number  # from_uid, or the title
            campaign["id"] = self._insert("sys_user_promotion", dict(
                row, pro_id="%032x" % self.rng.getrandbits(128), type=kind, isalluser=1,
                push_time=push_time, title=campaign["key"],
                content="<p>浸泡推广 %d</p><br>回复TD退订" % number, created_time=now,
                admin_id=campaign["key"], status=1, url="https://x/p/%d" % number,
                json_data=""))
        else:
            campaign["key"] = "soak-activity-%d" % number
            campaign["id"] = self._insert("operation_activity", dict(
                row, activity_id="%032x" % self.rng.getrandbits(128), isnotify=2,
                push_state=1, state=2, image="https://x/a/%d.png" % number,
                title="浸泡活动 %d" % number, content="活动内容 %d" % number,
                onlinetime=push_time, offlinetime=0, user_id=campaign["key"],
                created_time=now, url="https://x/a/%d" % number, json_data=""))
        self.added.append(campaign)

    def _insert(self, table: str, values: Dict[str, Any]) -> int:
        with self.conn.cursor() as cursor:
            cursor.execute("INSERT INTO `%s` (%s) VALUES (%s)" % (
                table, ", ".join("`%s`" % c for c in values), ", ".join(["%s"] * len(values))),
                list(values.values()))
            return cursor.lastrowid

    def states(self) -> Dict[tuple, str]:
        try:
            rows = query(self.conn, "SELECT job, campaign_id, state FROM mh_campaign_run")
        except pymysql.err.ProgrammingError:
            return {}
        return {(job, campaign_id): state for job, campaign_id, state in rows}

    def done(self) -> int:
        states = self.states()
        return sum(states.get((c["job"], c["id"])) == "done" for c in self.added)


# ---------------------------------------------------------------- measurements

def daemon_connections(conn: Any, database: str, own: Set[int]) -> int:
    """Server connections to the soak database that are not this script's."""
    rows = query(conn, "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s",
                 [database])
    return sum(1 for (connection_id,) in rows if connection_id not in own)


class Samples:
    def __init__(self) -> None:
        self.rows: List[tuple] = []  # (seconds since start, rss KiB, connections)

    def add(self, elapsed: float, rss: Optional[int], connections: int) -> None:
        self.rows.append((elapsed, rss, connections))

    def after_first_minute(self) -> tuple:
        return next((row for row in self.rows if row[0] >= FIRST_MINUTE), self.rows[-1])


# ---------------------------------------------------------------- checks

def user_ids(cities: Set[int], total_cities: int, per_city: int) -> Set[str]:
    return {"soak-u%d" % n for n in range(total_cities * per_city) if n % total_cities in cities}


def check_campaigns(conn: Any, campaigns: Campaigns, totals: Dict[str, int]) -> List[str]:
    """Every campaign: its exact audience, each once; marked sent; run done; no stray row.
    Adds the rows checked, duplicates, missing and stray recipients to `totals`."""
    problems = []
    total_cities, per_city = campaigns.cities, campaigns.per_city
    promotion_rows: Dict[tuple, List[str]] = {}
    for kind, title, email, mobile in query(
            conn, "SELECT type, title, email, mobile FROM message_promotion"):
        promotion_rows.setdefault((kind, title), []).append(email if kind == 2 else mobile)
    queue_total = query(conn, "SELECT COUNT(*) FROM message_queue")[0][0]
    runs = {(job, campaign_id): (state, recipients, written) for job, campaign_id, state,
            recipients, written in query(conn, "SELECT job, campaign_id, state, recipients,"
                                               " written FROM mh_campaign_run")}
    expected_queue = 0
    for c in campaigns.added:
        users = user_ids(c["cities"], total_cities, per_city)
        if c["kind"] == "queue":
            got = [uid for (uid,) in query(conn, "SELECT to_uid FROM message_queue"
                                                 " WHERE from_uid = %s", [c["key"]])]
            want = users
            expected_queue += len(got)
        else:
            kind = 2 if c["kind"] == "email" else 3
            got = promotion_rows.pop((kind, c["key"]), [])
            numbers = [int(uid[len("soak-u"):]) for uid in users]
            want = ({"u%d@soak.example" % n for n in numbers} if kind == 2
                    else {"139%08d" % n for n in numbers})
        label = "%s %d (%s, %s)" % (c["job"], c["id"], c["kind"], c["key"])
        totals["rows"] += len(got)
        totals["duplicates"] += len(got) - len(set(got))
        totals["missing"] += len(want - set(got))
        totals["stray"] += len(set(got) - want)
        if len(want) != c["expected"]:
            problems.append("%s: the soak's own expectation is inconsistent" % label)
        if len(got) != len(set(got)):
            problems.append("%s: %d duplicate rows" % (label, len(got) - len(set(got))))
        if set(got) != want:
            problems.append("%s: %d recipients missing, %d unexpected" % (
                label, len(want - set(got)), len(set(got) - want)))
        run = runs.get((c["job"], c["id"]))
        if run != ("done", c["expected"], c["expected"]):
            problems.append("%s: run %r, want ('done', %d, %d)" % (label, run, c["expected"],
                                                                  c["expected"]))
        table, column = {"news": ("sns_qa_push_setting", "status"),
                         "promotion": ("sys_user_promotion", "status"),
                         "activity": ("operation_activity", "push_state")}[c["job"]]
        marked = query(conn, "SELECT `%s` FROM `%s` WHERE id = %%s" % (column, table),
                       [c["id"]])[0][0]
        if marked != 2:
            problems.append("%s: legacy row not marked sent (%s = %s)" % (label, column, marked))
        if c["job"] == "activity":
            count = query(conn, "SELECT push_count FROM operation_activity WHERE id = %s",
                          [c["id"]])[0][0]
            if count != c["expected"]:
                problems.append("%s: push_count %s" % (label, count))
    if queue_total != expected_queue:
        totals["stray"] += queue_total - expected_queue
        problems.append("message_queue: %d rows, %d belong to the campaigns"
                        % (queue_total, expected_queue))
    if promotion_rows:
        totals["stray"] += sum(len(rows) for rows in promotion_rows.values())
        problems.append("message_promotion: stray rows %s" % sorted(promotion_rows)[:5])
    leftover = query(conn, "SELECT COUNT(*) FROM mh_audience")[0][0]
    if leftover:
        problems.append("mh_audience: %d rows left after every campaign was done" % leftover)
    return problems


def log_lines(path: str, level: str) -> List[str]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle
                if re.match(r"^\S+ %s " % level, line)]


# ---------------------------------------------------------------- the run

def fmt_mib(kib: Optional[int]) -> str:
    return "?" if kib is None else "%.1f MiB" % (kib / 1024.0)


def soak(args: argparse.Namespace) -> int:
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    print("soak: database %s, %.1f min, one campaign per table every %.0f s, seed %d"
          % (args.database, args.minutes, args.every, seed), flush=True)
    started = time.monotonic()
    try:
        create_database(args.database, args.cities, args.users_per_city)
    except pymysql.err.MySQLError as error:
        raise SetupError("cannot create %s: %s" % (args.database, error)) from None
    print("soak: %d matching users in %d cities + %d others, set up in %.1f s"
          % (args.cities * args.users_per_city, args.cities, NOISE_USERS,
             time.monotonic() - started), flush=True)

    folder = tempfile.mkdtemp(prefix="mh_soak_")
    config = write_config(os.path.join(folder, "db.conf"), args.database, env="database_soak",
                          poll_interval=args.poll_interval, batch_size=args.batch_size)
    log_path = os.path.join(folder, "pushing.log")
    writer, monitor = connect(args.database), connect(args.database)
    own = {query(writer, "SELECT CONNECTION_ID()")[0][0],
           query(monitor, "SELECT CONNECTION_ID()")[0][0]}
    campaigns = Campaigns(writer, rng, args.cities, args.users_per_city)
    samples = Samples()
    daemon = subprocess.Popen(main_command(config), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    problems: List[str] = []
    drained = 0.0
    try:
        start = time.monotonic()
        next_round = next_sample = start
        last_report = 0
        while time.monotonic() - start < args.minutes * 60:
            now = time.monotonic()
            if daemon.poll() is not None:
                problems.append("the daemon exited early with status %s" % daemon.returncode)
                break
            if now >= next_round:
                campaigns.add_round()
                next_round += args.every
            if now >= next_sample:
                samples.add(now - start, proc_status_kib(daemon.pid, "VmRSS"),
                            daemon_connections(monitor, args.database, own))
                next_sample += args.sample
            minute = int((now - start) // 60)
            if minute > last_report:
                last_report = minute
                elapsed, rss, connections = samples.rows[-1]
                print("soak: %3d s  campaigns %d added, %d done  RSS %s  connections %d"
                      % (elapsed, len(campaigns.added), campaigns.done(), fmt_mib(rss),
                         connections), flush=True)
            time.sleep(0.2)

        drain_started = time.monotonic()
        while daemon.poll() is None and campaigns.done() < len(campaigns.added) \
                and time.monotonic() - drain_started < args.drain:
            time.sleep(1.0)
        drained = time.monotonic() - drain_started
        if daemon.poll() is None:
            time.sleep(max(2 * args.poll_interval, 1.0))  # idle: every thread back asleep
            samples.add(time.monotonic() - start, proc_status_kib(daemon.pid, "VmRSS"),
                        daemon_connections(monitor, args.database, own))
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
        try:
            _, err = daemon.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            _, err = daemon.communicate()
            problems.append("the daemon did not stop within 30 s of SIGTERM")
    if daemon.returncode != 0:
        problems.append("the daemon exited with status %s: %s" % (daemon.returncode,
                                                                   err.strip()[-500:]))

    # ------------------------------------------------------------ figures and checks
    done = campaigns.done()
    if done < len(campaigns.added):
        problems.append("%d of %d campaigns not done after %.0f s of draining"
                        % (len(campaigns.added) - done, len(campaigns.added), drained))
    totals = dict(rows=0, duplicates=0, missing=0, stray=0)
    problems += check_campaigns(monitor, campaigns, totals)
    total_rows = sum(c["expected"] for c in campaigns.added)
    by_job = {job: [c["expected"] for c in campaigns.added if c["job"] == job]
              for job in ("news", "promotion", "activity")}

    first_minute = samples.after_first_minute()
    end = samples.rows[-1]
    rss_growth = None
    if first_minute[1] and end[1]:
        rss_growth = (end[1] - first_minute[1]) / float(first_minute[1])
        if abs(rss_growth) > RSS_TOLERANCE:
            problems.append("RSS %s at the end vs %s after the first minute (%+.1f %%)"
                            % (fmt_mib(end[1]), fmt_mib(first_minute[1]), 100 * rss_growth))
    else:
        problems.append("no RSS sample (the daemon was gone)")
    early = [row[2] for row in samples.rows if row[0] < FIRST_MINUTE] or [0]
    late = [row[2] for row in samples.rows if row[0] >= FIRST_MINUTE] or [end[2]]
    if max(late) > max(early):
        problems.append("server connections grew after the first minute: %d -> %d"
                        % (max(early), max(late)))
    if max(early + late) > MAX_CONNECTIONS:
        problems.append("server connections reached %d, more than the pool + lock (%d)"
                        % (max(early + late), MAX_CONNECTIONS))
    errors = log_lines(log_path, "ERROR")
    warnings = log_lines(log_path, "WARNING")
    if errors:
        problems.append("%d ERROR lines in pushing.log, first: %s" % (len(errors), errors[0]))
    sent_lines = [line for line in log_lines(log_path, "INFO") if " sent to " in line]
    rates = [float(m.group(1)) for m in (re.search(r"\(([\d.]+) rows/s\)", line)
                                         for line in sent_lines) if m]

    print()
    print("soak figures (seed %d, %.1f min of arrivals + %.0f s drain)"
          % (seed, args.minutes, drained))
    print("  campaigns        %d added, %d done (news %d, promotion %d, activity %d)"
          % (len(campaigns.added), done, len(by_job["news"]), len(by_job["promotion"]),
             len(by_job["activity"])))
    print("  recipients       %d rows expected in all, per campaign %d..%d"
          % (total_rows, min(c["expected"] for c in campaigns.added),
             max(c["expected"] for c in campaigns.added)))
    if rates:
        print("  write rate       %.0f rows/s median over %d campaigns (min %.0f, max %.0f)"
              % (sorted(rates)[len(rates) // 2], len(rates), min(rates), max(rates)))
    print("  RSS              %s after the first minute (at %.0f s), %s at the end "
          "(at %.0f s): %s" % (fmt_mib(first_minute[1]), first_minute[0], fmt_mib(end[1]),
                               end[0], "?" if rss_growth is None
                               else "%+.1f %%" % (100 * rss_growth)))
    print("  RSS min / max    %s / %s over %d samples"
          % (fmt_mib(min(r[1] for r in samples.rows if r[1])),
             fmt_mib(max(r[1] for r in samples.rows if r[1])), len(samples.rows)))
    print("  connections      first minute %d..%d, after %d..%d, at the end %d (bound %d)"
          % (min(early), max(early), min(late), max(late), end[2], MAX_CONNECTIONS))
    print("  log              %d ERROR, %d WARNING lines" % (len(errors), len(warnings)))
    for line in warnings[:5]:
        print("    %s" % line)
    print("  rows checked     %d: %d duplicates, %d missing, %d stray"
          % (totals["rows"], totals["duplicates"], totals["missing"], totals["stray"]))
    print()
    if problems:
        print("soak FAILED:")
        for problem in problems[:40]:
            print("  - %s" % problem)
        print("  (log and config kept in %s; database %s kept)" % (folder, args.database))
        return 1
    print("soak passed: every campaign exactly once, 0 duplicates, 0 missing, 0 stray rows")
    if args.keep:
        print("  (log and config kept in %s; database %s kept)" % (folder, args.database))
    else:
        shutil.rmtree(folder, ignore_errors=True)
        monitor.close()
        drop_database(writer, args.database, PREFIX)
        writer.close()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        return soak(args)
    except SetupError as error:
        print("soak: %s" % error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
