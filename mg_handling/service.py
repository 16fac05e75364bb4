"""Start-up, one poll of every job (`--once`) and shut-down; the long-running mode
builds on them in mg_handling/forever.py."""
from __future__ import annotations

import logging
import os
import sys
import threading
from typing import List, Optional, Tuple

from mg_handling.decision import Settings
from mg_handling.engine import FanOut
from mg_handling.jobs import JOBS
from mg_handling.lock import InstanceLock, LockBusy, LockLost
from mg_handling.store import Limits, Store
from util.config import Config
from util.db import DatabaseError, Outage

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_CAMPAIGN_FAILED, EXIT_ERROR = 0, 1, 2


def start(config: Config, stop: threading.Event, outage: Optional[Outage] = None,
          standby: bool = False) -> Tuple[Store, FanOut]:
    """Pool, schema, lease: raises DatabaseError, or LockBusy unless `standby`
    (then the lease is taken over by the keeper thread once it is free)."""
    store = Store(config.db, max_connections=len(JOBS) + 2, outage=outage,
                  limits=Limits.for_daemon(config.freeze_timeout, config.lock_timeout))
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
