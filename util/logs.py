"""Logging for the daemon: pushing.log, safe under logrotate."""
from __future__ import annotations

import logging
import logging.handlers
import sys
from typing import List

LOG_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(message)s"


def setup_logging(log_file: str, level: str, echo: bool = False) -> logging.Handler:
    """Send every record to `log_file`, reopened when logrotate moves it away;
    `echo` also writes to stderr. Returns the file handler (its stream must
    stay open when daemonizing)."""
    handler = logging.handlers.WatchedFileHandler(log_file, encoding="utf-8")
    handlers: List[logging.Handler] = [handler]
    if echo:
        handlers.append(logging.StreamHandler(sys.stderr))
    root = logging.getLogger()
    for existing in [h for h in root.handlers if getattr(h, "message_handling", False)]:
        root.removeHandler(existing)
        existing.close()
    for each in handlers:
        each.setFormatter(logging.Formatter(LOG_FORMAT))
        each.message_handling = True  # type: ignore[attr-defined]
        root.addHandler(each)
    root.setLevel(level)
    return handler
