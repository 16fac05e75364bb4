"""deploy/message-handling.service as systemd reads it (issue 12): Type=notify with
a watchdog longer than any stuck limit, writes only in its own directories."""
import configparser
from pathlib import Path

from mg_handling.web import stuck_limit

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "message-handling.service"
LONGEST_POLL_INTERVAL = 30  # what WatchdogSec=120 is chosen for (its comment)


def service() -> configparser.SectionProxy:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    unit.read(UNIT, encoding="utf-8")
    return unit["Service"]


def test_notify_with_a_watchdog_longer_than_the_stuck_limit() -> None:
    section = service()
    assert section["Type"] == "notify"
    assert section["NotifyAccess"] == "main"  # the pings come from the main process
    # The pings stop once a job is stuck; systemd must not kill a healthy daemon first.
    assert int(section["WatchdogSec"]) >= stuck_limit(LONGEST_POLL_INTERVAL) + 30
    assert section["TimeoutStartSec"] == "infinity"  # waiting for the database at start


def test_the_service_writes_only_its_state_and_log_directories() -> None:
    section = service()
    assert section["StateDirectory"] == "message-handling"
    assert section["LogsDirectory"] == "message-handling"
    assert section["ProtectSystem"] == "strict"
    assert "ReadWritePaths" not in section  # not the code's folder
    assert section["User"] != "root"
