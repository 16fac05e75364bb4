"""Real observability tools for the tests (issue 12): a Prometheus server, its
HTTP API, and headless Chromium. All from Debian's packages, installed by
tools/ensure_observability.sh (which .ci/run calls).

- require_tool: the path of a tool; skips the test when it is missing, except
  in CI (CI=true), where a missing tool fails it.
- Prometheus: Debian's server on a free loopback port, scraping one target
  every second, its config and data in a folder the caller gives; stopped by pid.
- chromium_dom / chromium_screenshot: what a browser makes of a page.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import pytest

SCRAPE_JOB = "message_handling"
INSTALL_HINT = "bash tools/ensure_observability.sh"
Sample = Tuple[Dict[str, str], float]


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI") == "true":
        pytest.fail("%s is missing in CI: .ci/run must install it (%s)" % (name, INSTALL_HINT))
    pytest.skip("%s is not installed (%s installs it)" % (name, INSTALL_HINT))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _http_get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return bytes(answer.read())


class Prometheus:
    """A Prometheus server scraping `target` (host:port) every second, with the
    target's own labels kept (honor_labels: the daemon's metrics have a `job`
    label, which Prometheus would otherwise rename to `exported_job`)."""

    def __init__(self, target: str, folder: Path, rule_files: Sequence[Path] = ()) -> None:
        self.port = _free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.folder = folder
        self._target = target
        self._rule_files = rule_files
        self._process: Optional[subprocess.Popen] = None

    def _write_config(self) -> Path:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in self._rule_files],
            "scrape_configs": [{"job_name": SCRAPE_JOB, "honor_labels": True,
                                "static_configs": [{"targets": [self._target]}]}],
        }
        path = self.folder / "prometheus.yml"
        path.write_text(json.dumps(config, indent=2))  # JSON is YAML
        return path

    def start(self, timeout: float = 60.0) -> "Prometheus":
        binary = require_tool("prometheus")
        config = self._write_config()
        log = open(self.folder / "prometheus.log", "wb")
        with log:
            self._process = subprocess.Popen(
                [binary, "--config.file=%s" % config,
                 "--storage.tsdb.path=%s" % (self.folder / "data"),
                 "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait(self._ready, timeout, lambda: "Prometheus to be ready at %s" % self.url)
        return self

    def _ready(self) -> bool:
        try:
            return _http_get(self.url + "/-/ready", timeout=1).startswith(b"Prometheus")
        except OSError:
            return False

    def _wait(self, predicate: Callable[[], bool], timeout: float,
              what: Callable[[], str]) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if self._process is not None and self._process.poll() is not None:
                raise AssertionError("prometheus exited with %s while waiting for %s; log:\n%s"
                                     % (self._process.returncode, what(), self.log_tail()))
            if time.monotonic() > deadline:
                raise AssertionError("timed out after %.0f s waiting for %s; log:\n%s"
                                     % (timeout, what(), self.log_tail()))
            time.sleep(0.2)

    def log_tail(self, lines: int = 20) -> str:
        path = self.folder / "prometheus.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the server this object started (by its pid), SIGKILL if it lingers."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def __enter__(self) -> "Prometheus":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def query(self, expression: str) -> List[Sample]:
        """An instant query: (labels, value) for each series of the result."""
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        answer = json.loads(_http_get(url))
        if answer.get("status") != "success":
            raise AssertionError("query %r failed: %s" % (expression, answer))
        return [(dict(item["metric"]), float(item["value"][1]))
                for item in answer["data"]["result"]]

    def wait_for(self, expression: str, accept: Callable[[List[Sample]], bool],
                 timeout: float = 30.0) -> List[Sample]:
        """The result of `expression` once `accept` takes it (scrapes are every second)."""
        found: List[List[Sample]] = []

        def accepted() -> bool:
            found.append(self.query(expression))
            return accept(found[-1])
        self._wait(accepted, timeout, lambda: "%s to be accepted (last result %s)"
                   % (expression, found[-1]))
        return found[-1]


# ---------------------------------------------------------------- Chromium

def _chromium(url: str, *options: str, timeout: float = 90.0) -> subprocess.CompletedProcess:
    binary = require_tool("chromium")
    with tempfile.TemporaryDirectory(prefix="mh-chromium-") as profile:
        # --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
        return subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--hide-scrollbars", "--user-data-dir=%s" % profile,
             *options, url],
            capture_output=True, timeout=timeout, check=True, stdin=subprocess.DEVNULL)


def chromium_dom(url: str) -> str:
    """The page's DOM, serialized after Chromium loaded it."""
    return _chromium(url, "--dump-dom").stdout.decode("utf-8")


def chromium_screenshot(url: str, path: Path, width: int = 1280, height: int = 1000) -> Path:
    """A PNG of the page at `width` x `height` pixels."""
    _chromium(url, "--screenshot=%s" % path, "--window-size=%d,%d" % (width, height))
    if not path.exists():
        raise AssertionError("chromium wrote no screenshot to %s" % path)
    return path
