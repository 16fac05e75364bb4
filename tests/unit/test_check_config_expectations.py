"""check-config's expectations, declared in mg_handling/checkconfig.py, agree with what
they stand for: deploy/grants.sql, deploy/recommended_indexes.sql, the named SQL."""
from __future__ import annotations

import os
import re

from mg_handling import checkconfig
from mg_handling.jobs import JOBS
from mg_handling.queries import Q
from mg_handling.store import ADDED_RUN_COLUMNS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(*path: str) -> str:
    with open(os.path.join(ROOT, *path), encoding="utf-8") as handle:
        return handle.read()


def statements(text: str):
    return [line for line in text.splitlines() if line and not line.startswith("--")]


def test_the_needed_privileges_are_those_of_grants_sql():
    granted = {}
    for line in statements(read("deploy", "grants.sql")):
        match = re.fullmatch(r"GRANT (.+) ON `<database>`\.(\w+) TO '<user>'@'<host>';", line)
        assert match, line
        privileges, columns = [], {}
        for part in re.findall(r"\w+(?: \([^)]*\))?", match.group(1)):
            name, _, listed = part.partition(" (")
            if listed:
                columns[name] = tuple(c.strip() for c in listed.rstrip(")").split(","))
            else:
                privileges.append(name)
        granted[match.group(2)] = (tuple(privileges), columns)
    assert granted == {table: (tuple(p), dict(c))
                       for table, (p, c) in checkconfig.NEEDED_PRIVILEGES.items()}


def test_the_recommended_indexes_are_those_of_the_sql_file():
    heads = {}
    for line in statements(read("deploy", "recommended_indexes.sql")):
        table = re.match(r"ALTER TABLE (\w+) ", line).group(1)
        heads[table] = tuple(re.findall(r"ADD INDEX \w+ \((\w+)", line))
    assert heads == dict(checkconfig.RECOMMENDED_INDEXES)


def test_every_column_a_job_reads_is_expected_with_a_kind():
    for job in JOBS:
        listed = getattr(Q, job.name + "_columns")
        columns = {name.split(".")[1] for name in re.findall(r"\w+\.\w+", listed)}
        expected = checkconfig.PLATFORM_COLUMNS[job.table]
        assert columns <= set(expected), (job.name, columns - set(expected))
        assert expected[job.send_time_field] == checkconfig.INTEGER


def test_the_written_columns_are_expected():
    for sql, table in ((Q.write_message_queue, "message_queue"),
                       (Q.write_message_promotion, "message_promotion")):
        columns = re.search(r"\(([^)]*)\)", sql).group(1)
        assert {c.strip() for c in columns.split(",")} <= set(
            checkconfig.PLATFORM_COLUMNS[table])


def test_the_daemon_tables_are_read_from_its_schema():
    tables = checkconfig.daemon_columns()
    assert set(tables) == {"mh_campaign_run", "mh_audience", "mh_lease", "mh_standby",
                           "mh_job_health"}
    assert {"state", "written"} <= tables["mh_campaign_run"]
    # A new table has every column the upgrade adds to an older one.
    assert set(ADDED_RUN_COLUMNS) <= tables["mh_campaign_run"]
    assert not [column for column in tables["mh_campaign_run"] if column.startswith("-")]
    assert "PRIMARY" not in tables["mh_audience"] and "recipient" in tables["mh_audience"]
