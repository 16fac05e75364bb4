"""The shared fan-out engine: from a due campaign row to one row per recipient.

A campaign goes through three kinds of transaction:
1. claim: record it in mh_campaign_run, then either settle it (failed,
   skipped, expired) or freeze its audience into mh_audience and mark it
   running, all at once;
2. chunk: write the next `batch_size` recipients of the audience and move the
   resume cursor, in one transaction that first locks the run row and checks
   that the cursor is where it was and that this instance holds the lock;
3. the last chunk also marks the legacy row sent.
An operator may cancel a run between two chunks (its state is then no longer
`running`, which the next chunk sees under the run row lock) or ask for a
failed, expired, skipped or cancelled one to be retried (state `retry`).
A crash at any instant loses at most an uncommitted chunk, which is written
again from the committed cursor: every recipient gets exactly one row.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

from mg_handling.errors import CampaignError
from mg_handling.messages import MESSAGE_PROMOTION, MESSAGE_QUEUE, Delivery
from mg_handling.queries import Q
from mg_handling.targeting import Targeting, fill_audience
from util.config import Config
from util.db import (Database, DatabaseUnavailable, QueryError, Transaction,
                     TransientError)
from util.lock import InstanceLock, LockLost

logger = logging.getLogger(__name__)

WRITES = {MESSAGE_QUEUE: Q.write_message_queue, MESSAGE_PROMOTION: Q.write_message_promotion}
SETTLED = ("failed", "skipped", "expired")
FINAL = ("done", "cancelled")
RETRY = "retry"
PROGRESS_SECONDS = 5.0
PRUNE_ROWS = 10000
_ROW_KEYS_NOT_CAMPAIGN = ("run_id", "run_state", "run_fingerprint", "db_now")


class Job(ABC):
    """One campaign table: how to find its due rows, build, and mark them sent."""
    name: str
    label: str
    table: str
    send_time_field: str
    due_query: str
    mark_sent_query: str

    @abstractmethod
    def delivery(self, row: Dict[str, Any]) -> Delivery:
        """What every recipient gets; raises CampaignError for bad input."""

    def describe(self, campaign_id: Any) -> str:
        return "%s campaign %s (%s id %s)" % (self.name, campaign_id, self.table, campaign_id)


@dataclass(frozen=True)
class Settings:
    push_ahead_seconds: int
    batch_size: int
    max_lateness_seconds: int
    max_rows_per_second: int = 0  # 0: unlimited

    @classmethod
    def from_config(cls, config: Config) -> "Settings":
        return cls(config.push_ahead_seconds, config.batch_size, config.max_lateness_seconds,
                   config.max_rows_per_second)

    @property
    def chunk_size(self) -> int:
        """Throttled, a chunk holds at most one second of writing."""
        if self.max_rows_per_second:
            return min(self.batch_size, self.max_rows_per_second)
        return self.batch_size


@dataclass(frozen=True)
class Plan:
    targeting: Targeting
    delivery: Delivery


@dataclass(frozen=True)
class Settle:
    """A campaign that will not be sent: failed, skipped or expired, and why."""
    state: str
    reason: str


@dataclass
class PollResult:
    failed: List[int] = field(default_factory=list)
    outcomes: Dict[str, int] = field(default_factory=dict)  # e.g. {"done": 2}

    def summary(self) -> str:
        return ", ".join("%d %s" % (count, outcome)
                         for outcome, count in sorted(self.outcomes.items()))


def fingerprint(row: Dict[str, Any]) -> str:
    """A digest of the campaign's own columns: a settled campaign is looked at
    again only when its row changed."""
    campaign = {key: value for key, value in row.items() if key not in _ROW_KEYS_NOT_CAMPAIGN}
    text = json.dumps(campaign, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def decide(job: Job, row: Dict[str, Any], settings: Settings, retry: bool = False
           ) -> Union[Plan, Settle]:
    """What to do with a due campaign row: its plan, or why it is not sent."""
    try:
        targeting = Targeting.from_row(row)
        send_time = row[job.send_time_field]
        if send_time <= 0:
            raise CampaignError(job.send_time_field,
                                "must be a positive Unix timestamp, not %r" % send_time)
        delivery = job.delivery(row)
    except CampaignError as error:
        return Settle("failed", str(error))
    empty = targeting.empty_dimensions()
    if empty:
        return Settle("skipped", "%s empty: an empty target list never means everyone"
                      % " and ".join(empty))
    late = row["db_now"] - send_time
    limit = settings.max_lateness_seconds
    if limit and late > limit and not retry:  # an operator's retry overrides the limit
        return Settle("expired", "%d s overdue, more than max_lateness_seconds %d"
                      % (late, limit))
    return Plan(targeting, delivery)


class Progress:
    """The rows written by one `_write`: a progress line every few seconds,
    and the pause that keeps writing under max_rows_per_second."""

    def __init__(self, job: Job, max_rows_per_second: int) -> None:
        self.job = job
        self.max_rows_per_second = max_rows_per_second
        self.rows = 0
        self.started = self.last_logged = time.monotonic()

    def add(self, run: Dict[str, Any], rows: int) -> float:
        """Count a committed chunk; returns how long to wait before the next one."""
        self.rows += rows
        now = time.monotonic()
        elapsed = now - self.started
        if now - self.last_logged >= PROGRESS_SECONDS:
            self.last_logged = now
            self._log(run, self.rows / elapsed if elapsed > 0 else 0.0)
        if not self.max_rows_per_second:
            return 0.0
        return max(0.0, self.rows / self.max_rows_per_second - elapsed)

    def _log(self, run: Dict[str, Any], rate: float) -> None:
        left = run["recipients"] - run["written"]
        eta = "%.0f s" % (left / rate) if rate > 0 else "unknown"
        logger.info("%s: %d of %d rows written (%.1f %%), %.0f rows/s, ETA %s",
                    self.job.describe(run["campaign_id"]), run["written"], run["recipients"],
                    100.0 * run["written"] / max(run["recipients"], 1), rate, eta)


class FanOut:
    """Runs the due campaigns of a job, one after the other, chunk by chunk."""

    def __init__(self, db: Database, lock: InstanceLock, settings: Settings,
                 stop: threading.Event) -> None:
        self.db = db
        self.lock = lock
        self.settings = settings
        self.stop = stop

    def poll(self, job: Job) -> PollResult:
        """One poll: every due campaign of the job is settled or fully written,
        unless a stop is requested (then the current one resumes at next start)."""
        with self.db.transaction() as tx:
            rows = tx.all(job.due_query, {"ahead": self.settings.push_ahead_seconds})
        result = PollResult()
        for row in rows:
            if self.stop.is_set():
                break
            outcome = self._handle(job, row)
            if outcome:
                result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
            if outcome == "failed":
                result.failed.append(row["id"])
        return result

    def _handle(self, job: Job, row: Dict[str, Any]) -> Optional[str]:
        started = time.monotonic()
        try:
            if row["run_state"] == "running":
                return self._write(job, row["run_id"], started)
            digest = fingerprint(row)
            if row["run_state"] in SETTLED and row["run_fingerprint"] == digest:
                return None
            decision = decide(job, row, self.settings, retry=row["run_state"] == RETRY)
            run_id = self._claim(job, row, digest, decision)
            if run_id:
                return self._write(job, run_id, started)
            return decision.state if isinstance(decision, Settle) else None
        except (DatabaseUnavailable, TransientError, LockLost):
            raise
        except QueryError as error:
            return self._fail_late(job, row, "the database refused a statement: %s" % error)
        except Exception as error:  # a bug must fail this campaign, not the thread
            logger.exception("%s: unexpected error", job.describe(row["id"]))
            return self._fail_late(job, row, "internal error: %r" % error)

    def _claim(self, job: Job, row: Dict[str, Any], digest: str,
               decision: Union[Plan, Settle]) -> Optional[int]:
        """Record the decision; for a plan, freeze the audience. Returns the run
        to write, or None. Another instance may have got there first: the run
        row lock makes the second one see its result."""
        started = time.monotonic()
        with self.db.transaction() as tx:
            run = self._lock_run_of_campaign(tx, job, row["id"])
            if run["state"] == "running":
                return run["id"]
            if run["state"] in FINAL or (run["state"] in SETTLED
                                         and run["fingerprint"] == digest):
                return None
            if isinstance(decision, Settle):
                self._record(tx, run["id"], decision.state, digest, decision.reason)
            else:
                frozen = self._start(tx, run, digest, decision)
        if isinstance(decision, Settle):
            self._log_settled(job, row["id"], decision)
            return None
        if frozen:
            logger.info("%s: audience of %d recipients frozen (%s plan) in %.2f s",
                        job.describe(row["id"]), frozen[0], frozen[1],
                        time.monotonic() - started)
        return run["id"]

    def _lock_run_of_campaign(self, tx: Transaction, job: Job, campaign_id: int
                              ) -> Dict[str, Any]:
        """The campaign's run row, created if new and locked, by the lock holder only."""
        key = {"job": job.name, "campaign_id": campaign_id, "lock_name": self.lock.name}
        tx.execute(Q.ensure_run, key)
        run = tx.one(Q.lock_run_of_campaign, key)
        self.lock.check_holder(run["lock_holder"])
        return run

    @staticmethod
    def _record(tx: Transaction, run_id: int, state: str, digest: str, reason: str) -> None:
        tx.execute(Q.record_outcome, {"run_id": run_id, "state": state,
                                      "fingerprint": digest, "reason": reason[:1000]})

    def _start(self, tx: Transaction, run: Dict[str, Any], digest: str, plan: Plan
               ) -> Optional[Tuple[int, str]]:
        """Mark the run running; returns the audience size and plan when it was
        frozen now (not when a run that already wrote chunks resumes)."""
        params = {"run_id": run["id"], "fingerprint": digest, "target": plan.delivery.target,
                  "message": plan.delivery.to_json()}
        if run["written"]:
            tx.execute(Q.resume_run, params)
            return None
        params["recipients"], audience_plan = fill_audience(
            tx, run["id"], plan.delivery.audience, plan.targeting)
        params.update(tx.one(Q.audience_bounds, {"run_id": run["id"]}))
        tx.execute(Q.start_run, params)
        return params["recipients"], audience_plan

    def _log_settled(self, job: Job, campaign_id: Any, settle: Settle) -> None:
        if settle.state == "failed":
            logger.error("%s failed, not sent: %s", job.describe(campaign_id), settle.reason)
        else:
            logger.warning("%s %s, not sent: %s", job.describe(campaign_id), settle.state,
                           settle.reason)

    def _fail_late(self, job: Job, row: Dict[str, Any], reason: str) -> str:
        """A campaign that broke while being written: recorded failed, legacy row untouched."""
        with self.db.transaction() as tx:
            run = self._lock_run_of_campaign(tx, job, row["id"])
            self._record(tx, run["id"], "failed", fingerprint(row), reason)
        self._log_settled(job, row["id"], Settle("failed", reason))
        return "failed"

    def _write(self, job: Job, run_id: int, started: float) -> Optional[str]:
        """Write the run's remaining chunks; 'done' when the campaign is marked sent,
        'cancelled' when an operator cancelled it, None when stopped."""
        progress = Progress(job, self.settings.max_rows_per_second)
        while not self.stop.is_set():
            written, run = self._write_chunk(job, run_id)
            if run["state"] == "done":
                self._log_done(job, run, progress.rows + written, time.monotonic() - started)
                return "done"
            if run["state"] != "running":
                logger.warning("%s stopped: %s after %d of %d rows", job.describe(
                    run["campaign_id"]), run["state"], run["written"], run["recipients"])
                return run["state"]
            self.stop.wait(progress.add(run, written))
        return None

    def _write_chunk(self, job: Job, run_id: int) -> Tuple[int, Dict[str, Any]]:
        """One chunk in one transaction. Returns the rows written and the run as
        this chunk left it (state 'done' when it finished the campaign)."""
        with self.db.transaction() as tx:
            run = tx.one(Q.lock_run, {"run_id": run_id, "lock_name": self.lock.name})
            self.lock.check_holder(run["lock_holder"])
            if run["state"] != "running":
                return 0, run
            after, last = run["resume_after"], run["last_audience_id"]
            written = 0
            if after < last:
                until = min(after + self.settings.chunk_size, last)
                delivery = Delivery.from_json(run["message"])
                written = tx.execute(WRITES[delivery.target], {
                    "run_id": run_id, "after": after, "until": until,
                    "message_type": delivery.message_type, "from_uid": delivery.from_uid,
                    "title": delivery.title, "content": delivery.content})
                tx.execute(Q.advance_run, {"run_id": run_id, "until": until, "written": written})
                run["written"] += written
                if until < last:
                    return written, run
            tx.execute(job.mark_sent_query, {"campaign_id": run["campaign_id"],
                                             "recipients": run["written"]})
            tx.execute(Q.finish_run, {"run_id": run_id})
        run["state"] = "done"
        return written, run

    def _log_done(self, job: Job, run: Dict[str, Any], rows: int, seconds: float) -> None:
        campaign = job.describe(run["campaign_id"])
        if run["written"] != run["recipients"]:
            logger.error("%s: wrote %d rows for an audience of %d", campaign,
                         run["written"], run["recipients"])
        if run["recipients"] == 0:
            logger.warning("%s matched nobody; marked sent with 0 recipients", campaign)
            return
        resumed = "" if rows == run["written"] else " (%d of them in this run)" % rows
        logger.info("%s sent to %s: %d recipients%s in %.2f s (%.0f rows/s)", campaign,
                    run["target"], run["written"], resumed, seconds,
                    rows / seconds if seconds > 0 else 0.0)

    def _prune_audience(self, run_id: int) -> None:
        """The frozen audience of a finished run is no longer needed."""
        while True:
            with self.db.transaction() as tx:
                if tx.execute(Q.prune_audience, {"run_id": run_id, "limit": PRUNE_ROWS}) \
                        < PRUNE_ROWS:
                    return

    def prune_leftover_audiences(self, job: Optional[Job] = None) -> None:
        """Delete the audiences of done runs (of one job, or all). Not part of a
        fan-out: a campaign is delivered at its last chunk, and the worker prunes
        after the poll (the one-shot mode at its next start)."""
        with self.db.transaction() as tx:
            runs = [row["id"] for row in tx.all(Q.runs_with_leftover_audience,
                                                {"job": job.name if job else None})]
        for run_id in runs:
            self._prune_audience(run_id)
