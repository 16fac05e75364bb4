"""The polling loop of one job, in its own thread."""
from __future__ import annotations

import logging
import threading
import time
from typing import Optional, Tuple

from mg_handling.engine import FanOut, PollResult
from mg_handling.job import Job
from mg_handling.lock import LockLost
from mg_handling.states import RunState
from util.db import ACCESS_DENIED, DatabaseUnavailable, MissingTable, ReadTimeout, TransientError

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 300.0


class Heartbeat:
    """A line per poll that did something; an idle job says it is alive only
    every HEARTBEAT_SECONDS, so an idle log stays quiet but never silent."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.idle_polls = 0
        self.since = time.monotonic()

    def polled(self, result: PollResult) -> None:
        if result.outcomes:
            logger.info("%s: poll handled %s", self.job.name, result.summary())
            self._reset()
            return
        self.idle_polls += 1
        if time.monotonic() - self.since >= HEARTBEAT_SECONDS:
            logger.info("%s: alive, %d polls in %.0f s, nothing due", self.job.name,
                        self.idle_polls, time.monotonic() - self.since)
            self._reset()

    def _reset(self) -> None:
        self.idle_polls = 0
        self.since = time.monotonic()


class Episode:
    """A problem logged once when it starts and once (INFO) when it ends, its retries
    between at DEBUG, with no traceback (the line says it all): one that lasts until
    someone fixes it (a platform table renamed or dropped, the login refused: ERROR),
    or a transient one (a deadlock, a node not ready, a read timeout: WARNING)."""

    def __init__(self) -> None:
        self._end: Optional[str] = None  # the INFO line of the problem going on

    def problem(self, level: int, line: str, end: str) -> None:
        if self._end == end:
            logger.debug("%s", line)
            return
        logger.log(level, "%s", line)
        self._end = end

    def ended(self) -> None:
        if self._end is not None:
            logger.info("%s", self._end)
            self._end = None


def _lasting(error: Exception) -> Optional[Tuple[str, str]]:
    """(problem, its end) for an error that lasts until fixed, else None."""
    if isinstance(error, MissingTable):
        return ("the table %s is missing (renamed or dropped?)" % error.table,
                "the table %s is back" % error.table)
    if isinstance(error, DatabaseUnavailable) and error.code in ACCESS_DENIED:
        return ("the database refuses the login: %s" % error,
                "the database accepts the login again")
    return None


def _log_lasting(episode: Episode, error: Exception) -> None:
    lasting = _lasting(error)
    if lasting:
        problem, fixed = lasting
        episode.problem(logging.ERROR, "%s; this job sends nothing until that is fixed, "
                        "polling again with backoff (at most every 60 s)" % problem,
                        "%s; polling as usual" % fixed)


class Backoff:
    """Capped exponential delays: 1, 2, 4, ... up to `cap` seconds."""

    def __init__(self, first: float = 1.0, cap: float = 60.0) -> None:
        self.first, self.cap = first, cap
        self._next = first

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first


def run_job(job: Job, fanout: FanOut, stop: threading.Event, poll_interval: float) -> None:
    """Poll the job every `poll_interval` seconds until `stop` is set. Nothing
    but a stop ends this loop: every error is logged and backed off."""
    backoff = Backoff()
    heartbeat = Heartbeat(job)
    prune = True  # done runs' audiences to delete: an earlier run's first, then after polls
    episode = Episode()
    while not stop.is_set():
        if not fanout.lock.may_write():
            fanout.watch.waiting_for_lock(job)
            stop.wait(1.0)
            continue
        try:
            result = _watched_poll(job, fanout)
            prune = prune or bool(result.outcomes.get(RunState.DONE))
            if prune:
                fanout.prune_leftover_audiences(job)
                prune = False
        except (MissingTable, DatabaseUnavailable) as error:
            delay = backoff.next()  # an outage is logged once by util.db.Outage
            _log_lasting(episode, error)
        except LockLost as lost:
            logger.warning("%s: %s; paused until the lease is held again", job.name, lost)
            delay = 1.0
        except TransientError as error:
            # A read timeout has waited lock_timeout already, and the pool has left the
            # node that did not answer: the next node is tried at once, not backed off.
            delay = 1.0 if isinstance(error, ReadTimeout) else backoff.next()
            episode.problem(logging.WARNING, "%s: %s; polling again in %.0f s (until it works, "
                            "retries are logged at DEBUG)" % (job.name, error, delay),
                            "%s: polling works again" % job.name)
        except Exception as error:
            delay = backoff.next()
            logger.error("%s: poll failed (%s: %s); polling again in %.0f s", job.name,
                         type(error).__name__, error, delay)
            logger.debug("%s: the failed poll's traceback", job.name, exc_info=True)
        else:
            backoff.reset()
            episode.ended()
            heartbeat.polled(result)
            delay = poll_interval
        stop.wait(delay)


def _watched_poll(job: Job, fanout: FanOut) -> PollResult:
    """One poll, reported to the job's health (its start, its end or its error)."""
    fanout.watch.poll_started(job)
    try:
        result = fanout.poll(job)
    except BaseException as error:
        fanout.watch.poll_failed(job, error)
        raise
    fanout.watch.poll_finished(job)
    return result
