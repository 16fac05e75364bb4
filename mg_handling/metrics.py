"""The daemon's Prometheus metrics (issue 12), in a registry of their own.

The engine reports what happens through the methods of `Metrics`; web.py
serves `Metrics.registry` at /metrics. Every series a job can have exists from
the start at 0, so that `increase()` in deploy/prometheus-alerts.yml sees the
first failed campaign (a series born at 1 has no increase).

Counters and histograms start again from 0 when the daemon restarts: that is
Prometheus' convention (rate() and increase() handle the reset), not a loss.
"""
from __future__ import annotations

import time
from typing import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mg_handling.states import ENDED, RunState, sql_values

PREFIX = "message_handling_"
# The tables a fan-out writes (the `table` label of rows_written_total).
TABLES = ("message_queue", "message_promotion")
# The `outcome` label of campaigns_total.
OUTCOMES = sql_values(ENDED)
CAMPAIGN_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
POLL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    """The metrics of one daemon process; `jobs` are the job names."""

    def __init__(self, jobs: Sequence[str], poll_interval: float) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._rows = Counter(PREFIX + "rows_written", "Recipient rows committed.",
                             ["job", "table"], registry=self.registry)
        self._campaigns = Counter(PREFIX + "campaigns", "Campaigns settled, by outcome.",
                                  ["job", "outcome"], registry=self.registry)
        self._campaign_seconds = Histogram(
            PREFIX + "campaign_seconds", "Seconds from a campaign's claim to its outcome.",
            ["job"], buckets=CAMPAIGN_BUCKETS, registry=self.registry)
        self._poll_seconds = Histogram(PREFIX + "poll_seconds", "Seconds one poll took.",
                                       ["job"], buckets=POLL_BUCKETS, registry=self.registry)
        self._last_poll = Gauge(
            PREFIX + "last_poll_timestamp_seconds",
            "Unix time the job last completed a poll or committed a chunk (the daemon's "
            "start until it has).",
            ["job"], registry=self.registry)
        self._audience = Gauge(
            PREFIX + "running_audience_rows",
            "Recipients of the fan-out in progress: total, and written so far (0 when idle).",
            ["job", "state"], registry=self.registry)
        self._lock_held = Gauge(PREFIX + "lock_held",
                                "1 while this process holds the instance lock.",
                                registry=self.registry)
        self._database_up = Gauge(PREFIX + "database_up",
                                  "1 while the database answers, 0 during an outage.",
                                  registry=self.registry)
        Gauge(PREFIX + "poll_interval_seconds", "poll_interval of db.conf (for the alerts).",
              registry=self.registry).set(poll_interval)
        self._create_series(jobs)

    def _create_series(self, jobs: Sequence[str]) -> None:
        started = time.time()
        for job in jobs:
            for table in TABLES:
                self._rows.labels(job=job, table=table)
            for outcome in OUTCOMES:
                self._campaigns.labels(job=job, outcome=outcome)
            self._campaign_seconds.labels(job=job)
            self._poll_seconds.labels(job=job)
            # From the start on, so that a job that never completes a poll shows as stuck.
            self._last_poll.labels(job=job).set(started)
            self.audience_idle(job)

    def rows_written(self, job: str, table: str, rows: int) -> None:
        """A chunk of `rows` recipients was committed to `table`."""
        if table not in TABLES:
            raise ValueError("unknown table %r (expected one of %s)" % (table, ", ".join(TABLES)))
        self._rows.labels(job=job, table=table).inc(rows)

    def campaign_finished(self, job: str, outcome: RunState, seconds: float) -> None:
        """The poll that took a campaign left it in `outcome`, `seconds` after its
        claim: counted when the run ended; the job's fan-out, if any, is over."""
        if outcome in ENDED:
            self._campaigns.labels(job=job, outcome=outcome.value).inc()
            self._campaign_seconds.labels(job=job).observe(seconds)
        self.audience_idle(job)

    def poll_finished(self, job: str, seconds: float) -> None:
        """A poll of the job's table completed (successfully) and took `seconds`."""
        self._poll_seconds.labels(job=job).observe(seconds)
        self._last_poll.labels(job=job).set_to_current_time()

    def audience_progress(self, job: str, total: int, written: int) -> None:
        """The job's fan-out in progress has written `written` of `total` recipients."""
        self._audience.labels(job=job, state="total").set(total)
        self._audience.labels(job=job, state="written").set(written)

    def audience_idle(self, job: str) -> None:
        """The job has no fan-out in progress (also after a retry or a lost lock)."""
        self.audience_progress(job, 0, 0)

    def set_lock_held(self, held: bool) -> None:
        self._lock_held.set(1 if held else 0)

    def set_database_up(self, up: bool) -> None:
        self._database_up.set(1 if up else 0)

    def job_progressed(self, job: str) -> None:
        """The job committed a chunk: a long fan-out is progress, as a poll's end is."""
        self._last_poll.labels(job=job).set_to_current_time()
