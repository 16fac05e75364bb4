"""The store: the one module that speaks SQL.

Every statement the daemon and its commands send is a named entry of
sql/queries.sql or sql/operations.sql, run here with parameters and returned
as a dataclass. Driver errors come out of util.db already translated per
statement (DatabaseUnavailable, TransientError, MissingTable naming the table,
QueryError). Run states travel as RunState and reach SQL as parameters.

`Store.transaction()` yields a `StoreTransaction`: the typed statements of one
transaction, for the engine's claim and chunk transactions, whose steps must
commit together. The other methods of `Store` are one transaction each.
"""
from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from mg_handling import targeting
from mg_handling.messages import MESSAGE_PROMOTION, MESSAGE_QUEUE, Delivery
from mg_handling.queries import Q, read_sql
from mg_handling.states import FINAL, OPEN, RunState, sql_values
from mg_handling.targeting import Targeting
from util.config import DatabaseConfig
from util.db import (
    READ_TIMEOUT,
    Database,
    DedicatedConnection,
    MissingTable,
    Outage,
    QueryError,
    Row,
    Transaction,
    TransientError,
    run_script,
)

JOB_NAMES = ("news", "promotion", "activity")
_DUE = {job: getattr(Q, "due_" + job) for job in JOB_NAMES}
_CAMPAIGN = {job: getattr(Q, "campaign_" + job) for job in JOB_NAMES}
_MARK_SENT = {job: getattr(Q, "mark_sent_" + job) for job in JOB_NAMES}
_WRITE = {MESSAGE_QUEUE: Q.write_message_queue, MESSAGE_PROMOTION: Q.write_message_promotion}
# The daemon's columns in a row that also holds a campaign's (queries.sql: run_columns).
_DAEMON_COLUMN_PREFIX = "mh_"
_STATES = {"pending": RunState.PENDING.value, "running": RunState.RUNNING.value,
           "done": RunState.DONE.value, "retry": RunState.RETRY.value,
           "cancelled": RunState.CANCELLED.value,
           "not_due_again": sql_values(FINAL | {RunState.RUNNING}),
           "open": sql_values(OPEN)}
# READ COMMITTED: INSERT ... SELECT then takes no shared locks on the account
# and card rows it reads, so the platform's own writers are never blocked.
# 256 MiB in-memory temporary tables: the scan audience plan keeps its sets
# (a few million card ids at most) in memory instead of spilling to disk,
# which made it 5x slower at 1M users. They are allocated as rows arrive.
SESSION_SETUP = ("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                 "SET SESSION tmp_table_size = 268435456, max_heap_table_size = 268435456")
PRUNE_ROWS = 10000
# An audience SELECT (targeting.py) counted or sampled instead of frozen, by `preview`.
_COUNT = "SELECT COUNT(*) AS recipients FROM ({select}) a"
_SAMPLE = "SELECT a.recipient FROM ({select}) a LIMIT %(limit)s"

# A statement waits this long at most for a table's metadata lock (another session's
# LOCK TABLES or ALTER TABLE), then fails with error 1205, a TransientError. The
# daemon's wait ends before its read timeout, so the server ends it (a connection cut
# by the client would leave the server's thread waiting); an operator command's is
# short, so that `status` answers while a campaign table is locked.
DAEMON_LOCK_WAIT = "SET SESSION lock_wait_timeout = 50"
COMMAND_LOCK_WAIT = "SET SESSION lock_wait_timeout = 5"
# The audience freeze: the server aborts it after freeze_timeout (MariaDB's
# max_statement_time, error 1969), and the connection waits this much longer for the
# answer, so that the server's error, not a cut connection, ends a freeze too long.
FREEZE_READ_MARGIN = 60
STATEMENT_TIME_EXCEEDED = 1969
DEFAULT_FREEZE_TIMEOUT = 3600


@dataclass(frozen=True)
class Limits:
    """How long statements may take (issue 12): the audience freeze, bounded on the
    server; any other answer of the server (the socket's read timeout); a metadata lock."""
    freeze_timeout: int = DEFAULT_FREEZE_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    lock_wait: str = DAEMON_LOCK_WAIT

    @classmethod
    def for_command(cls, freeze_timeout: int) -> "Limits":
        """`preview` counts an audience with the freeze's statement: it may take as long."""
        return cls(freeze_timeout, freeze_timeout + FREEZE_READ_MARGIN, COMMAND_LOCK_WAIT)



# ---------------------------------------------------------------- types

@dataclass(frozen=True)
class Campaign:
    """A campaign row: the columns its job reads from its own table, and the
    database server's clock when it was read."""
    job: str
    id: int
    columns: Mapping[str, Any]
    db_now: int

    def fingerprint(self) -> str:
        """A digest of the campaign's own columns: a settled campaign is looked at
        again only when its row changed."""
        text = json.dumps(dict(self.columns), sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class DueCampaign:
    """A campaign the due query returned, with the daemon's record of it, if any."""
    campaign: Campaign
    run_id: Optional[int]
    run_state: Optional[RunState]
    run_fingerprint: Optional[str]


@dataclass(frozen=True)
class Run:
    """A row of mh_campaign_run."""
    id: int
    job: str
    campaign_id: int
    state: RunState
    fingerprint: str
    target: str
    message: Optional[str]
    recipients: int
    written: int
    resume_after: int
    last_audience_id: int
    attempts: int
    last_error: str
    created_at: Optional[datetime]
    started_at: Optional[datetime]
    finished_at: Optional[datetime]
    updated_at: Optional[datetime]

    @classmethod
    def from_row(cls, row: Row) -> "Run":
        values = {name: row[name] for name in cls.__dataclass_fields__}
        values["state"] = RunState(row["state"])
        return cls(**values)

    def delivery(self) -> Optional[Delivery]:
        return Delivery.from_json(self.message) if self.message else None


@dataclass(frozen=True)
class LockedRun:
    """A run row locked FOR UPDATE, and the connection holding the instance lock
    as the server saw it in the same statement."""
    run: Run
    lock_holder: Optional[int]


@dataclass(frozen=True)
class RunReport:
    """A run as `status` shows it, with its ages from the server's clock."""
    run: Run
    running_seconds: Optional[int]
    duration_seconds: Optional[int]
    idle_seconds: Optional[int]
    recent: bool


@dataclass(frozen=True)
class AudienceQuery:
    """A campaign's audience statements' parameters, and the plan chosen for them."""
    targeting: Targeting
    params: Mapping[str, Any]
    plan: str


@dataclass(frozen=True)
class Frozen:
    """A frozen audience: its size, the plan that found it, its id range."""
    recipients: int
    plan: str
    first_after: int
    last_audience_id: int


@dataclass(frozen=True)
class Clock:
    """The database server's clock: "now" is never the operator's host's."""
    now: datetime
    unix_now: int

    def at(self, unix_time: int) -> datetime:
        """A Unix time as the server's local time (what NOW() would have said)."""
        return self.now - timedelta(seconds=self.unix_now - unix_time)


@dataclass(frozen=True)
class InstanceRecord:
    """Who took the instance lock last (mh_instance)."""
    host: str
    pid: int
    connection_id: int
    started_at: datetime


def _campaign(job: str, row: Row) -> Campaign:
    columns = {key: value for key, value in row.items()
               if not key.startswith(_DAEMON_COLUMN_PREFIX)}
    return Campaign(job, int(row["id"]), MappingProxyType(columns), int(row["mh_db_now"]))


def _due(job: str, row: Row) -> DueCampaign:
    state = row["mh_run_state"]
    return DueCampaign(_campaign(job, row), row["mh_run_id"],
                       RunState(state) if state is not None else None,
                       row["mh_run_fingerprint"])


def _locked(row: Optional[Row]) -> LockedRun:
    if row is None:
        raise MissingTable("no run row to lock", None, "mh_campaign_run")
    return LockedRun(Run.from_row(row), row["lock_holder"])


# ---------------------------------------------------------------- one transaction

class StoreTransaction:
    """The typed statements of one open transaction."""

    def __init__(self, tx: Transaction, limits: Optional[Limits] = None) -> None:
        self._tx = tx
        self._limits = limits or Limits()

    # -- reading campaigns
    def due_campaigns(self, job: str, ahead: int) -> List[DueCampaign]:
        return [_due(job, row) for row in self._tx.all(_DUE[job], dict(_STATES, ahead=ahead))]

    def campaign(self, job: str, campaign_id: int) -> Optional[Campaign]:
        row = self._tx.one(_CAMPAIGN[job], {"campaign_id": campaign_id})
        return _campaign(job, row) if row else None

    # -- runs
    def lock_run_of_campaign(self, job: str, campaign_id: int, lock_name: str) -> LockedRun:
        """The campaign's run row, created if new, locked."""
        key = dict(_STATES, job=job, campaign_id=campaign_id, lock_name=lock_name)
        self._tx.execute(Q.ensure_run, key)
        return _locked(self._tx.one(Q.lock_run_of_campaign, key))

    def lock_run(self, run_id: int, lock_name: str) -> LockedRun:
        return _locked(self._tx.one(Q.lock_run, {"run_id": run_id, "lock_name": lock_name}))

    def run_of_campaign(self, job: str, campaign_id: int, lock: bool = False
                        ) -> Optional[Run]:
        """The daemon's record of a campaign (locked as a chunk locks it when `lock`);
        None when there is none, or when the daemon's tables do not exist yet."""
        sql = Q.lock_run_for_operator if lock else Q.run_of_campaign
        try:
            row = self._tx.one(sql, {"job": job, "campaign_id": campaign_id})
        except MissingTable as missing:
            if missing.table != "mh_campaign_run":
                raise
            return None
        return Run.from_row(row) if row else None

    def ensure_run(self, job: str, campaign_id: int) -> None:
        self._tx.execute(Q.ensure_run, dict(_STATES, job=job, campaign_id=campaign_id))

    def record_outcome(self, run_id: int, state: RunState, fingerprint: str,
                       reason: str) -> None:
        self._tx.execute(Q.record_outcome, {"run_id": run_id, "state": state.value,
                                            "fingerprint": fingerprint,
                                            "reason": reason[:1000]})

    def audience_query(self, campaign_targeting: Targeting) -> AudienceQuery:
        """The parameters of a campaign's audience statements (its codes widened
        with their children) and the plan that finds its audience fastest: the
        narrow one when the region is small and its indexes exist."""
        children = {name: [row["code"] for row in self._tx.all(sql, {"codes": codes})]
                    for name, sql, codes in targeting.widenings(campaign_targeting)}
        params = targeting.audience_params(campaign_targeting, children)
        return AudienceQuery(campaign_targeting, MappingProxyType(params),
                             self.plan_for(params))

    def plan_for(self, params: Mapping[str, Any]) -> str:
        """The narrow plan when the region is small and its indexes exist, else scan."""
        tables = tuple({table for table, _ in targeting.NARROW_INDEXES})
        indexed = {(row["table_name"], row["column_name"])
                   for row in self._tx.all(Q.indexed_columns, {"tables": tables})}
        if not targeting.NARROW_INDEXES <= indexed:
            return "scan"
        reach = self._tx.one(targeting.REGION_REACH,
                             dict(params, tables=targeting.AUDIENCE_TABLES))
        return targeting.plan_for_reach(reach) if reach else "scan"

    def freeze_audience(self, run_id: int, audience: str,
                        campaign_targeting: Targeting) -> Frozen:
        """Freeze the campaign's recipients into mh_audience, replacing any earlier try."""
        self._tx.execute(Q.clear_audience, {"run_id": run_id})
        with self._time_limit(self._limits.freeze_timeout):
            query = self.audience_query(campaign_targeting)
            fill = targeting.STATEMENTS[query.plan].fills[audience]
            recipients = self._tx.execute(fill, dict(query.params, run_id=run_id))
        bounds = self._tx.row(Q.audience_bounds, {"run_id": run_id})
        return Frozen(recipients, query.plan, int(bounds["first_after"]),
                      int(bounds["last_audience_id"]))

    def count_audience(self, query: AudienceQuery, audience: str) -> int:
        select = targeting.STATEMENTS[query.plan].selects[audience]
        return int(self._tx.row(_COUNT.format(select=select), dict(query.params))["recipients"])

    def sample_audience(self, query: AudienceQuery, audience: str, limit: int) -> List[Any]:
        """The first recipients the server finds (LIMIT without ORDER BY stops early)."""
        select = targeting.STATEMENTS[query.plan].selects[audience]
        return [row["recipient"] for row in self._tx.all(
            _SAMPLE.format(select=select), dict(query.params, limit=limit))]

    def breakdown_counts(self, query: AudienceQuery) -> Dict[Tuple[str, str], int]:
        """(dimension, code) -> the matching accounts under that code, in the query's
        plan; ('all', ''), ('email', ''), ('mobile', ''): all, with an address."""
        lists = {name + "_list": ",".join(query.targeting.codes(name))
                 for name in targeting.DIMENSION_NAMES}
        return {(row["dimension"], row["code"]): int(row["accounts"]) for row in self._tx.all(
            targeting.STATEMENTS[query.plan].breakdown, dict(query.params, **lists))}

    def start_run(self, run_id: int, fingerprint: str, delivery: Delivery,
                  frozen: Frozen) -> None:
        self._tx.execute(Q.start_run, dict(
            _STATES, run_id=run_id, fingerprint=fingerprint, target=delivery.target,
            message=delivery.to_json(), recipients=frozen.recipients,
            first_after=frozen.first_after, last_audience_id=frozen.last_audience_id))

    def resume_run(self, run_id: int, fingerprint: str, delivery: Delivery) -> None:
        """A run that wrote chunks goes on from its cursor, with the corrected message."""
        self._tx.execute(Q.resume_run, dict(
            _STATES, run_id=run_id, fingerprint=fingerprint, target=delivery.target,
            message=delivery.to_json()))

    def write_chunk(self, run_id: int, after: int, until: int, delivery: Delivery) -> int:
        """The recipients of audience ids (after, until] as rows of the delivery's
        table, and the cursor moved past them; returns the rows written."""
        written = self._tx.execute(_WRITE[delivery.target], {
            "run_id": run_id, "after": after, "until": until,
            "message_type": delivery.message_type, "from_uid": delivery.from_uid,
            "title": delivery.title, "content": delivery.content})
        self._tx.execute(Q.advance_run, {"run_id": run_id, "until": until, "written": written})
        return written

    def finish(self, job: str, run: Run) -> None:
        """The legacy row marked sent and the run done, in the last chunk's transaction."""
        self._tx.execute(_MARK_SENT[job], {"campaign_id": run.campaign_id,
                                           "recipients": run.written})
        self._tx.execute(Q.finish_run, dict(_STATES, run_id=run.id))

    def cancel_run(self, run_id: int, reason: str) -> None:
        self._tx.execute(Q.cancel_run, dict(_STATES, run_id=run_id, reason=reason))

    def request_retry(self, run_id: int) -> None:
        self._tx.execute(Q.request_retry, dict(_STATES, run_id=run_id))

    # -- status and preview
    def clock(self) -> Clock:
        row = self._tx.row(Q.server_clock)
        return Clock(row["now"], int(row["unix_now"]))

    def runs_for_status(self, hours: int) -> List[RunReport]:
        return [RunReport(Run.from_row(row), row["running_seconds"], row["duration_seconds"],
                          row["idle_seconds"], bool(row["recent"]))
                for row in self._tx.all(Q.status_runs, dict(_STATES, hours=hours))]

    def lock_holder(self, lock_name: str) -> Optional[int]:
        """The connection holding the instance lock now, as this server sees it."""
        holder = self._tx.row(Q.lock_holder, {"lock_name": lock_name})["connection_id"]
        return int(holder) if holder is not None else None

    def instance_record(self, lock_name: str) -> Optional[InstanceRecord]:
        return _instance_record(self._tx, lock_name)

    def known_codes(self, dimension: str, codes: Sequence[str]) -> Dict[str, str]:
        """code (lower case: the code tables compare case-insensitively) -> what the
        code tables know it as, for the codes they hold."""
        sql = Q.known_region_codes if dimension == "region" else Q.known_industry_codes
        return {row["code"].lower(): row["kind"]
                for row in self._tx.all(sql, {"codes": tuple(codes)})}

    def describe_users(self, user_ids: Sequence[str]) -> List[Row]:
        if not user_ids:
            return []
        users = {row["user_id"]: row
                 for row in self._tx.all(Q.describe_users, {"user_ids": tuple(user_ids)})}
        return [users[user_id] for user_id in user_ids if user_id in users]

    @property
    def statements(self) -> Transaction:
        """The raw transaction, for the audience statements of targeting.py."""
        return self._tx

    # -- time limits and job health (issue 12)
    @contextmanager
    def _time_limit(self, seconds: int) -> Iterator[None]:
        """The block's statements aborted by the server after `seconds` (MariaDB; on
        MySQL only the read timeout bounds them), a QueryError that fails the campaign:
        trying the same freeze again would take as long. After an error the limit stays
        on the pooled connection: longer than any other statement's read timeout, it
        changes nothing there."""
        with self._tx.read_timeout_for(seconds + FREEZE_READ_MARGIN):
            self._tx.execute(Q.limit_statement_time, {"seconds": seconds})
            try:
                yield
            except TransientError as error:
                if error.code != STATEMENT_TIME_EXCEEDED:
                    raise
                raise QueryError("the audience freeze took longer than [main] freeze_timeout "
                                 "(%d s): %s" % (seconds, error), error.code) from None
            self._tx.execute(Q.unlimit_statement_time)

    def job_health(self, key: "InstanceKey") -> List["JobHealth"]:
        """The job rows of one instance; none when the table does not exist yet."""
        try:
            rows = self._tx.all(Q.job_health_of_instance, key.params())
        except MissingTable as missing:
            if missing.table != "mh_job_health":
                raise
            return []
        return [JobHealth(row["job"], float(row["poll_interval"]), row["poll_started_at"],
                          row["poll_ended_at"], row["doing"], row["last_error"],
                          row["last_error_at"]) for row in rows]


def _instance_record(tx: Transaction, lock_name: str) -> Optional[InstanceRecord]:
    try:
        row = tx.one(Q.instance_of_lock, {"lock_name": lock_name})
    except MissingTable as missing:
        if missing.table != "mh_instance":
            raise
        return None
    return InstanceRecord(row["host"], int(row["pid"]), int(row["connection_id"]),
                          row["started_at"]) if row else None


# ---------------------------------------------------------------- the store

class Store:
    """A pool of connections to one database, and its one-transaction operations."""

    def __init__(self, config: DatabaseConfig, max_connections: int = 8,
                 outage: Optional[Outage] = None, limits: Optional[Limits] = None) -> None:
        self.config = config
        self.limits = limits or Limits()
        self.db = Database(config, max_connections=max_connections, outage=outage,
                           session_setup=SESSION_SETUP + (self.limits.lock_wait,),
                           read_timeout=self.limits.read_timeout)

    @property
    def outage(self) -> Outage:
        return self.db.outage

    @contextmanager
    def transaction(self) -> Iterator[StoreTransaction]:
        with self.db.transaction() as tx:
            yield StoreTransaction(tx, self.limits)

    def close(self) -> None:
        self.db.close()

    def ensure_schema(self) -> None:
        """The daemon's own tables, created if missing (never the legacy ones)."""
        with self.db.transaction() as tx:
            run_script(tx, read_sql("daemon_schema.sql"))

    def due_campaigns(self, job: str, ahead: int) -> List[DueCampaign]:
        with self.transaction() as tx:
            return tx.due_campaigns(job, ahead)

    def runs_with_leftover_audience(self, job: Optional[str]) -> List[int]:
        """Done runs (of one job, or all) whose frozen audience is still there."""
        with self.db.transaction() as tx:
            return [int(row["id"]) for row in tx.all(
                Q.runs_with_leftover_audience, dict(_STATES, job=job))]

    def prune_audience(self, run_id: int) -> None:
        """Delete a done run's audience, a bounded batch per transaction."""
        deleted = PRUNE_ROWS
        while deleted == PRUNE_ROWS:
            with self.db.transaction() as tx:
                deleted = tx.execute(Q.prune_audience, {"run_id": run_id, "limit": PRUNE_ROWS})

    # -- job health (issue 12): each report in a transaction of its own
    def record_job_health(self, key: "InstanceKey", job: str, report: "HealthReport") -> None:
        with self.db.transaction() as tx:
            tx.execute(Q.record_job_health, dict(
                key.params(), job=job, started=report.started, ended=report.ended,
                doing=report.doing[:255], error=report.error[:1000] if report.error else None))

    def prune_job_health(self, lock_name: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(Q.prune_job_health, {"lock_name": lock_name})


# ---------------------------------------------------------------- the lock's connection

class LockConnection:
    """The instance lock's own connection: a named lock lives as long as it."""

    def __init__(self, config: DatabaseConfig) -> None:
        self._connection = DedicatedConnection(config)
        self._tx = self._connection.statements

    def get_lock(self, lock_name: str) -> Tuple[Optional[int], int]:
        """GET_LOCK's answer (1 taken, 0 held by another, None an error) and this
        connection's id."""
        row = self._tx.row(Q.get_lock, {"lock_name": lock_name})
        acquired = row["acquired"]
        return (int(acquired) if acquired is not None else None), int(row["connection_id"])

    def owned(self, lock_name: str) -> bool:
        return self._tx.row(Q.lock_owned, {"lock_name": lock_name})["owned"] == 1

    def holder(self, lock_name: str) -> Optional[int]:
        holder = self._tx.row(Q.lock_holder, {"lock_name": lock_name})["connection_id"]
        return int(holder) if holder is not None else None

    def instance_record(self, lock_name: str) -> Optional[InstanceRecord]:
        return _instance_record(self._tx, lock_name)

    def record_instance(self, lock_name: str, host: str, pid: int, connection_id: int
                        ) -> None:
        self._tx.execute(Q.record_instance, {"lock_name": lock_name, "host": host, "pid": pid,
                                             "connection_id": connection_id})

    def close(self) -> None:
        self._connection.close()


# ---------------------------------------------------------------- job health (issue 12)

@dataclass(frozen=True)
class InstanceKey:
    """One daemon process, as mh_job_health keys its rows."""
    lock_name: str
    host: str
    pid: int
    poll_interval: float = 0.0

    def params(self) -> Dict[str, Any]:
        return {"lock_name": self.lock_name, "host": self.host, "pid": self.pid,
                "poll_interval": self.poll_interval}


@dataclass(frozen=True)
class HealthReport:
    """What a job thread reports: a poll started or ended now, what it does, an error."""
    doing: str
    started: bool = False
    ended: bool = False
    error: Optional[str] = None


@dataclass(frozen=True)
class JobHealth:
    """A row of mh_job_health (times from the server's clock)."""
    job: str
    poll_interval: float
    poll_started: Optional[datetime]
    poll_ended: Optional[datetime]
    doing: str
    last_error: Optional[str]
    last_error_at: Optional[datetime]
