"""`main.py --daemon`: detached, behind a pid file, stopped by SIGTERM."""
from __future__ import annotations

import os
import signal
import subprocess

from testkit.process import read_log, run_main, write_config
from testkit.wait import wait_until


def alive(pid: int) -> bool:
    """A detached daemon is not our child: a zombie left to init counts as gone."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def read_pid(path: str) -> int:
    with open(path) as handle:
        text = handle.read().strip()
    return int(text) if text.isdigit() else 0


def umask_of(pid: int) -> str:
    with open("/proc/%d/status" % pid) as handle:
        return next(line.split()[1] for line in handle if line.startswith("Umask:"))


def stop(pid: int) -> None:
    """SIGTERM, and wait for the detached process to be gone."""
    if alive(pid):
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not alive(pid), timeout=15)


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_daemon_detaches_behind_its_pid_file_and_stops_on_sigterm(db, tmp_path):
    user = db.add_carded_user()
    news = db.add_news()
    config = write_config(str(tmp_path / "db.conf"), db.name)
    pid_file = str(tmp_path / "message_handling.pid")
    result = run_main(config, "--daemon", timeout=20)
    assert result.returncode == 0, result.stderr
    assert "detaching; pid file %s" % pid_file in result.stdout
    pid = wait_until(lambda: os.path.exists(pid_file) and read_pid(pid_file), timeout=10)
    try:
        assert alive(pid)
        wait_until(lambda: (db.run("news", news) or {}).get("state") == "done", timeout=20)
        assert db.recipients(230) == [user]
        log = read_log(config)
        assert "message_handling started (pid %d)" % pid in log
        assert "detached: pid %d, pid file %s, working directory %s" % (
            pid, pid_file, tmp_path) in log
        assert os.readlink("/proc/%d/cwd" % pid) == str(tmp_path)
        assert umask_of(pid) == "0027"
        status = run_main(config, "status", "--check")
        assert status.returncode == 0 and "OK: pid %d on " % pid in status.stdout

        second = run_main(config, "--daemon", timeout=20)
        assert second.returncode == 2
        assert second.stderr.strip() == ("message_handling: already running as pid %d "
                                         "(pid file %s)" % (pid, pid_file))
        assert read_pid(pid_file) == pid

        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not alive(pid), timeout=15)
    finally:
        stop(pid)
    assert read_log(config).rstrip().endswith("message_handling stopped")
    assert not os.path.exists(pid_file)


def test_a_stale_pid_file_is_taken_over(db, tmp_path):
    config = write_config(str(tmp_path / "db.conf"), db.name)
    pid_file = str(tmp_path / "run" / "mh.pid")
    os.mkdir(str(tmp_path / "run"))
    stale = dead_pid()
    with open(pid_file, "w") as handle:
        handle.write("%d\n" % stale)
    result = run_main(config, "--daemon", "--pid-file", pid_file, timeout=20)
    assert result.returncode == 0, result.stderr
    pid = wait_until(lambda: read_pid(pid_file) != stale and read_pid(pid_file), timeout=10)
    try:
        wait_until(lambda: "message_handling started (pid %d)" % pid in read_log(config))
        assert "pid file %s named pid %d, which no longer runs: taken over" % (
            pid_file, stale) in read_log(config)
    finally:
        stop(pid)
    assert "message_handling stopped" in read_log(config)
    assert not os.path.exists(pid_file)


def test_daemon_start_errors_reach_the_terminal(db, tmp_path):
    config = write_config(str(tmp_path / "db.conf"), db.name)
    missing = str(tmp_path / "absent" / "mh.pid")
    result = run_main(config, "--daemon", "--pid-file", missing, timeout=20)
    assert result.returncode == 2
    assert result.stderr.strip() == ("message_handling: cannot create the pid file %s: the "
                                     "folder %s does not exist" % (missing,
                                                                   os.path.dirname(missing)))
    result = run_main(config, "--pid-file", missing, timeout=20)
    assert result.returncode == 2 and "--pid-file goes with --daemon" in result.stderr
    assert read_log(config) == ""


def test_sighup_reopens_the_log_and_says_so(db, tmp_path):
    """logrotate (or an operator) moved pushing.log away: SIGHUP reopens it at once,
    and the line saying so is the first of the new file."""
    config = write_config(str(tmp_path / "db.conf"), db.name)
    pid_file = str(tmp_path / "message_handling.pid")
    log = str(tmp_path / "pushing.log")
    result = run_main(config, "--daemon", timeout=20)
    assert result.returncode == 0, result.stderr
    pid = wait_until(lambda: os.path.exists(pid_file) and read_pid(pid_file), timeout=10)
    try:
        wait_until(lambda: "message_handling started (pid %d)" % pid in read_log(config))
        os.rename(log, log + ".1")
        os.kill(pid, signal.SIGHUP)
        wait_until(lambda: "SIGHUP: reopened the log file %s" % log in read_log(config),
                 timeout=10)
        assert alive(pid)
        assert "SIGHUP" in read_log(config).splitlines()[0], "the first line of the new file"
        with open(log + ".1", encoding="utf-8") as moved:
            assert "SIGHUP" not in moved.read()
        user = db.add_carded_user()
        news = db.add_news(content=[{"newsid": "n2", "title": "轮换之后 🔁", "url": "https://x/n2"}])
        wait_until(lambda: (db.run("news", news) or {}).get("state") == "done", timeout=20)
        assert db.recipients(230) == [user]
        assert "news campaign %d" % news in read_log(config)
    finally:
        stop(pid)
    assert read_log(config).rstrip().endswith("message_handling stopped")
