"""One writing instance per database: a lease with a fencing epoch (mh_lease).

The lease is a row taken and renewed by writes, never a lock of one server's
(GET_LOCK, SELECT ... FOR UPDATE and connection ids are node-local on a Galera
cluster; writes are certified). It lasts `lock_timeout` seconds from its last
renewal, on the database server's clock:

- the keeper thread renews it every third of that, on a connection of its own
  whose statements are bounded by that third;
- every claim and chunk transaction renews it too, as its last statement,
  and only while more than a third is left: a holder that stopped answering
  (a frozen host, a cut network) commits nothing once its lease could be gone,
  and a stale holder's transaction, whose epoch is no longer the row's, matches
  no row and rolls back (on a cluster, certification refuses one of two
  concurrent writers of the row);
- a takeover raises the epoch, once the lease expired or was released.

A second instance exits (LockBusy) or, with `standby`, waits and takes the lease
over as soon as it is free; a holder that finds its lease taken over stops
writing and stands by, or exits when it is not a standby.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Optional

from mg_handling.store import Lease, LeaseConnection, LeaseTerms, StoreTransaction
from util.config import DatabaseConfig
from util.db import DatabaseError, DatabaseUnavailable, Outage

logger = logging.getLogger(__name__)


class LockBusy(Exception):
    """Another instance holds the lease; the message says who."""


class LockLost(Exception):
    """This instance no longer holds the lease: nothing may be written."""


# A standby records itself every few seconds (at most every 2 s): one not seen for
# this long is gone (`status` and the status page list the others).
STANDBY_SEEN_SECONDS = 30


def lock_name(database: str) -> str:
    return ("message_handling:%s" % database)[:64]


def _boot_id() -> str:
    """This machine's boot: a pid names a process only on the machine and boot
    that started it (containers of one host share it)."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()[:8]
    except OSError:
        return "noboot"


def holder_token() -> str:
    """host:pid:boot:random, unique to this process."""
    return "%s:%d:%s:%s" % (socket.gethostname()[:80], os.getpid(), _boot_id(),
                            uuid.uuid4().hex[:8])


def gone_from_this_host(lease: Lease) -> bool:
    """The holder was a process of this machine since its boot, and it no longer
    runs: it can write nothing more, so its lease need not be waited out. (Run from
    another pid namespace, the pid only looks gone: the fence still keeps the
    holder that loses its lease from writing.)"""
    parts = lease.holder.rsplit(":", 3)
    if len(parts) != 4 or parts[0] != socket.gethostname()[:80] or parts[2] != _boot_id():
        return False
    pid = int(parts[1]) if parts[1].isdigit() else 0
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def describe(lease: Lease) -> str:
    return "pid %s on %s, since %s (epoch %d)" % (lease.pid, lease.host, lease.acquired_at,
                                                  lease.epoch)


class InstanceLock:
    """This instance's side of the lease; `held` is set while it may write."""

    def __init__(self, config: DatabaseConfig, outage: Outage, lock_timeout: float,
                 standby: bool = False) -> None:
        self.name = lock_name(config.database)
        self.holder = holder_token()
        self.held = threading.Event()
        self.superseded = threading.Event()  # taken over while not a standby: exit
        self.epoch = 0
        self.standby = standby
        self.lock_timeout = lock_timeout
        self._config = config
        self._outage = outage
        self._connection: Optional[LeaseConnection] = None
        self._valid_until = 0.0  # monotonic: past it, the lease may be gone
        self._standing_by = False

    # -- the terms
    def terms(self, margin: bool = True) -> LeaseTerms:
        third = int(self.lock_timeout * 1e6 / 3)
        return LeaseTerms(self.name, self.holder, self.epoch, int(self.lock_timeout * 1e6),
                          third if margin else 0)

    @property
    def renew_interval(self) -> float:
        return self.lock_timeout / 3

    @property
    def standby_interval(self) -> float:
        return min(2.0, self.renew_interval)

    # -- in a transaction
    def fence(self, tx: StoreTransaction) -> None:
        """The last statement of every claim and chunk transaction. A failed fence
        pauses writing until the keeper has renewed the lease (or lost it)."""
        if not self.held.is_set() or not tx.renew_lease(self.terms()):
            self.held.clear()
            raise LockLost("the instance lease %r (epoch %d) is no longer held by this "
                           "instance, or has less than %.1f s left: nothing written"
                           % (self.name, self.epoch, self.renew_interval))
        self._renewed(time.monotonic())

    # -- taking it
    def acquire(self) -> None:
        """Take the lease, or stand by (`standby`), or raise LockBusy; a database
        error is raised as DatabaseUnavailable / DatabaseError."""
        started = time.monotonic()
        connection = self._connect()
        holder = self._take(connection, started)
        if holder is None:
            return
        if not self.standby:
            self.release()
            raise LockBusy("another instance holds the lock %r: %s"
                           % (self.name, holder))
        self._stand_by(connection, holder)

    def _take(self, connection: LeaseConnection, started: float) -> Optional[str]:
        """Take the lease when it is free: None once taken, else who holds it."""
        if not connection.take(self.terms(), socket.gethostname(), os.getpid()):
            other = connection.lease(self.name)
            if other is None or not gone_from_this_host(other) or \
                    not connection.take_from_dead(self.terms(), socket.gethostname(),
                                                  os.getpid(), other):
                return describe(other) if other else "unknown"
            logger.warning("the instance lease %r was held by %s, which no longer runs on "
                           "this host: taken over without waiting for it to expire",
                           self.name, describe(other))
        lease = connection.lease(self.name)
        if lease is None or lease.holder != self.holder:
            return describe(lease) if lease else "unknown"
        self.epoch = lease.epoch
        self._renewed(started)
        self.superseded.clear()
        if self._standing_by:
            connection.forget_standby(self.terms())
            self._standing_by = False
        self.held.set()
        logger.info("instance lease %r taken (epoch %d); this instance writes",
                    self.name, self.epoch)
        return None

    def _stand_by(self, connection: LeaseConnection, holder: str) -> None:
        connection.record_standby(self.terms(), socket.gethostname(), os.getpid())
        if not self._standing_by:
            self._standing_by = True
            logger.info("standing by: the instance lease %r is held by %s; checking every "
                        "%.0f s", self.name, holder, self.standby_interval)

    # -- keeping it
    def keep(self, stop: threading.Event) -> None:
        """The keeper thread: renew while held, take over when free."""
        while not stop.wait(self.renew_interval if self.held.is_set()
                            else self.standby_interval):
            fresh = self._connection is None
            try:
                self._keep_once(stop)
            except DatabaseError as error:
                if fresh and isinstance(error, DatabaseUnavailable):
                    # A new connection failed: the database is unreachable, logged once
                    # per outage (a holder cut off from it would otherwise say nothing
                    # while its lease runs out). A connection that died under the keeper
                    # (a KILL, a cut) is only its own: the next round connects again and
                    # reports the outage if that fails too, so one cut is one outage.
                    self._outage.failed(error)
                self._drop_connection(error)
            except Exception as error:  # the keeper must outlive any surprise
                logger.error("instance lease %r: check failed (%s: %s); trying again",
                             self.name, type(error).__name__, error)
                logger.debug("the failed check's traceback", exc_info=True)
                self._drop_connection(None)

    def _keep_once(self, stop: threading.Event) -> None:
        started = time.monotonic()
        connection = self._connect()
        if self.epoch:  # ours, writing or paused: renewing says whether it still is
            if connection.renew(self.terms(margin=False)):
                self._renewed(started)
                self._outage.recovered()
                if not self.held.is_set():
                    self.held.set()
                    logger.info("instance lease %r renewed (epoch %d); writing resumes",
                                self.name, self.epoch)
                return
            self._lost(connection, stop)
            if self.superseded.is_set():
                return
        holder = self._take(connection, started)
        if holder is None:
            self._outage.recovered()
        elif self.standby:
            self._stand_by(connection, holder)

    def _lost(self, connection: LeaseConnection, stop: threading.Event) -> None:
        self.held.clear()
        lost_epoch, self.epoch = self.epoch, 0
        self._valid_until = 0.0
        lease = connection.lease(self.name)
        if lease is not None and lease.holder != self.holder and lease.live:
            logger.warning("instance lease %r taken over by %s: this instance stops writing%s",
                           self.name, describe(lease),
                           " and stands by" if self.standby else " and exits")
            if not self.standby:
                self.superseded.set()
                stop.set()
            return
        logger.warning("instance lease %r (epoch %d) expired before it was renewed; "
                       "writing paused until it is taken again", self.name, lost_epoch)

    def _renewed(self, started: float) -> None:
        """Counted from before the statement: the server's expiry is later than this."""
        self._valid_until = started + self.lock_timeout - self.renew_interval

    def may_write(self) -> bool:
        """Held, and renewed recently enough that a fence can still pass."""
        if self.held.is_set() and time.monotonic() >= self._valid_until:
            self.held.clear()
            logger.warning("instance lease %r not renewed for %.0f s: writing paused",
                           self.name, self.lock_timeout - self.renew_interval)
        return self.held.is_set()

    # -- its connection
    def _connect(self) -> LeaseConnection:
        if self._connection is None:
            self._connection = LeaseConnection(self._config, self.renew_interval)
        return self._connection

    def _drop_connection(self, error: Optional[DatabaseError]) -> None:
        if error is not None:
            logger.debug("instance lease %r: %s", self.name, error)
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def release(self) -> None:
        """Give the lease back (a clean stop): a standby takes over at once."""
        connection = self._connection
        if connection is not None and self.epoch:
            try:
                connection.release(self.terms(margin=False))
            except DatabaseError as error:
                logger.debug("releasing the lease failed: %s", error)
        elif connection is not None and self._standing_by:
            try:
                connection.forget_standby(self.terms())
            except DatabaseError as error:
                logger.debug("forgetting the standby record failed: %s", error)
        self.held.clear()
        self.epoch = 0
        self._drop_connection(None)
