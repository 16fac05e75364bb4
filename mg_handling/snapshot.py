"""What the status page and /healthz show (issue 12), read from the database.

One read-only transaction of the page's own store per request: the server's
clock, the instance lock's holder, this instance's job health, the running runs
and the runs settled in the last RECENT_HOURS. Nothing is written.
"""
from __future__ import annotations

from typing import List, Optional

from mg_handling.errors import CampaignError
from mg_handling.health import job_view
from mg_handling.jobs import JOBS, JOBS_BY_NAME
from mg_handling.lock import STANDBY_SEEN_SECONDS, InstanceLock
from mg_handling.messages import Delivery
from mg_handling.metrics import Metrics
from mg_handling.states import ENDED, RunState
from mg_handling.store import (
    COMMAND_LOCK_WAIT,
    InstanceKey,
    Lease,
    Limits,
    Run,
    StandbyInstance,
    Store,
    StoreTransaction,
)
from mg_handling.views import (
    InstanceView,
    JobView,
    PageSnapshot,
    RecentCampaign,
    RunningCampaign,
)
from mg_handling.web import StatusServer
from util.config import Config
from util.db import Outage, TransientError

RECENT_HOURS = 24


class PageSource:
    """The snapshot callable of web.StatusServer for this process."""

    def __init__(self, store: Store, lock: InstanceLock, key: InstanceKey, me: str) -> None:
        self.store = store
        self.lock = lock
        self.key = key
        self.me = me

    def __call__(self) -> PageSnapshot:
        with self.store.transaction() as tx:
            clock = tx.clock()
            lease = tx.lease(self.key.lock_name)
            standby = tx.standby_instances(self.key.lock_name, STANDBY_SEEN_SECONDS)
            reported = {row.job: job_view(row) for row in tx.job_health(self.key)}
            reports = tx.runs_for_status(RECENT_HOURS)
            running = [RunningCampaign(r.run.job, r.run.campaign_id, _title(tx, r.run),
                                       r.run.started_at or r.run.created_at or clock.now,
                                       r.run.recipients, r.run.written)
                       for r in reports if r.run.state == RunState.RUNNING]
            recent = [RecentCampaign(r.run.job, r.run.campaign_id, _title(tx, r.run),
                                     r.run.state.value, r.run.finished_at,
                                     r.run.recipients if r.run.started_at else None,
                                     r.run.last_error or None)
                      for r in reports if r.recent and r.run.state in ENDED
                      and r.run.finished_at is not None]
        jobs = [reported.get(job.name) or JobView(job.name, None, None, "starting")
                for job in JOBS]
        return PageSnapshot(clock.now, self.key.poll_interval,
                            self._instance(lease, standby), jobs, running, recent,
                            RECENT_HOURS)

    def _instance(self, lease: Optional[Lease], standby: List[StandbyInstance]
                  ) -> InstanceView:
        live = lease is not None and lease.live
        return InstanceView(
            self.me, self.store.config.describe(),
            live and lease is not None and lease.holder == self.lock.holder,
            "%s pid %d" % (lease.host, lease.pid) if live and lease else None,
            lease.acquired_at if live and lease else None,
            tuple("%s pid %d" % (each.host, each.pid) for each in standby))


def _title(tx: StoreTransaction, run: Run) -> str:
    """The title its rows get: from the run's message, else from its campaign row."""
    if run.message:
        return Delivery.from_json(run.message).title
    job = JOBS_BY_NAME.get(run.job)
    try:
        campaign = tx.campaign(run.job, run.campaign_id) if job else None
    except TransientError:  # its table is locked by another session: no title then
        campaign = None
    if job is None or campaign is None:
        return ""
    try:
        return job.delivery(campaign.columns).title
    except CampaignError:
        return ""


class StatusPage:
    """The status page, /healthz and /metrics of this process on [main] metrics_port,
    read through a store of their own (two connections), so that a page being loaded
    never waits for a job's connection, nor a job for the page's."""

    def __init__(self, config: Config, lock: InstanceLock, key: InstanceKey, me: str,
                 metrics: Metrics, outage: Outage) -> None:
        # A table locked by another session fails the page's statement in 5 s
        # (COMMAND_LOCK_WAIT) instead of holding the page.
        self.store = Store(config.db, max_connections=2, outage=outage,
                           limits=Limits(config.freeze_timeout, lock_wait=COMMAND_LOCK_WAIT))
        try:
            self.server = StatusServer(PageSource(self.store, lock, key, me), metrics.registry,
                                       config.metrics_port, config.metrics_address)
        except OSError:
            self.store.close()
            raise

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        self.store.close()
