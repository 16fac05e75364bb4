"""`preview JOB ID`: what a campaign would do, without writing anything.

It runs the daemon's own decision (engine.decide) and the audience SELECTs the
real send freezes, counted instead of written: the audience, the accounts each
code reaches (one pass, however many codes), codes no code table knows, a
sample, the exact message, and whether and when the daemon sends it.
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Dict, List, Optional, Tuple, Union

from mg_handling.commands import EXIT_OK, database, load_campaign, table
from mg_handling.decision import Plan, Settings, Settle, decide
from mg_handling.formats import duration, noun, number, timestamp
from mg_handling.job import Job
from mg_handling.jobs import JOBS_BY_NAME
from mg_handling.messages import MESSAGE_QUEUE
from mg_handling.states import SETTLED, RunState
from mg_handling.store import CODE_TABLES, Clock, Run, StoreTransaction
from mg_handling.targeting import DIMENSION_NAMES, Targeting
from util.config import Config
from util.db import MissingTable

SAMPLE_SIZE = 10
MAX_CODES = 256  # per dimension, in the breakdown (campaign_code_rows)
# The legacy columns that decide, besides the send time, whether a campaign is due.
DUE_FLAGS = {"news": ("status",), "promotion": ("status",),
             "activity": ("isnotify", "push_state", "state", "offlinetime")}
AUDIENCE_NAMES = {"users": "registered users", "emails": "email addresses",
                  "mobiles": "mobile numbers of users",
                  "mobiles_and_cards": "mobile numbers of users and card holders"}
AUDIENCE_NAME = {"users": "registered user", "emails": "email address",
                 "mobiles": "mobile number of a user",
                 "mobiles_and_cards": "mobile number of a user or card holder"}


def run(config: Config, args: argparse.Namespace) -> int:
    job = JOBS_BY_NAME[args.job]
    with database(config) as store, store.transaction() as tx:
        report = build(tx, job, args.campaign_id, Settings.from_config(config))
    print("\n".join(render(report)))
    return EXIT_OK


# ---------------------------------------------------------------- the facts

def build(tx: StoreTransaction, job: Job, campaign_id: int, settings: Settings
          ) -> Dict[str, Any]:
    """Everything the preview shows, read in one transaction that writes nothing."""
    campaign = load_campaign(tx, job, campaign_id)
    run = tx.run_of_campaign(job.name, campaign_id)
    decision = decide(job, campaign, settings,
                      retry=bool(run and run.state == RunState.RETRY))
    # An expired campaign still has an audience: the one a `retry` would send to.
    plan: Union[Plan, Settle, None] = decision if isinstance(decision, Plan) else None
    if isinstance(decision, Settle) and decision.state == RunState.EXPIRED:
        plan = decide(job, campaign, settings, retry=True)
    report = {"job": job, "campaign": campaign, "row": campaign.columns, "run": run,
              "settings": settings, "decision": decision, "plan": plan, "clock": tx.clock(),
              "due": _is_due(tx, job, campaign_id, settings)}
    if isinstance(plan, Plan):
        started = time.monotonic()
        report["audience"] = _audience(tx, plan)
        report["seconds"] = time.monotonic() - started
        report["unknown_codes"] = tx.unknown_codes(plan.targeting)
    return report


def _is_due(tx: StoreTransaction, job: Job, campaign_id: int, settings: Settings
            ) -> Optional[bool]:
    """Whether the job's own due query returns the campaign now (None: the
    daemon never ran here, so its tables are missing)."""
    try:
        due = tx.due_campaigns(job.name, settings.push_ahead_seconds)
    except MissingTable as missing:
        if not missing.table.startswith("mh_"):
            raise
        return None
    return any(each.campaign.id == campaign_id for each in due)


def _audience(tx: StoreTransaction, plan: Plan) -> Dict[str, Any]:
    """The audience's size, its accounts per code and a sample, in few statements
    whatever the number of codes (the breakdown also counts the accounts)."""
    kind, targeting = plan.delivery.audience, plan.targeting
    query = tx.audience_query(targeting)  # in the plan the send would use
    counts = tx.breakdown_counts(query)
    accounts = counts.get(("all", ""), 0)
    user_ids = tx.sample_audience(query, "users", SAMPLE_SIZE)
    audience = {"kind": kind, "plan": query.plan, "accounts": accounts,
                "codes": _per_code(tx, targeting, counts),
                "sample": tx.describe_users(user_ids)}
    if kind == "users":
        audience["total"] = accounts  # the breakdown ran the same SELECT
        return audience
    audience["total"] = tx.count_audience(query, kind)
    audience["with_address"] = counts.get(("email" if kind == "emails" else "mobile", ""), 0)
    return audience


def _per_code(tx: StoreTransaction, targeting: Targeting, counts: Dict[Tuple[str, str], int]
              ) -> List[Tuple[str, str, str, Optional[int]]]:
    """(dimension, code, what the code tables know it as, accounts) for every code."""
    rows = []
    found = {(dimension, code.lower()): n for (dimension, code), n in counts.items()}
    for dimension in DIMENSION_NAMES:
        codes = targeting.codes(dimension)
        known = _known_codes(tx, dimension, codes)
        rows += [(dimension, code, known[code.lower()],
                  found.get((dimension, code.lower()), 0) if index < MAX_CODES else None)
                 for index, code in enumerate(codes)]
    return rows


def _known_codes(tx: StoreTransaction, dimension: str, codes: Tuple[str, ...]
                 ) -> Dict[str, str]:
    """code (lower case: the tables compare case-insensitively) -> its kind;
    "?" marks a code that no code table holds, "-" a dimension without one."""
    if dimension not in CODE_TABLES:
        return {code.lower(): "-" for code in codes}
    code_table = CODE_TABLES[dimension]
    known = tx.known_codes(dimension, codes)
    return {code.lower(): known.get(code.lower(), "? in no %s row" % code_table)
            for code in codes}


# ---------------------------------------------------------------- the text

def render(report: Dict[str, Any]) -> List[str]:
    job, row = report["job"], report["row"]
    lines = ["%s, %s" % (job.describe(row["id"]), job.label), ""]
    lines += _render_timing(report)
    lines += ["", "verdict   " + verdict(report)]
    if "audience" in report:
        lines += [""] + _render_audience(report)
    plan = report["plan"]
    if isinstance(plan, Plan):
        lines += [""] + _render_message(plan)
    return lines


def _render_timing(report: Dict[str, Any]) -> List[str]:
    job, row, clock = report["job"], report["row"], report["clock"]
    send_time = row[job.send_time_field]
    ahead = report["settings"].push_ahead_seconds
    lines = ["send time %s (%s %d)" % (_when(clock, send_time), job.send_time_field,
                                       send_time),
             "now       %s (database server clock)" % timestamp(clock.now),
             "due       %s" % _due_text(report, send_time - ahead),
             "record    %s" % _record_text(report["run"])]
    return lines


def _when(clock: Clock, unix_time: int) -> str:
    if unix_time <= 0:
        return "not set"
    delta = unix_time - clock.unix_now
    relative = "in %s" % duration(delta) if delta > 0 else "%s ago" % duration(-delta)
    return "%s, %s" % (timestamp(clock.at(unix_time)), relative)


def _due_text(report: Dict[str, Any], due_at: int) -> str:
    job, row, clock = report["job"], report["row"], report["clock"]
    flags = ", ".join("%s %s" % (name, row[name]) for name in DUE_FLAGS[job.name])
    if report["due"]:
        return "yes: the daemon's due query returns it now (%s)" % flags
    if row[job.send_time_field] > 0 and due_at > clock.unix_now:
        return "not yet: due from %s, push_ahead_seconds %d before the send time (%s)" % (
            _when(clock, due_at), report["settings"].push_ahead_seconds, flags)
    if report["due"] is None:
        return "unknown: the daemon has never run on this database (%s)" % flags
    return "no: %s (see README, \"When a campaign is due\")" % flags


def _record_text(run: Optional[Run]) -> str:
    if run is None:
        return "none: the daemon has not looked at this campaign yet"
    text = "%s, %s of %s rows written, %d attempt(s), updated %s" % (
        run.state, number(run.written), number(run.recipients), run.attempts,
        timestamp(run.updated_at))
    if run.last_error:
        text += "\n          last error: %s" % run.last_error
    return text


def verdict(report: Dict[str, Any]) -> str:
    """What the daemon does with the campaign, in one sentence."""
    run = report["run"]
    if run is None:
        return _verdict_of_decision(report, None)
    if run.state == RunState.DONE:
        return "already sent (%s recipients, finished %s): never sent again" % (
            number(run.written), timestamp(run.finished_at))
    if run.state == RunState.CANCELLED:
        return ("cancelled (%s of %s rows written): never sent unless `main.py retry %s %d`"
                % (number(run.written), number(run.recipients), report["job"].name,
                   run.campaign_id))
    if run.state == RunState.RUNNING:
        return "being sent: %s of %s rows written" % (number(run.written),
                                                      number(run.recipients))
    if run.state in SETTLED and run.fingerprint == report["campaign"].fingerprint():
        return ("%s and not looked at again until its row changes or `main.py retry`"
                % run.state)
    return _verdict_of_decision(report, run.state)


def _verdict_of_decision(report: Dict[str, Any], state: Optional[RunState]) -> str:
    decision = report["decision"]
    if isinstance(decision, Settle):
        text = "would be %s, not sent: %s" % (decision.state, decision.reason)
        if "audience" in report:  # expired: `retry` overrides max_lateness_seconds
            text += "; after `main.py retry` it goes to %s recipients" % number(
                report["audience"]["total"])
        return text
    prefix = "retry requested: " if state == RunState.RETRY else ""
    if "audience" in report:
        total = report["audience"]["total"]
        text = "%swould be sent to %s %s" % (prefix, number(total), noun(total, "recipient"))
        if report["unknown_codes"]:  # most likely typos: they match nobody
            text += "; codes in no code table (typos?): %s" % ", ".join(
                report["unknown_codes"])
        return text
    return prefix + "would be sent"


def _render_audience(report: Dict[str, Any]) -> List[str]:
    audience, plan = report["audience"], report["plan"]
    kind = audience["kind"]
    names = AUDIENCE_NAME if audience["total"] == 1 else AUDIENCE_NAMES
    lines = ["audience  %s %s -> %s (counted in %.2f s, %s plan, nothing written)" % (
        number(audience["total"]), names[kind], plan.delivery.target,
        report["seconds"], audience["plan"])]
    if kind != "users":
        address = "an email" if kind == "emails" else "a mobile"
        lines.append("          %s matching %s, %s of them with %s" % (
            number(audience["accounts"]), noun(audience["accounts"], "account"),
            number(audience["with_address"]), address))
    lines += ["", "per code  matching accounts per code (an account matching several codes "
                  "counts under each)"]
    lines += table(("dimension", "code", "code table", "accounts"),
                   [(dim, code, known, number(n)) for dim, code, known, n in audience["codes"]],
                   right=(3,))
    columns = ("user_id", "real_name", "city_code", "mobile", "email")
    shown = len(audience["sample"])
    lines += ["", "sample    the first %s" % ("matching account" if shown == 1 else
                                              "%d matching accounts" % shown)]
    lines += table(columns, [[user[column] for column in columns]
                             for user in audience["sample"]])
    return lines


def _render_message(plan: Plan) -> List[str]:
    delivery = plan.delivery
    recipient = "to_uid" if delivery.target == MESSAGE_QUEUE else \
        ("email" if delivery.audience == "emails" else "mobile")
    lines = ["message   one %s row per recipient:" % delivery.target]
    fields = [("type", delivery.message_type), (recipient, "<the recipient>")]
    if delivery.target == MESSAGE_QUEUE:
        fields.append(("from_uid", delivery.from_uid))
    fields.append(("title", delivery.title))
    lines += table(("column", "value"), fields)
    lines += ["  content (exactly, %d characters):" % len(delivery.content)]
    lines += ["    " + line for line in delivery.content.splitlines() or [""]]
    return lines
