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
from typing import Any, Dict, FrozenSet, Iterator, List, Mapping, Optional, Sequence, Tuple

from mg_handling import targeting
from mg_handling.errors import CampaignError
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
    Statement,
    Transaction,
    TransientError,
    run_script,
)

JOB_NAMES = ("news", "promotion", "activity")
_DUE = {job: getattr(Q, "due_" + job) for job in JOB_NAMES}
_CAMPAIGN = {job: getattr(Q, "campaign_" + job) for job in JOB_NAMES}
_MARK_SENT = {job: getattr(Q, "mark_sent_" + job) for job in JOB_NAMES}
_MARK_UNSENT = {job: getattr(Q, "mark_unsent_" + job) for job in JOB_NAMES}
# The code tables of the dimensions that have one (func codes have none).
CODE_TABLES = {"region": "province_city_code", "industry": "industry_category"}
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
# A transaction left open by a client that stopped (a frozen host) would hold its
# row locks, the lease row's included, until the connection died: MariaDB (10.3+,
# the versioned comment; MySQL ignores it) ends it after idle_transaction_timeout,
# the lease's length, so that a standby's takeover is never blocked longer.
# A statement waits for a row or a table's metadata lock (another session's LOCK
# TABLES or ALTER TABLE) at most lock_wait seconds, then fails with error 1205, a
# TransientError: the server ends the wait before the connection's read timeout
# would (a connection cut by the client would leave the server's thread waiting).
def session_setup(limits: "Limits") -> Tuple[Statement, ...]:
    return (("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", {}),
            ("SET SESSION tmp_table_size = 268435456, max_heap_table_size = 268435456, "
             "lock_wait_timeout = %(lock_wait)s, innodb_lock_wait_timeout = %(lock_wait)s"
             " /*M!100300 , idle_transaction_timeout = %(idle)s */",
             {"lock_wait": limits.lock_wait, "idle": limits.idle_transaction}))
PRUNE_ROWS = 10000
# An audience SELECT (targeting.py) counted or sampled instead of frozen, by `preview`.
_COUNT = "SELECT COUNT(*) AS recipients FROM ({select}) a"
_SAMPLE = "SELECT a.recipient FROM ({select}) a LIMIT %(limit)s"
# mh_campaign_run's columns added since its first version, in order: each has its
# operations.sql entry add_run_column_<name>, run at start when missing.
ADDED_RUN_COLUMNS = ("requested", "requested_by", "requested_at", "resumed_at",
                     "written_at_resume")

# An operator command's lock waits are short, so that `status` answers while a
# campaign table is locked.
COMMAND_LOCK_WAIT = 5
# The audience freeze: the server aborts it after freeze_timeout (MariaDB's
# max_statement_time, error 1969), and the connection waits this much longer for the
# answer, so that the server's error, not a cut connection, ends a freeze too long.
FREEZE_READ_MARGIN = 60
STATEMENT_TIME_EXCEEDED = 1969
DEFAULT_FREEZE_TIMEOUT = 3600


@dataclass(frozen=True)
class Limits:
    """How long statements may take (issues 11, 12), in seconds: the audience freeze,
    bounded on the server; any other answer of the server (the connections' read and
    write timeouts); a wait for a lock (ended by the server, before the read timeout);
    an idle transaction."""
    freeze_timeout: int = DEFAULT_FREEZE_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    lock_wait: int = 50
    idle_transaction: int = 3600

    @classmethod
    def for_daemon(cls, freeze_timeout: int, lock_timeout: float) -> "Limits":
        """The lease's length bounds every answer but the freeze's: a node that does
        not answer for that long (frozen, or cut off) is left for another
        (util.db.Database), as the lease keeper leaves it, instead of holding the jobs
        until the lease is lost. Its lock waits end a third earlier."""
        return cls(freeze_timeout, read_timeout=lock_timeout,
                   lock_wait=max(1, int(lock_timeout * 2 / 3)),
                   idle_transaction=max(1, round(lock_timeout)))

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
    requested: str = ""                      # the last operator request: cancel, retry
    requested_by: str = ""                   # its OS user@host
    requested_at: Optional[datetime] = None
    resumed_at: Optional[datetime] = None    # the last start or resume of the writing
    written_at_resume: int = 0               # `written` then

    @classmethod
    def from_row(cls, row: Row) -> "Run":
        values = {name: row[name] for name in cls.__dataclass_fields__}
        values["state"] = RunState(row["state"])
        return cls(**values)

    def delivery(self) -> Optional[Delivery]:
        return Delivery.from_json(self.message) if self.message else None


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
class LeaseTerms:
    """What an instance asks of the lease row: its name, the holder and epoch it
    holds (if any), how long a renewal lasts and how much must be left to renew."""
    lock_name: str
    holder: str
    epoch: int
    lease_us: int
    margin_us: int

    def params(self) -> Dict[str, Any]:
        return {"lock_name": self.lock_name, "holder": self.holder, "epoch": self.epoch,
                "lease_us": self.lease_us, "margin_us": self.margin_us}


@dataclass(frozen=True)
class Lease:
    """The lease row (mh_lease): who holds it, since when, until when (server time)."""
    epoch: int
    holder: str
    host: str
    pid: int
    acquired_at: Optional[datetime]
    expires_at: datetime
    live: bool


@dataclass(frozen=True)
class StandbyInstance:
    host: str
    pid: int
    since: datetime
    seen_at: datetime


def _campaign(job: str, row: Row) -> Campaign:
    columns = {key: value for key, value in row.items()
               if not key.startswith(_DAEMON_COLUMN_PREFIX)}
    return Campaign(job, int(row["id"]), MappingProxyType(columns), int(row["mh_db_now"]))


def _due(job: str, row: Row) -> DueCampaign:
    state = row["mh_run_state"]
    return DueCampaign(_campaign(job, row), row["mh_run_id"],
                       RunState(state) if state is not None else None,
                       row["mh_run_fingerprint"])


def _locked(row: Optional[Row]) -> Run:
    if row is None:
        raise MissingTable("no run row to lock", None, "mh_campaign_run")
    return Run.from_row(row)


def _rows_of_own_table(tx: Transaction, table: str, sql: str, params: Mapping[str, Any]
                       ) -> List[Row]:
    """The rows of a statement on one of the daemon's own tables: none while `table`
    does not exist (the daemon never ran on this database); another missing table is
    an error."""
    try:
        return tx.all(sql, params)
    except MissingTable as missing:
        if missing.table != table:
            raise
        return []


def _lease(tx: Transaction, lock_name: str) -> Optional[Lease]:
    rows = _rows_of_own_table(tx, "mh_lease", Q.lease, {"lock_name": lock_name})
    if not rows:
        return None
    row = rows[0]
    return Lease(int(row["epoch"]), row["holder"], row["host"], int(row["pid"]),
                 row["acquired_at"], row["expires_at"], bool(row["live"]))


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
    def lock_run_of_campaign(self, job: str, campaign_id: int) -> Run:
        """The campaign's run row, created if new, locked."""
        key = dict(_STATES, job=job, campaign_id=campaign_id)
        self._tx.execute(Q.ensure_run, key)
        return _locked(self._tx.one(Q.lock_run_of_campaign, key))

    def lock_run(self, run_id: int) -> Run:
        return _locked(self._tx.one(Q.lock_run, {"run_id": run_id}))

    def renew_lease(self, terms: LeaseTerms) -> bool:
        """The fence of a claim or chunk transaction, its last statement: true when
        this instance still holds the lease at its epoch with more than the margin
        left (and then it is renewed, in this transaction)."""
        return self._tx.execute(Q.renew_lease, terms.params()) == 1

    def run_of_campaign(self, job: str, campaign_id: int, lock: bool = False
                        ) -> Optional[Run]:
        """The daemon's record of a campaign (locked as a chunk locks it when `lock`);
        None when there is none, or when the daemon's tables do not exist yet."""
        sql = Q.lock_run_for_operator if lock else Q.run_of_campaign
        rows = _rows_of_own_table(self._tx, "mh_campaign_run", sql,
                                  {"job": job, "campaign_id": campaign_id})
        return Run.from_row(rows[0]) if rows else None

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
        with self._time_limit(self._limits.freeze_timeout):
            # An earlier try's audience may be as large as the new one: inside the bound.
            self._tx.execute(Q.clear_audience, {"run_id": run_id})
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

    def lease(self, lock_name: str) -> Optional[Lease]:
        """The lease row; None before any instance ran here."""
        return _lease(self._tx, lock_name)

    def standby_instances(self, lock_name: str, seconds: float) -> List[StandbyInstance]:
        rows = _rows_of_own_table(self._tx, "mh_standby", Q.standby_instances,
                                  {"lock_name": lock_name, "seconds": int(seconds) + 1})
        return [StandbyInstance(row["host"], int(row["pid"]), row["since"], row["seen_at"])
                for row in rows]

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

    # -- operator commands (issue 13)
    def unknown_codes(self, campaign_targeting: targeting.Targeting) -> List[str]:
        """The campaign's codes that no code table holds, as 'region 4403OO (in no
        province_city_code row)': a typo matches nobody."""
        unknown = []
        for dimension, code_table in CODE_TABLES.items():
            codes = getattr(campaign_targeting, dimension)
            known = self.known_codes(dimension, codes) if codes else {}
            unknown += ["%s %s (in no %s row)" % (dimension, code, code_table)
                        for code in codes if code.lower() not in known]
        return unknown

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
        rows = _rows_of_own_table(self._tx, "mh_job_health", Q.job_health_of_instance,
                                  key.params())
        return [JobHealth(row["job"], float(row["poll_interval"]), row["poll_started_at"],
                          row["poll_ended_at"], row["doing"], row["last_error"],
                          row["last_error_at"]) for row in rows]

    def mark_unsent(self, job: str, campaign_id: int) -> None:
        """The legacy row due again (the opposite of mark_sent_<job>), for the retry
        of a campaign that was marked sent with 0 recipients."""
        self._tx.execute(_MARK_UNSENT[job], {"campaign_id": campaign_id})

    def record_request(self, run_id: int, request: str, by: str) -> None:
        """Who asked for a cancel or a retry, and when (the server's clock)."""
        self._tx.execute(Q.record_request, {"run_id": run_id, "request": request,
                                            "requested_by": by[:255]})


# ---------------------------------------------------------------- the store

class Store:
    """A pool of connections to one database, and its one-transaction operations."""

    def __init__(self, config: DatabaseConfig, max_connections: int = 8,
                 outage: Optional[Outage] = None, limits: Optional[Limits] = None) -> None:
        self.config = config
        self.limits = limits or Limits()
        self.db = Database(config, max_connections=max_connections, outage=outage,
                           session=session_setup(self.limits),
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
        """The daemon's own tables, created if missing and upgraded if older (never
        the legacy ones)."""
        with self.db.transaction() as tx:
            run_script(tx, read_sql("daemon_schema.sql"))
        self.upgrade_schema()

    def due_campaigns(self, job: str, ahead: int) -> List[DueCampaign]:
        with self.transaction() as tx:
            return tx.due_campaigns(job, ahead)

    def id_step(self) -> int:
        """How far apart the audience's ids are (queries.sql, id_step)."""
        with self.db.transaction() as tx:
            return max(1, int(tx.row(Q.id_step)["id_step"]))

    def write_set_limits(self) -> Optional[Tuple[int, int]]:
        """(max rows, max bytes) of one transaction on a Galera node (0: no limit on
        rows), None on a plain server."""
        with self.db.transaction() as tx:
            values = {row["Variable_name"]: row["Value"] for row in tx.all(Q.write_set_limits)}
        if str(values.get("wsrep_on", "OFF")).upper() != "ON":
            return None
        return int(values.get("wsrep_max_ws_rows", 0)), int(values.get("wsrep_max_ws_size", 0))

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

    # -- operator commands (issue 13)
    def unknown_codes(self, job: str, campaign_id: int) -> List[str]:
        """StoreTransaction.unknown_codes of a campaign's row as it is now."""
        with self.transaction() as tx:
            campaign = tx.campaign(job, campaign_id)
            if campaign is None:
                return []
            try:
                campaign_targeting = targeting.Targeting.from_row(campaign.columns)
            except CampaignError:  # the row changed since, and is invalid now
                return []
            return tx.unknown_codes(campaign_targeting)

    # -- job health (issue 12): each report in a transaction of its own
    def record_job_health(self, key: "InstanceKey", job: str, report: "HealthReport") -> None:
        with self.db.transaction() as tx:
            tx.execute(Q.record_job_health, dict(
                key.params(), job=job, started=report.started, ended=report.ended,
                doing=report.doing[:255], error=report.error[:1000] if report.error else None))

    def prune_job_health(self, lock_name: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(Q.prune_job_health, {"lock_name": lock_name})

    def upgrade_schema(self) -> List[str]:
        """Add the columns later versions gave mh_campaign_run to a table an older
        version created (CREATE TABLE IF NOT EXISTS leaves an existing table as it
        is); the columns added. MySQL 5.7 has no ADD COLUMN IF NOT EXISTS: the
        missing ones are found in information_schema first (a new table has them
        all: no ALTER, whose metadata lock would wait for every open transaction)."""
        with self.db.transaction() as tx:
            present = {row["name"].lower() for row in tx.all(Q.run_table_columns)}
        added = [column for column in ADDED_RUN_COLUMNS if column not in present]
        for column in added:
            with self.db.transaction() as tx:  # DDL: each commits on its own anyway
                tx.execute(getattr(Q, "add_run_column_" + column))
        return added

    def mark_resumed(self, run_id: int) -> None:
        """A running run taken up again after a stop: where its rate starts."""
        with self.db.transaction() as tx:
            tx.execute(Q.mark_resumed, dict(_STATES, run_id=run_id))

    def catalog(self, tables: Sequence[str]) -> Catalog:
        """information_schema's view of `tables` and of this account (check-config):
        reads only."""
        with self.db.transaction() as tx:
            return _catalog(tx, tables)


# ---------------------------------------------------------------- check-config (issue 13)

@dataclass(frozen=True)
class Catalog:
    """What information_schema says about the configured database and account."""
    version: str
    account: str                                 # CURRENT_USER(): user@host
    columns: Mapping[str, Mapping[str, str]]     # table -> column (lower case) -> DATA_TYPE
    privileges: FrozenSet[Tuple[str, str, str]]  # (table or '', column or '', privilege)
    index_heads: FrozenSet[Tuple[str, str]]      # (table, first column of an index, lower)

    def granted(self, table: str, privilege: str, column: str = "") -> bool:
        """Held on the server or the database, on the table, or on that column."""
        return any(key in self.privileges for key in (
            ("", "", privilege), (table, "", privilege)) + (
            ((table, column, privilege),) if column else ()))


def _grantee(account: str) -> str:
    """CURRENT_USER()'s user@host as information_schema's GRANTEE: 'user'@'host'."""
    user, _, host = account.rpartition("@")
    return "'%s'@'%s'" % (user, host)


def _catalog(tx: Transaction, tables: Sequence[str]) -> Catalog:
    server = tx.row(Q.check_server)
    account = str(server["account"])
    columns: Dict[str, Dict[str, str]] = {}
    for row in tx.all(Q.check_columns, {"tables": tuple(tables)}):
        columns.setdefault(row["table_name"], {})[row["column_name"].lower()] = \
            row["data_type"].lower()
    privileges = frozenset((row["table_name"], row["column_name"], row["privilege"])
                           for row in tx.all(Q.check_privileges,
                                             {"grantee": _grantee(account)}))
    heads = frozenset((row["table_name"], row["column_name"].lower())
                      for row in tx.all(Q.check_index_heads, {"tables": tuple(tables)}))
    return Catalog(str(server["version"]), account, columns, privileges, heads)


# ---------------------------------------------------------------- the lease's connection

class LeaseConnection:
    """The instance lease's own connection (autocommit, each statement bounded by
    `timeout`): the keeper renews the lease on it whatever the pool is doing."""

    def __init__(self, config: DatabaseConfig, timeout: float) -> None:
        self._connection = DedicatedConnection(config, timeout)
        self._tx = self._connection.statements

    def take(self, terms: LeaseTerms, host: str, pid: int) -> bool:
        """Take the lease when it is free (a new epoch); true when taken."""
        self._tx.execute(Q.ensure_lease, {"lock_name": terms.lock_name})
        return self._tx.execute(Q.take_lease, dict(terms.params(), host=host, pid=pid)) == 1

    def take_from_dead(self, terms: LeaseTerms, host: str, pid: int, dead: Lease) -> bool:
        """Take the lease from a holder known not to run any more; true when taken."""
        return self._tx.execute(Q.take_lease_of_dead_holder, dict(
            terms.params(), host=host, pid=pid, dead_epoch=dead.epoch,
            dead_holder=dead.holder)) == 1

    def renew(self, terms: LeaseTerms) -> bool:
        return self._tx.execute(Q.renew_lease, terms.params()) == 1

    def release(self, terms: LeaseTerms) -> None:
        self._tx.execute(Q.release_lease, terms.params())

    def lease(self, lock_name: str) -> Optional[Lease]:
        return _lease(self._tx, lock_name)

    def record_standby(self, terms: LeaseTerms, host: str, pid: int) -> None:
        self._tx.execute(Q.record_standby, dict(terms.params(), host=host, pid=pid))

    def forget_standby(self, terms: LeaseTerms) -> None:
        self._tx.execute(Q.forget_standby, terms.params())

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
