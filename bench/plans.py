"""Both audience plans timed on the same campaigns: does the narrow plan still earn its code?

    .venv/bin/python bench/generate.py --users 200000 --database mh_bench_plans
    .venv/bin/python bench/plans.py --database mh_bench_plans [--fractions 0.01,0.05]

For each audience size it picks a news campaign's code lists as run.py does,
then freezes the campaign's user audience with each plan's own fill statement
(the daemon's text, parameters and session settings; rolled back), the plans
interleaved, and prints the medians and the plan the daemon would choose. It
runs at the server's own buffer pool: it changes no server setting.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

import campaigns as cmp  # noqa: E402
import explain  # noqa: E402
import floor  # noqa: E402
from common import check_bench_name, connect, log, scalar  # noqa: E402

from mg_handling import targeting  # noqa: E402
from mg_handling.store import Limits, StoreTransaction, session_setup  # noqa: E402
from util.db import Transaction  # noqa: E402


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="made by bench/generate.py")
    parser.add_argument("--fractions", default="0.01", help="audience sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    return parser.parse_args(argv)


def plan_campaign(conn: Any, fraction: float, users: int) -> cmp.Campaign:
    """Code lists reaching about `fraction` of the users (bench/campaigns.py)."""
    def count(campaign: cmp.Campaign) -> int:
        return int(scalar(conn, floor.count_sql(campaign, "sets"), floor.target_params(campaign)))
    everyone = cmp.Campaign("news_100", cmp.NEWS, 1.0)
    cmp.plan_targets(conn, everyone, 1.0, count, users)
    campaign = cmp.Campaign("news_%g" % (100 * fraction), cmp.NEWS, fraction)
    cmp.plan_targets(conn, campaign, everyone.audience / users, count, users)
    return campaign


def time_fill(conn: Any, plan: str, params: Dict[str, Any]) -> float:
    """Seconds of the plan's user-audience fill, rolled back."""
    conn.begin()
    try:
        started = time.monotonic()
        Transaction(conn).execute(targeting.STATEMENTS[plan].fills["users"], params)
        return time.monotonic() - started
    finally:
        conn.rollback()


def measure(conn: Any, campaign: cmp.Campaign, repeat: int) -> Dict[str, Any]:
    tx = Transaction(conn)
    started = time.monotonic()
    query = StoreTransaction(tx).audience_query(campaign.targeting())
    params, chosen = dict(query.params), query.plan
    choosing = time.monotonic() - started
    reach = tx.one(targeting.REGION_REACH, dict(params, tables=targeting.AUDIENCE_TABLES)) or {}
    params["run_id"] = 0
    seconds: Dict[str, List[float]] = {plan: [] for plan in targeting.PLANS}
    for _ in range(repeat + 1):  # the first round warms the cache and is left out
        for plan in targeting.PLANS:
            seconds[plan].append(time_fill(conn, plan, params))
    return {"chosen": chosen, "choosing": choosing, "reach": reach["reach"] / reach["users"],
            **{plan: statistics.median(times[1:]) for plan, times in seconds.items()}}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    conn = connect(check_bench_name(args.database), autocommit=False)
    try:
        with conn.cursor() as cursor:
            for statement, params in session_setup(Limits()):
                cursor.execute(statement, params)
        explain.ensure_daemon_schema(conn)
        users = int(scalar(conn, "SELECT COUNT(*) FROM account_basic"))
        pool = int(scalar(conn, "SELECT @@innodb_buffer_pool_size"))
        log("%d users, buffer pool %d MiB", users, pool >> 20)
        for fraction in (float(f) for f in args.fractions.split(",")):
            campaign = plan_campaign(conn, fraction, users)
            result = measure(conn, campaign, args.repeat)
            log("%-9s %7d recipients (region %s, reach %.1f %%): scan %.2f s, narrow %.2f s, "
                "chosen %s (choosing took %.3f s)", campaign.name, campaign.audience,
                campaign.region, 100 * result["reach"], result["scan"], result["narrow"],
                result["chosen"], result["choosing"])
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
