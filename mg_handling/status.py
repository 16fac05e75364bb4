"""`status`: who holds the instance lock and what every campaign is doing.

`--json` prints the same report for scripts; `--check` prints one line and
exits 0 OK, 1 WARNING, 2 CRITICAL, for cron or Zabbix/Nagios:
- CRITICAL: no instance holds the lock (nothing is being sent), or a campaign
  is stuck: running, but no chunk committed for STUCK_SECONDS;
- CRITICAL too: a job of the lock holder has not completed a poll (nor committed
  a chunk) for web.stuck_limit(poll_interval), max(3 x poll_interval, 60 s):
  stuck on a statement, or its thread dead (issue 12);
- WARNING: a campaign is overdue (due, or a retry requested, for more than
  OVERDUE_SECONDS and not started; a retry is not due before its send time), or
  failed, skipped or expired while its legacy row still waits to be sent (it
  will not go out without an operator), or sent to nobody in the window (a
  typo'd code matches nobody: fix the row and `retry` it).
Times are the database server's clock (pushing.log uses the daemon host's).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any, Dict, List, Optional, Tuple

from mg_handling.commands import EXIT_ERROR, EXIT_OK, CommandError, cut, database, table
from mg_handling.decision import Settings, Settle, decide
from mg_handling.errors import CampaignError
from mg_handling.formats import duration, number, timestamp
from mg_handling.health import job_view
from mg_handling.job import Job
from mg_handling.jobs import JOBS, JOBS_BY_NAME
from mg_handling.lock import STANDBY_SEEN_SECONDS, lock_name
from mg_handling.messages import Delivery
from mg_handling.states import SETTLED, RunState
from mg_handling.store import Campaign, Clock, InstanceKey, RunReport, StoreTransaction
from mg_handling.web import job_problem
from util.config import Config
from util.db import TransientError

OVERDUE_SECONDS = 300
STUCK_SECONDS = 300
UNSENT_STATES = tuple(state.value for state in RunState if state in SETTLED)  # enum order
OK, WARNING, CRITICAL = 0, 1, 2
LEVELS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL"}
TITLE_WIDTH = 24
SENT_TO_NOBODY = "sent to nobody"
CLOCKS = "times are the database server's clock; pushing.log uses the daemon host's clock"
JOB_ORDER = {job.name: index for index, job in enumerate(JOBS)}


def run(config: Config, args: argparse.Namespace) -> int:
    try:
        with database(config) as store, store.transaction() as tx:
            report = collect(tx, config, args.hours)
    except CommandError as error:
        if args.json:  # a script reads stdout: the error as JSON, same exit code
            print(json.dumps({"database": config.db.describe(), "error": str(error),
                              "exit_code": error.exit_code}, ensure_ascii=False, indent=2))
            return error.exit_code
        if not args.check:
            raise
        print("CRITICAL: %s" % error)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    elif args.check:
        print(report["check"]["summary"])
    else:
        print("\n".join(render(report)))
    return report["check"]["exit_code"] if args.check else EXIT_OK


# ---------------------------------------------------------------- the facts

def collect(tx: StoreTransaction, config: Config, hours: int) -> Dict[str, Any]:
    clock = tx.clock()
    settings = Settings.from_config(config)
    instance = _instance(tx, lock_name(config.db.database), STANDBY_SEEN_SECONDS)
    jobs = _jobs(tx, instance, clock)  # before any statement that may wait on a locked table
    runs = {(report.run.job, report.run.campaign_id): _run_facts(report)
            for report in tx.runs_for_status(hours)}
    unreadable: List[str] = []
    campaigns = _waiting(tx, clock, settings, runs, hours, unreadable)
    shown = [run for run in runs.values() if _worth_showing(run)]
    _add_titles(tx, shown)
    campaigns += [_run_entry(run, clock) for run in shown]
    report = {"database": config.db.describe(), "now": clock.now, "hours": hours,
              "instance": instance, "jobs": jobs,
              "unreadable": unreadable, "campaigns": campaigns}
    report["check"] = check(report)
    return report


def _instance(tx: StoreTransaction, name: str, standby_seconds: float) -> Dict[str, Any]:
    """Who holds the instance lease now; when nobody does, the last instance that
    did (`held` false; pid, host and since None before any instance ran here), and
    the instances standing by."""
    lease = tx.lease(name)
    standby = [{"host": each.host, "pid": each.pid, "since": each.since}
               for each in tx.standby_instances(name, standby_seconds)]
    if lease is None or not lease.host:
        return {"lock_name": name, "held": False, "epoch": None, "pid": None, "host": None,
                "since": None, "expires_at": None, "standby": standby}
    return {"lock_name": name, "held": lease.live, "epoch": lease.epoch, "pid": lease.pid,
            "host": lease.host, "since": lease.acquired_at, "expires_at": lease.expires_at,
            "standby": standby}


def _jobs(tx: StoreTransaction, instance: Dict[str, Any], clock: Clock
          ) -> List[Dict[str, Any]]:
    """The job health of the instance holding the lock, as it recorded it."""
    if not instance["held"] or instance["pid"] is None:
        return []
    key = InstanceKey(instance["lock_name"], instance["host"], instance["pid"])
    return [dict(job=row.job, poll_started=row.poll_started, poll_ended=row.poll_ended,
                 doing=row.doing, last_error=row.last_error, last_error_at=row.last_error_at,
                 problem=job_problem(job_view(row), clock.now, row.poll_interval))
            for row in sorted(tx.job_health(key), key=lambda row: JOB_ORDER.get(row.job, 9))]


def _run_facts(report: RunReport) -> Dict[str, Any]:
    """A run as the report's plain values (the entries are printed as JSON too)."""
    facts = asdict(report.run)
    facts.update(state=report.run.state.value, running_seconds=report.running_seconds,
                 duration_seconds=report.duration_seconds, idle_seconds=report.idle_seconds,
                 recent=report.recent)
    return facts


def _waiting(tx: StoreTransaction, clock: Clock, settings: Settings,
             runs: Dict[Tuple[str, int], Dict[str, Any]], hours: int,
             unreadable: List[str]) -> List[Dict[str, Any]]:
    """The campaigns the due queries return within the window: the ones not
    started yet become entries; the runs of the others are marked unsent. A
    table that cannot be read now (locked) is named in `unreadable`."""
    ahead = max(hours * 3600, settings.push_ahead_seconds)
    entries = []
    for job in JOBS:
        try:
            due_campaigns = tx.due_campaigns(job.name, ahead)
        except TransientError as error:
            unreadable.append("%s unreadable (%s)" % (job.table, error))
            continue
        for due in due_campaigns:
            run = runs.get((job.name, due.campaign.id))
            if run is not None:
                run["unsent"] = True
                if run["state"] == RunState.RETRY:
                    run["title"] = _title(job, due.campaign)
                    # A retry waits for its send time as any campaign does.
                    run["late_seconds"] = clock.unix_now - (
                        due.campaign.columns[job.send_time_field] - settings.push_ahead_seconds)
                continue
            entries.append(_due_entry(job, due.campaign, clock, settings))
    return entries


def _due_entry(job: Job, campaign: Campaign, clock: Clock, settings: Settings
               ) -> Dict[str, Any]:
    send_time = campaign.columns[job.send_time_field]
    due_at = send_time - settings.push_ahead_seconds
    late = clock.unix_now - due_at
    decision = decide(job, campaign, settings)
    return {"job": job.name, "campaign_id": campaign.id, "table": job.table,
            "state": "due" if late >= 0 else "scheduled",
            "title": _title(job, campaign),
            "send_time": clock.at(send_time), "due_at": clock.at(due_at),
            "waiting_seconds": max(late, 0),
            "note": "would be %s: %s" % (decision.state, decision.reason)
            if isinstance(decision, Settle) else "",
            "problem": "overdue" if late > OVERDUE_SECONDS else None}


def _title(job: Job, campaign: Campaign) -> str:
    """The title its rows get, when the campaign's message can be built; else its
    title column, as the admin backend shows it (a failed campaign has one too)."""
    try:
        return job.delivery(campaign.columns).title
    except CampaignError:
        return str(campaign.columns.get("title") or "")


def _worth_showing(run: Dict[str, Any]) -> bool:
    return run["state"] in (RunState.RUNNING, RunState.RETRY) or bool(run["recent"]) \
        or bool(run.get("unsent"))


def _run_entry(run: Dict[str, Any], clock: Clock) -> Dict[str, Any]:
    state = run["state"]
    job = JOBS_BY_NAME.get(run["job"])
    entry = {"job": run["job"], "campaign_id": run["campaign_id"],
             "table": job.table if job else "", "state": state, "title": run["title"],
        "recipients": run["recipients"], "written": run["written"],
        "attempts": run["attempts"], "last_error": run["last_error"],
        "started_at": run["started_at"], "finished_at": run["finished_at"],
        "updated_at": run["updated_at"], "idle_seconds": run["idle_seconds"],
        "duration_seconds": run["duration_seconds"], "problem": _problem(run),
        "requested": run["requested"], "requested_by": run["requested_by"],
        "requested_at": run["requested_at"]}
    if state == RunState.RUNNING:
        entry.update(_progress(run, clock))
    return entry


def _add_titles(tx: StoreTransaction, runs: List[Dict[str, Any]]) -> None:
    """A run's title: from its message once started, else from its campaign row."""
    for run in runs:
        if run.get("title"):
            continue
        if run["message"]:
            run["title"] = Delivery.from_json(run["message"]).title
            continue
        job = JOBS_BY_NAME.get(run["job"])
        try:
            campaign = tx.campaign(job.name, run["campaign_id"]) if job else None
        except TransientError:  # its table is locked: unreadable says so
            campaign = None
        run["title"] = _title(job, campaign) if job and campaign else ""


def _progress(run: Dict[str, Any], clock: Clock) -> Dict[str, Any]:
    """Rows per second on average since the run last started or resumed (not over
    the time it was cancelled or failed), and the time left at that rate."""
    if run["resumed_at"] is not None:
        seconds = (clock.now - run["resumed_at"]).total_seconds()
        rows = run["written"] - run["written_at_resume"]
    else:  # a run started before the column existed
        seconds, rows = run["running_seconds"] or 0, run["written"]
    rate = rows / seconds if seconds > 0 else None
    left = run["recipients"] - run["written"]
    return {"rows_per_second": round(rate, 1) if rate is not None else None,
            "eta_seconds": round(left / rate) if rate else None}


def _problem(run: Dict[str, Any]) -> Optional[str]:
    if run["state"] == RunState.RUNNING and (run["idle_seconds"] or 0) > STUCK_SECONDS:
        return "stuck"
    if run["state"] == RunState.RETRY and run.get("unsent") \
            and min(run["idle_seconds"] or 0, run.get("late_seconds", 0)) > OVERDUE_SECONDS:
        return "overdue"
    if run["state"] in UNSENT_STATES and run.get("unsent"):
        return run["state"]
    if run["state"] == RunState.DONE and run["recipients"] == 0 and run["recent"]:
        return SENT_TO_NOBODY
    return None


# ---------------------------------------------------------------- the verdict

def check(report: Dict[str, Any]) -> Dict[str, Any]:
    """OK / WARNING / CRITICAL, and the one line that says why."""
    problems: Dict[str, List[str]] = {}
    for entry in report["campaigns"]:
        if entry["problem"]:
            problems.setdefault(entry["problem"], []).append(
                "%s %s" % (entry["job"], entry["campaign_id"]))
    critical = [] if report["instance"]["held"] else [
        "no instance holds the lock %s" % report["instance"]["lock_name"]]
    critical += [job["problem"] for job in report.get("jobs", ()) if job["problem"]]
    critical += _listed(problems, ("stuck",))
    warning = report.get("unreadable", []) + _listed(
        problems, ("overdue",) + UNSENT_STATES + (SENT_TO_NOBODY,))
    level = CRITICAL if critical else WARNING if warning else OK
    summary = "; ".join(critical + warning) if level != OK else _all_well(report)
    if level != OK and report["instance"]["held"]:
        summary += "; " + _holder(report["instance"])
    return {"status": LEVELS[level], "exit_code": level,
            "summary": "%s: %s" % (LEVELS[level], summary)}


def _listed(problems: Dict[str, List[str]], kinds: Tuple[str, ...]) -> List[str]:
    parts = []
    for kind in kinds:
        names = problems.get(kind, [])
        if names:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            parts.append("%d %s (%s)" % (len(names), kind, shown))
    return parts


def _all_well(report: Dict[str, Any]) -> str:
    counts: Dict[str, int] = {}
    for entry in report["campaigns"]:
        counts[entry["state"]] = counts.get(entry["state"], 0) + 1
    return "%s; %d running, %d due or scheduled, %d done in %d h" % (
        _holder(report["instance"]), counts.get("running", 0),
        counts.get("due", 0) + counts.get("scheduled", 0) + counts.get("retry", 0),
        counts.get("done", 0), report["hours"])


def _holder(instance: Dict[str, Any]) -> str:
    if not instance["held"]:
        return "no instance holds the lock"
    return "pid %s on %s holds the lock since %s" % (instance["pid"], instance["host"],
                                                     timestamp(instance["since"]))


# ---------------------------------------------------------------- the text

def render(report: Dict[str, Any]) -> List[str]:
    instance = report["instance"]
    lines = ["message_handling on %s, server time %s" % (report["database"],
                                                         timestamp(report["now"])),
             "clock     %s" % CLOCKS,
             "instance  %s" % _instance_text(instance), ""]
    lines += _jobs_text(report)
    by_state: Dict[str, List[Dict[str, Any]]] = {}
    for entry in report["campaigns"]:
        by_state.setdefault(entry["state"], []).append(entry)
    for title, states, columns in _sections(report["hours"]):
        entries = [entry for state in states for entry in by_state.get(state, [])]
        lines.append("%s: %s" % (title, len(entries) or "none"))
        if entries:
            headers, right, cells = columns(entries)
            lines += table(headers, cells, right=right)
        lines.append("")
    lines.append("check     %s" % report["check"]["summary"])
    return lines


def _jobs_text(report: Dict[str, Any]) -> List[str]:
    """The lock holder's job threads: when each last completed a poll, what it does."""
    if not report.get("jobs"):
        return []
    now = report["now"]
    cells = [[job["job"], "STUCK" if job["problem"] else "ok",
              "%s ago" % duration((now - job["poll_ended"]).total_seconds())
              if job["poll_ended"] else "never", job["doing"],
              cut(job["last_error"] or "-", 60)] for job in report["jobs"]]
    return (["Jobs of the lock holder:"]
            + table(("job", "state", "last poll ended", "doing", "last error"), cells)
            + [""])


def _instance_text(instance: Dict[str, Any]) -> str:
    standby = "".join("\n          standing by: pid %s on %s, since %s" % (
        each["pid"], each["host"], timestamp(each["since"])) for each in instance["standby"])
    if instance["held"]:
        return "%s (lease %s, epoch %s, expires %s)%s" % (
            _holder(instance), instance["lock_name"], instance["epoch"],
            timestamp(instance["expires_at"]), standby)
    last = ""
    if instance["pid"] is not None:
        last = " (last: pid %s on %s, from %s, epoch %s)" % (
            instance["pid"], instance["host"], timestamp(instance["since"]),
            instance["epoch"])
    return "NONE: no instance holds the lock %s%s%s" % (instance["lock_name"], last, standby)


def _sections(hours: int) -> List[Tuple[str, Tuple[str, ...], Any]]:
    return [("Running", ("running",), _running_columns),
            ("Waiting (due now, retry requested, or due within %d h)" % hours,
             ("due", "retry", "scheduled"), _waiting_columns),
            ("Not sent (failed, skipped, expired)", UNSENT_STATES, _failed_columns),
            ("Done in the last %d h" % hours, ("done",), _done_columns),
            ("Cancelled in the last %d h" % hours, ("cancelled",), _cancelled_columns)]


def _name(entry: Dict[str, Any]) -> List[str]:
    return [entry["job"], str(entry["campaign_id"]), cut(entry["title"], TITLE_WIDTH)]


def _flag(entry: Dict[str, Any]) -> str:
    return entry["problem"].upper() if entry["problem"] else ""


def _running_columns(entries: List[Dict[str, Any]]) -> Tuple:
    cells = []
    for e in entries:
        percent = 100.0 * e["written"] / e["recipients"] if e["recipients"] else 100.0
        rate = e["rows_per_second"]
        cells.append(_name(e) + ["%s / %s" % (number(e["written"]), number(e["recipients"])),
                                 "%.1f %%" % percent, number(round(rate)) if rate else "-",
                                 duration(e["eta_seconds"]),
                                 "%s ago" % duration(e["idle_seconds"]), _flag(e)])
    return (("job", "id", "title", "written", "done", "rows/s", "ETA", "last chunk", ""),
            (3, 4, 5, 6, 7), cells)


def _waiting_columns(entries: List[Dict[str, Any]]) -> Tuple:
    cells = []
    for e in sorted(entries, key=lambda e: (e.get("due_at") is None, e.get("due_at") or 0)):
        if e["state"] == "retry":
            send, when = "-", "%s %s ago" % (_request(e), duration(e["idle_seconds"]))
        elif e["state"] == "due":
            send, when = timestamp(e["send_time"]), "due for %s" % duration(
                e["waiting_seconds"])
        else:
            send, when = timestamp(e["send_time"]), "due at %s" % timestamp(e["due_at"])
        if e["problem"]:
            when = "%s: %s" % (e["problem"].upper(), when)
        cells.append(_name(e) + [e["state"], send, when, e.get("note") or ""])
    return (("job", "id", "title", "state", "send time", "when", "note"), (), cells)


def _failed_columns(entries: List[Dict[str, Any]]) -> Tuple:
    cells = [_name(e) + [e["state"], timestamp(e["updated_at"]),
                         "unsent" if e["problem"] else "", cut(e["last_error"], 70)]
             for e in entries]
    return (("job", "id", "title", "state", "at", "legacy row", "reason"), (), cells)


def _done_columns(entries: List[Dict[str, Any]]) -> Tuple:
    cells = [_name(e) + [number(e["written"]), duration(e["duration_seconds"]),
                         timestamp(e["finished_at"])] for e in entries]
    return (("job", "id", "title", "recipients", "took", "finished"), (3, 4), cells)


def _cancelled_columns(entries: List[Dict[str, Any]]) -> Tuple:
    cells = [_name(e) + ["%s / %s" % (number(e["written"]), number(e["recipients"])),
                         timestamp(e["finished_at"]), _request(e)] for e in entries]
    return (("job", "id", "title", "written", "cancelled", "by"), (3,), cells)


def _request(entry: Dict[str, Any]) -> str:
    """'retry by ops@host-a' (who asked for the last cancel or retry), or 'retry requested'
    for a request recorded before the columns existed."""
    if not entry.get("requested_by"):
        return "%s requested" % entry["state"] if entry["state"] == "retry" else "-"
    return "%s by %s" % (entry["requested"], entry["requested_by"])
