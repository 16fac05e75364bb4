"""What each job thread is doing (issue 12), reported by the thread itself.

`Watch` receives the reports of the job threads (a poll started or ended, a
campaign claimed, a chunk committed, an error) and keeps them three ways:
- in memory, for systemd's watchdog and STATUS= line (mg_handling/supervisor.py),
  which must not depend on the database answering;
- in mh_job_health through the store, each report a small transaction of its own
  (never inside a claim or a chunk), for `status` and the status page; a poll's
  start is written at most every WRITE_SECONDS (with poll_interval 0.2 s that
  spares the database 30 writes a second) while the row says idle, its end
  always when its start was, so that a row never says "polling" for an idle job
  nor "backing off" for a polling one;
- in the Prometheus metrics (mg_handling/metrics.py) of the long-running mode.
A committed chunk counts like the end of a poll (poll_ended): a job is stuck
when it makes no progress, and a fan-out of an hour makes progress all along.
A failed write is logged at DEBUG and dropped: the database being down is
reported by util.db.Outage, and the next report writes the row again.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

from mg_handling.job import Job
from mg_handling.states import RunState
from mg_handling.store import HealthReport, InstanceKey, JobHealth, Run, Store
from mg_handling.views import JobView, RunningCampaign
from util.db import DatabaseError

if TYPE_CHECKING:  # prometheus_client is loaded by the long-running mode only
    from mg_handling.metrics import Metrics

logger = logging.getLogger(__name__)

WRITE_SECONDS = 2.0
IDLE = "idle"
WAITING_FOR_LOCK = "waiting for the instance lock"


@dataclass
class _JobState:
    """The in-memory view of one job (local clock)."""
    doing: str = "starting"
    poll_started: Optional[datetime] = None
    poll_ended: Optional[datetime] = None
    last_error: Optional[str] = None
    last_error_at: Optional[datetime] = None
    running: Optional[RunningCampaign] = None
    poll_began: float = 0.0  # monotonic
    claim_began: Optional[float] = None  # monotonic, while claiming (freezing an audience)
    written_doing: str = ""  # what mh_job_health says now
    written_at: float = -math.inf  # monotonic time of the last write


def job_view(row: JobHealth) -> JobView:
    return JobView(row.job, row.poll_started, row.poll_ended, row.doing, row.last_error,
                   row.last_error_at)


class Watch:
    """The reports of the job threads; `metrics`, `store` and `key` None: kept in
    memory only (the one-shot mode)."""

    def __init__(self, jobs: Sequence[str], metrics: Optional[Metrics] = None,
                 store: Optional[Store] = None, key: Optional[InstanceKey] = None) -> None:
        self.metrics = metrics
        self._store = store
        self._key = key
        self._lock = threading.Lock()
        self._jobs: Dict[str, _JobState] = {job: _JobState() for job in jobs}

    # ---------------------------------------------------------------- reports
    def poll_started(self, job: Job) -> None:
        state = self._jobs[job.name]
        state.poll_began = time.monotonic()
        state.poll_started = datetime.now()
        # Throttled only while the row says idle: after an error it must say polling again.
        self._report(job.name, HealthReport("polling %s" % job.table, started=True),
                     force=state.written_doing != IDLE)

    def poll_finished(self, job: Job) -> None:
        state = self._jobs[job.name]
        if self.metrics:
            self.metrics.poll_finished(job.name, time.monotonic() - state.poll_began)
        self._ended(job.name, IDLE)

    def waiting_for_lock(self, job: Job) -> None:
        """The loop is alive but may not write: counts as a completed poll (a standby
        instance is not stuck; /healthz says it does not hold the lock)."""
        self._ended(job.name, WAITING_FOR_LOCK)

    def poll_failed(self, job: Job, error: BaseException) -> None:
        state = self._jobs[job.name]
        state.last_error = "%s: %s" % (type(error).__name__, error) if str(error) \
            else repr(error)
        state.last_error_at = datetime.now()
        state.running = state.claim_began = None
        if self.metrics:
            self.metrics.audience_idle(job.name)
        self._report(job.name, HealthReport("backing off after an error",
                                            error=state.last_error), force=True)

    def claiming(self, job: Job, campaign_id: int) -> None:
        self._jobs[job.name].claim_began = time.monotonic()
        self._report(job.name, HealthReport("claiming %s %s" % (job.name, campaign_id)),
                     force=True)

    def chunk_written(self, job: Job, run: Run, rows: int, chunk_size: int) -> None:
        """A chunk of `rows` committed; `run` as it left it."""
        if self.metrics:
            self.metrics.rows_written(job.name, run.target, rows)
            self.metrics.audience_progress(job.name, run.recipients, run.written)
            self.metrics.job_progressed(job.name)
        state = self._jobs[job.name]
        state.running = RunningCampaign(job.name, run.campaign_id, "",
                                        run.started_at or datetime.now(), run.recipients,
                                        run.written)
        state.claim_began = None
        state.poll_ended = datetime.now()
        chunks = max(1, math.ceil(run.recipients / chunk_size))
        next_chunk = min(chunks, run.written // chunk_size + 1)
        self._report(job.name, HealthReport("writing chunk %d of %d of %s %s" % (
            next_chunk, chunks, job.name, run.campaign_id), ended=True))

    def campaign_finished(self, job: Job, outcome: RunState, seconds: float) -> None:
        """The poll that took the campaign left it in `outcome` `seconds` later."""
        self._jobs[job.name].running = self._jobs[job.name].claim_began = None
        if self.metrics:
            self.metrics.campaign_finished(job.name, outcome, seconds)

    # ---------------------------------------------------------------- views
    def views(self) -> List[JobView]:
        """Each job as the thread last reported it (local clock)."""
        with self._lock:
            return [JobView(name, state.poll_started, state.poll_ended, state.doing,
                            state.last_error, state.last_error_at)
                    for name, state in self._jobs.items()]

    def claiming_for(self, job: str) -> Optional[float]:
        """Seconds the job has been claiming a campaign (freezing its audience), or None."""
        began = self._jobs[job].claim_began
        return time.monotonic() - began if began is not None else None

    def running(self) -> List[RunningCampaign]:
        with self._lock:
            return [state.running for state in self._jobs.values() if state.running]

    # ---------------------------------------------------------------- writing
    def _ended(self, job: str, doing: str) -> None:
        state = self._jobs[job]
        state.poll_ended = datetime.now()
        state.claim_began = None
        # The end of a poll whose start (or claim, or chunk) is written is written too.
        self._report(job, HealthReport(doing, ended=True),
                     force=state.written_doing not in (doing, ""))

    def _report(self, job: str, report: HealthReport, force: bool = False) -> None:
        state = self._jobs[job]
        with self._lock:
            state.doing = report.doing
        now = time.monotonic()
        if self._store is None or self._key is None:
            return
        if not force and now - state.written_at < WRITE_SECONDS:
            return
        state.written_at = now
        try:
            self._store.record_job_health(self._key, job, report)
        except DatabaseError as error:
            logger.debug("%s: job health not recorded: %s", job, error)
            return
        state.written_doing = report.doing
