"""`retry JOB ID` and `cancel JOB ID`: an operator's say over a campaign.

Both lock the campaign's run row (SELECT ... FOR UPDATE) as every chunk of the
daemon does, so they are safe while it runs: a cancel waits for the chunk in
flight, and the daemon's next chunk sees `cancelled` and stops. Rows already
written stay. A retry sets `retry`: the next poll looks at the campaign again
(while its legacy row is due) and resumes after the rows already written.
Both record who asked (OS user@host) and when.

A campaign marked sent with 0 recipients (a typo'd code matched nobody) may be
retried: nothing was written, so nothing can be doubled. In the same
transaction its legacy row is made due again (mark_unsent_<job>), and the
daemon sends it by the row as it is then. A retry whose row would fail or be
skipped again at once is refused with the reason.
"""
from __future__ import annotations

import argparse
import getpass
import os
import socket
from typing import Optional

from mg_handling.commands import EXIT_OK, EXIT_REFUSED, CommandError, database, no_such_campaign
from mg_handling.decision import Settings, Settle, decide
from mg_handling.formats import number, timestamp
from mg_handling.job import Job
from mg_handling.jobs import JOBS_BY_NAME
from mg_handling.states import RETRYABLE, RunState
from mg_handling.store import Campaign, Run, StoreTransaction
from mg_handling.targeting import Targeting
from util.config import Config

CANCEL_REASON = "cancelled by operator"


def cancel(config: Config, args: argparse.Namespace) -> int:
    job = JOBS_BY_NAME[args.job]
    with database(config) as store:
        store.ensure_schema()  # a campaign may be cancelled before the daemon ever ran
        with store.transaction() as tx:
            if tx.campaign(job.name, args.campaign_id) is not None:
                tx.ensure_run(job.name, args.campaign_id)
            run = tx.run_of_campaign(job.name, args.campaign_id, lock=True)
            if run is None:
                raise no_such_campaign(job, args.campaign_id)
            message = _cancel(tx, job, args.campaign_id, run)
    print(message)  # once committed
    return EXIT_OK


def _cancel(tx: StoreTransaction, job: Job, campaign_id: int, run: Run) -> str:
    name = job.describe(campaign_id)
    if run.state == RunState.DONE:
        raise CommandError("%s was already sent (%s recipients, finished %s): nothing to "
                           "cancel" % (name, number(run.written), timestamp(run.finished_at)))
    if run.state == RunState.CANCELLED:
        return "%s was already cancelled (%s): %s rows had been written" % (
            name, timestamp(run.finished_at), number(run.written))
    tx.cancel_run(run.id, CANCEL_REASON)
    tx.record_request(run.id, "cancel", operator())
    if run.state == RunState.PENDING:
        return "cancelled %s before it started: it will not be sent" % name
    kept = "%s of %s rows had been written; they stay" % (number(run.written),
                                                            number(run.recipients))
    if run.state == RunState.RUNNING:
        return ("cancelled %s: %s. The daemon stops before its next chunk; the campaign "
                "is not marked sent." % (name, kept))
    return "cancelled %s (it was %s): %s" % (name, run.state, kept)


def operator() -> str:
    """Who runs this command: the OS user and this host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = "uid %d" % os.getuid()
    return "%s@%s" % (user, socket.gethostname())


def retry(config: Config, args: argparse.Namespace) -> int:
    job = JOBS_BY_NAME[args.job]
    with database(config) as store:
        store.ensure_schema()  # the columns that record who asked, on an older table
        with store.transaction() as tx:
            campaign = tx.campaign(job.name, args.campaign_id)
            run = tx.run_of_campaign(job.name, args.campaign_id, lock=True)
            if campaign is None and run is None:
                raise no_such_campaign(job, args.campaign_id)
            if campaign is not None:
                _refuse_if_still_invalid(job, campaign, Settings.from_config(config))
            lines = [_retry(tx, job, args.campaign_id, run)]
            if run is not None and (run.state in RETRYABLE or _sent_to_nobody(run)):
                lines.append(_when_picked_up(tx, job, args.campaign_id, config))
    print("\n".join(lines))  # once committed
    return EXIT_OK


def _refuse_if_still_invalid(job: Job, campaign: Campaign, settings: Settings) -> None:
    """The daemon's own decision on the row as it is (as `preview` runs it): a retry
    that would fail or be skipped again at once is refused with the reason."""
    decision = decide(job, campaign, settings, retry=True)
    if isinstance(decision, Settle):
        raise CommandError("%s would be %s again at once: %s; fix the row first (see "
                           "`main.py preview %s %d`)" % (
                               job.describe(campaign.id), decision.state, decision.reason,
                               job.name, campaign.id), EXIT_REFUSED)


def _sent_to_nobody(run: Run) -> bool:
    return run.state == RunState.DONE and run.written == 0 and run.recipients == 0


def _retry(tx: StoreTransaction, job: Job, campaign_id: int, run: Optional[Run]) -> str:
    name = job.describe(campaign_id)
    if run is None:
        raise CommandError("%s has no run yet (the daemon has not looked at it): nothing "
                           "to retry" % name)
    state = run.state
    if state == RunState.RETRY:
        return "%s is already waiting for its retry" % name
    if state == RunState.RUNNING:
        raise CommandError("%s is running (%s of %s rows written): nothing to retry"
                           % (name, number(run.written), number(run.recipients)))
    if _sent_to_nobody(run):
        return _retry_sent_to_nobody(tx, job, run)
    if state == RunState.DONE:
        raise CommandError("%s was already sent (%s recipients, finished %s): a retry "
                           "would send it twice" % (name, number(run.written),
                                                    timestamp(run.finished_at)))
    if state not in RETRYABLE:
        raise CommandError("%s is %s: only a failed, expired, skipped or cancelled "
                           "campaign can be retried" % (name, state))
    tx.request_retry(run.id)
    tx.record_request(run.id, "retry", operator())
    start = "after the %s rows already written" % number(run.written) \
        if run.written else "from the beginning"
    return "retry requested for %s (it was %s: %s); it goes on %s" % (
        name, state, run.last_error or "no reason recorded", start)


def _retry_sent_to_nobody(tx: StoreTransaction, job: Job, run: Run) -> str:
    """Marked sent with 0 recipients: no row was written, so the campaign can be
    sent by its row as it is now. Its legacy row becomes due again in this
    transaction, under the run row's lock."""
    tx.mark_unsent(job.name, run.campaign_id)
    tx.request_retry(run.id)
    tx.record_request(run.id, "retry", operator())
    text = ("retry requested for %s (it was sent to 0 recipients, finished %s): no row was "
            "written, so its legacy row is due again and the daemon sends it by the row as "
            "it is now" % (job.describe(run.campaign_id), timestamp(run.finished_at)))
    campaign = tx.campaign(job.name, run.campaign_id)
    unknown = tx.unknown_codes(Targeting.from_row(campaign.columns)) if campaign else []
    if unknown:
        text += "\nnote: still in no code table, so matching nobody again: %s" % ", ".join(
            unknown)
    return text


def _when_picked_up(tx: StoreTransaction, job: Job, campaign_id: int, config: Config) -> str:
    """The due query, run in the retry's own transaction, says whether the next poll
    takes the campaign (its legacy row must still be due)."""
    due = tx.due_campaigns(job.name, config.push_ahead_seconds)
    if any(each.campaign.id == campaign_id for each in due):
        return "the daemon takes it at its next poll (every %g s)" % config.poll_interval
    return ("its legacy row is not due now (see `main.py preview %s %d`): the daemon "
            "takes it once it is" % (job.name, campaign_id))

