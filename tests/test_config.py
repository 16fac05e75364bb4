"""main.py's start-up errors: a bad db.conf or an unreachable database, one line, exit 2
(parsing db.conf itself is tested in tests/unit/test_config_parsing.py)."""
import os

import pytest

from testkit.process import one_line, run_main, write_config

PASSWORD = "S3cr3t-Pw!"


# ---------------------------------------------------------------- main.py start-up errors

def real_conf(tmp_path, main=None, **connection):
    return write_config(str(tmp_path / "db.conf"), "mh_test_config_nowhere", connection,
                        **(main or {}))


def test_bad_config_exits_2_with_one_line_naming_the_key(tmp_path):
    path = real_conf(tmp_path, {"batch_size": 0}, password=PASSWORD)
    result = run_main(path, "--once", timeout=30)
    assert result.returncode == 2
    assert "batch_size" in one_line(result.stderr)
    assert PASSWORD not in result.stderr + result.stdout


def test_unknown_env_option_exits_2_with_one_line(tmp_path):
    path = real_conf(tmp_path)
    result = run_main(path, "--once", "--env", "database_missing", timeout=30)
    assert result.returncode == 2
    assert one_line(result.stderr).startswith(
        "message_handling: --env database_missing: no database section [database_missing]")


@pytest.mark.parametrize("mode", ["--once", "--daemon"])
def test_log_file_in_a_missing_folder_names_the_key_the_path_and_why(tmp_path, mode):
    log_file = str(tmp_path / "no" / "such" / "push.log")
    path = real_conf(tmp_path, {"log_file": log_file})
    result = run_main(path, mode, timeout=30)
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        "message_handling: [main] log_file: cannot open %s: the folder %s does not exist"
        % (log_file, os.path.dirname(log_file)))
    assert not os.path.exists(str(tmp_path / "message_handling.pid"))


def test_log_file_that_is_a_folder_names_the_key_the_path_and_why(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    path = real_conf(tmp_path, {"log_file": str(folder)})
    result = run_main(path, "--once", timeout=30)
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        "message_handling: [main] log_file: cannot open %s: Is a directory" % folder)


def test_missing_config_file_exits_2_with_one_line(tmp_path):
    path = str(tmp_path / "absent.conf")
    result = run_main(path, "--once", timeout=30)
    assert result.returncode == 2
    assert path in one_line(result.stderr)


def test_unreachable_database_exits_2_with_one_line(tmp_path):
    path = real_conf(tmp_path, host="127.0.0.1", port=1, password=PASSWORD)
    result = run_main(path, "--once", timeout=60)
    assert result.returncode == 2
    one_line(result.stderr)
    assert PASSWORD not in result.stderr + result.stdout
    log = tmp_path / "pushing.log"
    if log.exists():
        assert PASSWORD not in log.read_text(encoding="utf-8")


def test_wrong_password_exits_2_says_authentication_failed_without_the_password(tmp_path):
    path = real_conf(tmp_path, user="mh_nobody", password=PASSWORD)
    result = run_main(path, "--once", timeout=60)
    assert result.returncode == 2
    assert "authentication failed" in one_line(result.stderr)
    assert PASSWORD not in result.stderr
    assert PASSWORD not in result.stdout
    log = tmp_path / "pushing.log"
    assert log.exists()
    text = log.read_text(encoding="utf-8")
    assert "authentication failed" in text
    assert PASSWORD not in text
