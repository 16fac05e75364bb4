"""The polling loop of one job, in its own thread."""
from __future__ import annotations

import logging
import threading
import time

from mg_handling.engine import FanOut, PollResult
from mg_handling.job import Job
from mg_handling.lock import LockLost
from mg_handling.states import RunState
from util.db import DatabaseUnavailable, TransientError

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
    prune = False  # a done run's audience is still to be deleted (until that succeeds)
    while not stop.is_set():
        if not fanout.lock.held.is_set():
            fanout.watch.waiting_for_lock(job)
            stop.wait(1.0)
            continue
        try:
            result = _watched_poll(job, fanout)
            prune = prune or bool(result.outcomes.get(RunState.DONE))
            if prune:
                fanout.prune_leftover_audiences(job)
                prune = False
        except DatabaseUnavailable:
            delay = backoff.next()  # logged once for the whole outage by util.db.Outage
        except LockLost as lost:
            logger.warning("%s: %s; paused until the lock is held again", job.name, lost)
            delay = 1.0
        except TransientError as error:
            delay = backoff.next()
            logger.warning("%s: %s; polling again in %.0f s", job.name, error, delay)
        except Exception:
            delay = backoff.next()
            logger.exception("%s: poll failed; polling again in %.0f s", job.name, delay)
        else:
            backoff.reset()
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
