"""message_handling: the push daemon of the business-card platform.

    nohup python main.py &                  run forever (three job threads)
    python main.py --daemon                 the same, detached, with a pid file; answers
                                            once it runs (exit 0) or why it cannot (2);
                                            kill -HUP reopens the log
    python main.py --once                   one poll of each job, then exit
    python main.py --standby                wait for the lock when another instance holds it
    python main.py --env database_prd       use another section of db.conf
    python main.py preview JOB ID           what a campaign would do, nothing written
    python main.py status [--json|--check]  the instance and the campaigns
    python main.py retry JOB ID             send a failed/expired/skipped/cancelled one again
    python main.py cancel JOB ID            stop a pending or running campaign
    python main.py check-config             is db.conf ready? (like nginx -t)
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import signal
import sys
import threading
from typing import Any, List, NoReturn, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
# The requirement each third-party module comes from, for the one line below.
REQUIREMENT_OF_MODULE = {"pymysql": "PyMySQL", "dbutils": "DBUtils", "daemon": "python-daemon",
                         "lockfile": "lockfile"}


def explain_missing(missing: ModuleNotFoundError) -> NoReturn:
    """Started with a python that lacks the requirements (the system's, not the venv's):
    say what to do in one line instead of a traceback. A module of our own that is
    missing is a broken checkout: its traceback is the useful report."""
    module = (missing.name or "").partition(".")[0]
    if module in ("mg_handling", "util", ""):
        raise missing
    print("message_handling: the package %s (module %r) is not installed for %s; in %s "
          "run .venv/bin/pip install -r requirements.txt (or make venv), then start "
          ".venv/bin/python main.py" % (REQUIREMENT_OF_MODULE.get(module, module), module,
                                        sys.executable, HERE), file=sys.stderr)
    sys.exit(2)  # service.EXIT_ERROR, which may not be importable


# What every run needs. The rest is loaded by the run that needs it (load below).
try:
    from mg_handling import __version__, commands, jobs, service
    from util import daemonize
    from util.config import Config, ConfigError, load_config, warn_if_world_readable
    from util.logs import reopen_on_signal, setup_logging
except ModuleNotFoundError as missing_at_start:
    explain_missing(missing_at_start)


def load(module: str) -> Any:
    """mg_handling.<module>, imported only by the run that uses it: `--once`, a cron
    job, never loads a command's module nor the long-running mode's observability
    (prometheus_client and the HTTP server: a third of its start-up)."""
    try:
        return importlib.import_module("mg_handling." + module)
    except ModuleNotFoundError as missing:
        explain_missing(missing)


PID_FILE = "message_handling.pid"
# Each command's module and function.
COMMANDS = {"preview": ("preview", "run"), "status": ("status", "run"),
            "retry": ("control", "retry"), "cancel": ("control", "cancel"),
            "check-config": ("checkconfig", "run")}


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        """A usage error is one line too, not the usage text."""
        self.exit(service.EXIT_ERROR, "message_handling: %s (see %s --help)\n"
                  % (message, self.prog))


def campaign_id(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("campaign ID must be a positive number, not %r" % text)
    return int(text)


def positive_hours(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("must be a positive number of hours, not %r" % text)
    return int(text)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    # --config and --env may come before or after a command. Their actions are shared
    # by every parser, so their defaults stay SUPPRESS and are filled in afterwards.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--config", default=argparse.SUPPRESS,
                        help="the configuration file (default: db.conf beside main.py)")
    shared.add_argument("--env", default=argparse.SUPPRESS,
                        help="the database section to use (overrides [main] env)")
    parser = Parser(description=__doc__.splitlines()[0], parents=[shared])
    parser.add_argument("--version", action="version",
                        version="message_handling %s" % __version__)
    parser.add_argument("--once", action="store_true",
                        help="run one poll of each job and exit: 0 all written, "
                             "1 a campaign failed, 2 a configuration/connection/lock error")
    parser.add_argument("--standby", action="store_true",
                        help="when another instance holds the lock, wait and take over "
                             "when it stops answering (as [main] standby = true)")
    parser.add_argument("--daemon", action="store_true",
                        help="detach and run in the background (pid file, log only)")
    parser.add_argument("--pid-file", help="with --daemon (default: %s beside the "
                                           "configuration file)" % PID_FILE)
    _add_commands(parser, shared)
    args = parser.parse_args(argv)
    args.config = getattr(args, "config", os.path.join(HERE, "db.conf"))
    args.env = getattr(args, "env", None)
    if args.command and (args.once or args.daemon):
        parser.error("--once and --daemon run the daemon; they do not go with %s"
                     % args.command)
    if args.standby and (args.once or args.command):
        parser.error("--standby goes with the long-running daemon, not --once or a command")
    if args.once and args.daemon:
        parser.error("--once and --daemon do not go together")
    if args.pid_file and not args.daemon:
        parser.error("--pid-file goes with --daemon")
    return args


def _add_commands(parser: argparse.ArgumentParser, shared: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in (("preview", "what a campaign would do, without writing anything"),
                       ("retry", "re-queue a failed, expired, skipped or cancelled campaign"),
                       ("cancel", "stop a pending or running campaign between two chunks")):
        command = sub.add_parser(name, help=text, description=text, parents=[shared])
        command.add_argument("job", choices=sorted(jobs.JOBS_BY_NAME))
        command.add_argument("campaign_id", metavar="ID", type=campaign_id)
    text = ("check db.conf, the connection, the tables, the grants and the indexes the "
            "daemon needs; sends and writes nothing (exit 0 OK, 1 WARNING, 2 ERROR)")
    sub.add_parser("check-config", parents=[shared], help=text, description=text)
    text = "who holds the instance lock, and what every campaign is doing"
    command = sub.add_parser("status", parents=[shared], help=text, description=text)
    command.add_argument("--json", action="store_true", help="the report as JSON")
    command.add_argument("--check", action="store_true",
                         help="one line; exit 0 OK, 1 WARNING, 2 CRITICAL")
    command.add_argument("--hours", type=positive_hours, default=24,
                         help="the window for done, cancelled and due soon (default 24)")


def run_daemon(config: Config, once: bool, stop: threading.Event,
               detached: Optional[daemonize.Detached] = None) -> int:
    """Logging, then one poll of each job or the job threads until a signal."""
    try:
        setup_logging(config.log_file, config.log_level, echo=sys.stderr.isatty())
    except OSError as error:
        print("message_handling: %s" % log_file_problem(config.log_file, error),
              file=sys.stderr)
        return service.EXIT_ERROR
    if detached is not None:
        daemonize.log_detached(detached)
    warn_if_world_readable(config)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if once:
        return service.run_once(config, stop)
    forever = load("forever")
    if detached is not None:
        return forever.run_forever(config, stop, detached.report)
    return forever.run_forever(config, stop)


def log_file_problem(path: str, error: OSError) -> str:
    """Why the log cannot be opened, naming the key that chose it: ENOENT alone would
    not say whether the file or its folder is missing."""
    folder = os.path.dirname(path)
    reason = error.strerror if os.path.isdir(folder) else "the folder %s does not exist" \
        % folder
    return "[main] log_file: cannot open %s: %s" % (path, reason)


def detach(config: Config, pid_file: Optional[str], stop: threading.Event
           ) -> daemonize.Detached:
    """Become a daemon: every path is resolved and checked while errors still reach
    the terminal. Raises ConfigError, OSError or a daemonize error."""
    folder = os.path.dirname(config.config_path)
    pid_path = os.path.abspath(pid_file or os.path.join(folder, PID_FILE))
    try:
        open(config.log_file, "a", encoding="utf-8").close()
    except OSError as error:
        raise ConfigError(log_file_problem(config.log_file, error)) from None
    return daemonize.detach(pid_path, folder, stop, announce="message_handling: detaching; "
                            "pid file %s, log %s" % (pid_path, config.log_file),
                            on_hangup=reopen_on_signal)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config, args.env)
    except ConfigError as error:
        print("message_handling: %s" % error, file=sys.stderr)
        return service.EXIT_ERROR
    if args.command:
        module, function = COMMANDS[args.command]
        return commands.dispatch(getattr(load(module), function), config, args)
    if args.standby:
        config = dataclasses.replace(config, standby=True)
    stop = threading.Event()
    detached = None
    if args.daemon:
        try:
            detached = detach(config, args.pid_file, stop)
        except (ConfigError, OSError, daemonize.AlreadyRunning,
                daemonize.PidFileError) as error:
            print("message_handling: %s" % error, file=sys.stderr)
            return service.EXIT_ERROR
    code = service.EXIT_ERROR
    try:
        code = run_daemon(config, args.once, stop, detached)
        return code
    finally:
        if detached is not None:
            detached.close(code)  # removes the pid file


if __name__ == "__main__":
    sys.exit(main())
