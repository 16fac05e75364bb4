"""`--daemon`: detach with python-daemon, behind a pid file.

The pid file is locked (flock) for as long as the daemon lives. The kernel
drops the lock when the process ends however it ends, so a file left behind
by a crash or a kill -9 is stale and simply taken over, and a live daemon is
recognised even when its pid was reused. Every path must be absolute: the
daemon changes directory before it runs.

The process the operator started does not return at once: it waits on a pipe
for the detached daemon's first word (StartReport: it runs, or the one line
saying why it cannot) and exits with that status, so `--daemon` never answers
0 for a daemon that stopped at its start.
"""
from __future__ import annotations

import fcntl
import logging
import os
import signal
import sys
import threading
from typing import Any, Callable, NoReturn, Optional

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


class StartReport:
    """The detached daemon's one word to the process that started it: an exit code
    and a line, sent once (later calls do nothing)."""

    def __init__(self, fd: Optional[int]) -> None:
        self._fd = fd

    def __call__(self, code: int, message: str) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.write(fd, ("%d %s\n" % (code, " ".join(message.split()))).encode("utf-8"))
        except OSError:
            pass  # the starting process was killed: nobody is left to tell
        finally:
            os.close(fd)


class Detached:
    """The detached process: python-daemon's context and the report to the starter."""

    def __init__(self, context: daemon.DaemonContext, report: StartReport) -> None:
        self.context = context
        self.report = report

    def close(self, code: int = 0) -> None:
        """Leaving: a start that never reported says at least its exit status."""
        self.report(code, "the daemon stopped during its start (exit status %d): see the "
                          "log" % code)
        self.context.close()


def _wait_for_report(read_fd: int) -> NoReturn:
    """In the process the operator started: the daemon's word, printed, is our exit."""
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            line = pipe.readline().decode("utf-8", "replace").strip()
    except KeyboardInterrupt:  # Ctrl-C stops the waiting, not the daemon
        line = "130 interrupted while waiting for the daemon's start; it goes on: see the log"
    code_text, _, message = line.partition(" ")
    if not code_text.isdigit():
        code, message = 2, "the daemon ended before it could start (no word from it): see " \
                           "the log"
    else:
        code = int(code_text)
    print("message_handling: %s" % message, file=sys.stdout if code == 0 else sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # python-daemon's parents leave the same way: nothing of ours to clean


def detach(pid_file: str, working_directory: str, stop: threading.Event,
           announce: str = "",
           on_hangup: Optional[Callable[[int, Any], None]] = None) -> Detached:
    """Become a daemon; returns in the detached process, with the pid file written.
    The calling process waits for the daemon's StartReport and exits with it.
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

    read_fd, write_fd = os.pipe()
    if os.fork():
        os.close(write_fd)
        _wait_for_report(read_fd)
    os.close(read_fd)
    context = daemon.DaemonContext(
        working_directory=os.path.abspath(working_directory), umask=UMASK, pidfile=pidfile,
        detach_process=True, prevent_core=True, files_preserve=[write_fd],
        signal_map={signal.SIGTERM: request_stop, signal.SIGINT: request_stop,
                    signal.SIGHUP: on_hangup, signal.SIGTSTP: None, signal.SIGTTIN: None,
                    signal.SIGTTOU: None})
    report = StartReport(write_fd)
    try:
        context.open()
    except BaseException as error:  # e.g. the pid file taken in between
        report(2, "cannot detach: %s" % error)
        raise
    return Detached(context, report)


def log_detached(detached: Detached) -> None:
    """Once logging works: how the daemon was detached, and a stale pid file taken over."""
    context = detached.context
    pidfile = context.pidfile
    if pidfile.stale_pid is not None:
        logger.warning("pid file %s named pid %d, which no longer runs: taken over",
                       pidfile.path, pidfile.stale_pid)
    logger.info("detached: pid %d, pid file %s, working directory %s", os.getpid(),
                pidfile.path, context.working_directory)
