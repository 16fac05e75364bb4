"""The shared fan-out engine: from a due campaign row to one row per recipient.

A campaign goes through three kinds of transaction:
1. claim: record it in mh_campaign_run, then either settle it (failed,
   skipped, expired) or freeze its audience into mh_audience and mark it
   running, all at once;
2. chunk: write the next `batch_size` recipients of the audience and move the
   resume cursor, in one transaction that first locks the run row and last
   renews the instance lease at this instance's epoch (mg_handling/lock.py), so
   that it commits only while this instance holds the lease;
3. the last chunk also marks the legacy row sent.
An operator may cancel a run between two chunks (its state is then no longer
`running`, which the next chunk sees under the run row lock) or ask for a
failed, expired, skipped or cancelled one to be retried (state `retry`).
A crash at any instant loses at most an uncommitted chunk, which is written
again from the committed cursor: every recipient gets exactly one row.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Tuple, Union

from mg_handling.decision import Plan, Settings, Settle, decide
from mg_handling.formats import noun
from mg_handling.health import Watch
from mg_handling.job import Job
from mg_handling.lock import InstanceLock, LockLost
from mg_handling.states import FINAL, SETTLED, RunState
from mg_handling.store import (
    JOB_NAMES,
    Campaign,
    DueCampaign,
    Frozen,
    Run,
    Store,
    StoreTransaction,
)
from util.db import DatabaseError, DatabaseUnavailable, MissingTable, QueryError, TransientError

logger = logging.getLogger(__name__)

PROGRESS_SECONDS = 5.0


@dataclass
class PollResult:
    failed: List[int] = field(default_factory=list)
    outcomes: Dict[RunState, int] = field(default_factory=dict)  # e.g. {DONE: 2}

    def summary(self) -> str:
        return ", ".join("%d %s" % (count, outcome)
                         for outcome, count in sorted(self.outcomes.items()))


class Progress:
    """The rows written by one `_write`: a progress line every few seconds,
    and the pause that keeps writing under max_rows_per_second."""

    def __init__(self, job: Job, max_rows_per_second: int) -> None:
        self.job = job
        self.max_rows_per_second = max_rows_per_second
        self.rows = 0
        self.started = self.last_logged = time.monotonic()

    def add(self, run: Run, rows: int) -> float:
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

    def _log(self, run: Run, rate: float) -> None:
        left = run.recipients - run.written
        eta = "%.0f s" % (left / rate) if rate > 0 else "unknown"
        logger.info("%s: %d of %d rows written (%.1f %%), %.0f rows/s, ETA %s",
                    self.job.describe(run.campaign_id), run.written, run.recipients,
                    100.0 * run.written / max(run.recipients, 1), rate, eta)


def _requested(run: Run) -> str:
    """'requested by ops@host-a at 2026-11-29 10:00:00 (server time)', or less when
    the run was retried before the columns existed."""
    if not run.requested_by:
        return "requested by an operator"
    when = run.requested_at.strftime("%Y-%m-%d %H:%M:%S") if run.requested_at else "?"
    return "requested by %s at %s (server time)" % (run.requested_by, when)


class FanOut:
    """Runs the due campaigns of a job, one after the other, chunk by chunk."""

    def __init__(self, store: Store, lock: InstanceLock, settings: Settings,
                 stop: threading.Event, watch: Optional[Watch] = None) -> None:
        self.store = store
        self.lock = lock
        self.settings = settings
        self.stop = stop
        # The reports of the job threads (job health, metrics); unrecorded by default.
        self.watch = watch or Watch(JOB_NAMES)

    def poll(self, job: Job) -> PollResult:
        """One poll: every due campaign of the job is settled or fully written,
        unless a stop is requested (then the current one resumes at next start)."""
        due = self.store.due_campaigns(job.name, self.settings.push_ahead_seconds)
        result = PollResult()
        for each in due:
            if self.stop.is_set():
                break
            started = time.monotonic()
            outcome = self._handle(job, each)
            if outcome:
                self.watch.campaign_finished(job, outcome, time.monotonic() - started)
                result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
            if outcome == RunState.FAILED:
                result.failed.append(each.campaign.id)
        return result

    def _handle(self, job: Job, due: DueCampaign) -> Optional[RunState]:
        started = time.monotonic()
        campaign = due.campaign
        try:
            if due.run_state == RunState.RUNNING and due.run_id is not None:
                # Only a restart (or a lost lock, an outage) leaves a run running
                # between two polls: `status` measures its rate from here.
                self.store.mark_resumed(due.run_id)
                return self._write(job, due.run_id, started)
            digest = campaign.fingerprint()
            if due.run_state in SETTLED and due.run_fingerprint == digest:
                return None
            decision = decide(job, campaign, self.settings,
                              retry=due.run_state == RunState.RETRY)
            self.watch.claiming(job, campaign.id)
            run_id = self._claim(job, campaign, digest, decision)
            if run_id:
                return self._write(job, run_id, started)
            return decision.state if isinstance(decision, Settle) else None
        except (DatabaseUnavailable, TransientError, LockLost, MissingTable):
            raise  # the server's or the schema's trouble, not the campaign's
        except QueryError as error:
            return self._fail_late(job, campaign, "the database refused a statement: %s"
                                   % error)
        except Exception as error:  # a bug must fail this campaign, not the thread
            logger.error("%s: unexpected error (%s: %s)", job.describe(campaign.id),
                         type(error).__name__, error)
            logger.debug("%s: its traceback", job.describe(campaign.id), exc_info=True)
            return self._fail_late(job, campaign, "internal error: %r" % error)

    def _claim(self, job: Job, campaign: Campaign, digest: str,
               decision: Union[Plan, Settle]) -> Optional[int]:
        """Record the decision; for a plan, freeze the audience. Returns the run
        to write, or None. Another instance may have got there first: the run
        row lock makes the second one see its result."""
        started = time.monotonic()
        frozen: Optional[Frozen] = None
        with self.store.transaction() as tx:
            run = self._lock_run_of_campaign(tx, job, campaign.id)
            if run.state == RunState.RUNNING:
                return run.id
            if run.state in FINAL or (run.state in SETTLED and run.fingerprint == digest):
                return None
            if isinstance(decision, Settle):
                tx.record_outcome(run.id, decision.state, digest, decision.reason)
            else:
                frozen = self._start(tx, run, digest, decision)
            self.lock.fence(tx)
        if run.state == RunState.RETRY:
            logger.info("%s: taking up the retry %s", job.describe(campaign.id),
                        _requested(run))
        if isinstance(decision, Settle):
            self._log_settled(job, campaign.id, decision)
            return None
        if frozen:
            logger.info("%s: audience of %d %s frozen (%s plan) in %.2f s",
                        job.describe(campaign.id), frozen.recipients,
                        noun(frozen.recipients, "recipient"), frozen.plan,
                        time.monotonic() - started)
        return run.id

    def _lock_run_of_campaign(self, tx: StoreTransaction, job: Job, campaign_id: int) -> Run:
        """The campaign's run row, created if new and locked (the lease holder's only:
        the transaction ends with the fence)."""
        if not self.lock.held.is_set():
            raise LockLost("the instance lease %r is not held" % self.lock.name)
        return tx.lock_run_of_campaign(job.name, campaign_id)

    @staticmethod
    def _start(tx: StoreTransaction, run: Run, digest: str, plan: Plan) -> Optional[Frozen]:
        """Mark the run running; returns the audience when it was frozen now (not
        when a run that already wrote chunks resumes)."""
        if run.written:
            tx.resume_run(run.id, digest, plan.delivery)
            return None
        frozen = tx.freeze_audience(run.id, plan.delivery.audience, plan.targeting)
        tx.start_run(run.id, digest, plan.delivery, frozen)
        return frozen

    @staticmethod
    def _log_settled(job: Job, campaign_id: int, settle: Settle) -> None:
        if settle.state == RunState.FAILED:
            logger.error("%s failed, not sent: %s", job.describe(campaign_id), settle.reason)
        else:
            logger.warning("%s %s, not sent: %s", job.describe(campaign_id), settle.state,
                           settle.reason)

    def _fail_late(self, job: Job, campaign: Campaign, reason: str) -> RunState:
        """A campaign that broke while being written: recorded failed, legacy row untouched."""
        with self.store.transaction() as tx:
            run = self._lock_run_of_campaign(tx, job, campaign.id)
            tx.record_outcome(run.id, RunState.FAILED, campaign.fingerprint(), reason)
            self.lock.fence(tx)
        self._log_settled(job, campaign.id, Settle(RunState.FAILED, reason))
        return RunState.FAILED

    def _write(self, job: Job, run_id: int, started: float) -> Optional[RunState]:
        """Write the run's remaining chunks; DONE when the campaign is marked sent,
        CANCELLED when an operator cancelled it, None when stopped."""
        progress = Progress(job, self.settings.max_rows_per_second)
        span = self.settings.chunk_size * self.store.id_step()
        while not self.stop.is_set():
            written, run, finished = self._write_chunk(job, run_id, span)
            if written or finished:
                self.watch.chunk_written(job, run, written, self.settings.chunk_size)
            if finished:
                self._log_done(job, run, progress.rows + written, time.monotonic() - started)
                return RunState.DONE
            if run.state == RunState.DONE:  # another instance finished it meanwhile
                logger.info("%s was finished by another instance", job.describe(
                    run.campaign_id))
                return None
            if run.state != RunState.RUNNING:
                logger.warning("%s stopped: %s after %d of %d rows", job.describe(
                    run.campaign_id), run.state, run.written, run.recipients)
                return run.state
            self.stop.wait(progress.add(run, written))
        return None

    def _write_chunk(self, job: Job, run_id: int, span: int) -> Tuple[int, Run, bool]:
        """One chunk, the audience's next `span` ids, in one transaction. Returns the
        rows written, the run as this chunk left it, and whether this chunk finished
        the campaign."""
        with self.store.transaction() as tx:
            run = tx.lock_run(run_id)
            if run.state != RunState.RUNNING:
                return 0, run, False
            written = 0
            if run.resume_after < run.last_audience_id:
                until = min(run.resume_after + span, run.last_audience_id)
                delivery = run.delivery()
                if delivery is None:
                    raise QueryError("run %d is running without a message" % run.id)
                written = tx.write_chunk(run.id, run.resume_after, until, delivery)
                run = replace(run, resume_after=until, written=run.written + written)
            finished = run.resume_after >= run.last_audience_id
            if finished:
                tx.finish(job.name, run)
                run = replace(run, state=RunState.DONE)
            self.lock.fence(tx)
        return written, run, finished

    def _log_done(self, job: Job, run: Run, rows: int, seconds: float) -> None:
        campaign = job.describe(run.campaign_id)
        if run.written != run.recipients:
            logger.error("%s: wrote %d rows for an audience of %d", campaign,
                         run.written, run.recipients)
        if run.recipients == 0:
            logger.warning("%s matched nobody; marked sent with 0 recipients%s", campaign,
                           self._unknown_codes(job, run.campaign_id))
            return
        resumed = "" if rows == run.written else " (%d of them in this run)" % rows
        logger.info("%s sent to %s: %d %s%s in %.2f s (%.0f rows/s)", campaign,
                    run.target, run.written, noun(run.written, "recipient"), resumed, seconds,
                    rows / seconds if seconds > 0 else 0.0)

    def _unknown_codes(self, job: Job, campaign_id: int) -> str:
        """For the 'matched nobody' line: the campaign's codes no code table holds
        (most likely typos). The campaign is already sent: a failure here only
        leaves them out of the line."""
        try:
            unknown = self.store.unknown_codes(job.name, campaign_id)
        except DatabaseError as error:
            logger.debug("the codes of %s were not checked: %s", job.describe(campaign_id),
                         error)
            return ""
        if not unknown:
            return ""
        return "; codes in no code table (typos?): %s; fix the row and `main.py retry %s " \
               "%d` sends it" % (", ".join(unknown), job.name, campaign_id)

    def prune_leftover_audiences(self, job: Optional[Job] = None) -> None:
        """Delete the audiences of done runs (of one job, or all). Not part of a
        fan-out: a campaign is delivered at its last chunk, and the worker prunes
        after the poll (the one-shot mode at its next start)."""
        for run_id in self.store.runs_with_leftover_audience(job.name if job else None):
            self.store.prune_audience(run_id)
