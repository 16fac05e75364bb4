"""Waiting for something another process does."""
from __future__ import annotations

import subprocess
import time
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 60.0, what: str = "",
               interval: float = 0.02, alive: Sequence[subprocess.Popen] = ()) -> T:
    """The first true value of `predicate()`, polled every `interval` s. Fails after
    `timeout` s naming `what` it waited for, and at once when one of the `alive`
    processes exited (waiting longer could not help)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        for process in alive:
            if process.poll() is not None:
                raise AssertionError("pid %d exited with %s while waiting for %s"
                                     % (process.pid, process.returncode, what or predicate))
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s"
                                 % (timeout, what or predicate))
        time.sleep(interval)
