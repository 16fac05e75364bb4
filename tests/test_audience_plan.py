"""Which audience plan a campaign gets (both find the same recipients: test_targeting)."""
from __future__ import annotations

import logging

import pytest

from mg_handling.store import Store
from mg_handling.targeting import Targeting, plan_for_reach
from testkit.db import SERVER, apply_sql_file
from testkit.process import ROOT
from util.config import DatabaseConfig

RECOMMENDED_INDEXES = ROOT + "/deploy/recommended_indexes.sql"


def many_users_in_c1(db, count: int = 100) -> None:
    db.insert_many("account_basic", ({"user_id": "u%d" % i} for i in range(count)))
    db.insert_many("account_basic_detail", ({"user_id": "u%d" % i, "city_code": "C1",
                                             "card_id": "k%d" % i} for i in range(count)))
    db.query("ANALYZE TABLE account_basic_detail")


def plan_for(db, region: str) -> str:
    store = Store(DatabaseConfig("t", SERVER["host"], SERVER["port"], SERVER["user"],
                                 SERVER["password"], db.name, "utf8mb4"), 1)
    try:
        with store.transaction() as tx:
            targeting = Targeting.from_row({"region": region, "industry": "I1", "func": "F1"})
            return tx.audience_query(targeting).plan
    finally:
        store.close()


def test_without_the_recommended_indexes_every_campaign_scans(db):
    many_users_in_c1(db)
    assert plan_for(db, "C3") == "scan"


@pytest.mark.parametrize("region, plan", [("C3", "narrow"), ("C1", "scan"), ("P1", "scan"),
                                          ("P2", "narrow")])
def test_with_them_a_small_region_takes_the_narrow_plan(db, region, plan):
    many_users_in_c1(db)
    db.add_carded_user(city="C3")
    apply_sql_file(db, RECOMMENDED_INDEXES)
    assert plan_for(db, region) == plan


def test_the_plan_and_the_audience_size_are_logged_when_frozen(db, run_once, caplog):
    caplog.set_level(logging.INFO)
    db.add_carded_user()
    db.add_carded_user()
    news = db.add_news()
    assert run_once() == 0
    assert any("news campaign %d (sns_qa_push_setting id %d): audience of 2 recipients frozen "
               "(scan plan)" % (news, news) in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("reach, data_mb, plan", [
    (10_000, 1000, "narrow"),    # 1 %, cached: random reads are cheap
    (250_000, 1000, "narrow"),   # 25 %, cached
    (400_000, 1000, "scan"),     # 40 %: one ordered pass wins even cached
    (100_000, 2400, "narrow"),   # 10 %, the pool holds 43 % of the data: limit 13 %
    (170_000, 2400, "scan"),     # 17 %, the same
    (16_000, 12000, "narrow"),   # 1.6 %, the pool holds 8.5 %: limit 2.6 %
    (58_000, 12000, "scan"),     # 5.8 %: the index lookups would be disk reads
])
def test_the_narrow_plan_stops_sooner_the_less_of_the_data_the_buffer_pool_holds(
        reach, data_mb, plan):
    row = {"reach": reach, "users": 1_000_000, "data_bytes": data_mb << 20,
           "buffer_pool_bytes": 1024 << 20}
    assert plan_for_reach(row) == plan
