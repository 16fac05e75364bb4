"""When a campaign is due, on the database server's clock, at the boundaries."""
import logging

import pytest

from testkit.db import add_campaign

JOBS = ["news", "promotion", "activity"]
DAY = 86400


def sent(db, job, campaign):
    """Whether the legacy row is marked sent."""
    if job == "news":
        return db.scalar("SELECT status FROM sns_qa_push_setting WHERE id=%s", [campaign]) == 2
    if job == "promotion":
        return db.scalar("SELECT status FROM sys_user_promotion WHERE id=%s", [campaign]) == 2
    return db.scalar("SELECT push_state FROM operation_activity WHERE id=%s",
                     [campaign]) == 2


def run_rows(db):
    return db.query("SELECT job, campaign_id, state FROM mh_campaign_run ORDER BY id")


def warnings_about(caplog, campaign_word):
    return [r for r in caplog.records
            if r.levelno == logging.WARNING and campaign_word in r.getMessage()]


# ---------------------------------------------------------------- push_ahead_seconds

@pytest.mark.parametrize("job", JOBS)
def test_due_within_push_ahead_seconds(db, run_once, job):
    user = db.add_carded_user()
    campaign = add_campaign(db, job, db.now() + 140)
    assert run_once(push_ahead_seconds=150) == 0
    assert db.recipients() == [user]
    assert sent(db, job, campaign)
    assert db.run(job, campaign)["state"] == "done"


@pytest.mark.parametrize("job", JOBS)
def test_not_due_beyond_push_ahead_seconds_and_nothing_recorded(db, run_once, job):
    db.add_carded_user()
    campaign = add_campaign(db, job, db.now() + 170)
    assert run_once(push_ahead_seconds=150) == 0
    assert db.queue_rows() == []
    assert not sent(db, job, campaign)
    assert run_rows(db) == []


@pytest.mark.parametrize("job", JOBS)
def test_push_ahead_zero_sends_only_past_campaigns(db, run_once, job):
    user = db.add_carded_user()
    past = add_campaign(db, job, db.now() - 2)
    future = add_campaign(db, job, db.now() + 20)
    assert run_once(push_ahead_seconds=0) == 0
    assert db.recipients() == [user]
    assert sent(db, job, past)
    assert not sent(db, job, future)
    assert db.run(job, future) is None


def test_default_push_ahead_is_150_seconds(db, run_once):
    user = db.add_carded_user()
    soon = db.add_news(push_time=db.now() + 140)
    later = db.add_news(push_time=db.now() + 170)
    assert run_once() == 0
    assert db.recipients() == [user]
    assert sent(db, "news", soon)
    assert not sent(db, "news", later)


def test_future_campaigns_leave_no_trace(db, run_once):
    db.add_carded_user()
    in_an_hour = db.now() + 3600
    for job in JOBS:
        add_campaign(db, job, in_an_hour)
    assert run_once() == 0
    assert db.queue_rows() == []
    assert db.query("SELECT * FROM message_promotion") == []
    assert run_rows(db) == []


# ---------------------------------------------------------------- status columns

@pytest.mark.parametrize("status", [0, 1, 3])
def test_news_sent_when_status_is_not_2(db, run_once, status):
    user = db.add_carded_user()
    news = db.add_news(status=status)
    assert run_once() == 0
    assert db.recipients(230) == [user]
    assert sent(db, "news", news)


def test_news_status_2_is_not_sent(db, run_once):
    db.add_carded_user()
    news = db.add_news(status=2)
    assert run_once() == 0
    assert db.queue_rows() == []
    assert run_rows(db) == []
    assert db.run("news", news) is None


def test_promotion_status_1_is_sent(db, run_once):
    user = db.add_carded_user()
    promotion = db.add_promotion(status=1)
    assert run_once() == 0
    assert db.recipients() == [user]
    assert sent(db, "promotion", promotion)


@pytest.mark.parametrize("status", [0, 2, 3])
def test_promotion_other_status_is_not_sent(db, run_once, status):
    db.add_carded_user()
    promotion = db.add_promotion(status=status)
    assert run_once() == 0
    assert db.queue_rows() == []
    assert db.scalar("SELECT status FROM sys_user_promotion WHERE id=%s",
                     [promotion]) == status
    assert run_rows(db) == []


@pytest.mark.parametrize("push_state", [0, 1, 3])
def test_activity_sent_when_push_state_is_not_2(db, run_once, push_state):
    user = db.add_carded_user()
    activity = db.add_activity(push_state=push_state)
    assert run_once() == 0
    assert db.recipients() == [user]
    assert db.query("SELECT push_state, push_count FROM operation_activity WHERE id=%s",
                    [activity]) == [{"push_state": 2, "push_count": 1}]


@pytest.mark.parametrize("values", [
    dict(isnotify=1), dict(isnotify=0), dict(isnotify=3),
    dict(push_state=2),
    dict(state=1), dict(state=0), dict(state=3),
], ids=lambda v: "%s=%s" % next(iter(v.items())))
def test_activity_not_sent(db, run_once, values):
    db.add_carded_user()
    activity = db.add_activity(**values)
    before = db.query("SELECT * FROM operation_activity WHERE id=%s", [activity])
    assert run_once() == 0
    assert db.queue_rows() == []
    assert db.query("SELECT * FROM operation_activity WHERE id=%s", [activity]) == before
    assert run_rows(db) == []


def test_activity_future_onlinetime_is_not_sent(db, run_once):
    db.add_carded_user()
    activity = db.add_activity(onlinetime=db.now() + 3600)
    assert run_once() == 0
    assert db.queue_rows() == []
    assert not sent(db, "activity", activity)
    assert run_rows(db) == []


def test_activity_offline_in_the_past_is_not_sent_nor_failed(db, run_once):
    db.add_carded_user()
    now = db.now()
    activity = db.add_activity(onlinetime=now - 3600, offlinetime=now - 10)
    assert run_once() == 0
    assert db.queue_rows() == []
    assert not sent(db, "activity", activity)
    assert run_rows(db) == []


@pytest.mark.parametrize("offline", ["zero", "future"])
def test_activity_offline_zero_or_future_is_sent(db, run_once, offline):
    user = db.add_carded_user()
    offlinetime = 0 if offline == "zero" else db.now() + 3600
    activity = db.add_activity(offlinetime=offlinetime)
    assert run_once() == 0
    assert db.recipients() == [user]
    assert sent(db, "activity", activity)


# ---------------------------------------------------------------- max_lateness_seconds

@pytest.mark.parametrize("job", JOBS)
def test_overdue_beyond_max_lateness_is_expired(db, run_once, job, caplog):
    caplog.set_level(logging.INFO)
    db.add_carded_user()
    campaign = add_campaign(db, job, db.now() - 600)
    assert run_once(max_lateness_seconds=60) == 0
    assert db.queue_rows() == []
    assert db.query("SELECT * FROM message_promotion") == []
    assert not sent(db, job, campaign)
    assert db.run(job, campaign)["state"] == "expired"
    assert len(warnings_about(caplog, "expired")) == 1

    caplog.clear()
    assert run_once(max_lateness_seconds=60) == 0
    assert db.queue_rows() == []
    assert not sent(db, job, campaign)
    assert db.run(job, campaign)["state"] == "expired"
    assert warnings_about(caplog, "expired") == []


@pytest.mark.parametrize("job", JOBS)
def test_overdue_within_max_lateness_is_sent(db, run_once, job):
    user = db.add_carded_user()
    campaign = add_campaign(db, job, db.now() - 30)
    assert run_once(max_lateness_seconds=60) == 0
    assert db.recipients() == [user]
    assert sent(db, job, campaign)
    assert db.run(job, campaign)["state"] == "done"


@pytest.mark.parametrize("job", JOBS)
def test_max_lateness_zero_means_no_limit(db, run_once, job):
    user = db.add_carded_user()
    campaign = add_campaign(db, job, db.now() - 30 * DAY)
    assert run_once(max_lateness_seconds=0) == 0
    assert db.recipients() == [user]
    assert sent(db, job, campaign)


def test_future_campaign_is_not_expired_by_max_lateness(db, run_once):
    user = db.add_carded_user()
    news = db.add_news(push_time=db.now() + 100)
    assert run_once(max_lateness_seconds=60) == 0
    assert db.recipients() == [user]
    assert db.run("news", news)["state"] == "done"


# ---------------------------------------------------------------- empty targeting

EMPTY_TARGETING = [("news", dict(region="")), ("news", dict(industry="")),
                   ("news", dict(func="")), ("news", dict(region=" , ，  ")),
                   ("promotion", dict(region="")), ("promotion", dict(industry="，")),
                   ("promotion", dict(func="")), ("activity", dict(region="")),
                   ("activity", dict(industry="")), ("activity", dict(func=" ,"))]


@pytest.mark.parametrize("job,values", EMPTY_TARGETING,
                         ids=lambda v: v if isinstance(v, str)
                         else "%s=%r" % next(iter(v.items())))
def test_empty_targeting_is_skipped_and_logged_once(db, run_once, job, values, caplog):
    caplog.set_level(logging.INFO)
    db.add_carded_user(email="e@x.cn", mobile="13800000000")
    campaign = add_campaign(db, job, **values)
    before = db.query("SELECT * FROM `%s` WHERE id=%%s" % {
        "news": "sns_qa_push_setting", "promotion": "sys_user_promotion",
        "activity": "operation_activity"}[job], [campaign])
    assert run_once() == 0
    assert run_once() == 0
    assert db.queue_rows() == []
    assert db.query("SELECT * FROM message_promotion") == []
    assert db.run(job, campaign)["state"] == "skipped"
    assert db.query("SELECT * FROM `%s` WHERE id=%%s" % {
        "news": "sns_qa_push_setting", "promotion": "sys_user_promotion",
        "activity": "operation_activity"}[job], [campaign]) == before
    field = next(iter(values))
    skipped = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(skipped) == 1, [r.getMessage() for r in skipped]
    assert skipped[0].levelno == logging.WARNING
    assert field in skipped[0].getMessage()


def test_empty_targeting_never_means_everyone(db, run_once):
    db.add_carded_user(city="C1")
    db.add_carded_user(city="C3", industry="I21", func="F9")
    news = db.add_news(region="", industry="", func="")
    assert run_once() == 0
    assert db.queue_rows() == []
    assert db.run("news", news)["state"] == "skipped"
    assert not sent(db, "news", news)
