"""One running instance per database: a MySQL named lock on its own connection.

GET_LOCK returns 1 (taken), 0 (held by another session) or NULL (error);
the lock lives exactly as long as its connection, so ownership is confirmed
on that connection (IS_USED_LOCK(name) = CONNECTION_ID()) and, before every
chunk is written, checked again inside the chunk's own transaction.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Optional

from mg_handling.store import LockConnection
from util.config import DatabaseConfig
from util.db import DatabaseError, DatabaseUnavailable, Outage

logger = logging.getLogger(__name__)


class LockBusy(Exception):
    """Another instance holds the lock; the message says who."""


class LockLost(Exception):
    """This instance no longer holds the lock: nothing may be written."""


def lock_name(database: str) -> str:
    return ("message_handling:%s" % database)[:64]


class InstanceLock:
    def __init__(self, config: DatabaseConfig, outage: Outage) -> None:
        self.name = lock_name(config.database)
        self.held = threading.Event()
        self.connection_id: Optional[int] = None
        self._config = config
        self._outage = outage
        self._connection: Optional[LockConnection] = None
        self._standing_by = False

    def acquire(self) -> None:
        """Take the lock on a new connection, or raise LockBusy / DatabaseUnavailable."""
        self.release()
        try:
            connection = LockConnection(self._config)
        except DatabaseError as error:
            raise self._unavailable(error) from None
        try:
            acquired, connection_id = connection.get_lock(self.name)
            if acquired != 1:
                holder = self._describe_holder(connection) if acquired == 0 else None
                connection.close()
                if holder is None:
                    raise DatabaseUnavailable("GET_LOCK(%r) returned NULL" % self.name)
                raise LockBusy("another instance holds the lock %r: %s" % (self.name, holder))
            connection.record_instance(self.name, socket.gethostname(), os.getpid(),
                                       connection_id)
        except DatabaseError as error:
            connection.close()
            raise self._unavailable(error) from None
        self._connection, self.connection_id = connection, connection_id
        self.held.set()

    def _describe_holder(self, connection: LockConnection) -> str:
        holder = connection.holder(self.name)
        instance = connection.instance_record(self.name)
        if instance and instance.connection_id == holder:
            return "pid %s on %s, since %s (connection %s)" % (
                instance.pid, instance.host, instance.started_at, holder)
        return "database connection %s" % holder

    def _unavailable(self, error: DatabaseError) -> DatabaseUnavailable:
        if not isinstance(error, DatabaseUnavailable):
            error = DatabaseUnavailable(str(error), error.code)
        self._outage.failed(error)
        return error

    def check_holder(self, holder_connection_id: Optional[int]) -> None:
        """Inside a write transaction: the lock's holder, as the server sees it now,
        must be this instance's lock connection."""
        if not self.held.is_set() or holder_connection_id != self.connection_id:
            self.held.clear()
            raise LockLost("the instance lock %r is held by connection %s, not by this "
                           "instance (%s)" % (self.name, holder_connection_id,
                                              self.connection_id))

    def verify(self) -> bool:
        """Confirm ownership on the lock's own connection; a lost lock clears `held`."""
        owned = False
        if self._connection is not None:
            try:
                owned = self._connection.owned(self.name)
            except DatabaseError as error:
                # Only this connection is known to be gone: whether the server is
                # unreachable is for acquire() in _take_back() to find out (and report).
                logger.debug("instance lock %r: its connection failed: %s", self.name, error)
        if not owned:
            self.held.clear()
        return owned

    def keep(self, stop: threading.Event, interval: float) -> None:
        """The keeper thread: check the lock every `interval`, take it back when lost."""
        while not stop.wait(interval if self.held.is_set() else min(interval, 2.0)):
            try:
                self._keep_once()
            except Exception:  # the keeper must outlive any surprise, or writing stops for good
                logger.exception("instance lock %r: check failed; trying again", self.name)
                self.release()

    def _keep_once(self) -> None:
        if self.held.is_set() and self.verify():
            return
        if self._connection is not None:
            logger.warning("instance lock %r lost; writing paused until it is held again",
                           self.name)
            self.release()
        self._take_back()

    def _take_back(self) -> None:
        try:
            self.acquire()
        except LockBusy as busy:
            if not self._standing_by:
                logger.warning("standing by: %s", busy)
                self._standing_by = True
        except DatabaseUnavailable:
            pass  # the outage is logged once by Outage
        else:
            self._standing_by = False
            self._outage.recovered()
            logger.info("instance lock %r held again (connection %s); writing resumes",
                        self.name, self.connection_id)

    def release(self) -> None:
        """Closing the connection releases the lock."""
        self.held.clear()
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()  # a connection already gone took the lock with it
