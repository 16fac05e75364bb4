"""The fan-out benchmark of issue 4: the daemon against MariaDB's own floor and
the legacy style, on a generated data set.

    .venv/bin/python bench/run.py                 # 1M users, everything (about 25 min)
    .venv/bin/python bench/run.py --quick         # 50k users, one repetition: a smoke run
    .venv/bin/python bench/run.py --skip-generate # reuse the database

Campaigns at about 1 %, 30 % and 100 % of the users (news pushes) and one SMS
promotion to "all users" at about 30 %. Per campaign, median of --repeat runs
of: the daemon (main.py --once, a child process), the floor (one INSERT ...
SELECT) and the legacy style (extrapolated from --legacy-sample inserts); first
with the data cached (--cached-pool, 4 GiB), then once at a stock server's
128 MiB (--small-pool); the server's own innodb_buffer_pool_size is restored at
the end, even after an error or Ctrl-C (not after kill -9: then set it back by
hand). Then scaling (100 % at 100k, 300k and N users), the idle daemon, EXPLAIN.
Results: bench/results/.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

import campaigns as cmp  # noqa: E402
import explain  # noqa: E402
import floor  # noqa: E402
import generate  # noqa: E402
import measure  # noqa: E402
import pymysql
import report  # noqa: E402
from common import (  # noqa
    BENCH_PREFIX,
    DAEMON_ROOT,
    DEFAULT_DATABASE,
    check_bench_name,
    connect,
    execute,
    log,
    rows,
    scalar,
)
from measure import Run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GIB = 1 << 30
STOCK_POOL = 128 << 20  # MariaDB's default innodb_buffer_pool_size
CAMPAIGNS = (("news_1", cmp.NEWS, 0.01), ("news_30", cmp.NEWS, 0.30),
             ("news_100", cmp.NEWS, 1.0), ("sms_30", cmp.SMS, 0.30))
SMALL_POOL_CAMPAIGNS = ("news_1", "news_30", "news_100")
NARROW_TRIAL_MAX_FRACTION = 0.05
TABLES = ("account_basic", "account_basic_detail", "account_basic_category_map",
          "card_info_jsonver", "company_info_jsonVer", "province_city_code", "industry_category")


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, help="users to generate (default 1,000,000; "
                                                  "--quick: 50,000)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 50k users, 1 repetition, short idle, small scaling")
    parser.add_argument("--skip-generate", action="store_true", help="reuse --database")
    parser.add_argument("--database", help="throwaway database, its name starting with %s "
                                           "(default %s; quick: %s_quick)"
                        % (BENCH_PREFIX, DEFAULT_DATABASE, DEFAULT_DATABASE))
    parser.add_argument("--seed", type=int, default=generate.DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, help="runs per contender (default 3; quick 1)")
    parser.add_argument("--small-pool-repeat", type=int, default=1,
                        help="runs per contender at the server's own buffer pool (default 1)")
    parser.add_argument("--legacy-sample", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, help="[main] batch_size for the daemon "
                                                       "(default: the daemon's own default)")
    parser.add_argument("--idle-seconds", type=float, help="default 60 (quick: 10)")
    parser.add_argument("--idle-poll-interval", type=float, default=1.0)
    parser.add_argument("--cached-pool", type=int, default=4 * GIB,
                        help="innodb_buffer_pool_size of the cached pass, bytes (default 4 GiB)")
    parser.add_argument("--small-pool", type=int, default=STOCK_POOL,
                        help="innodb_buffer_pool_size of the uncached pass, bytes (default "
                             "128 MiB, a stock server's); the server's own value is restored")
    parser.add_argument("--scaling", help="users of the scaling runs, comma-separated "
                                          "(default 100000,300000; quick 10000,20000)")
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--no-small-pool", action="store_true")
    parser.add_argument("--no-extra-indexes", action="store_true",
                        help="do not apply deploy/recommended_indexes.sql")
    parser.add_argument("--results", help="output folder (default bench/results, quick: "
                                          "bench/results/quick)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.database = check_bench_name(args.database or DEFAULT_DATABASE + ("_quick" if quick
                                                                          else ""))
    args.users = args.users or (50_000 if quick else generate.DEFAULT_USERS)
    args.repeat = args.repeat or (1 if quick else 3)
    args.idle_seconds = args.idle_seconds or (10.0 if quick else 60.0)
    args.scaling = [int(n) for n in (args.scaling or ("10000,20000" if quick else
                                                      "100000,300000")).split(",") if n]
    args.results = args.results or os.path.join(HERE, "results", "quick" if quick else "")
    return args


# ------------------------------------------------------------------ machine
def machine(conn: Any) -> Dict[str, Any]:
    variables = {row["Variable_name"]: row["Value"] for row in rows(conn, "SHOW GLOBAL VARIABLES")}
    keys = ("innodb_buffer_pool_size", "innodb_flush_log_at_trx_commit", "innodb_log_file_size",
            "innodb_flush_method", "innodb_doublewrite", "innodb_io_capacity",
            "binlog_format", "log_bin", "tmp_table_size", "join_cache_level")
    with open("/proc/cpuinfo") as handle:
        model = next((line.split(":", 1)[1].strip() for line in handle
                      if line.startswith("model name")), "?")
    with open("/proc/meminfo") as handle:
        memory_kb = int(handle.readline().split()[1])
    info = {"cores": os.cpu_count(), "cpu": model, "memory": "%.0f GiB" % (memory_kb / 2 ** 20),
            "server": "MariaDB %s" % variables.get("version"),
            "load average at start": " ".join("%.2f" % v for v in os.getloadavg())}
    info.update({key: variables.get(key) for key in keys})
    info["daemon under test"] = daemon_version()
    return info


def daemon_version() -> str:
    """The daemon checkout's commit (and whether its work tree has changes)."""
    try:
        found = subprocess.run(["git", "-C", DAEMON_ROOT, "describe", "--always", "--dirty"],
                               capture_output=True, text=True, timeout=10)
    except OSError:
        found = None
    commit = found.stdout.strip() if found and found.returncode == 0 else "not a git checkout"
    return "%s (%s)" % (DAEMON_ROOT, commit)


# ------------------------------------------------------------------ campaigns
def count_audience(conn: Any) -> Any:
    def count(campaign: cmp.Campaign) -> int:
        return int(scalar(conn, floor.count_sql(campaign, campaign.shape),
                          floor.target_params(campaign)))
    return count


def plan_campaigns(conn: Any, users: int) -> List[cmp.Campaign]:
    """Target lists for each size, the campaign rows, and the floor's shape."""
    count = count_audience(conn)
    planned = [cmp.Campaign(name, kind, fraction) for name, kind, fraction in CAMPAIGNS]
    everyone = next(c for c in planned if c.fraction >= 1.0)
    cmp.plan_targets(conn, everyone, 1.0, count, users)
    base = everyone.audience / users
    for campaign in planned:
        if campaign is not everyone:
            cmp.plan_targets(conn, campaign, base, count, users)
        campaign.shape = fastest_shape(conn, campaign, count)
        cmp.insert_campaign(conn, campaign)
        campaign.daemon_plan = daemon_plan_choice(conn, campaign)
        log("campaign %-8s %9d recipients (%.1f %% of users), floor shape %s, daemon plan %s",
            campaign.name, campaign.audience, 100.0 * campaign.audience / users, campaign.shape,
            campaign.daemon_plan)
    return planned


def daemon_plan_choice(conn: Any, campaign: cmp.Campaign) -> str:
    try:
        return explain.daemon_fill(conn, campaign, measure.delivery_of(conn, campaign))[0]
    except Exception as error:  # the daemon's code is under test, not the benchmark's
        return "error: %s" % error


def applicable_shapes(campaign: cmp.Campaign, cached: bool = False) -> List[str]:
    """The floor's shapes that can win: the narrow one only on a small audience;
    with the data cached, the scan without its hints only there too (on a large
    audience it is the same statement, slower)."""
    small = campaign.fraction <= NARROW_TRIAL_MAX_FRACTION
    left_out = () if small else ("narrow", "scan_plain") if cached else ("narrow",)
    return [shape for shape in floor.SHAPES if shape not in left_out]


def fastest_shape(conn: Any, campaign: cmp.Campaign, count: Any) -> str:
    """The floor is the best statement: each shape that can win is tried (cached)."""
    seconds = {}
    for shape in applicable_shapes(campaign, cached=True):
        campaign.shape = shape
        started = time.monotonic()
        count(campaign)
        seconds[shape] = time.monotonic() - started
    return min(seconds, key=seconds.get)


# ------------------------------------------------------------------ one pass
def measure_campaign(conn: Any, campaign: cmp.Campaign, config: str, repeat: int,
                     legacy_sample: Optional[int], every_shape: bool = False
                     ) -> Dict[str, Any]:
    """Daemon, floor and legacy, interleaved, `repeat` times. With every_shape the
    floor is the fastest of its applicable shapes in each round."""
    delivery = measure.delivery_of(conn, campaign)
    shapes = applicable_shapes(campaign) if every_shape else [campaign.shape]
    runs: Dict[str, List[Run]] = {"daemon": [], "floor": [], "legacy": []}
    prints: Dict[str, Dict[str, Any]] = {}
    for attempt in range(repeat):
        runs["daemon"].append(measure.run_daemon(conn, campaign, config))
        if "daemon" not in prints and (runs["daemon"][-1].ok or attempt == repeat - 1):
            prints["daemon"] = measure.fingerprint(conn, campaign.output_table)
            prints["plan"] = daemon_plan(conn)
        runs["floor"].append(measure.run_best_floor(conn, campaign, delivery, shapes))
        if attempt == 0:
            prints["floor"] = measure.fingerprint(conn, campaign.output_table)
        if legacy_sample:
            runs["legacy"].append(measure.run_legacy(conn, campaign, delivery, legacy_sample))
    result = summarize(runs, prints)
    log_result(campaign, result)
    return result


def daemon_plan(conn: Any) -> Dict[str, Any]:
    """What the daemon recorded about its run (state, recipients)."""
    try:
        found = rows(conn, "SELECT state, recipients, written, last_error FROM mh_campaign_run")
    except pymysql.err.ProgrammingError as error:  # the daemon never got to create it
        return {"error": str(error)}
    return found[0] if found else {}


def summarize(runs: Dict[str, List[Run]], prints: Dict[str, Any]) -> Dict[str, Any]:
    result: Dict[str, Any] = {}
    for contender, made in runs.items():
        if made:
            result[contender] = dict(measure.median(made).as_dict(),
                                     runs=[run.as_dict() for run in made])
    daemon, floor_run = measure.median(runs["daemon"]), measure.median(runs["floor"])
    if daemon.ok and floor_run.seconds:
        result["daemon_over_floor"] = round(daemon.seconds / floor_run.seconds, 3)
    if runs["legacy"] and daemon.ok:
        legacy = measure.median(runs["legacy"])
        result["legacy_over_daemon"] = round(legacy.seconds / daemon.seconds, 2)
        # The legacy run's query goes without the daemon's session settings; its
        # inserts alone are the lower bound of what replacing it gains.
        result["legacy_inserts_over_daemon"] = round(
            (legacy.seconds - (legacy.query_seconds or 0.0)) / daemon.seconds, 2)
    result["peak_rss_mb"] = round(max(run.rss_kb for run in runs["daemon"]) / 1024, 1)
    result["same_rows"] = measure.same_rows(prints["daemon"], prints["floor"])
    result["duplicates"] = prints["daemon"]["n"] - prints["daemon"]["distinct_n"]
    result["daemon_counts_equal"] = len({run.rows for run in runs["daemon"] if run.ok}) == 1
    failed = [run.note for run in runs["daemon"] if not run.ok]
    result["daemon_ok_runs"] = "%d/%d" % (len(runs["daemon"]) - len(failed), len(runs["daemon"]))
    if failed:
        result["daemon_failures"] = failed
    result["fingerprints"] = {key: prints[key] for key in ("daemon", "floor")}
    result["daemon_run"] = prints["plan"]
    return result


def log_result(campaign: cmp.Campaign, result: Dict[str, Any]) -> None:
    daemon, floor_run = result["daemon"], result["floor"]
    legacy = result.get("legacy")
    log("  %-8s daemon %7.2f s %9.0f rows/s (rss %5.1f MB, %s) | floor %7.2f s %9.0f rows/s"
        " | legacy %s | daemon/floor %s | same rows %s, duplicates %s", campaign.name,
        daemon["seconds"], daemon["rows_per_s"], result["peak_rss_mb"], daemon["note"][:40],
        floor_run["seconds"], floor_run["rows_per_s"],
        "%.1f s %.0f rows/s" % (legacy["seconds"], legacy["rows_per_s"]) if legacy else "-",
        result.get("daemon_over_floor"), result["same_rows"], result["duplicates"])


def run_pass(conn: Any, title: str, planned: List[cmp.Campaign], config: str, repeat: int,
             legacy_sample: Optional[int], every_shape: bool = False) -> Dict[str, Any]:
    pool = int(scalar(conn, "SELECT @@GLOBAL.innodb_buffer_pool_size"))
    load = " ".join("%.2f" % value for value in os.getloadavg())
    log("%s: buffer pool %d MiB, %d run(s) each, load average %s", title, pool // 1048576,
        repeat, load)
    results = {c.name: dict(measure_campaign(conn, c, config, repeat, legacy_sample,
                                             every_shape), daemon_plan=c.daemon_plan)
               for c in planned}
    return {"title": title, "pool_bytes": pool, "repeat": repeat, "load_average": load,
            "legacy": bool(legacy_sample), "results": results}


# ------------------------------------------------------------------ scaling
def scaling_point(args: argparse.Namespace, users: int, directory: str) -> Dict[str, Any]:
    """The 100 % campaign on a data set of its own size, dropped afterwards."""
    database = "%s_scale_%d" % (args.database, users)
    generate.generate(database, users, args.seed, not args.no_extra_indexes)
    directory = os.path.join(directory, database)
    os.makedirs(directory)
    conn = connect(database)
    try:
        campaign = cmp.Campaign("news_100", cmp.NEWS, 1.0)
        cmp.plan_targets(conn, campaign, 1.0, count_audience(conn), users)
        cmp.insert_campaign(conn, campaign)
        explain.ensure_daemon_schema(conn)
        config = measure.write_config(directory, database, batch_size=args.batch_size)
        result = measure_campaign(conn, campaign, config, args.repeat, None)
        execute(conn, "DROP DATABASE `%s`" % check_bench_name(database))
    finally:
        conn.close()
    return scaling_row(users, result)


def scaling_row(users: int, result: Dict[str, Any]) -> Dict[str, Any]:
    return {"users": users, "rows": result["floor"]["rows"],
            "daemon_s": result["daemon"]["seconds"] if result["daemon"]["ok"] else None,
            "floor_s": result["floor"]["seconds"], "peak_rss_mb": result["peak_rss_mb"]}


# ------------------------------------------------------------------ targets
def targets(data: Dict[str, Any], users: int) -> List[Dict[str, Any]]:
    cached = data["passes"]["cached"]["results"]
    scale = "" if users == 1_000_000 else " (at %d users, target is for 1M)" % users
    found = []

    def add(target: str, value: Optional[float], limit: str, ok: bool, digits: int = 2) -> None:
        shown = "—" if value is None else "%.*f" % (digits, value)
        found.append({"target": target, "measured": shown, "limit": limit,
                      "pass": bool(ok and value is not None)})

    ratio_all = cached["news_100"].get("daemon_over_floor")
    ratio_one = cached["news_1"].get("daemon_over_floor")
    legacy = cached["news_100"].get("legacy_over_daemon")
    add("daemon/floor, 100 % audience" + scale, ratio_all, "≤ 1.25", (ratio_all or 99) <= 1.25)
    add("daemon/floor, 1 % audience" + scale, ratio_one, "≤ 1.5", (ratio_one or 99) <= 1.5)
    add("legacy/daemon, 100 % audience", legacy, "≥ 10", (legacy or 0) >= 10, 1)
    rss = max(r["peak_rss_mb"] for run in data["passes"].values()
              for r in run["results"].values())
    add("daemon peak RSS, every audience", rss, "≤ 60 MB", rss <= 60, 1)
    add_idle_target(add, data.get("idle"))
    scans = next((e["daemon_full_scans"] for e in data.get("explain", [])
                  if e["campaign"] == "news_1"), None)
    found.append({"target": "no full scan of account/card tables, 1 % audience",
                  "measured": ", ".join(scans) if scans else "none",
                  "limit": "none", "pass": scans == []})
    add_scaling_target(add, data.get("scaling", []))
    return found


def add_idle_target(add: Any, idle: Optional[Dict[str, Any]]) -> None:
    if idle:
        add("idle: queries per job per poll (daemon %s)" % ("ran" if idle["ok"] else "FAILED"),
            idle["per_job_per_poll"], "≤ 1", idle["ok"] and idle["per_job_per_poll"] <= 1.0)


def add_scaling_target(add: Any, scaling: List[Dict[str, Any]]) -> None:
    """Linear: the daemon's cost per recipient at the largest size is at most 1.3
    times the one at the smallest, or grows no more than 10 % beyond the floor's
    own growth (then the growth is the server's, larger sets and indexes costing
    more per row, and the daemon adds none)."""
    points = [s for s in scaling if s.get("daemon_s") and s.get("floor_s") and s["rows"]]
    if len(points) >= 2:
        small, large = points[0], points[-1]

        def growth(key: str) -> float:
            return (large[key] / large["rows"]) / (small[key] / small["rows"])
        daemon, server = growth("daemon_s"), growth("floor_s")
        add("scaling: cost per recipient, largest / smallest size (floor: %.2f)" % server,
            daemon, "≤ 1.3, or ≤ 1.1 × the floor's", daemon <= max(1.3, 1.1 * server))


# ------------------------------------------------------------------ main
def benchmark(args: argparse.Namespace, conn: Any, directory: str,
              data: Dict[str, Any]) -> None:
    original_pool = int(scalar(conn, "SELECT @@GLOBAL.innodb_buffer_pool_size"))
    if not args.skip_generate:
        data["generation"] = generate.generate(args.database, args.users, args.seed,
                                               not args.no_extra_indexes)
        log("generated %d users in %.1f s (seed %d)", args.users,
            data["generation"]["seconds"]["total"], args.seed)
    execute(conn, "USE `%s`" % args.database)
    users = int(scalar(conn, "SELECT COUNT(*) FROM account_basic"))
    explain.ensure_daemon_schema(conn)
    execute(conn, "DELETE FROM sns_qa_push_setting WHERE admin_id = 'bench-admin'")
    execute(conn, "DELETE FROM sys_user_promotion WHERE admin_id = 'bench-admin'")
    measure.set_buffer_pool(conn, max(args.cached_pool, original_pool))
    measure.warm_cache(conn, list(TABLES))
    planned = plan_campaigns(conn, users)
    data["campaigns"] = [campaign_summary(c) for c in planned]
    config = measure.write_config(directory, args.database, batch_size=args.batch_size)
    data["passes"]["cached"] = run_pass(conn, "Data cached", planned, config, args.repeat,
                                        args.legacy_sample)
    data["explain"] = [explain.explain_campaign(conn, c, measure.delivery_of(conn, c))
                       for c in planned]
    data["explain_due"] = explain.explain_due(conn)
    data["idle"] = idle(conn, args)
    data["scaling"] = scaling(args, directory, data["passes"]["cached"]["results"], users)
    if not args.no_small_pool:
        measure.set_buffer_pool(conn, args.small_pool)
        execute(conn, "USE `%s`" % args.database)
        small = [c for c in planned if c.name in SMALL_POOL_CAMPAIGNS]
        # The shapes were chosen with cached data: here every one is tried.
        data["passes"]["default"] = run_pass(conn, "Stock buffer pool", small, config,
                                             args.small_pool_repeat, None, every_shape=True)


def campaign_summary(campaign: cmp.Campaign) -> Dict[str, Any]:
    return {key: getattr(campaign, key) for key in ("name", "kind", "fraction", "region",
                                                      "industry", "func", "audience", "shape",
                                                      "daemon_plan", "campaign_id")}


def idle(conn: Any, args: argparse.Namespace) -> Dict[str, Any]:
    log("idle daemon for %.0f s (poll_interval %s s)", args.idle_seconds, args.idle_poll_interval)
    result = measure.measure_idle(conn, args.database, args.idle_seconds,
                                  args.idle_poll_interval)
    keeper = 1.0  # the lock keeper's IS_USED_LOCK, once per poll_interval
    result["per_job_per_poll"] = round(max(0.0, result["selects_per_poll"] - keeper)
                                       / result["jobs"], 2)
    log("  %.2f SELECTs per job per poll, %.2f CPU s", result["per_job_per_poll"],
        result["cpu_seconds"])
    return result


def scaling(args: argparse.Namespace, directory: str, cached: Dict[str, Any],
            users: int) -> List[Dict[str, Any]]:
    if args.no_scaling:
        return []
    points = []
    for size in sorted(n for n in args.scaling if n < users):
        log("scaling: %d users", size)
        points.append(scaling_point(args, size, directory))
    return points + [scaling_row(users, cached["news_100"])]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    conn = connect()
    original_pool = int(scalar(conn, "SELECT @@GLOBAL.innodb_buffer_pool_size"))
    data: Dict[str, Any] = {"command": " ".join(shlex.quote(a) for a in sys.argv),
                            "machine": machine(conn), "passes": {}, "seed": args.seed}
    log("benchmark: %d users in %s, seed %d, results in %s", args.users, args.database,
        args.seed, args.results)
    try:
        with tempfile.TemporaryDirectory(prefix="mh_bench_") as directory:
            benchmark(args, conn, directory, data)
    finally:
        if int(scalar(conn, "SELECT @@GLOBAL.innodb_buffer_pool_size")) != original_pool:
            measure.set_buffer_pool(conn, original_pool)
        conn.close()
    data["targets"] = targets(data, args.users)
    report.write(args.results, data)
    for target in data["targets"]:
        log("target %-60s %10s %-16s %s", target["target"], target["measured"], target["limit"],
            "pass" if target["pass"] else "FAIL")
    log("results in %s", args.results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
