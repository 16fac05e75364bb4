"""EXPLAIN of the daemon's own statements: each campaign's audience fill (with the
parameters and the plan the daemon would use), the floor, and the due queries.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

import floor
from campaigns import Campaign
from common import execute, rows

from mg_handling import targeting as daemon_targeting
from mg_handling.messages import Delivery
from mg_handling.queries import Q, read_sql
from util.db import Transaction, split_statements

# Full scans of these tables are what the 1 % audience must avoid.
WATCHED = ("account_basic", "account_basic_detail", "card_info_jsonver", "company_info_jsonVer")
COLUMNS = ("id", "select_type", "table", "type", "possible_keys", "key", "key_len", "ref",
           "rows", "filtered", "Extra")
_ALIAS = re.compile(r"\b(?:FROM|JOIN)\s+`?(\w+)`?\s+(?:AS\s+)?`?(\w+)`?", re.IGNORECASE)


def daemon_statements(conn: Any, campaign: Campaign, audience: str
                      ) -> Tuple[str, str, str, Dict[str, Any]]:
    """(plan, SELECT, fill, parameters) of the campaign's audience, exactly as
    the daemon under test would run them: this checkout's composed statements
    (mg_handling/targeting.py), or the named ones of a daemon from before them
    (MH_DAEMON_ROOT, e.g. a baseline to compare with)."""
    tx = Transaction(conn)
    targeting = campaign.targeting()
    if hasattr(daemon_targeting, "STATEMENTS"):
        from mg_handling.store import StoreTransaction
        query = StoreTransaction(tx).audience_query(targeting)
        params, plan = dict(query.params), query.plan
        planned = daemon_targeting.STATEMENTS[plan]
        select, fill = planned.selects[audience], planned.fills[audience]
    else:
        params = targeting.query_params(tx)
        plan = daemon_targeting.choose_plan(tx, params)
        suffix = "_narrow" if plan == "narrow" else ""
        select = getattr(Q, "audience_%s%s" % (audience, suffix))
        fill = getattr(Q, "fill_audience_%s%s" % (audience, suffix))
    return plan, select, fill, dict(params, run_id=0)


def daemon_fill(conn: Any, campaign: Campaign, delivery: Delivery) -> Tuple[str, str, Dict]:
    """(plan, fill statement, parameters) exactly as the daemon would run them."""
    plan, _select, fill, params = daemon_statements(conn, campaign, delivery.audience)
    return plan, fill, params


def daemon_select(conn: Any, campaign: Campaign, delivery: Delivery
                  ) -> Tuple[str, Dict[str, Any]]:
    """(SELECT, parameters) of the daemon's audience alone, in the plan it would use."""
    _plan, select, _fill, params = daemon_statements(conn, campaign, delivery.audience)
    return select, params


def explain(conn: Any, sql: str, params: Any = None) -> List[Dict[str, Any]]:
    prefix, separator, statement = sql.partition(" FOR\n")
    if not separator:  # no SET STATEMENT hints
        prefix, statement = "", sql
    else:
        prefix += " FOR "
    return [{key: row.get(key) for key in COLUMNS}
            for row in rows(conn, prefix + "EXPLAIN " + statement, params)]


def aliases(sql: str) -> Dict[str, str]:
    """alias -> table, from the FROM / JOIN clauses of a statement."""
    found = {alias: table for table, alias in _ALIAS.findall(sql)
             if alias.upper() not in ("ON", "WHERE", "JOIN", "LEFT", "GROUP", "ORDER")}
    found.update({table: table for table, _alias in _ALIAS.findall(sql)})
    return found


def full_scans(plan: List[Dict[str, Any]], sql: str) -> List[str]:
    """The watched tables the plan reads in full (type ALL)."""
    names = aliases(sql)
    scanned = {names.get(row["table"], row["table"]) for row in plan if row["type"] == "ALL"}
    return sorted(table for table in scanned if table in WATCHED)


def as_text(plan: List[Dict[str, Any]]) -> str:
    """A fixed-width table, like the mysql client prints."""
    cells = [[str(row[key]) if row[key] is not None else "NULL" for key in COLUMNS]
             for row in plan]
    widths = [max([len(key)] + [len(cell[n]) for cell in cells]) for n, key in enumerate(COLUMNS)]
    line = lambda values: " | ".join(v.ljust(w) for v, w in zip(values, widths))  # noqa: E731
    return "\n".join([line(COLUMNS), "-+-".join("-" * w for w in widths)]
                     + [line(cell) for cell in cells])


def explain_campaign(conn: Any, campaign: Campaign, delivery: Delivery) -> Dict[str, Any]:
    floor_sql = floor.floor_sql(campaign, campaign.shape)
    floor_plan = explain(conn, floor_sql, floor.floor_params(campaign, delivery))
    found = {"campaign": campaign.name, "floor_shape": campaign.shape, "floor": floor_plan,
             "floor_full_scans": full_scans(floor_plan, floor_sql)}
    try:
        plan, sql, params = daemon_fill(conn, campaign, delivery)
        daemon_plan = explain(conn, sql, params)
    except Exception as error:  # the daemon's SQL is data here, not the benchmark's bug
        found.update(daemon_plan_choice="error: %s" % error, daemon_statement="",
                     daemon=[], daemon_full_scans=["(EXPLAIN failed)"])
        return found
    found.update(daemon_plan_choice=plan, daemon_statement=sql, daemon=daemon_plan,
                 daemon_full_scans=full_scans(daemon_plan, sql))
    return found


def explain_due(conn: Any) -> Dict[str, List[Dict[str, Any]]]:
    """The one query each job sends per poll."""
    found = {}
    for name in ("due_news", "due_promotion", "due_activity"):
        try:
            found[name] = explain(conn, getattr(Q, name), {"ahead": 150})
        except Exception as error:
            found[name] = [{key: None for key in COLUMNS} | {"Extra": "error: %s" % error}]
    return found


def ensure_daemon_schema(conn: Any) -> None:
    """The daemon's own tables (as it creates them at start), for EXPLAIN and resets."""
    for statement in split_statements(read_sql("daemon_schema.sql")):
        execute(conn, statement)
