"""Logging for the daemon: pushing.log, safe under logrotate, reopened on SIGHUP."""
from __future__ import annotations

import datetime
import logging
import logging.handlers
import sys
import threading
from typing import Any, List, Optional

LOG_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(message)s"

logger = logging.getLogger(__name__)


class IsoTimeFormatter(logging.Formatter):
    """Times as ISO 8601 with the host's UTC offset (2026-11-29T23:31:28.123+00:00):
    unambiguous across time zones and daylight saving, and sortable."""

    def formatTime(self, record: logging.LogRecord, datefmt: Optional[str] = None) -> str:
        local = datetime.datetime.fromtimestamp(record.created).astimezone()
        return local.isoformat(timespec="milliseconds")


def setup_logging(log_file: str, level: str, echo: bool = False) -> logging.Handler:
    """Send every record to `log_file`, reopened when logrotate moves it away;
    `echo` also writes to stderr. Returns the file handler (its stream must
    stay open when daemonizing)."""
    handler = logging.handlers.WatchedFileHandler(log_file, encoding="utf-8")
    handlers: List[logging.Handler] = [handler]
    if echo:
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger()
    for existing in _our_handlers():
        root.removeHandler(existing)
        existing.close()
    for each in handlers:
        each.setFormatter(IsoTimeFormatter(LOG_FORMAT))
        each.message_handling = True  # type: ignore[attr-defined]
        root.addHandler(each)
    root.setLevel(level)
    return handler


def _our_handlers() -> List[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "message_handling", False)]


def reopen_log_files() -> None:
    """Close the log file and open it again by its name (after it was moved or
    deleted), then say so in the file that is now written."""
    for handler in _our_handlers():
        if not isinstance(handler, logging.handlers.WatchedFileHandler):
            continue
        handler.acquire()
        try:
            handler.dev = handler.ino = -1  # unlike any file: reopenIfNeeded reopens
            handler.reopenIfNeeded()
        finally:
            handler.release()
        logger.info("SIGHUP: reopened the log file %s", handler.baseFilename)


def reopen_on_signal(signum: int, frame: Any) -> None:
    """A signal handler (SIGHUP): the reopen runs in a thread of its own, as the
    signal may arrive while the main thread is inside a handler, holding its lock."""
    threading.Thread(target=reopen_log_files, name="signal", daemon=True).start()
