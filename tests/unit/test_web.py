"""mg_handling.web's pure parts: health rules and the rendered HTML. No database,
no server (tests/observe/ opens the page in a real browser)."""
from __future__ import annotations

from dataclasses import replace

from page_sample import HOSTILE_TITLE, NOW, ago, sample_snapshot, stuck_snapshot

from mg_handling.views import JobView
from mg_handling.web import health, job_problem, render_page, status_line, stuck_limit


def test_stuck_limit_is_three_polls_but_at_least_a_minute() -> None:
    assert stuck_limit(8) == 60
    assert stuck_limit(30) == 90


def test_a_job_is_stuck_past_the_limit_and_says_what_it_was_doing() -> None:
    job = JobView("news", poll_started=ago(100), poll_ended=ago(61), doing="writing chunk 3 of 9")
    assert job_problem(job, NOW, 8) == (
        "job news has not completed a poll for 1 min 01 s (doing: writing chunk 3 of 9)")
    assert job_problem(replace(job, poll_ended=ago(59)), NOW, 8) is None
    # Before its first poll ends, the time counts from that poll's start.
    first = replace(job, poll_ended=None)
    assert job_problem(replace(first, poll_started=ago(59)), NOW, 8) is None
    assert job_problem(first, NOW, 8) == (
        "job news has not completed a poll for 1 min 40 s (doing: writing chunk 3 of 9)")
    assert job_problem(replace(first, poll_started=None), NOW, 8) == (
        "job news has not started polling (doing: writing chunk 3 of 9)")


def test_healthy_only_with_the_lock_and_every_job_polling() -> None:
    assert health(sample_snapshot()) == (True, "holds the lock; 3 jobs polling")
    ok, reason = health(stuck_snapshot())
    assert not ok and reason.startswith("job news has not completed a poll for 10 min 00 s")


def test_a_standby_instance_is_not_healthy() -> None:
    snapshot = sample_snapshot()
    standby = replace(snapshot.instance, holds_lock=False, holder="push-b pid 3131")
    ok, reason = health(replace(snapshot, instance=standby))
    assert not ok
    assert reason == ("this instance does not hold the lock (push-b pid 3131 does, "
                      "since 2026-11-29 20:57:25)")
    nobody = replace(standby, holder=None, holder_since=None)
    assert health(replace(snapshot, instance=nobody)) == (False, "no instance holds the lock")


def test_titles_are_escaped() -> None:
    page = render_page(sample_snapshot())
    assert "<script>" not in page
    assert "春节&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;会员促销 🎉" in page
    assert "新品上市通知 &lt;b&gt;限时&lt;/b&gt;" in page
    assert HOSTILE_TITLE not in page


def test_progress_bar_and_figures() -> None:
    page = render_page(sample_snapshot())
    assert 'aria-valuemax="838308" aria-valuenow="120000"' in page
    assert 'style="width: 14.3%"' in page
    # 120000 rows in the 40 s since the claim: 3,000 rows/s, 718,308 left: 3 min 59 s.
    assert "<strong>120,000</strong> / 838,308 rows (14.3 %) &middot; 3,000 rows/s " \
           "&middot; ETA 3 min 59 s" in page
    assert "freezing the audience" in page  # promotion 7: no total yet


def test_the_page_refreshes_itself_and_loads_nothing() -> None:
    page = render_page(sample_snapshot())
    assert '<meta http-equiv="refresh" content="5">' in page
    for outside in ("<script", "<link", "<img", "src=", "http://", "https://"):
        assert outside not in page


def test_an_unhealthy_page_says_why() -> None:
    page = render_page(stuck_snapshot())
    assert "unhealthy" in page
    assert "job news has not completed a poll for 10 min 00 s" in page
    assert '<span class="badge bad">stuck</span>' in page


def test_status_line_for_systemd() -> None:
    snapshot = sample_snapshot()
    assert status_line(snapshot) == ("sending news 42: 120000/838308 rows; "
                                     "sending promotion 7: freezing the audience")
    assert status_line(replace(snapshot, running=())) == "idle"
    standby = replace(snapshot.instance, holds_lock=False, holder="push-b pid 3131")
    assert status_line(replace(snapshot, instance=standby)).startswith(
        "standby: this instance does not hold the lock (push-b pid 3131 does")
