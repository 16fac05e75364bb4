"""Start-up, the two ways of running (one poll, or forever) and shut-down."""
from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from typing import List, Optional, Tuple

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


def start(config: Config, stop: threading.Event, outage: Optional[Outage] = None
          ) -> Tuple[Store, FanOut]:
    """Pool, schema, lock: raises DatabaseError or LockBusy."""
    store = Store(config.db, max_connections=len(JOBS) + 2, outage=outage,
                  limits=Limits(config.freeze_timeout))
    try:
        store.ensure_schema()
        lock = InstanceLock(config.db, store.outage)
        lock.acquire()
    except BaseException:
        store.close()
        raise
    settings = Settings.from_config(config)
    logger.info("message_handling started (pid %d) on [%s] %s, jobs: %s", os.getpid(),
                config.env, config.db.describe(), ", ".join(job.name for job in JOBS))
    return store, FanOut(store, lock, settings, stop)


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
    try:
        fanout.prune_leftover_audiences()
        for job in JOBS:
            failed += fanout.poll(job).failed
    except (DatabaseError, LockLost) as error:
        return fail("%s (%s)" % (error, config.db.describe()))
    finally:
        stop_all(store, fanout)
    return EXIT_CAMPAIGN_FAILED if failed else EXIT_OK


def _start_when_reachable(config: Config, stop: threading.Event, outage: Outage
                          ) -> Optional[Tuple[Store, FanOut]]:
    """Long-running mode waits for the database instead of exiting. One outage
    spans the tries, so it is reported once, and its end once."""
    backoff = Backoff()
    while not stop.is_set():
        try:
            return start(config, stop, outage)
        except DatabaseUnavailable as error:
            if error.code == ACCESS_DENIED:
                raise  # a wrong account is a configuration error, not an outage
            delay = backoff.next()
            logger.warning("cannot start yet (%s); trying again in %.0f s", error, delay)
            stop.wait(delay)
    return None


def run_forever(config: Config, stop: threading.Event) -> int:
    """Three job threads and the lock keeper, until SIGTERM or SIGINT; the main
    thread supervises them (mg_handling/supervisor.py) and serves the status page."""
    metrics = Metrics(JOB_NAMES, config.poll_interval)
    outage = Outage(on_change=metrics.set_database_up)
    try:
        started = _start_when_reachable(config, stop, outage)
    except (DatabaseError, LockBusy) as error:
        return fail("%s (%s)" % (error, config.db.describe()))
    if started is None:
        return EXIT_OK
    store, fanout = started
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
    supervisor.add("lock", fanout.lock.keep, stop, config.poll_interval)
    try:
        fanout.prune_leftover_audiences()
        store.prune_job_health(fanout.lock.name)
    except DatabaseError:
        logger.exception("pruning leftover audiences failed; the next start tries again")
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
    stop_all(store, fanout)
    logger.info("message_handling stopped")
    return EXIT_OK


def _status_page(config: Config, lock: InstanceLock, key: InstanceKey, metrics: Metrics,
                 outage: Outage) -> Optional[StatusPage]:
    """The status page, /healthz and /metrics when [main] metrics_port is set."""
    if not config.metrics_port:
        return None
    page = StatusPage(config, lock, key, instance_name(), metrics, outage)
    page.start()
    return page
