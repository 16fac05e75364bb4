"""The one data-access layer: a DBUtils pool of PyMySQL connections.

Every statement runs inside `Database.transaction()`, a transaction begun
explicitly with `begin()`. That matters: DBUtils' SteadyDB silently reconnects
and re-runs a statement that failed with a connection error unless the
connection is inside such a transaction, and a re-run INSERT ... SELECT would
double its rows. Driver errors are translated here into three kinds the rest
of the daemon understands, statement by statement (the caller sees the error of the
statement that failed, not of the block that ran it): the database is
unreachable (wait and retry), a transient conflict (retry), a missing table
(named), and a query the server refused (a data error).
"""
from __future__ import annotations

import logging
import re
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import pymysql
from dbutils.pooled_db import PooledDB

from util.config import DatabaseConfig, node_name

logger = logging.getLogger(__name__)

# Client and server error codes that mean "the connection or server is gone".
CONNECTION_ERRORS = {
    1040,  # too many connections
    1045,  # access denied (a password change or a server being set up)
    1698,  # access denied to a user of unix_socket authentication (MariaDB)
    1053,  # server shutdown in progress
    1077,  # normal shutdown
    1129,  # host blocked
    1927,  # connection was killed
    2003,  # can't connect
    2005,  # unknown host
    2006,  # server has gone away
    2013,  # lost connection during query
    2014,  # commands out of sync after a broken read
    4031,  # disconnected by the server because of inactivity
}
# The server's state, not the campaign's data: the same work succeeds later.
TRANSIENT_ERRORS = {
    1021,  # disk full
    1037,  # out of memory
    1038,  # out of sort memory
    1041,  # out of memory for threads
    1114,  # table is full
    1205,  # lock wait timeout
    1206,  # lock table full (the buffer pool is exhausted by locks)
    1213,  # deadlock
    1290,  # server running with --read-only (a failover in progress)
    1317,  # query interrupted (KILL QUERY)
    1792,  # read-only transaction
    1836,  # running in read-only mode
    1969,  # max_statement_time exceeded (MariaDB)
    3024,  # max_execution_time exceeded (MySQL)
}
# A Galera node that is not ready: not in the primary component, or not synced
# yet after a restart. Another node may be: treated as unreachable, and the node is
# left (Database._failed), so that the connections go to the first usable node.
NODE_NOT_READY = {
    1047,  # WSREP has not yet prepared node for application use
    1180,  # error during COMMIT: not connected to the primary component
}
# A wrong account or password: a configuration error, never reported as an outage.
ACCESS_DENIED = frozenset({1045, 1698})
SERVER_LOST = 2013
NO_SUCH_TABLE = 1146
_MISSING_TABLE_NAME = re.compile(r"Table '(?:[^'.]*\.)?([^']*)' doesn't exist")


class DatabaseError(Exception):
    """Base of the errors this layer raises."""

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code


class DatabaseUnavailable(DatabaseError):
    """The server cannot be reached or the connection was lost."""


class TransientError(DatabaseError):
    """A deadlock, a lock wait timeout, a read-only or full server: retry later."""


class ReadTimeout(TransientError):
    """The server did not answer within the connection's read timeout; the
    connection is closed (the pool opens a new one)."""


class QueryError(DatabaseError):
    """The server refused a statement (bad data, bad SQL): retrying won't help."""


class MissingTable(QueryError):
    """A table the statement reads or writes does not exist: `table` names it."""

    def __init__(self, message: str, code: Optional[int], table: str) -> None:
        super().__init__(message, code)
        self.table = table


def translate(error: Exception) -> DatabaseError:
    """Map a PyMySQL exception to this layer's errors (message kept, no password)."""
    code = _code(error)
    text = str(error.args[1]) if len(error.args) > 1 else str(error)
    message = "MySQL error %s: %s" % (code, text) if code else text or type(error).__name__
    if code in ACCESS_DENIED:
        message = "authentication failed: " + message
    if code in TRANSIENT_ERRORS or (code is not None and 0 < code < 1000):
        # Codes below 1000 are the server's own file errors (a temporary file it
        # could not write or delete): its trouble, not the campaign's.
        return TransientError(message, code)
    if code in CONNECTION_ERRORS or code in NODE_NOT_READY or code in ACCESS_DENIED \
            or isinstance(error, pymysql.err.InterfaceError):
        return DatabaseUnavailable(message, code)
    if isinstance(error, pymysql.err.OperationalError) and (code is None or code >= 2000):
        return DatabaseUnavailable(message, code)
    if code == NO_SUCH_TABLE:
        match = _MISSING_TABLE_NAME.search(text)
        return MissingTable(message, code, match.group(1) if match else "?")
    return QueryError(message, code)


CONNECT_TIMEOUT = 5
# A statement answers within seconds (a chunk of 10,000 rows: 0.1 s), or the server
# ends its wait for a lock first (the caller's session setup says when). The daemon
# lowers it to its lease's length; the one long statement, the audience freeze,
# raises its own connection's limit (read_timeout_for). Writes are bounded alike.
READ_TIMEOUT = 60.0
# A statement and its parameters, such as a session setting.
Statement = Tuple[str, Mapping[str, Any]]


def translate_statement(error: Exception) -> DatabaseError:
    """A statement's error: a read that timed out is the statement's trouble (stuck on
    a lock, say), not the server's absence, which the next connection shows if so.
    (In the handshake the same timeout means an unreachable server: translate.)"""
    text = str(error.args[1]) if len(error.args) > 1 else str(error)
    if error.args and error.args[0] == SERVER_LOST and "timed out" in text:
        return ReadTimeout("no answer from the server within the read timeout: MySQL error "
                           "%d: %s" % (SERVER_LOST, text), SERVER_LOST)
    return translate(error)


def connect_kwargs(config: DatabaseConfig) -> Dict[str, Any]:
    """PyMySQL connection arguments for a database section, the host aside (Nodes
    picks it). The password goes as UTF-8 bytes: PyMySQL would encode a str as
    Latin-1 and fail on Chinese. The read timeout bounds the wait for each answer of
    the server: a statement stuck longer (on a table lock, or a server that stopped
    answering) fails with ReadTimeout instead of holding its thread for ever."""
    return dict(user=config.user, password=config.password.encode("utf-8"),
                database=config.database, charset=config.charset, autocommit=False,
                connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                write_timeout=READ_TIMEOUT)


Node = Tuple[str, int]


class Connection(pymysql.connections.Connection):
    """connect_timeout bounds the whole handshake: PyMySQL applies it to the TCP
    connect only, and a server that accepts but never greets would hang the
    daemon (and its SIGTERM) for good. Statements then read with read_timeout.
    A connection made by Nodes knows its node, and when it was opened."""
    nodes: Optional["Nodes"] = None
    node: Node = ("", 0)
    opened = 0.0  # monotonic

    def ping(self, reconnect: Any = False) -> None:
        """DBUtils pings a pooled connection before handing it out, under the pool's
        lock: a connection to a node left since it was opened fails at once (instead
        of each waiting out its read timeout in turn, the other threads waiting
        behind), and a node that does not answer is left, so that the connection
        DBUtils makes instead goes to the next node."""
        if self.nodes is not None and self.nodes.left_since(self.node, self.opened):
            raise pymysql.err.OperationalError(SERVER_LOST, "the database node was left")
        try:
            super().ping(reconnect)
        except pymysql.err.MySQLError:
            if self.nodes is not None:
                self.nodes.leave(self.node)
            raise

    def connect(self, sock: Any = None) -> None:
        read_timeout: Optional[float] = self.__dict__["_read_timeout"]
        self._read_timeout = self.connect_timeout
        try:
            super().connect(sock)
        finally:
            self._read_timeout = read_timeout  # applied to the socket at the next read


# How a connection learns whether its server is a Galera node fit for writes.
_WSREP_ON = "SHOW GLOBAL VARIABLES LIKE 'wsrep_on'"
_WSREP_STATUS = ("SHOW GLOBAL STATUS WHERE Variable_name IN "
                 "('wsrep_ready', 'wsrep_local_state', 'wsrep_cluster_status')")
_SYNCED = {"wsrep_ready": "ON", "wsrep_local_state": "4", "wsrep_cluster_status": "Primary"}
# Reads wait until the node has applied every write the cluster committed before
# them: the lease and the cursors are decided on the cluster's latest state.
_CAUSAL_READS = "SET SESSION wsrep_sync_wait = 1"


def node_problem(connection: Connection) -> Optional[str]:
    """Why a connected server must not be used (a Galera node that is not synced
    in the primary component), or None; a plain server is always fit."""
    with connection.cursor() as cursor:
        cursor.execute(_WSREP_ON)
        row = cursor.fetchone()
        if not row or str(row[1]).upper() != "ON":
            return None
        cursor.execute(_WSREP_STATUS)
        status = {name: str(value) for name, value in cursor.fetchall()}
        if any(status.get(name) != value for name, value in _SYNCED.items()):
            return "a Galera node not synced in the primary component (%s)" % ", ".join(
                "%s %s" % (name, status.get(name, "?")) for name in sorted(_SYNCED))
        cursor.execute(_CAUSAL_READS)
    return None


class Nodes:
    """The hosts of a database section, as a DBUtils creator: a new connection goes
    to the first usable one, starting with the one in use (or, once it stopped
    answering, with the next), and a move is logged. Each new connection runs the
    `session` statements."""
    dbapi = pymysql  # where DBUtils finds the error classes

    def __init__(self, config: DatabaseConfig, session: Sequence[Statement] = (),
                 **overrides: Any) -> None:
        self.config = config
        self._session = tuple(session)
        self._kwargs = dict(connect_kwargs(config), **overrides)
        self._lock = threading.Lock()
        self._current: Optional[Node] = None
        self._start = 0  # where the next connection starts, in config.nodes
        self._left: Dict[Node, float] = {}  # monotonic time each node was last left

    def leave(self, node: Node) -> None:
        """`node` stopped answering, or is not ready: its open connections are dropped
        at their next checkout (Connection.ping), and when it is the node in use, new
        connections try it last."""
        nodes = list(self.config.nodes)
        with self._lock:
            self._left[node] = time.monotonic()
            if node == self._current and node in nodes:
                self._start = (nodes.index(node) + 1) % len(nodes)

    def left_since(self, node: Node, opened: float) -> bool:
        with self._lock:
            return self._left.get(node, -1.0) >= opened

    def __call__(self) -> Connection:
        nodes = list(self.config.nodes)
        with self._lock:
            nodes = nodes[self._start:] + nodes[:self._start]
        failures: List[str] = []
        for host, port in nodes:
            opened = time.monotonic()
            try:
                connection = Connection(host=host, port=port, **self._kwargs)
            except pymysql.err.MySQLError as error:
                if len(nodes) == 1 or _code(error) in ACCESS_DENIED:
                    raise  # the account is wrong everywhere: no node to try
                failures.append("%s: %s" % (node_name(host, port), error))
                continue
            problem = _checked(connection, self._session)
            if problem is None:
                connection.nodes, connection.node, connection.opened = self, (host, port), opened
                self._use((host, port))
                return connection
            failures.append("%s: %s" % (node_name(host, port), problem))
        raise pymysql.err.OperationalError(
            2003, "no usable database node (%s)" % "; ".join(failures))

    def _use(self, node: Node) -> None:
        with self._lock:
            previous, self._current = self._current, node
            self._start = list(self.config.nodes).index(node)  # stay where it works
            if previous is not None and previous != node:
                self._left[previous] = time.monotonic()  # its connections are stale
        if previous is None and len(self.config.nodes) > 1:
            logger.info("using database node %s", node_name(*node))
        elif previous is not None and previous != node:
            logger.warning("moved from database node %s to %s", node_name(*previous),
                           node_name(*node))


def _checked(connection: Connection, session: Sequence[Statement]) -> Optional[str]:
    """node_problem, or the session set up on a fit node; a refused setting raises."""
    try:
        problem = node_problem(connection)
    except pymysql.err.MySQLError as error:
        problem = str(error)
    if problem is not None:
        connection.close()
        return problem
    try:
        with connection.cursor() as cursor:
            for sql, params in session:
                cursor.execute(sql, params)
    except BaseException:
        connection.close()
        raise
    return None


def _code(error: Exception) -> Optional[int]:
    return error.args[0] if error.args and isinstance(error.args[0], int) else None


class Outage:
    """Logs one WARNING when the database becomes unreachable, one INFO when it is back.
    `where` (host:port/database, never the password) goes into the WARNING: a port
    left out reads the same as the default one. A refused login is no outage: the
    server answered; whoever gets the error reports it as the configuration error
    it is."""

    def __init__(self, where: str = "",
                 on_change: Optional[Callable[[bool], None]] = None) -> None:
        """`on_change(up)` is called when the database goes down (False) and when it
        is back (True), e.g. for a metric."""
        self.where = where
        self._lock = threading.Lock()
        self._since: Optional[str] = None
        self._on_change = on_change

    def failed(self, error: DatabaseError) -> None:
        if error.code in ACCESS_DENIED:
            return
        with self._lock:
            if self._since is None:
                self._since = str(error)
                logger.warning("database unreachable: %s%s", error,
                               " (%s)" % self.where if self.where else "")
                self._changed(False)

    def recovered(self) -> None:
        with self._lock:
            if self._since is not None:
                self._since = None
                logger.info("database reachable again")
                self._changed(True)

    def _changed(self, up: bool) -> None:
        if self._on_change is not None:
            self._on_change(up)

    @property
    def down(self) -> bool:
        return self._since is not None


Row = Dict[str, Any]


class Transaction:
    """The statements of one open transaction (or of one autocommit connection);
    rows come back as dicts, and a failed statement raises its translated error."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Any = None) -> int:
        """Run one statement; return the number of rows it affected."""
        try:
            with self._connection.cursor() as cursor:
                return int(cursor.execute(sql, params))
        except pymysql.err.MySQLError as error:
            raise translate_statement(error) from None

    def all(self, sql: str, params: Any = None) -> List[Row]:
        try:
            with self._connection.cursor(pymysql.cursors.DictCursor) as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        except pymysql.err.MySQLError as error:
            raise translate_statement(error) from None

    def one(self, sql: str, params: Any = None) -> Optional[Row]:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    @contextmanager
    def read_timeout_for(self, seconds: float) -> Iterator[None]:
        """The statements of the block may take `seconds` to answer (the connection's
        read timeout, for one long statement); the usual one again afterwards."""
        driver = _driver_connection(self._connection)
        usual = driver._read_timeout
        driver._read_timeout = seconds  # PyMySQL applies it to the socket at each read
        try:
            yield
        finally:
            driver._read_timeout = usual

    def row(self, sql: str, params: Any = None) -> Row:
        """A statement that returns a row whenever it succeeds (an aggregate, a
        row known to exist): no row is an error, not a None to check."""
        found = self.one(sql, params)
        if found is None:
            raise QueryError("expected a row, got none from: %s" % " ".join(sql.split())[:80])
        return found


def _driver_connection(connection: Any) -> Connection:
    """The PyMySQL connection under DBUtils' wrappers (a pooled connection wraps a
    steady one, which wraps the driver's, each as `_con`)."""
    while not isinstance(connection, Connection):
        connection = connection._con
    return connection


class Database:
    """A pool of connections to one database section, each set up with `session` and
    bounded by `read_timeout`. A node that is not ready, or stops answering, is left:
    its connections are replaced at their next checkout, through Nodes, by connections
    to the first usable node."""

    def __init__(self, config: DatabaseConfig, max_connections: int = 8,
                 outage: Optional[Outage] = None, session: Sequence[Statement] = (),
                 read_timeout: float = READ_TIMEOUT) -> None:
        self.config = config
        self.outage = outage or Outage(config.describe())
        self._nodes = Nodes(config, session, read_timeout=read_timeout,
                            write_timeout=read_timeout)
        self._pool = PooledDB(creator=self._nodes, maxconnections=max_connections,
                              maxcached=max_connections, blocking=True, ping=1, reset=True)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        try:
            connection = self._pool.connection()
        except pymysql.err.MySQLError as error:
            raise self._failed(translate(error)) from None
        try:
            connection.begin()
            yield Transaction(connection)
            connection.commit()
        except pymysql.err.MySQLError as error:  # begin or commit
            self._rollback(connection)
            raise self._failed(translate_statement(error), connection) from None
        except DatabaseError as error:  # a statement, already translated
            self._rollback(connection)
            raise self._failed(error, connection) from None
        except BaseException:
            self._rollback(connection)
            raise
        finally:
            connection.close()
        self.outage.recovered()

    def _failed(self, error: DatabaseError, connection: Any = None) -> DatabaseError:
        if isinstance(error, DatabaseUnavailable):
            self.outage.failed(error)
        # A lost connection is reconnected by DBUtils at its next checkout, through
        # Nodes. A node that does not answer (frozen, or cut off) or is not ready is
        # left: the pool's other connections to it are replaced at their checkout too,
        # instead of each waiting out its read timeout or being refused in turn.
        if connection is not None and (isinstance(error, ReadTimeout)
                                       or error.code in NODE_NOT_READY):
            self._nodes.leave(_driver_connection(connection).node)
        return error

    @staticmethod
    def _rollback(connection: Any) -> None:
        try:
            connection.rollback()
        except Exception:  # the connection is already gone; the server rolls back
            logger.debug("rollback failed", exc_info=True)

    def close(self) -> None:
        self._pool.close()


def run_script(transaction: Transaction, script: str) -> None:
    """Run a file of ';'-terminated DDL statements (schema files, no values)."""
    for statement in split_statements(script):
        transaction.execute(statement)


def split_statements(script: str) -> Sequence[str]:
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    statements = (part.strip().rstrip(";").strip() for part in "\n".join(lines).split(";\n"))
    return [statement for statement in statements if statement]


class DedicatedConnection:
    """One autocommit connection of its own, outside the pool, whose connecting and
    statements are each bounded by `timeout` seconds (the instance lease's: it must
    never wait longer than the lease lasts)."""

    def __init__(self, config: DatabaseConfig, timeout: float) -> None:
        try:
            self._connection = Nodes(config, autocommit=True, connect_timeout=timeout,
                                     read_timeout=timeout, write_timeout=timeout)()
        except pymysql.err.MySQLError as error:
            raise translate(error) from None
        self.statements = Transaction(self._connection)

    def close(self) -> None:
        try:
            self._connection.close()
        except Exception:  # already gone: the server released what it held
            logger.debug("closing a dedicated connection failed", exc_info=True)
