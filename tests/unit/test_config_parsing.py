"""db.conf: defaults, overrides, validation, secrecy (no database, no process)."""
import os

import pytest

from util.config import ConfigError, load_config

PASSWORD = "S3cr3t-Pw!"


def write(tmp_path, text, name="db.conf"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    os.chmod(str(path), 0o600)
    return str(path)


def conf(main="", database="", *, env="database_dev", section="database_dev",
         password=PASSWORD, extra=""):
    return ("[main]\nenv = %s\n%s\n[%s]\nhost = db.example.com\nuser = pusher\n"
            "password = %s\ndatabase = business\n%s\n%s"
            % (env, main, section, password, database, extra))


def config_error(tmp_path, text, **kwargs):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), **kwargs)
    message = str(caught.value)
    assert PASSWORD not in message
    return message


# ---------------------------------------------------------------- defaults and overrides

def test_defaults(tmp_path):
    config = load_config(write(tmp_path, conf()))
    assert config.env == "database_dev"
    assert config.poll_interval == 8
    assert config.push_ahead_seconds == 150
    assert config.batch_size == 10000
    assert config.max_lateness_seconds == 0
    assert config.log_file == os.path.join(str(tmp_path), "pushing.log")
    assert config.log_level == "INFO"
    assert config.db.host == "db.example.com"
    assert config.db.port == 3306
    assert config.db.user == "pusher"
    assert config.db.password == PASSWORD
    assert config.db.database == "business"
    assert config.db.charset == "utf8mb4"


def test_log_file_is_resolved_against_the_config_folder_not_the_cwd(tmp_path, monkeypatch):
    folder = tmp_path / "etc"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(str(elsewhere))
    config = load_config(write(folder, conf("log_file = logs/push.log\n")))
    assert config.log_file == os.path.join(str(folder), "logs", "push.log")


def test_absolute_log_file_is_kept(tmp_path):
    target = str(tmp_path / "var" / "push.log")
    config = load_config(write(tmp_path, conf("log_file = %s\n" % target)))
    assert config.log_file == target


def test_explicit_values(tmp_path):
    config = load_config(write(tmp_path, conf(
        "poll_interval = 2.5\npush_ahead_seconds = 0\nbatch_size = 1\n"
        "max_lateness_seconds = 3600\nlog_level = debug\n",
        "port = 3307\ncharset = utf8\n")))
    assert config.poll_interval == 2.5
    assert config.push_ahead_seconds == 0
    assert config.batch_size == 1
    assert config.max_lateness_seconds == 3600
    assert config.log_level == "DEBUG"
    assert config.db.port == 3307
    assert config.db.charset == "utf8"


def test_env_argument_picks_another_section(tmp_path):
    text = conf(extra="[database_prd]\nhost = prd.example.com\nport = 3310\nuser = prd\n"
                      "password = other\ndatabase = production\n")
    assert load_config(write(tmp_path, text)).db.host == "db.example.com"
    config = load_config(write(tmp_path, text), env="database_prd")
    assert config.env == "database_prd"
    assert config.db.section == "database_prd"
    assert (config.db.host, config.db.port, config.db.user, config.db.database) == \
        ("prd.example.com", 3310, "prd", "production")


def test_percent_in_password_is_kept(tmp_path):
    password = "p%ss%(word)s%%"
    config = load_config(write(tmp_path, conf(password=password)))
    assert config.db.password == password


# ---------------------------------------------------------------- unknown keys, bad values

def test_unknown_key_in_main_fails_naming_it(tmp_path):
    message = config_error(tmp_path, conf("poll_intervall = 5\n"))
    assert "poll_intervall" in message


def test_unknown_key_in_database_section_fails_naming_it(tmp_path):
    message = config_error(tmp_path, conf(database="hostname = x\n"))
    assert "hostname" in message


def test_unknown_key_in_an_unused_database_section_fails(tmp_path):
    message = config_error(tmp_path, conf(extra="[database_prd]\nhost = h\nuser = u\n"
                                                "database = d\ntimeout = 5\n"))
    assert "timeout" in message


@pytest.mark.parametrize("main,database,expected", [
    ("batch_size = 0\n", "", "[main] batch_size: must be at least 1"),
    ("batch_size = ten\n", "", "[main] batch_size: 'ten' is not a number"),
    ("batch_size = 十\n", "", "[main] batch_size: '十' is not a number"),
    ("poll_interval = -1\n", "", "[main] poll_interval: must be greater than 0"),
    ("poll_interval = 0\n", "", "[main] poll_interval: must be greater than 0"),
    ("poll_interval = 五秒\n", "", "[main] poll_interval: '五秒' is not a number"),
    ("push_ahead_seconds = -5\n", "", "[main] push_ahead_seconds: must be at least 0"),
    ("max_lateness_seconds = -1\n", "", "[main] max_lateness_seconds: must be at least 0"),
    ("max_rows_per_second = 1.5\n", "", "[main] max_rows_per_second: '1.5' is not a number"),
    ("log_level = LOUD\n", "", "[main] log_level: must be one of DEBUG, INFO, WARNING"),
    ("log_file =\n", "", "[main] log_file: must not be empty"),
    ("metrics_port = -1\n", "", "[main] metrics_port: must be between 1 and 65535, or 0"),
    ("metrics_port = 65536\n", "", "[main] metrics_port: must be between 1 and 65535, or 0"),
    ("metrics_port = http\n", "", "[main] metrics_port: 'http' is not a number"),
    ("metrics_address = localhost\n", "",
     "[main] metrics_address: 'localhost' is not an IP address"),
    ("freeze_timeout = 0\n", "", "[main] freeze_timeout: must be at least 1"),
    ("", "port = abc\n", "[database_dev] port: 'abc' is not a number"),
    ("", "port = 0\n", "[database_dev] port: must be between 1 and 65535"),
    ("", "port = 70000\n", "[database_dev] port: must be between 1 and 65535"),
    ("", "charset = latin9\n", "[database_dev] charset: must be one of utf8mb4, utf8, utf8mb3"),
])
def test_bad_value_fails_naming_the_section_the_key_and_the_reason(tmp_path, main, database,
                                                                     expected):
    assert expected in config_error(tmp_path, conf(main, database))


@pytest.mark.parametrize("main,attribute,value", [
    ("log_level = debug\n", "log_level", "DEBUG"),
    ("poll_interval = 0.25\n", "poll_interval", 0.25),
    ("max_rows_per_second =  700 \n", "max_rows_per_second", 700),
    ("", "metrics_port", 0),
    ("metrics_port = 9108\n", "metrics_port", 9108),
    ("", "metrics_address", "127.0.0.1"),
    ("metrics_address = 0:0::0\n", "metrics_address", "::"),
    ("", "freeze_timeout", 3600),
    ("freeze_timeout = 600\n", "freeze_timeout", 600),
    ("log_file = 日志/推送.log\n", "log_file", os.path.join("日志", "推送.log")),
])
def test_good_values_are_normalized(tmp_path, main, attribute, value):
    got = getattr(load_config(write(tmp_path, conf(main))), attribute)
    if attribute == "log_file":
        assert got == os.path.join(str(tmp_path), value)
    else:
        assert got == value and type(got) is type(value)


def test_chinese_and_emoji_password_is_kept_as_written(tmp_path):
    password = "密码;#%(x)s 🔑"
    config = load_config(write(tmp_path, conf(password=password)))
    assert config.db.password == password
    assert password not in repr(config)


def test_env_naming_a_missing_section_fails(tmp_path):
    message = config_error(tmp_path, conf(env="database_nowhere"))
    assert "env" in message
    assert "database_nowhere" in message


def test_env_argument_naming_a_missing_section_fails(tmp_path):
    message = config_error(tmp_path, conf(), env="database_prd")
    assert "database_prd" in message


@pytest.mark.parametrize("key", ["host", "user", "database"])
def test_missing_required_database_key_fails_naming_it(tmp_path, key):
    text = conf().replace("%s = " % key, "# %s = " % key, 1)
    message = config_error(tmp_path, text)
    assert key in message


def test_missing_env_fails_naming_it(tmp_path):
    text = conf().replace("env = database_dev\n", "")
    assert "env" in config_error(tmp_path, text)


def test_missing_main_section_fails(tmp_path):
    text = "[database_dev]\nhost = h\nuser = u\ndatabase = d\npassword = %s\n" % PASSWORD
    assert "main" in config_error(tmp_path, text)


# ---------------------------------------------------------------- secrecy

def test_password_not_in_repr(tmp_path):
    config = load_config(write(tmp_path, conf()))
    assert PASSWORD not in repr(config)
    assert PASSWORD not in str(config)
    assert PASSWORD not in repr(config.db)
    assert PASSWORD not in config.db.describe()


@pytest.mark.parametrize("text", [
    conf(database="port = abc\n"),
    conf(database="secret = 1\n"),
    conf("batch_size = 0\n"),
    conf(env="database_nowhere"),
    conf(database="password = again\n"),            # duplicate key
    "password = %s\n[main]\nenv = x\n" % PASSWORD,  # no section header first
    conf(extra="[database_dev]\nhost = h\n"),       # duplicate section
    conf(database="  continued line\nport = x\n"),
], ids=["bad port", "unknown key", "bad main", "missing env section", "duplicate key",
        "no section header", "duplicate section", "continuation then bad port"])
def test_password_never_in_config_errors(tmp_path, text):
    config_error(tmp_path, text)  # asserts the password is absent


# ---------------------------------------------------------------- unreadable files

def test_missing_file_is_a_clear_error(tmp_path):
    path = str(tmp_path / "nowhere.conf")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert path in str(caught.value)


def test_directory_instead_of_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(str(tmp_path))
    assert str(tmp_path) in str(caught.value)


@pytest.mark.parametrize("content", [
    b"this is not an INI file\njust words\n",
    b"\xff\xfe\x00binary\x00\x80\x81",
    b"",
], ids=["text", "binary", "empty"])
def test_non_ini_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "db.conf"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    assert str(path) in str(caught.value)


def test_env_argument_error_names_the_option_not_the_key(tmp_path):
    """--env nope came from the command line: [main] env is not what is wrong."""
    message = config_error(tmp_path, conf(), env="nope")
    assert message.startswith("--env nope: no database section [nope] in ")
    assert "[main] env" not in message


def test_env_key_error_names_the_key(tmp_path):
    message = config_error(tmp_path, conf(env="nope"))
    assert message.startswith("[main] env: no database section [nope] in ")


def test_byte_order_mark_is_accepted(tmp_path):
    """Windows editors (Notepad) save UTF-8 with a byte-order mark."""
    path = tmp_path / "db.conf"
    path.write_bytes(b"\xef\xbb\xbf" + conf(main="# 中文注释 📰\n").encode("utf-8"))
    config = load_config(str(path))
    assert config.env == "database_dev"
    assert config.db.password == PASSWORD
