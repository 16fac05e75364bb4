"""Start-up, the two ways of running (one poll, or forever) and shut-down."""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Callable, List, Optional, Tuple

from mg_handling.decision import Settings
from mg_handling.engine import FanOut
from mg_handling.jobs import JOBS
from mg_handling.lock import InstanceLock, LockBusy, LockLost
from mg_handling.store import Store
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


def start(config: Config, stop: threading.Event, outage: Optional[Outage] = None
          ) -> Tuple[Store, FanOut]:
    """Pool, schema, lock: raises DatabaseError or LockBusy."""
    store = Store(config.db, max_connections=len(JOBS) + 2, outage=outage)
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


def _start_when_reachable(config: Config, stop: threading.Event, report: StartReport
                          ) -> Optional[Tuple[Store, FanOut]]:
    """Long-running mode waits for the database instead of exiting. One outage
    spans the tries, so it is reported once, and its end once."""
    backoff, outage = Backoff(), Outage(config.db.describe())
    while not stop.is_set():
        try:
            return start(config, stop, outage)
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
    """Three job threads and the lock keeper, until SIGTERM or SIGINT. `report` hears
    once that the daemon runs (the instance lock held) or why it cannot."""
    try:
        started = _start_when_reachable(config, stop, report)
    except (DatabaseError, LockBusy) as error:
        message = "%s (%s)" % (error, config.db.describe())
        report(EXIT_ERROR, message)
        return fail(message)
    if started is None:  # stopped while waiting for the database
        logger.info("message_handling stopped")
        return EXIT_OK
    report(EXIT_OK, "running as pid %d, holding the instance lock of %s"
           % (os.getpid(), config.db.describe()))
    store, fanout = started
    # Daemon threads: a transaction still running after the grace period (a huge
    # audience being frozen) is abandoned, and the server rolls it back.
    threads = [threading.Thread(target=run_job, name=job.name, daemon=True,
                                args=(job, fanout, stop, config.poll_interval))
               for job in JOBS]
    threads.append(threading.Thread(target=fanout.lock.keep, name="lock", daemon=True,
                                    args=(stop, config.poll_interval)))
    try:
        fanout.prune_leftover_audiences()
    except DatabaseError:
        logger.exception("pruning leftover audiences failed; the next start tries again")
    for thread in threads:
        thread.start()
    stop.wait()
    logger.info("stopping: finishing the current transactions")
    deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    busy = [thread.name for thread in threads if thread.is_alive()]
    if busy:
        logger.warning("%s still in a transaction after %d s: abandoned, the server rolls "
                       "it back and the next start does it again", ", ".join(busy),
                       SHUTDOWN_GRACE_SECONDS)
    stop_all(store, fanout)
    logger.info("message_handling stopped")
    return EXIT_OK
