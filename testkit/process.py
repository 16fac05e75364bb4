"""main.py as a process, its db.conf and its log; free ports, one-line errors, /proc."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import Any, List, Mapping, Optional

from testkit.db import SERVER

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_config(path: str, database: str, connection: Optional[Mapping[str, Any]] = None,
                 env: str = "database_test", **main: Any) -> str:
    """A db.conf for `database` on SERVER (`connection` overrides host, port, user or
    password, or adds e.g. charset) with [main] overrides (None leaves a setting out);
    only its owner may read it. Returns `path`."""
    settings = {"env": env, "poll_interval": 0.2, "log_file": "pushing.log"}
    settings.update(main)
    server = dict(SERVER, **(connection or {}))
    lines = ["[main]"] + ["%s = %s" % item for item in settings.items() if item[1] is not None]
    lines += ["", "[%s]" % env] + ["%s = %s" % item for item in server.items()]
    lines += ["database = %s" % database, ""]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    os.chmod(path, 0o600)
    return path


def read_log(config_path: str) -> str:
    """The daemon's pushing.log beside `config_path` ('' before it exists)."""
    path = os.path.join(os.path.dirname(config_path), "pushing.log")
    if not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def main_command(config_path: str, *extra: str, root: str = ROOT) -> List[str]:
    """The command line of `root`'s main.py (another checkout's, for the benchmark)."""
    return [sys.executable, os.path.join(root, "main.py"), "--config", config_path, *extra]


def run_main(config_path: str, *extra: str, timeout: float = 120
             ) -> "subprocess.CompletedProcess[str]":
    """Run main.py as a real process and wait for it."""
    return subprocess.run(main_command(config_path, *extra), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def start_daemon(config_path: str, *extra: str) -> "subprocess.Popen[str]":
    """main.py started and left running; the caller stops it (by this Popen, never by name)."""
    return subprocess.Popen(main_command(config_path, *extra), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def one_line(text: str) -> str:
    """A user error's output: exactly one line, no traceback. Returns that line."""
    assert "Traceback" not in text, text
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def free_port() -> int:
    """A TCP port nobody listens on (right now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def proc_status_kib(pid: int, field: str) -> Optional[int]:
    """A size line of /proc/<pid>/status (VmRSS, VmHWM...) in KiB; None once it exited."""
    try:
        with open("/proc/%d/status" % pid) as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
