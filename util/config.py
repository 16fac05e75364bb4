"""db.conf, read once into a validated, frozen configuration.

Every problem is reported as a ConfigError naming the section, the key and
the reason, so that the daemon fails at start instead of at the first poll.
"""
from __future__ import annotations

import configparser
import ipaddress
import logging
import os
import stat
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

MAIN_SECTION = "main"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
CHARSETS = ("utf8mb4", "utf8", "utf8mb3")


class ConfigError(Exception):
    """db.conf is missing, unreadable or holds a bad value."""


@dataclass(frozen=True)
class DatabaseConfig:
    section: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    charset: str

    @property
    def nodes(self) -> Tuple[Tuple[str, int], ...]:
        """The database hosts to try, in order (`host` may list several)."""
        return parse_hosts(self.host, self.port)

    def describe(self) -> str:
        """Where this section points, for messages (never the password)."""
        return "%s@%s/%s" % (self.user, ",".join(node_name(*node) for node in self.nodes),
                              self.database)


def node_name(host: str, port: int) -> str:
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


def parse_hosts(text: str, default_port: int) -> Tuple[Tuple[str, int], ...]:
    """`a, b:3307, [::1]:3308` -> ((a, default_port), (b, 3307), (::1, 3308))."""
    nodes = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            raise ValueError("an empty entry in the host list %r" % text)
        host, port = entry, default_port
        if entry.startswith("["):  # an IPv6 address, its port after the bracket
            host, _, rest = entry[1:].partition("]")
            if rest:
                port = _port(rest.lstrip(":"))
        elif entry.count(":") == 1:
            host, _, port_text = entry.partition(":")
            if not port_text.isdigit():
                raise ValueError("%r: the port must be a number" % entry)
            port = _port(port_text)
        if not host:
            raise ValueError("no host name in %r" % entry)
        nodes.append((host, port))
    return tuple(nodes)


@dataclass(frozen=True)
class Config:
    config_path: str
    env: str
    poll_interval: float
    push_ahead_seconds: int
    batch_size: int
    max_lateness_seconds: int
    max_rows_per_second: int
    log_file: str
    log_level: str
    standby: bool
    lock_timeout: float
    db: DatabaseConfig
    world_readable: bool
    metrics_port: int = 0  # 0: no status page, /healthz or /metrics
    metrics_address: str = "127.0.0.1"
    freeze_timeout: int = 3600  # seconds the audience freeze may run


def _boolean(text: str) -> bool:
    values = {"true": True, "yes": True, "on": True, "1": True,
              "false": False, "no": False, "off": False, "0": False}
    if text.lower() not in values:
        raise ValueError("must be true or false, not %r" % text)
    return values[text.lower()]


def _positive_number(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be greater than 0")
    return value


def _at_least(minimum: float, number: Callable[[str], Any] = int,
              unit: str = "") -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = number(text)
        if value < minimum:
            raise ValueError("must be at least %g%s" % (minimum, unit))
        return value
    return parse


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in LOG_LEVELS:
        raise ValueError("must be one of %s" % ", ".join(LOG_LEVELS))
    return level


def _non_empty(text: str) -> str:
    if not text:
        raise ValueError("must not be empty")
    return text


def _charset(text: str) -> str:
    if text not in CHARSETS:
        raise ValueError("must be one of %s" % ", ".join(CHARSETS))
    return text


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise ValueError("must be between 1 and 65535")
    return value


def _port_or_off(text: str) -> int:
    value = int(text)
    if not 0 <= value < 65536:
        raise ValueError("must be between 1 and 65535, or 0 (off)")
    return value


def _ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError("%r is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1)"
                         % text) from None


# key -> (parser, default); None as default means the key is required.
MAIN_KEYS: Dict[str, tuple] = {
    "env": (_non_empty, None),
    "poll_interval": (_positive_number, "8"),
    "push_ahead_seconds": (_at_least(0), "150"),
    "batch_size": (_at_least(1), "10000"),
    "max_lateness_seconds": (_at_least(0), "0"),
    "max_rows_per_second": (_at_least(0), "0"),
    "log_file": (_non_empty, "pushing.log"),
    "log_level": (_log_level, "INFO"),
    "standby": (_boolean, "false"),
    "lock_timeout": (_at_least(3.0, float, " seconds"), "30"),
    "metrics_port": (_port_or_off, "0"),
    "metrics_address": (_ip_address, "127.0.0.1"),
    "freeze_timeout": (_at_least(1), "3600"),
}
DATABASE_KEYS: Dict[str, tuple] = {
    "host": (_non_empty, None),
    "port": (_port, "3306"),
    "user": (_non_empty, None),
    "password": (str, ""),
    "database": (_non_empty, None),
    "charset": (_charset, "utf8mb4"),
}


def _read_section(parser: configparser.ConfigParser, section: str,
                  keys: Dict[str, tuple]) -> Dict[str, Any]:
    values = dict(parser.items(section))
    unknown = sorted(set(values) - set(keys))
    if unknown:
        raise ConfigError("[%s] %s: unknown key (known: %s)"
                          % (section, unknown[0], ", ".join(keys)))
    parsed = {}
    for key, (parse, default) in keys.items():
        text = values.get(key, default)
        if text is None:
            raise ConfigError("[%s] %s: missing (required)" % (section, key))
        try:
            parsed[key] = parse(text.strip())
        except ValueError as error:
            reason = str(error)
            if "invalid literal" in reason or "could not convert" in reason:
                reason = "%r is not a number" % text.strip()
            raise ConfigError("[%s] %s: %s" % (section, key, reason)) from None
    return parsed


def _parse_file(path: str) -> configparser.ConfigParser:
    # No interpolation: a password may contain '%'.
    parser = configparser.ConfigParser(interpolation=None, default_section="\0none")
    try:
        # utf-8-sig: Windows editors (Notepad) start UTF-8 files with a byte-order mark.
        with open(path, encoding="utf-8-sig") as handle:
            parser.read_file(handle)
    except OSError as error:
        raise ConfigError("%s: cannot read (%s)" % (path, error.strerror)) from None
    except (configparser.Error, UnicodeDecodeError) as error:
        raise ConfigError("%s: not a valid INI file (%s)"
                          % (path, str(error).splitlines()[0])) from None
    return parser


def load_config(path: str, env: Optional[str] = None) -> Config:
    """Read and validate db.conf; `env` (main.py's --env) overrides `[main] env`."""
    path = os.path.abspath(path)
    parser = _parse_file(path)
    if not parser.has_section(MAIN_SECTION):
        raise ConfigError("%s: missing section [%s]" % (path, MAIN_SECTION))
    main = _read_section(parser, MAIN_SECTION, MAIN_KEYS)
    section = env or main["env"]
    databases = [name for name in parser.sections() if name != MAIN_SECTION]
    for name in databases:
        _read_section(parser, name, DATABASE_KEYS)
    if section not in databases:
        # Name where the section name came from: the command line or db.conf.
        origin = "--env %s" % env if env else "[main] env"
        raise ConfigError("%s: no database section [%s] in %s (have: %s)"
                          % (origin, section, path, ", ".join(databases) or "none"))
    db = DatabaseConfig(section=section, **_read_section(parser, section, DATABASE_KEYS))
    try:
        parse_hosts(db.host, db.port)
    except ValueError as error:
        raise ConfigError("[%s] host: %s" % (section, error)) from None
    log_file = os.path.join(os.path.dirname(path), os.path.expanduser(main["log_file"]))
    mode = os.stat(path).st_mode
    return Config(
        config_path=path, env=section, poll_interval=main["poll_interval"],
        push_ahead_seconds=main["push_ahead_seconds"], batch_size=main["batch_size"],
        max_lateness_seconds=main["max_lateness_seconds"],
        max_rows_per_second=main["max_rows_per_second"],
        log_file=os.path.abspath(log_file), log_level=main["log_level"],
        standby=main["standby"], lock_timeout=main["lock_timeout"], db=db,
        world_readable=bool(mode & (stat.S_IRGRP | stat.S_IROTH)),
        metrics_port=main["metrics_port"], metrics_address=main["metrics_address"],
        freeze_timeout=main["freeze_timeout"],
    )


def warn_if_world_readable(config: Config) -> None:
    """db.conf holds a password: say so when other users can read it."""
    if config.world_readable:
        logging.getLogger(__name__).warning(
            "%s is readable by other users and holds a database password; "
            "run: chmod 600 %s", config.config_path, config.config_path)
