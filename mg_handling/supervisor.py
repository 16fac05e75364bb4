"""The daemon's main thread while the jobs run (issue 12): it restarts a job
thread that died, keeps the lock gauge, and tells systemd how things are.

A job thread catches every Exception of a poll (mg_handling/worker.py), so it
dies only of a BaseException (SystemExit, KeyboardInterrupt raised in it, a bug
in the loop itself): `Supervisor` logs one line with the traceback and starts
the job again in a new thread; the other threads never notice.

`Notifier` speaks systemd's notify protocol (util/sdnotify.py): READY=1 once,
STATUS= when its line changes, WATCHDOG=1 at half the watchdog interval but only
while every job is healthy (web.job_problem is None for each, from the jobs' own
in-memory reports, so a database outage longer than the stuck limit stops the
pings too, and systemd restarts the daemon, which then waits for the database),
and STOPPING=1. One exception: a job freezing an audience is excused for up to
freeze_timeout (plus the read margin), the bound the server itself enforces on
that statement; `status --check` still reports it stuck, so a long freeze is seen.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from mg_handling.health import Watch
from mg_handling.lock import InstanceLock
from mg_handling.views import InstanceView, PageSnapshot
from mg_handling.web import job_problem, status_line
from util import sdnotify

logger = logging.getLogger(__name__)

TICK_SECONDS = 1.0
Target = Callable[..., None]


class Supervisor:
    """Named threads that are started again when they die (until `stop` is set)."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self._specs: Dict[str, Tuple[Target, Sequence[Any]]] = {}
        self._threads: Dict[str, threading.Thread] = {}
        self._deaths: Dict[str, BaseException] = {}

    def add(self, name: str, target: Target, *args: Any) -> None:
        self._specs[name] = (target, args)

    def start(self) -> None:
        for name in self._specs:
            self._start(name)

    def _start(self, name: str) -> None:
        # Daemon threads: a transaction still running after the grace period (a huge
        # audience being frozen) is abandoned, and the server rolls it back.
        thread = threading.Thread(target=self._run, name=name, args=(name,), daemon=True)
        self._threads[name] = thread
        thread.start()

    def _run(self, name: str) -> None:
        target, args = self._specs[name]
        try:
            target(*args)
        except BaseException as error:  # recorded for the one line of restart_dead
            self._deaths[name] = error

    @property
    def threads(self) -> Dict[str, threading.Thread]:
        return dict(self._threads)

    def restart_dead(self) -> List[str]:
        """Start again each thread that ended before the stop; returns their names."""
        restarted = []
        for name, thread in list(self._threads.items()):
            if thread.is_alive() or self.stop.is_set():
                continue
            error = self._deaths.pop(name, None)
            reason = repr(error) if error is not None else "returned"
            exc_info = (type(error), error, error.__traceback__) if error is not None else None
            logger.error("job thread %s died: %s; restarted", name, reason, exc_info=exc_info)
            self._start(name)
            restarted.append(name)
        return restarted

    def join(self, timeout: float) -> List[str]:
        """Wait for the threads until `timeout` s from now; returns the ones still busy."""
        deadline = time.monotonic() + timeout
        for thread in self._threads.values():
            thread.join(max(0.0, deadline - time.monotonic()))
        return [name for name, thread in self._threads.items() if thread.is_alive()]


def instance_name() -> str:
    """This process as the page and the lock's record name it: 'host-a pid 1234'."""
    return "%s pid %d" % (socket.gethostname(), os.getpid())


class Notifier:
    """What systemd hears (nothing outside systemd: no $NOTIFY_SOCKET)."""

    def __init__(self, watch: Watch, lock: InstanceLock, database: str,
                 poll_interval: float, freeze_bound: float) -> None:
        self.watch = watch
        self.lock = lock
        self.database = database
        self.poll_interval = poll_interval
        self.freeze_bound = freeze_bound
        self._status = ""
        self._ready = False
        self._last_ping = -float("inf")
        timeout = sdnotify.watchdog_timeout()
        self._ping_every = timeout / 2 if timeout else None

    def local_snapshot(self) -> PageSnapshot:
        """The jobs as they reported themselves, in memory (the database may be down)."""
        holds = self.lock.held.is_set()
        instance = InstanceView(instance_name(), self.database, holds,
                                instance_name() if holds else None, None)
        return PageSnapshot(datetime.now(), self.poll_interval, instance, self.watch.views(),
                            self.watch.running())

    def problems(self, snapshot: PageSnapshot) -> List[str]:
        """The jobs' problems, but for a freeze still within its own bound."""
        found = [job_problem(job, snapshot.now, snapshot.poll_interval) for job in snapshot.jobs
                 if not self._freezing(job.name)]
        return [problem for problem in found if problem]

    def _freezing(self, job: str) -> bool:
        claiming = self.watch.claiming_for(job)
        return claiming is not None and claiming <= self.freeze_bound

    def tick(self) -> None:
        snapshot = self.local_snapshot()
        if not self._ready and snapshot.instance.holds_lock:
            self._ready = True
            sdnotify.ready()
        line = status_line(snapshot)
        if line != self._status:
            self._status = line
            sdnotify.status(line)
        if self._ping_every is None or self.problems(snapshot):
            return
        if time.monotonic() - self._last_ping >= self._ping_every:
            self._last_ping = time.monotonic()
            sdnotify.watchdog()

    @property
    def tick_seconds(self) -> float:
        """How often to look: often enough to ping twice per watchdog interval."""
        return min(TICK_SECONDS, self._ping_every or TICK_SECONDS)

    @staticmethod
    def stopping() -> None:
        sdnotify.stopping()


def supervise(supervisor: Supervisor, notifier: Notifier,
              on_tick: Optional[Callable[[], None]] = None) -> None:
    """The main thread's loop until the stop: restart dead threads, notify systemd."""
    while True:
        supervisor.restart_dead()
        if on_tick is not None:
            on_tick()
        notifier.tick()
        if supervisor.stop.wait(notifier.tick_seconds):
            break
    notifier.stopping()
