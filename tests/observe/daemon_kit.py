"""A real daemon process for the observability tests: its db.conf with a metrics
port, a NOTIFY_SOCKET datagram socket bound by the test (systemd's side of the
protocol), and plain HTTP to its port."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from testkit.process import ROOT, main_command, read_log


class NotifySocket:
    """The service manager's end: an AF_UNIX datagram socket at `path`, read by the
    test. Each datagram is kept with the monotonic time it was read."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self._sock.settimeout(0.1)
        self.received: List[Tuple[float, str]] = []

    def drain(self) -> List[Tuple[float, str]]:
        """Read what arrived so far; returns the new assignments."""
        new = []
        while True:
            try:
                data = self._sock.recv(4096)
            except socket.timeout:
                break
            now = time.monotonic()
            new += [(now, line) for line in data.decode("utf-8").split("\n")]
        self.received += new
        return new

    def seen(self, assignment: str) -> bool:
        self.drain()
        return any(line == assignment for _, line in self.received)

    def times(self, assignment: str) -> List[float]:
        self.drain()
        return [when for when, line in self.received if line == assignment]

    def close(self) -> None:
        self._sock.close()


@contextmanager
def daemon(config_path: str, notify: Optional[NotifySocket] = None,
           watchdog_seconds: Optional[float] = None) -> Iterator["subprocess.Popen[str]"]:
    """main.py running until the block ends (then SIGTERM, by pid), with systemd's
    variables when `notify` is given."""
    env = dict(os.environ)
    if notify is not None:
        env["NOTIFY_SOCKET"] = notify.path
    if watchdog_seconds is not None:
        env["WATCHDOG_USEC"] = str(int(watchdog_seconds * 1e6))
    process = subprocess.Popen(main_command(config_path), cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr is not None:
            process.stderr.close()


def stopped(process: "subprocess.Popen[str]", config_path: str) -> int:
    """SIGTERM and the exit code; the log on failure."""
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=30)
    assert code == 0, read_log(config_path)[-3000:]
    return code


def http_get(url: str) -> Tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def healthz(port: int) -> Tuple[int, Dict[str, Any]]:
    code, body = http_get("http://127.0.0.1:%d/healthz" % port)
    return code, json.loads(body) if body else {}
