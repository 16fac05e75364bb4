"""`status --check`'s verdict (status.check) from hand-built reports. No database.

The instance is the lease's holder (mg_handling/lock.py): it always names a pid and a host."""
from datetime import datetime

import pytest

from mg_handling import status

SINCE = datetime(2026, 1, 2, 3, 4, 5)
HELD = {"lock_name": "mh_lock_业务", "held": True, "epoch": 3, "pid": 4242, "host": "主机-1",
        "since": SINCE, "standby": []}
FREE = dict(HELD, held=False)
HOLDER = "pid 4242 on 主机-1 holds the lock since 2026-01-02 03:04:05"


def entry(job, campaign_id, state, problem=None):
    return {"job": job, "campaign_id": campaign_id, "state": state, "problem": problem}


def verdict(instance, *entries, hours=24):
    return status.check({"instance": instance, "campaigns": list(entries), "hours": hours})


def test_all_well_counts_the_campaigns_and_names_the_holder():
    result = verdict(HELD, entry("news", 1, "running"), entry("news", 2, "due"),
                     entry("activity", 3, "scheduled"), entry("promotion", 4, "retry"),
                     entry("news", 5, "done"), entry("news", 6, "done"),
                     entry("activity", 7, "failed"), hours=6)
    assert result == {"status": "OK", "exit_code": 0, "summary":
                      "OK: pid 4242 on 主机-1 holds the lock since 2026-01-02 03:04:05; "
                      "1 running, 3 due or scheduled, 2 done in 6 h"}


def test_nothing_at_all_is_ok():
    assert verdict(HELD)["summary"].endswith("0 running, 0 due or scheduled, 0 done in 24 h")


def test_no_lock_holder_is_critical_even_with_nothing_to_do():
    assert verdict(FREE) == {"status": "CRITICAL", "exit_code": 2,
                             "summary": "CRITICAL: no instance holds the lock mh_lock_业务"}


def test_a_stuck_run_is_critical_and_names_the_holder():
    result = verdict(HELD, entry("news", 5, "running", "stuck"), entry("news", 6, "running"))
    assert result["exit_code"] == 2
    assert result["summary"] == ("CRITICAL: 1 stuck (news 5); pid 4242 on 主机-1 holds the "
                                 "lock since 2026-01-02 03:04:05")


def test_overdue_and_unsent_are_warnings_in_a_fixed_order():
    result = verdict(HELD, entry("news", 1, "failed", "failed"),
                     entry("activity", 2, "expired", "expired"),
                     entry("promotion", 3, "due", "overdue"),
                     entry("news", 4, "skipped", "skipped"),
                     entry("activity", 5, "failed", "failed"))
    assert result == {"status": "WARNING", "exit_code": 1, "summary":
                      "WARNING: 1 overdue (promotion 3); 2 failed (news 1, activity 5); "
                      "1 skipped (news 4); 1 expired (activity 2); "
                      "%s" % HOLDER}


def test_critical_comes_before_warnings_and_wins():
    result = verdict(FREE, entry("news", 1, "due", "overdue"),
                     entry("news", 2, "running", "stuck"))
    assert result["status"] == "CRITICAL"
    assert result["summary"] == ("CRITICAL: no instance holds the lock mh_lock_业务; "
                                 "1 stuck (news 2); 1 overdue (news 1)")


@pytest.mark.parametrize("count,shown", [
    (5, "5 expired (news 1, news 2, news 3, news 4, news 5)"),
    (7, "7 expired (news 1, news 2, news 3, news 4, news 5, ...)"),
])
def test_at_most_five_campaigns_are_named_per_problem(count, shown):
    entries = [entry("news", n, "expired", "expired") for n in range(1, count + 1)]
    assert verdict(HELD, *entries)["summary"] == (
        "WARNING: %s; %s" % (shown, HOLDER))
