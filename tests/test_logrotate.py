"""deploy/logrotate.conf under the real logrotate: rotating twice in a day works, so
maxsize can take effect between the daily rotations."""
from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import time

import pytest

from testkit.process import ROOT

SHIPPED = os.path.join(ROOT, "deploy", "logrotate.conf")
SHIPPED_LOG = "/opt/message_handling/pushing.log"


def logrotate_binary() -> str:
    """Debian's logrotate (.ci/run installs it); only a developer's machine may lack it."""
    found = shutil.which("logrotate", path=os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("logrotate is missing: .ci/run should have installed it")
        pytest.skip("logrotate is not installed (apt-get install logrotate)")
    return found


def local_copy(tmp_path, log: str) -> str:
    """The shipped configuration for a log in tmp_path, owned by whoever runs the test;
    maxsize made small enough to reach, every other directive as shipped."""
    with open(SHIPPED, encoding="utf-8") as handle:
        text = handle.read()
    assert text.count(SHIPPED_LOG) == 1 and "maxsize 200M" in text
    owner = "%s %s" % (pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name)
    text = (text.replace(SHIPPED_LOG, log).replace("maxsize 200M", "maxsize 1k")
            .replace("message_handling message_handling", owner))
    path = str(tmp_path / "logrotate.conf")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o644)  # logrotate ignores a configuration others can write
    return path


def write_past_maxsize(log: str) -> None:
    with open(log, "a", encoding="utf-8") as handle:
        handle.write("2026-11-29T23:31:28.123+00:00 INFO news 资讯 📰 sent\n" * 40)


def next_second() -> None:
    time.sleep(1.05 - time.time() % 1)


def test_two_rotations_on_the_same_day_both_happen(tmp_path):
    binary = logrotate_binary()
    log = str(tmp_path / "pushing.log")
    config = local_copy(tmp_path, log)
    state = str(tmp_path / "logrotate.state")
    rotations = []
    for _ in range(2):
        write_past_maxsize(log)
        next_second()  # two runs of the same second would need the same name
        result = subprocess.run([binary, "--state", state, config], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "already exists" not in result.stderr
        rotations.append(sorted(name for name in os.listdir(str(tmp_path))
                                if name.startswith("pushing.log-")))
        assert os.path.getsize(log) == 0, "rotated, and a new empty log created"
    assert len(rotations[0]) == 1
    assert len(rotations[1]) == 2, rotations
    assert rotations[1][0].endswith(".gz"), "delaycompress: the older one compressed"
