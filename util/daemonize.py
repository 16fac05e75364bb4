"""`--daemon`: detach with python-daemon, behind a pid file.

The pid file is locked (flock) for as long as the daemon lives. The kernel
drops the lock when the process ends however it ends, so a file left behind
by a crash or a kill -9 is stale and simply taken over, and a live daemon is
recognised even when its pid was reused. Every path must be absolute: the
daemon changes directory before it runs.
"""
from __future__ import annotations

import fcntl
import logging
import os
import signal
import sys
import threading
from typing import Any, Callable, Optional

import daemon

logger = logging.getLogger(__name__)

UMASK = 0o027  # the log and the pid file: not for other users


class AlreadyRunning(Exception):
    """A live daemon holds the pid file; the message says which."""


class PidFileError(Exception):
    """The pid file cannot be written."""


class PidFile:
    """The context manager python-daemon enters once detached: lock, write our pid;
    on exit remove the file and drop the lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.stale_pid: Optional[int] = None
        self._fd: Optional[int] = None

    def check(self) -> None:
        """Before detaching, so that the error reaches the terminal: raises
        AlreadyRunning or PidFileError."""
        folder = os.path.dirname(self.path)
        if not os.path.exists(self.path):
            if not os.path.isdir(folder):
                raise PidFileError("cannot create the pid file %s: the folder %s does not "
                                   "exist" % (self.path, folder))
            if not os.access(folder, os.W_OK):
                raise PidFileError("cannot create the pid file %s: %s is not writable"
                                   % (self.path, folder))
            return
        fd = self._open()
        try:
            self._lock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> "PidFile":
        fd = self._open()
        try:
            self._lock(fd)
            previous = _read_pid(fd)
            self.stale_pid = previous if previous not in (None, os.getpid()) else None
            os.ftruncate(fd, 0)
            os.pwrite(fd, b"%d\n" % os.getpid(), 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc_info: Any) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                os.unlink(self.path)  # still ours: nobody replaced it
        except OSError:
            pass
        finally:
            os.close(fd)  # drops the lock

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise PidFileError("cannot open the pid file %s: %s"
                               % (self.path, error.strerror)) from None

    def _lock(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning("already running as pid %s (pid file %s)"
                                 % (_read_pid(fd) or "unknown", self.path)) from None


def _read_pid(fd: int) -> Optional[int]:
    text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def detach(pid_file: str, working_directory: str, stop: threading.Event,
           announce: str = "",
           on_hangup: Optional[Callable[[int, Any], None]] = None) -> daemon.DaemonContext:
    """Become a daemon; returns in the detached process, with the pid file written.
    `announce` is printed once the pid file is known to be free. SIGTERM and
    SIGINT set `stop` (the job threads finish their transaction); python-daemon's
    own SIGTERM handler would raise SystemExit in the main thread only. SIGHUP
    calls `on_hangup` (a daemon has no terminal to hang up: the signal is free for
    "reopen your log"), or is ignored without it."""
    pidfile = PidFile(os.path.abspath(pid_file))
    pidfile.check()
    if announce:
        print(announce)
    sys.stdout.flush()  # the parent leaves with os._exit: nothing buffered may be lost
    sys.stderr.flush()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    context = daemon.DaemonContext(
        working_directory=os.path.abspath(working_directory), umask=UMASK, pidfile=pidfile,
        detach_process=True, prevent_core=True,
        signal_map={signal.SIGTERM: request_stop, signal.SIGINT: request_stop,
                    signal.SIGHUP: on_hangup, signal.SIGTSTP: None, signal.SIGTTIN: None,
                    signal.SIGTTOU: None})
    context.open()
    return context


def log_detached(context: daemon.DaemonContext) -> None:
    """Once logging works: how the daemon was detached, and a stale pid file taken over."""
    pidfile = context.pidfile
    if pidfile.stale_pid is not None:
        logger.warning("pid file %s named pid %d, which no longer runs: taken over",
                       pidfile.path, pidfile.stale_pid)
    logger.info("detached: pid %d, pid file %s, working directory %s", os.getpid(),
                pidfile.path, context.working_directory)
