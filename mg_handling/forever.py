"""The long-running mode: three job threads and the lease keeper under a supervisor,
the status page, /healthz and /metrics, until SIGTERM or SIGINT. Apart from
mg_handling/service.py so that `--once` (a cron job) never loads what only this
mode uses: prometheus_client and the HTTP server."""
from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Callable, Optional, Tuple

from mg_handling.engine import FanOut
from mg_handling.health import Watch
from mg_handling.jobs import JOBS
from mg_handling.lock import InstanceLock, LockBusy
from mg_handling.metrics import Metrics
from mg_handling.service import EXIT_ERROR, EXIT_OK, fail, start, stop_all
from mg_handling.snapshot import StatusPage
from mg_handling.store import FREEZE_READ_MARGIN, JOB_NAMES, InstanceKey, Store
from mg_handling.supervisor import Notifier, Supervisor, instance_name, supervise
from mg_handling.worker import Backoff, run_job
from util.config import Config
from util.db import ACCESS_DENIED, DatabaseError, DatabaseUnavailable, Outage

logger = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS = 5
# How the long-running mode tells whoever started it (`--daemon`'s waiting parent)
# that it runs, or why it cannot: an exit code and one line.
StartReport = Callable[[int, str], None]


def no_report(code: int, message: str) -> None:
    """Nobody waits for the start (the foreground and systemd: the log and stderr say it)."""


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


def run_forever(config: Config, stop: threading.Event, report: StartReport = no_report
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
