"""The named statements of sql/queries.sql and sql/operations.sql, loaded once at import.

`Q.due_news` is the text of the entry `-- name: due_news`. An entry may
include another one as `{name}` (which may include others): composition of fixed
SQL text only, values
always travel as parameters.
"""
from __future__ import annotations

import os
import re
from types import MappingProxyType
from typing import Dict, Mapping

SQL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sql")
_NAME = re.compile(r"^-- name: (\w+)\s*$")
_INCLUDE = re.compile(r"\{(\w+)\}")


def parse_named_queries(text: str) -> Dict[str, str]:
    """Split a file of `-- name: x` entries; comment lines and the final ';' go."""
    bodies: Dict[str, list] = {}
    current = None
    for line in text.splitlines():
        match = _NAME.match(line)
        if match:
            current = match.group(1)
            if current in bodies:
                raise ValueError("query %s is defined twice" % current)
            bodies[current] = []
        elif current and not line.lstrip().startswith("--"):
            bodies[current].append(line)
    raw = {name: "\n".join(lines).strip().rstrip(";").strip() for name, lines in bodies.items()}

    def expand(body: str, seen: tuple) -> str:
        def include(match: "re.Match[str]") -> str:
            name = match.group(1)
            if name in seen:
                raise ValueError("query %s includes itself" % name)
            return expand(raw[name], seen + (name,))
        return _INCLUDE.sub(include, body)
    return {name: expand(body, (name,)) for name, body in raw.items()}


def read_sql(filename: str) -> str:
    with open(os.path.join(SQL_DIR, filename), encoding="utf-8") as handle:
        return handle.read()


class _Queries:
    def __init__(self, queries: Mapping[str, str]) -> None:
        self._queries = MappingProxyType(dict(queries))

    def __getattr__(self, name: str) -> str:
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError("no query named %r in %s"
                                 % (name, ", ".join(NAMED_SQL_FILES))) from None


# The daemon's statements, then the operator commands' (which may include the daemon's).
NAMED_SQL_FILES = ("queries.sql", "operations.sql")
Q = _Queries(parse_named_queries("\n".join(read_sql(name) for name in NAMED_SQL_FILES)))
