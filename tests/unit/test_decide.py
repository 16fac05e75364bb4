"""decision.decide (what to do with a due campaign) and Campaign.fingerprint (when a
settled campaign is looked at again), from hand-built campaigns. No database."""
import json
from datetime import datetime

import pytest

from mg_handling.activity import ActivityJob
from mg_handling.decision import Plan, Settings, Settle, decide
from mg_handling.news import NewsJob
from mg_handling.states import RunState
from mg_handling.store import Campaign
from mg_handling.targeting import Targeting

NOW = 1767225600          # the database server's clock (db_now of the due query)
SETTINGS = Settings(push_ahead_seconds=150, batch_size=1000, max_lateness_seconds=3600)


def campaign(job, row, db_now=NOW):
    return Campaign(job, row["id"], row, db_now)


def news_row(**values):
    row = {"id": 11, "push_time": NOW - 60, "region": "C1，C2", "industry": "I11",
           "func": "F1", "admin_id": "编辑-1", "status": 1, "created_time": 1700000000,
           "content": json.dumps([{"newsid": "n1", "title": "今日要闻 📰"}], ensure_ascii=False)}
    row.update(values)
    return campaign("news", row)


def activity_row(**values):
    row = {"id": 12, "activity_id": "act-1", "onlinetime": NOW - 60, "offlinetime": 0,
           "region": "P1", "industry": "I1", "func": "F2", "title": "周年庆 🎂",
           "content": "活动内容", "image": "", "url": "https://x/a", "json_data": "",
           "user_id": "运营", "created_time": 1700000002}
    row.update(values)
    return campaign("activity", row)


# ---------------------------------------------------------------- decide

def test_a_good_row_gets_its_plan():
    decision = decide(NewsJob(), news_row(), SETTINGS)
    assert isinstance(decision, Plan)
    assert decision.targeting == Targeting(("C1", "C2"), ("I11",), ("F1",))
    assert (decision.delivery.title, decision.delivery.from_uid) == ("今日要闻 📰", "编辑-1")


@pytest.mark.parametrize("job,row,reason", [
    (NewsJob(), news_row(region="北京"), "region: invalid code '北京'"),
    (NewsJob(), news_row(func=None), "func: is NULL"),
    (NewsJob(), news_row(push_time=0), "push_time: must be a positive Unix timestamp, not 0"),
    (ActivityJob(), activity_row(onlinetime=-5),
     "onlinetime: must be a positive Unix timestamp, not -5"),
    (NewsJob(), news_row(content="[]"), "content: 'data' must be a non-empty list"),
    (ActivityJob(), activity_row(url=None), "url: is NULL"),
    # the targeting is read first: a row bad twice is failed for its codes
    (NewsJob(), news_row(industry="I1;I2", content="{"), "industry: invalid code 'I1;I2'"),
    # a bad row is failed, not skipped, even with an empty dimension
    (NewsJob(), news_row(region="", content="{"), "content: not valid JSON"),
])
def test_a_row_that_cannot_be_sent_fails_naming_the_field(job, row, reason):
    decision = decide(job, row, SETTINGS)
    assert isinstance(decision, Settle) and decision.state == RunState.FAILED
    assert decision.reason.startswith(reason)


@pytest.mark.parametrize("values,empty", [
    ({"region": ""}, "region"),
    ({"industry": " ，"}, "industry"),
    ({"industry": "", "func": ","}, "industry and func"),
    ({"region": "", "industry": "", "func": "", "push_time": NOW - 86400},  # late too
     "region and industry and func"),
])
def test_an_empty_target_list_is_skipped_never_everyone(values, empty):
    assert decide(NewsJob(), news_row(**values), SETTINGS) == Settle(
        RunState.SKIPPED, "%s empty: an empty target list never means everyone" % empty)


@pytest.mark.parametrize("late,limit,retry,expired", [
    (3601, 3600, False, True),
    (3600, 3600, False, False),     # at the limit is still on time
    (86400 * 30, 0, False, False),  # 0: no limit
    (3601, 3600, True, False),      # an operator's retry overrides the limit
    (-600, 3600, False, False),     # pushed ahead of its time
])
def test_lateness(late, limit, retry, expired):
    settings = Settings(push_ahead_seconds=150, batch_size=1000, max_lateness_seconds=limit)
    decision = decide(ActivityJob(), activity_row(onlinetime=NOW - late), settings, retry=retry)
    if expired:
        assert decision == Settle(RunState.EXPIRED, "%d s overdue, more than "
                                  "max_lateness_seconds %d" % (late, limit))
    else:
        assert isinstance(decision, Plan)


@pytest.mark.parametrize("batch,rate,chunk", [(1000, 0, 1000), (1000, 200, 200),
                                              (100, 5000, 100)])
def test_a_throttled_chunk_holds_at_most_one_second_of_writing(batch, rate, chunk):
    assert Settings(150, batch, 0, rate).chunk_size == chunk


# ---------------------------------------------------------------- fingerprint

def fingerprint(campaign_or_row):
    if isinstance(campaign_or_row, Campaign):
        return campaign_or_row.fingerprint()
    return campaign("news", campaign_or_row).fingerprint()


def test_fingerprint_ignores_the_clock():
    row = news_row()
    assert row.fingerprint() == campaign("news", dict(row.columns), db_now=NOW + 3600
                                         ).fingerprint()


def test_fingerprint_ignores_the_column_order():
    row = dict(news_row().columns)
    assert fingerprint(row) == fingerprint(dict(reversed(list(row.items()))))


@pytest.mark.parametrize("column,value", [
    ("region", "C1,C2"),                 # only the comma changed (full-width to ASCII)
    ("content", json.dumps([{"newsid": "n1", "title": "今日要闻 📰!"}], ensure_ascii=False)),
    ("push_time", NOW - 59),
    ("admin_id", "编辑-2"),
    ("status", 2),
    ("func", None),
])
def test_fingerprint_changes_with_any_campaign_column(column, value):
    row = dict(news_row().columns)
    assert fingerprint(row) != fingerprint(dict(row, **{column: value}))


def test_fingerprint_of_odd_values_is_a_stable_hex_digest():
    row = dict(activity_row(title="坏的\ud83d", modify_time=datetime(2026, 1, 1, 8, 0)).columns)
    digest = fingerprint(row)
    assert digest == fingerprint(dict(row)) and len(digest) == 64
    assert int(digest, 16) >= 0
    assert digest != fingerprint(dict(row, modify_time=datetime(2026, 1, 1, 8, 1)))
