"""message_handling: the push daemon of the business-card platform.

    nohup python main.py &                  run forever (three job threads)
    python main.py --once                   one poll of each job, then exit
    python main.py --env database_prd       use another section of db.conf
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import List, Optional

from mg_handling import service
from util.config import ConfigError, load_config, warn_if_world_readable
from util.logs import setup_logging

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.path.join(HERE, "db.conf"),
                        help="the configuration file (default: db.conf beside main.py)")
    parser.add_argument("--env", help="the database section to use (overrides [main] env)")
    parser.add_argument("--once", action="store_true",
                        help="run one poll of each job and exit: 0 all written, "
                             "1 a campaign failed, 2 a configuration/connection/lock error")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        config = load_config(args.config, args.env)
        setup_logging(config.log_file, config.log_level, echo=sys.stderr.isatty())
    except (ConfigError, OSError) as error:
        print("message_handling: %s" % error, file=sys.stderr)
        return service.EXIT_ERROR
    warn_if_world_readable(config)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if args.once:
        return service.run_once(config, stop)
    return service.run_forever(config, stop)


if __name__ == "__main__":
    sys.exit(main())
