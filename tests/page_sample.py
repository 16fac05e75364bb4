"""A status page snapshot like the daemon's in the middle of a fan-out, for the
tests of mg_handling/web.py (and the screenshot in docs/)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from mg_handling.views import InstanceView, JobView, PageSnapshot, RecentCampaign, RunningCampaign

NOW = datetime(2026, 11, 29, 23, 59, 30)
# A title an operator could type: Chinese, an emoji, and markup that must show as text.
HOSTILE_TITLE = "春节<script>alert('x')</script>会员促销 🎉"
WRITTEN, TOTAL = 120000, 838308  # 14.3 %


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def sample_snapshot() -> PageSnapshot:
    instance = InstanceView(me="push-a pid 4242", database="oradt@db-prd:3306/oradt_cloud_prd",
                            holds_lock=True, holder="push-a pid 4242",
                            holder_since=ago(3 * 3600 + 125), standby=("push-b pid 3131",))
    jobs = (
        JobView("news", poll_started=ago(40), poll_ended=ago(4),
                doing="writing chunk 17 of 84 (news 42)"),
        JobView("promotion", poll_started=ago(3), poll_ended=ago(2), doing="freezing audience"),
        JobView("activity", poll_started=ago(6), poll_ended=ago(6), doing="idle",
                last_error="(2013, 'Lost connection to MySQL server during query')",
                last_error_at=ago(2 * 3600)),
    )
    running = (
        RunningCampaign("news", 42, HOSTILE_TITLE, claimed=ago(40), total=TOTAL,
                        written=WRITTEN),
        RunningCampaign("promotion", 7, "双十一会员专享券", claimed=ago(3), total=None,
                        written=0),
    )
    recent = (
        RecentCampaign("news", 41, "新品上市通知 <b>限时</b>", "done", ago(1800), 838308),
        RecentCampaign("promotion", 6, "周末满减活动", "failed", ago(5400), None,
                       "audience query failed: (1054, \"Unknown column 'vip_level' in "
                       "'where clause'\")"),
        RecentCampaign("activity", 19, "线下沙龙报名提醒", "expired", ago(20000), None,
                       "overdue by 2 h 10 min (max_lateness_seconds = 3600)"),
        RecentCampaign("news", 40, "系统维护公告", "done", ago(40000), 1250),
    )
    return PageSnapshot(now=NOW, poll_interval=8, instance=instance, jobs=jobs,
                        running=running, recent=recent)


def stuck_snapshot() -> PageSnapshot:
    """The same, with the news job stuck on a statement for ten minutes."""
    snapshot = sample_snapshot()
    news = replace(snapshot.jobs[0], poll_started=ago(640), poll_ended=ago(600))
    return replace(snapshot, jobs=(news,) + tuple(snapshot.jobs[1:]))
