"""What an operator meets before the daemon runs: --version, a python without the
requirements, the log's time stamps, and the systemd unit's exit-status rule."""
from __future__ import annotations

import configparser
import datetime
import logging
import os
import re
import subprocess
import sys
import time
import venv

import mg_handling
from mg_handling import service
from testkit.process import ROOT, main_command, read_log, run_main, write_config
from util.logs import setup_logging

UNIT = os.path.join(ROOT, "deploy", "message-handling.service")


def test_version_prints_the_version_and_exits_0():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--version"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    version = getattr(mg_handling, "__version__", None)  # defined once, there
    assert result.stdout == "message_handling %s\n" % version
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)


def test_a_python_without_the_requirements_says_what_to_install(tmp_path):
    """`python3 main.py` outside the venv: one line naming the missing package and
    the command that installs it, exit 2; no traceback."""
    bare = tmp_path / "bare"
    venv.EnvBuilder(with_pip=False).create(str(bare))  # a python with no packages at all
    command = main_command(str(tmp_path / "db.conf"), "--once")
    command[0] = str(bare / "bin" / "python")
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == service.EXIT_ERROR, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.match(r"message_handling: the package \S+ \(module '\w+'\) is not installed "
                    r"for .*/bare/bin/python", lines[0]), lines[0]
    assert ".venv/bin/pip install -r requirements.txt" in lines[0]
    assert "make venv" in lines[0]


ISO_LINE = re.compile(r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d) "
                      r"(?P<level>[A-Z]+) (?P<thread>\S+) (?P<message>.*)$")


def test_log_lines_start_with_an_iso_8601_time_with_the_utc_offset(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Shanghai")  # +08:00: an offset that is not zero
    time.tzset()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        log_file = str(tmp_path / "pushing.log")
        ours = setup_logging(log_file, "INFO")
        before = datetime.datetime.now(datetime.timezone.utc)
        logging.getLogger("mh.test").info("资讯 📰 %s", "sent")
        after = datetime.datetime.now(datetime.timezone.utc)
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
        root.removeHandler(ours)
        ours.close()
        root.handlers[:] = handlers
        root.setLevel(level)
    with open(log_file, encoding="utf-8") as handle:
        line = handle.read().rstrip("\n")
    match = ISO_LINE.match(line)
    assert match, line
    assert match["time"].endswith("+08:00")
    when = datetime.datetime.fromisoformat(match["time"])
    assert before - datetime.timedelta(milliseconds=1) <= when <= after
    assert (match["level"], match["message"]) == ("INFO", "资讯 📰 sent")


def test_the_daemons_own_lines_carry_the_offset(db, tmp_path):
    config = write_config(str(tmp_path / "db.conf"), db.name)
    assert run_main(config, "--once", timeout=60).returncode == 0
    lines = read_log(config).splitlines()
    assert lines and all(ISO_LINE.match(line) for line in lines), lines


def test_the_unit_does_not_restart_after_a_configuration_error():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(UNIT, encoding="utf-8")
    assert unit["Service"]["Restart"] == "on-failure"
    prevented = unit["Service"].get("RestartPreventExitStatus", "").split()
    assert str(service.EXIT_ERROR) in prevented
