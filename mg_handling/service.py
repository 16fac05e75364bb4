"""Start-up, the two ways of running (one poll, or forever) and shut-down."""
from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from typing import Callable, List, Optional, Tuple

from mg_handling.decision import Settings
from mg_handling.engine import FanOut
from mg_handling.health import Watch
from mg_handling.jobs import JOBS
from mg_handling.lock import InstanceLock, LockBusy, LockLost
from mg_handling.metrics import Metrics
from mg_handling.snapshot import StatusPage
from mg_handling.store import FREEZE_READ_MARGIN, JOB_NAMES, InstanceKey, Limits, Store
from mg_handling.supervisor import Notifier, Supervisor, instance_name, supervise
from mg_handling.worker import Backoff, run_job
from util.config import Config
from util.db import ACCESS_DENIED, DatabaseError, DatabaseUnavailable, Outage

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_CAMPAIGN_FAILED, EXIT_ERROR = 0, 1, 2
SHUTDOWN_GRACE_SECONDS = 5
# How the long-running mode tells whoever started it (`--daemon`'s waiting parent)
# that it runs, or why it cannot: an exit code and one line.
StartReport = Callable[[int, str], None]


def _no_report(code: int, message: str) -> None:
    """Nobody waits for the start (the foreground and systemd: the log and stderr say it)."""


def start(config: Config, stop: threading.Event, outage: Optional[Outage] = None,
          standby: bool = False) -> Tuple[Store, FanOut]:
    """Pool, schema, lease: raises DatabaseError, or LockBusy unless `standby`
    (then the lease is taken over by the keeper thread once it is free)."""
    store = Store(config.db, max_connections=len(JOBS) + 2, outage=outage,
                  limits=Limits(config.freeze_timeout,
                                idle_transaction=max(1, round(config.lock_timeout))))
    try:
        store.ensure_schema()
        lock = InstanceLock(config.db, store.outage, config.lock_timeout, standby)
        lock.acquire()
    except BaseException:
        store.close()
        raise
    _check_write_set_limits(store)
    settings = Settings.from_config(config)
    logger.info("message_handling started (pid %d) on [%s] %s, jobs: %s", os.getpid(),
                config.env, config.db.describe(), ", ".join(job.name for job in JOBS))
    return store, FanOut(store, lock, settings, stop)


# The largest audience the limits must admit, and what one recipient costs in a
# write set (a row of mh_audience: run_id, id, recipient, plus its index entry).
WRITE_SET_AUDIENCE = 10_000_000
WRITE_SET_BYTES_PER_RECIPIENT = 64


def _check_write_set_limits(store: Store) -> None:
    """On a Galera node, say at start when a freeze could exceed a write-set limit."""
    limits = store.write_set_limits()
    if limits is None:
        return
    rows, size = limits
    if rows and rows < WRITE_SET_AUDIENCE:
        logger.warning("wsrep_max_ws_rows = %d: a campaign with more recipients cannot be "
                       "frozen (its one transaction is refused); set it to 0, no limit", rows)
    if size < WRITE_SET_AUDIENCE * WRITE_SET_BYTES_PER_RECIPIENT:
        logger.warning("wsrep_max_ws_size = %d bytes: about %d recipients at most in one "
                       "frozen audience", size, size // WRITE_SET_BYTES_PER_RECIPIENT)


def stop_all(store: Store, fanout: FanOut) -> None:
    fanout.lock.release()
    store.close()


def fail(message: str) -> int:
    """A start-up error: one line on stderr, the same in the log."""
    logger.error("%s", message)
    print("message_handling: %s" % message, file=sys.stderr)
    return EXIT_ERROR


def run_once(config: Config, stop: threading.Event) -> int:
    """One poll of every job: 0 all written, 1 a campaign failed, 2 an error."""
    try:
        store, fanout = start(config, stop)
    except (DatabaseError, LockBusy) as error:
        return fail("%s (%s)" % (error, config.db.describe()))
    failed: List[int] = []
    # The keeper renews the lease while a long freeze runs: a fence needs a third of it left.
    keeper_stop = threading.Event()
    keeper = threading.Thread(target=fanout.lock.keep, name="lease", daemon=True,
                              args=(keeper_stop,))
    keeper.start()
    try:
        fanout.prune_leftover_audiences()
        for job in JOBS:
            failed += fanout.poll(job).failed
    except (DatabaseError, LockLost) as error:
        return fail("%s (%s)" % (error, config.db.describe()))
    finally:
        keeper_stop.set()
        keeper.join(fanout.lock.renew_interval + 1)
        stop_all(store, fanout)
    return EXIT_CAMPAIGN_FAILED if failed else EXIT_OK


def _start_when_reachable(config: Config, stop: threading.Event, outage: Outage,
                          report: StartReport) -> Optional[Tuple[Store, FanOut]]:
    """Long-running mode waits for the database instead of exiting. One outage
    spans the tries, so it is reported once, and its end once."""
    backoff = Backoff()
    while not stop.is_set():
        try:
            return start(config, stop, outage, standby=config.standby)
        except DatabaseUnavailable as error:
            if error.code in ACCESS_DENIED:
                raise  # a wrong account is a configuration error, not an outage
            delay = backoff.next()
            logger.warning("cannot start yet (%s, %s); trying again in %.0f s", error,
                           config.db.describe(), delay)
            report(EXIT_OK, "running as pid %d, waiting for the database (%s, %s); see the "
                            "log" % (os.getpid(), error, config.db.describe()))
            stop.wait(delay)
    return None


def run_forever(config: Config, stop: threading.Event, report: StartReport = _no_report
                ) -> int:
    """Three job threads and the lease keeper, until SIGTERM or SIGINT; the main thread
    supervises them (mg_handling/supervisor.py) and serves the status page. `report`
    hears once that the daemon runs (the lease held, or standing by) or why it cannot;
    exits 2 when another instance took the lease over and this one is not a standby."""
    metrics = Metrics(JOB_NAMES, config.poll_interval)
    outage = Outage(config.db.describe(), on_change=metrics.set_database_up)
    try:
        started = _start_when_reachable(config, stop, outage, report)
    except (DatabaseError, LockBusy) as error:
        message = "%s (%s)" % (error, config.db.describe())
        report(EXIT_ERROR, message)
        return fail(message)
    if started is None:  # stopped while waiting for the database
        logger.info("message_handling stopped")
        return EXIT_OK
    store, fanout = started
    report(EXIT_OK, "running as pid %d, %s the instance lock of %s" % (
        os.getpid(), "holding" if fanout.lock.held.is_set() else "standing by for",
        config.db.describe()))
    metrics.set_database_up(True)
    key = InstanceKey(fanout.lock.name, socket.gethostname(), os.getpid(), config.poll_interval)
    fanout.watch = Watch(JOB_NAMES, metrics, store, key)
    try:
        page = _status_page(config, fanout.lock, key, metrics, outage)
    except OSError as error:
        stop_all(store, fanout)
        return fail("[main] metrics_port: cannot listen on %s port %d: %s" % (
            config.metrics_address, config.metrics_port, error.strerror or error))
    supervisor = Supervisor(stop)
    for job in JOBS:
        supervisor.add(job.name, run_job, job, fanout, stop, config.poll_interval)
    supervisor.add("lease", fanout.lock.keep, stop)
    try:
        store.prune_job_health(fanout.lock.name)
    except DatabaseError as error:
        logger.warning("pruning old job health rows failed (%s); the next start tries again",
                       error)
    supervisor.start()
    notifier = Notifier(fanout.watch, fanout.lock, config.db.describe(), config.poll_interval,
                        config.freeze_timeout + FREEZE_READ_MARGIN)
    supervise(supervisor, notifier,
              on_tick=lambda: metrics.set_lock_held(fanout.lock.held.is_set()))
    logger.info("stopping: finishing the current transactions")
    busy = supervisor.join(SHUTDOWN_GRACE_SECONDS)
    if busy:
        logger.warning("%s still in a transaction after %d s: abandoned, the server rolls "
                       "it back and the next start does it again", ", ".join(busy),
                       SHUTDOWN_GRACE_SECONDS)
    if page is not None:
        page.stop()
    superseded = fanout.lock.superseded.is_set()
    if busy:
        # Closing the pool would wait for its lock, which an abandoned thread may hold
        # for good (DBUtils pings a pooled connection under that lock, and a cut
        # network never answers): the process exits, and its sockets close with it.
        fanout.lock.release()
    else:
        stop_all(store, fanout)
    logger.info("message_handling stopped")
    return EXIT_ERROR if superseded else EXIT_OK


def _status_page(config: Config, lock: InstanceLock, key: InstanceKey, metrics: Metrics,
                 outage: Outage) -> Optional[StatusPage]:
    """The status page, /healthz and /metrics when [main] metrics_port is set."""
    if not config.metrics_port:
        return None
    page = StatusPage(config, lock, key, instance_name(), metrics, outage)
    page.start()
    return page
