"""`retry JOB ID` and `cancel JOB ID`: an operator's say over a campaign.

Both lock the campaign's run row (SELECT ... FOR UPDATE) as every chunk of the
daemon does, so they are safe while it runs: a cancel waits for the chunk in
flight, and the daemon's next chunk sees `cancelled` and stops. Rows already
written stay. A retry sets `retry`: the next poll looks at the campaign again
(while its legacy row is due) and resumes after the rows already written.
"""
from __future__ import annotations

import argparse
from typing import Any, Dict, Optional

import pymysql

from mg_handling.commands import (EXIT_OK, JOBS_BY_NAME, CommandError, database,
                                  is_missing_table, load_campaign, no_such_campaign, number,
                                  timestamp)
from mg_handling.engine import Job
from mg_handling.queries import Q
from mg_handling.service import ensure_schema
from util.config import Config
from util.db import Transaction

RETRYABLE = ("failed", "expired", "skipped", "cancelled")
CANCEL_REASON = "cancelled by operator"


def cancel(config: Config, args: argparse.Namespace) -> int:
    job = JOBS_BY_NAME[args.job]
    with database(config) as db:
        ensure_schema(db)  # a campaign may be cancelled before the daemon ever ran
        with db.transaction() as tx:
            exists = load_campaign(tx, job, args.campaign_id) is not None
            if exists:
                tx.execute(Q.ensure_run, {"job": job.name, "campaign_id": args.campaign_id})
            run = _lock_run(tx, job, args.campaign_id)
            if run is None:
                raise no_such_campaign(job, args.campaign_id)
            message = _cancel(tx, job, args.campaign_id, run)
    print(message)  # once committed
    return EXIT_OK


def _cancel(tx: Transaction, job: Job, campaign_id: int, run: Dict[str, Any]) -> str:
    name = job.describe(campaign_id)
    if run["state"] == "done":
        raise CommandError("%s was already sent (%s recipients, finished %s): nothing to "
                           "cancel" % (name, number(run["written"]),
                                       timestamp(run["finished_at"])))
    if run["state"] == "cancelled":
        return "%s was already cancelled (%s): %s rows had been written" % (
            name, timestamp(run["finished_at"]), number(run["written"]))
    tx.execute(Q.cancel_run, {"run_id": run["id"], "reason": CANCEL_REASON})
    if run["state"] == "pending":
        return "cancelled %s before it started: it will not be sent" % name
    kept = "%s of %s rows had been written; they stay" % (number(run["written"]),
                                                            number(run["recipients"]))
    if run["state"] == "running":
        return ("cancelled %s: %s. The daemon stops before its next chunk; the campaign "
                "is not marked sent." % (name, kept))
    return "cancelled %s (it was %s): %s" % (name, run["state"], kept)


def retry(config: Config, args: argparse.Namespace) -> int:
    job = JOBS_BY_NAME[args.job]
    with database(config) as db, db.transaction() as tx:
        exists = load_campaign(tx, job, args.campaign_id) is not None
        run = _lock_run(tx, job, args.campaign_id)
        if not exists and run is None:
            raise no_such_campaign(job, args.campaign_id)
        lines = [_retry(tx, job, args.campaign_id, run)]
        if run["state"] in RETRYABLE:
            lines.append(_when_picked_up(tx, job, args.campaign_id, config))
    print("\n".join(lines))  # once committed
    return EXIT_OK


def _retry(tx: Transaction, job: Job, campaign_id: int, run: Optional[Dict[str, Any]]
           ) -> str:
    name = job.describe(campaign_id)
    if run is None:
        raise CommandError("%s has no run yet (the daemon has not looked at it): nothing "
                           "to retry" % name)
    state = run["state"]
    if state == "retry":
        return "%s is already waiting for its retry" % name
    if state == "running":
        raise CommandError("%s is running (%s of %s rows written): nothing to retry"
                           % (name, number(run["written"]), number(run["recipients"])))
    if state == "done":
        raise CommandError("%s was already sent (%s recipients, finished %s): a retry "
                           "would send it twice" % (name, number(run["written"]),
                                                    timestamp(run["finished_at"])))
    if state not in RETRYABLE:
        raise CommandError("%s is %s: only a failed, expired, skipped or cancelled "
                           "campaign can be retried" % (name, state))
    tx.execute(Q.request_retry, {"run_id": run["id"]})
    start = "after the %s rows already written" % number(run["written"]) \
        if run["written"] else "from the beginning"
    return "retry requested for %s (it was %s: %s); it goes on %s" % (
        name, state, run["last_error"] or "no reason recorded", start)


def _when_picked_up(tx: Transaction, job: Job, campaign_id: int, config: Config) -> str:
    """The due query, run in the retry's own transaction, says whether the next poll
    takes the campaign (its legacy row must still be due)."""
    due = tx.all(job.due_query, {"ahead": config.push_ahead_seconds})
    if any(row["id"] == campaign_id for row in due):
        return "the daemon takes it at its next poll (every %g s)" % config.poll_interval
    return ("its legacy row is not due now (see `main.py preview %s %d`): the daemon "
            "takes it once it is" % (job.name, campaign_id))


def _lock_run(tx: Transaction, job: Job, campaign_id: int) -> Optional[Dict[str, Any]]:
    """The campaign's run row, locked; None when there is none (or no table yet)."""
    try:
        return tx.one(Q.lock_run_for_operator, {"job": job.name, "campaign_id": campaign_id})
    except pymysql.err.ProgrammingError as error:
        if is_missing_table(error):
            return None
        raise
