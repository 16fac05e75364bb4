"""Drive the project's 3-node Galera cluster (tools/ensure_galera.sh) from tests.

Nodes are numbered 1 to 3. Every operation is bounded in time and raises ClusterError,
naming the node and what it last saw, when the bound passes. Signals go only to the pids
in the nodes' pid files under .galera/, and only when that process's command line names
the node's own my.cnf (a reused pid is never signalled).

Typical use::

    cluster = Cluster.load()               # the running cluster (make galera)
    cluster.kill(2)                        # SIGKILL node 2
    cluster.wait_cluster_size(1, 2)        # node 1 sees the loss
    cluster.restart(2)                     # --wsrep-recover, start, IST, Synced
    cluster.repair()                       # after a test: all three Synced again
"""
from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pymysql

from testkit.netns import run_bounded

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tools" / "ensure_galera.sh"
GALERA_DIR = Path(os.environ.get("MH_GALERA_DIR", str(REPO / ".galera")))
NODE_NUMBERS = (1, 2, 3)
SYNCED = 4                     # wsrep_local_state of a node in sync with its component
POLL_SECONDS = 0.2
STATUS_TIMEOUT = 3.0           # connect + read bound of the kit's own status queries


class ClusterError(RuntimeError):
    """A cluster operation failed or did not finish within its bound."""


@dataclass(frozen=True)
class Node:
    """One node: its ports on 127.0.0.1 and its folder under .galera/."""

    number: int
    host: str
    port: int           # SQL
    galera_port: int    # group communication (gmcast)
    ist_port: int
    sst_port: int
    directory: Path

    @property
    def defaults_file(self) -> Path:
        return self.directory / "my.cnf"

    @property
    def pid_file(self) -> Path:
        return self.directory / "mariadbd.pid"

    @property
    def error_log(self) -> Path:
        return self.directory / "error.log"


def _read_state(directory: Path) -> Dict[str, str]:
    path = directory / "ports.env"
    if not path.exists():
        raise ClusterError("no cluster set up under %s: run `make galera`" % directory)
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def _ports(state: Dict[str, str], name: str) -> List[int]:
    return [int(port) for port in state["MH_GALERA_%s" % name].split(",")]


def _process_state(pid: int) -> Optional[str]:
    """The one-letter state of a process (R, S, T = stopped, Z = zombie), None when gone."""
    try:
        stat = Path("/proc/%d/stat" % pid).read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _wait(predicate: Callable[[], bool], timeout: float, what: Callable[[], str]) -> float:
    """Poll `predicate` until true; the seconds waited. Past `timeout`, ClusterError with
    `what()`, which describes the state at that moment."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise ClusterError("after %.1fs: %s" % (time.monotonic() - started, what()))
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


class Cluster:
    """The three nodes of the running test cluster."""

    def __init__(self, nodes: Tuple[Node, ...]) -> None:
        self.nodes = nodes

    # ---------------------------------------------------------------- finding it

    @classmethod
    def load(cls, directory: Path = GALERA_DIR) -> "Cluster":
        """The cluster described by <directory>/ports.env (it may be stopped)."""
        state = _read_state(directory)
        columns = zip(NODE_NUMBERS, _ports(state, "PORTS"), _ports(state, "GCOMM_PORTS"),
                      _ports(state, "IST_PORTS"), _ports(state, "SST_PORTS"), strict=True)
        nodes = tuple(Node(number, state["MH_GALERA_HOST"], sql, gcomm, ist, sst,
                           directory / ("node%d" % number))
                      for number, sql, gcomm, ist, sst in columns)
        return cls(nodes)

    @classmethod
    def start(cls, timeout: float = 240) -> "Cluster":
        """Start the cluster (or reuse the running one) and return it, all nodes Synced."""
        _run_script(["start"], timeout)
        return cls.load()

    def node(self, number: int) -> Node:
        if number not in NODE_NUMBERS:
            raise ValueError("node numbers are 1 to 3, not %r" % (number,))
        return self.nodes[number - 1]

    @property
    def ports(self) -> List[int]:
        """The SQL ports of nodes 1, 2, 3."""
        return [node.port for node in self.nodes]

    def others(self, number: int) -> List[int]:
        return [other for other in NODE_NUMBERS if other != number]

    # ---------------------------------------------------------------- SQL

    def connect(self, number: int, **options: Any) -> pymysql.connections.Connection:
        """A PyMySQL connection to a node as root over TCP; options override the defaults.

        The default read and write timeouts matter: a frozen node hangs the handshake and
        connect_timeout alone does not bound it. The nodes have no TLS, and PyMySQL 1.2 would
        otherwise build a TLS context (about 0.12 s here) at every connect.
        """
        node = self.node(number)
        settings: Dict[str, Any] = dict(host=node.host, port=node.port, user="root",
                                        password="", charset="utf8mb4", autocommit=True,
                                        connect_timeout=5, read_timeout=10, write_timeout=10,
                                        ssl_disabled=True)
        settings.update(options)
        return pymysql.connect(**settings)

    def wsrep(self, number: int, timeout: float = STATUS_TIMEOUT) -> Dict[str, str]:
        """The node's wsrep_% status variables (raises pymysql errors when it does not answer)."""
        connection = self.connect(number, connect_timeout=timeout, read_timeout=timeout,
                                  write_timeout=timeout)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SHOW GLOBAL STATUS LIKE 'wsrep\\_%'")
                return {name: str(value) for name, value in cursor.fetchall()}
        finally:
            connection.close()

    def describe(self, number: int) -> str:
        """'state=4 Primary size=3' or why the node did not answer (for error messages)."""
        try:
            status = self.wsrep(number)
        except pymysql.MySQLError as error:
            return "node %d does not answer (%s)" % (number, error)
        return "node %d state=%s %s size=%s" % (
            number, status.get("wsrep_local_state"), status.get("wsrep_cluster_status"),
            status.get("wsrep_cluster_size"))

    def is_synced(self, number: int, size: Optional[int] = None) -> bool:
        """Synced in the primary component (of that many nodes, when given)."""
        try:
            status = self.wsrep(number)
        except pymysql.MySQLError:
            return False
        return (status.get("wsrep_local_state") == str(SYNCED)
                and status.get("wsrep_cluster_status") == "Primary"
                and (size is None or status.get("wsrep_cluster_size") == str(size)))

    def _others_see(self, number: int, size: int) -> bool:
        return all(self.cluster_size(other) == size for other in self.others(number)
                   if self.running(other) and not self.is_frozen(other))

    def is_primary(self, number: int) -> bool:
        try:
            return self.wsrep(number).get("wsrep_cluster_status") == "Primary"
        except pymysql.MySQLError:
            return False

    def cluster_size(self, number: int) -> Optional[int]:
        """The size of the component the node is in, None when it does not answer."""
        try:
            return int(self.wsrep(number)["wsrep_cluster_size"])
        except (pymysql.MySQLError, KeyError, ValueError):
            return None

    def set_provider_option(self, number: int, option: str) -> None:
        """SET GLOBAL wsrep_provider_options for one option ('name=value' from the kit only)."""
        connection = self.connect(number, read_timeout=STATUS_TIMEOUT * 2)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET GLOBAL wsrep_provider_options = %s", (option,))
        finally:
            connection.close()

    # ---------------------------------------------------------------- waiting

    def wait_synced(self, number: int, size: int = len(NODE_NUMBERS),
                    timeout: float = 60) -> float:
        """Wait until the node is Synced in a primary component of `size` and the other
        running nodes see a component of that size too; seconds waited.

        The others are asked as well because a node woken by SIGCONT reports its old view
        (Synced, Primary, 3) for a moment before it notices it was evicted.
        """
        return _wait(lambda: self.is_synced(number, size) and self._others_see(number, size),
                     timeout,
                     lambda: "node %d not Synced in a component of %d: %s"
                     % (number, size, self.describe(number)))

    def wait_cluster_size(self, number: int, size: int, timeout: float = 30) -> float:
        """Wait until the node reports a primary component of `size`; seconds waited."""
        return _wait(lambda: self.is_primary(number) and self.cluster_size(number) == size,
                     timeout, lambda: "node %d never saw a primary component of %d: %s"
                     % (number, size, self.describe(number)))

    def wait_non_primary(self, number: int, timeout: float = 30) -> float:
        """Wait until the node answers and is out of the primary component; seconds waited."""
        return _wait(lambda: self._answers_non_primary(number) is True, timeout,
                     lambda: "node %d still in the primary component: %s"
                     % (number, self.describe(number)))

    def _answers_non_primary(self, number: int) -> Optional[bool]:
        try:
            return self.wsrep(number).get("wsrep_cluster_status") != "Primary"
        except pymysql.MySQLError:
            return None

    def wait_all_synced(self, timeout: float = 120) -> float:
        started = time.monotonic()
        for number in NODE_NUMBERS:
            self.wait_synced(number, timeout=max(1.0, timeout - (time.monotonic() - started)))
        return time.monotonic() - started

    # ---------------------------------------------------------------- processes

    def pid(self, number: int) -> Optional[int]:
        """The node's server pid, None when it is not running (or the pid is not ours)."""
        node = self.node(number)
        try:
            pid = int(node.pid_file.read_text().strip())
            command = Path("/proc/%d/cmdline" % pid).read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        if ("--defaults-file=%s" % node.defaults_file).encode() not in command:
            return None
        return None if _process_state(pid) in (None, "Z") else pid

    def running(self, number: int) -> bool:
        return self.pid(number) is not None

    def is_frozen(self, number: int) -> bool:
        pid = self.pid(number)
        return pid is not None and _process_state(pid) in ("T", "t")

    def _signal(self, number: int, signum: signal.Signals) -> int:
        pid = self.pid(number)
        if pid is None:
            raise ClusterError("node %d is not running (pid file %s)"
                               % (number, self.node(number).pid_file))
        os.kill(pid, signum)
        logger.info("sent %s to node %d (pid %d)", signum.name, number, pid)
        return pid

    def kill(self, number: int, timeout: float = 10) -> int:
        """SIGKILL the node's server and wait until the process is gone; returns its pid."""
        pid = self._signal(number, signal.SIGKILL)
        _wait(lambda: _process_state(pid) in (None, "Z"), timeout,
              lambda: "node %d (pid %d) still alive after SIGKILL" % (number, pid))
        return pid

    def sigstop(self, number: int) -> int:
        """Freeze the node (SIGSTOP): what a hung host looks like to its peers; returns its pid."""
        return self._signal(number, signal.SIGSTOP)

    def sigcont(self, number: int) -> int:
        """Wake a frozen node (SIGCONT); returns its pid."""
        return self._signal(number, signal.SIGCONT)

    def restart(self, number: int, timeout: float = 120) -> float:
        """Start a stopped or crashed node and wait until it is Synced with every running node.

        tools/ensure_galera.sh runs `mariadbd --wsrep-recover` first after a crash, so the node
        rejoins by IST. Returns the seconds from the call to Synced.
        """
        started = time.monotonic()
        if self.running(number):
            raise ClusterError("node %d is running (pid %s): kill it first"
                               % (number, self.pid(number)))
        _run_script(["start-node", str(number)], timeout)
        size = sum(1 for other in NODE_NUMBERS if self.running(other))
        self.wait_synced(number, size, timeout=max(1.0, timeout - (time.monotonic() - started)))
        return time.monotonic() - started

    # ---------------------------------------------------------------- quorum

    def isolate(self, number: int, timeout: float = 30) -> float:
        """Cut the node from the others' group communication (gmcast.isolate=1, as if its
        galera port were blocked) and wait until it is non-primary while the others go on as
        a component of two. Returns the seconds until the node reported non-primary: about
        6 s here, Galera's evs.suspect_timeout (5 s) and a round, not at once."""
        self.set_provider_option(number, "gmcast.isolate=1")
        elapsed = self.wait_non_primary(number, timeout)
        for other in self.others(number):
            if self.running(other) and not self.is_frozen(other):
                self.wait_cluster_size(other, len(NODE_NUMBERS) - 1, timeout)
        return elapsed

    def rejoin(self, number: int, timeout: float = 60) -> float:
        """Undo isolate(): reopen the node's group communication and wait until it is Synced
        with all three; seconds waited."""
        started = time.monotonic()
        self.set_provider_option(number, "gmcast.isolate=0")
        self.wait_synced(number, timeout=timeout)
        return time.monotonic() - started

    def most_advanced(self) -> int:
        """The answering node with the highest wsrep_last_committed."""
        committed: Dict[int, int] = {}
        for number in NODE_NUMBERS:
            try:
                committed[number] = int(self.wsrep(number)["wsrep_last_committed"])
            except (pymysql.MySQLError, KeyError, ValueError):
                continue
        if not committed:
            raise ClusterError("no node answers: %s"
                               % "; ".join(self.describe(n) for n in NODE_NUMBERS))
        return max(committed, key=lambda number: committed[number])

    def heal(self, timeout: float = 60) -> int:
        """Give a cluster that lost its primary component a new one: pc.bootstrap=YES on the
        most advanced answering node, then wait until it is Primary. Returns that node."""
        for number in NODE_NUMBERS:
            if self.is_primary(number):
                return number
        number = self.most_advanced()
        logger.info("bootstrapping a primary component on node %d", number)
        self.set_provider_option(number, "pc.bootstrap=YES")
        _wait(lambda: self.is_synced(number), timeout,
              lambda: "node %d not Primary after pc.bootstrap: %s"
              % (number, self.describe(number)))
        return number

    def repair(self, timeout: float = 180) -> float:
        """Bring the cluster back to three Synced nodes, whatever a test left: wake frozen
        nodes, end isolation, heal a lost primary component, restart dead nodes. Seconds taken."""
        started = time.monotonic()
        for number in NODE_NUMBERS:
            if self.is_frozen(number):
                self.sigcont(number)
        for number in NODE_NUMBERS:
            if self.running(number) and self._answers_non_primary(number):
                self.set_provider_option(number, "gmcast.isolate=0")
        if not any(self.is_primary(number) for number in NODE_NUMBERS if self.running(number)):
            if any(self.running(number) for number in NODE_NUMBERS):
                self._wait_then_heal(timeout)
            else:
                _run_script(["start"], timeout)
        for number in NODE_NUMBERS:
            if not self.running(number):
                self.restart(number, timeout)
        self.wait_all_synced(max(1.0, timeout - (time.monotonic() - started)))
        return time.monotonic() - started

    def _wait_then_heal(self, timeout: float) -> None:
        """Nodes that were only cut off reform a primary component by themselves within a few
        seconds; bootstrap one only when that does not happen."""
        try:
            _wait(lambda: any(self.is_primary(number) for number in NODE_NUMBERS), 15,
                  lambda: "no primary component formed")
        except ClusterError:
            self.heal(timeout)


def _run_script(arguments: List[str], timeout: float) -> None:
    run_bounded(["bash", str(SCRIPT)] + arguments, timeout, ClusterError)
