"""The composer's output, without a database: each statement it emits for each
plan is the one expected, carries values only as parameters, and keeps the
shapes the benchmark measured (README "Performance").

tests/unit/targeting_statements.sql holds the expected statements, the parts
they share written once and included as {name} (as in mg_handling/sql). After
a deliberate change to the rules or the shapes, rewrite it with
`.venv/bin/python tests/unit/test_targeting_compose.py` and review its diff.
"""
from __future__ import annotations

import os
import re
from typing import Dict, Set

import pytest

from mg_handling import targeting
from mg_handling.queries import NAMED_SQL_FILES, Q, parse_named_queries, read_sql

EXPECTED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "targeting_statements.sql")
TARGETING_PARAMS = {"region_codes", "region_widened", "industry_widened", "func_pattern"}
# The only quoted text a statement may hold: fixed values of the rules and of
# preview's code rows, never a campaign's.
FIXED_LITERALS = {"", "0", "active", "%%", ",", "all", "email", "mobile",
                  *targeting.DIMENSION_NAMES, *targeting.ITEM_PATTERN}
_PARAM = re.compile(r"%\((\w+)\)s")
_LITERAL = re.compile(r"'([^']*)'")


def composed() -> Dict[str, str]:
    """Every statement the composer emits, by a name of this test."""
    statements = {"card_holders": targeting.CARD_HOLDERS, "region_reach": targeting.REGION_REACH}
    statements.update({"expand_" + name: sql for name, sql in targeting.EXPANSIONS.items()})
    for plan, planned in targeting.STATEMENTS.items():
        statements[plan + "_breakdown"] = planned.breakdown
        statements.update({"%s_%s" % (plan, kind): planned.selects[kind]
                           for kind in targeting.AUDIENCE_KINDS})
    return statements


def shared_parts() -> Dict[str, str]:
    """The parts several statements include, the larger ones first."""
    return {"scan_matching_users": targeting._scan_users(),
            "scan_matching_profiles": targeting._matching_profiles(),
            "narrow_matching_users": targeting._narrow_users(),
            "narrow_checks": targeting._narrow_checks(),
            "card_holders": targeting.CARD_HOLDERS,
            "breakdown_of_audience": targeting._breakdown_of_audience()}


def expected() -> Dict[str, str]:
    """The expected statements, their includes resolved (the daemon's named
    statements are there to be included, e.g. preview's campaign_code_rows)."""
    with open(EXPECTED, encoding="utf-8") as handle:
        text = handle.read()
    return parse_named_queries("\n".join([read_sql(name) for name in NAMED_SQL_FILES] + [text]))


@pytest.mark.parametrize("name", sorted(composed()))
def test_each_statement_is_the_one_expected(name):
    assert composed()[name] == expected()[name]


def params_of(sql: str) -> Set[str]:
    return set(_PARAM.findall(sql))


@pytest.mark.parametrize("plan", targeting.PLANS)
@pytest.mark.parametrize("kind", targeting.AUDIENCE_KINDS)
def test_values_travel_only_as_parameters(plan, kind):
    planned = targeting.STATEMENTS[plan]
    for sql, extra in ((planned.selects[kind], set()), (planned.fills[kind], {"run_id"}),
                       (planned.breakdown, {"region_list", "industry_list", "func_list"})):
        assert params_of(sql) == TARGETING_PARAMS | extra
        assert set(_LITERAL.findall(sql)) <= FIXED_LITERALS
        assert "{" not in sql and "%s" not in sql.replace("%%", "")


def test_the_code_expansions_and_the_reach_take_parameters_only():
    assert all(params_of(sql) == {"codes"} for sql in targeting.EXPANSIONS.values())
    assert params_of(targeting.REGION_REACH) == {"region_codes", "region_widened", "tables"}
    assert set(_LITERAL.findall(targeting.REGION_REACH)) == {"account_basic_detail"}


@pytest.mark.parametrize("plan", targeting.PLANS)
@pytest.mark.parametrize("kind", targeting.AUDIENCE_KINDS)
def test_a_fill_is_its_select_wrapped_and_users_are_frozen_in_order(plan, kind):
    select = targeting.STATEMENTS[plan].selects[kind]
    fill = ("INSERT INTO mh_audience (run_id, recipient)\n"
            "SELECT %%(run_id)s, a.recipient FROM (%s) a" % select)
    if kind == "users":
        fill += "\nORDER BY a.recipient"
    assert targeting.STATEMENTS[plan].fills[kind] == fill


def test_the_scan_plan_builds_each_set_in_one_sequential_pass():
    users = targeting.STATEMENTS["scan"].selects["users"]
    sets = users.count(" IN (\n            SELECT ") + users.count(" IN (SELECT ")
    assert sets == users.count("IGNORE INDEX") == 5  # 4 sources off the profile + active users
    assert "CONVERT(d.card_id USING utf8) IN (" in users
    assert "STRAIGHT_JOIN account_basic u" in targeting.STATEMENTS["scan"].selects["emails"]


def test_the_narrow_plan_looks_up_through_indexes():
    users = targeting.STATEMENTS["narrow"].selects["users"]
    assert "IGNORE INDEX" not in users and "EXISTS" not in users
    assert users.count("LIMIT 1)") == 6  # 3 lookups per branch, as scalar subqueries
    assert "SELECT DISTINCT CONVERT(c.card_id USING utf8mb4) AS card_id" in users
    assert "STRAIGHT_JOIN account_basic_detail d ON d.card_id = region_cards.card_id" in users
    assert "WHERE d.city_code NOT IN %(region_widened)s" in users


def test_card_holders_match_on_the_cards_own_rows_only():
    holders = targeting.CARD_HOLDERS
    assert "account_basic" not in holders and "CONVERT" not in holders
    assert holders.count("h.card_id IN (") == len(targeting.DIMENSIONS)
    assert all(holders in targeting.STATEMENTS[plan].selects["mobiles_and_cards"]
               for plan in targeting.PLANS)


def test_the_func_pattern_of_a_campaign_and_of_the_breakdown_are_one_pattern():
    prefix, suffix = targeting.ITEM_PATTERN
    assert targeting.item_pattern(("F1", "F_2")) == prefix + "F1|F_2" + suffix
    breakdown = targeting.STATEMENTS["scan"].breakdown
    assert "CONCAT('%s', k.code, '%s')" % (prefix, suffix) in breakdown


def write_expected() -> None:
    parts = dict(shared_parts(), campaign_code_rows=Q.campaign_code_rows)

    def with_includes(name: str, sql: str) -> str:
        for part, text in parts.items():
            if part != name:
                sql = sql.replace(text, "{%s}" % part)
        return sql
    statements = dict(shared_parts(), **composed())
    with open(EXPECTED, "w", encoding="utf-8") as handle:
        handle.write("-- What mg_handling/targeting.py emits (tests/test_targeting_compose.py).\n")
        for name in statements:
            handle.write("\n-- name: %s\n%s;\n" % (name, with_includes(name, statements[name])))


if __name__ == "__main__":
    write_expected()
