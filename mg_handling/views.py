"""What the status page, /healthz, `status` and systemd's STATUS= line show: plain
data, built by mg_handling/snapshot.py and mg_handling/health.py, rendered by
mg_handling/web.py. No I/O here, so the one-shot mode can report through
mg_handling/health.py without loading the HTTP server or prometheus_client."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Sequence


@dataclass(frozen=True)
class InstanceView:
    """This process and the instance lock. Names read like 'host-a pid 1234'."""
    me: str
    database: str  # Config.db.describe(): never the password
    holds_lock: bool
    holder: Optional[str]  # who holds the lock now; None: nobody
    holder_since: Optional[datetime]
    standby: Sequence[str] = ()  # other instances waiting for the lock


@dataclass(frozen=True)
class JobView:
    """One job thread's health, as recorded by the job itself."""
    name: str
    poll_started: Optional[datetime]
    poll_ended: Optional[datetime]  # end of the last completed poll
    doing: str  # "idle", "claiming news 42", "writing chunk 17 of 84"
    last_error: Optional[str] = None
    last_error_at: Optional[datetime] = None


@dataclass(frozen=True)
class RunningCampaign:
    job: str
    campaign_id: int
    title: str
    claimed: datetime
    total: Optional[int]  # None while the audience is being frozen
    written: int


@dataclass(frozen=True)
class RecentCampaign:
    job: str
    campaign_id: int
    title: str
    outcome: str  # done, failed, skipped, expired, cancelled
    finished: datetime
    recipients: Optional[int]
    reason: Optional[str] = None  # why it failed, was skipped or expired


@dataclass(frozen=True)
class PageSnapshot:
    """Everything the page shows; `now` is the database's clock, like the times."""
    now: datetime
    poll_interval: float
    instance: InstanceView
    jobs: Sequence[JobView]
    running: Sequence[RunningCampaign] = ()
    recent: Sequence[RecentCampaign] = ()
    recent_hours: int = 24
