"""`check-config`: is this db.conf ready for the daemon? (like `nginx -t`)

It parses db.conf (main.py did), connects, and reads information_schema only:
the platform's tables and columns the daemon reads and writes, with the kind of
type it expects; the account's privileges against what deploy/grants.sql
grants; the daemon's own tables (present and current, or creatable); the
indexes of deploy/recommended_indexes.sql. It sends nothing, writes nothing and
takes no lock. One line per finding; exit 0 all well, 1 a WARNING (a missing
recommended index, a daemon table to upgrade), 2 an ERROR (the daemon cannot
run as configured).

The expectations are declared here, not read from deploy/ or testkit/:
tests/unit/test_check_config_expectations.py holds them against the named SQL's column
lists, deploy/grants.sql and deploy/recommended_indexes.sql.
"""
from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Set, Tuple

from mg_handling.commands import EXIT_ERROR, EXIT_OK, EXIT_REFUSED
from mg_handling.queries import read_sql
from mg_handling.store import Catalog, Store
from util.config import Config
from util.db import DatabaseError

INTEGER, TEXT = "integer", "text"
INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "bigint"})
TEXT_TYPES = frozenset({"char", "varchar", "tinytext", "text", "mediumtext", "longtext"})


def _columns(integers: str, texts: str) -> Dict[str, str]:
    kinds = {name: INTEGER for name in integers.split()}
    kinds.update({name: TEXT for name in texts.split()})
    return kinds


# The platform's columns the daemon's statements name (queries.sql, operations.sql),
# with the kind of type they must have: times are Unix seconds, codes are text.
PLATFORM_COLUMNS: Mapping[str, Mapping[str, str]] = {
    "sns_qa_push_setting": _columns("id push_time status",
                                    "region industry func content admin_id"),
    "sys_user_promotion": _columns("id type isalluser push_time created_time status",
                                   "pro_id region industry func title content admin_id "
                                   "url json_data"),
    "operation_activity": _columns("id isnotify push_state state onlinetime offlinetime "
                                   "created_time push_count",
                                   "activity_id region industry func image title content "
                                   "user_id url json_data"),
    "province_city_code": _columns("", "province_code prefecture_code"),
    "industry_category": _columns("", "category_id parent_id"),
    "account_basic": _columns("", "user_id mobile email status"),
    "account_basic_detail": _columns("", "user_id real_name card_id city_code"),
    "account_basic_category_map": _columns("", "account_id category_id"),
    "card_info_jsonver": _columns("", "card_id cityM_code provinceM_code mobile"),
    "company_info_jsonVer": _columns("", "card_id ind_code func_code"),
    "message_queue": _columns("type nflag created_time modified_time isread",
                              "to_uid from_uid content title"),
    "message_promotion": _columns("type created_time modified_time status",
                                  "mobile email title content"),
}

# What deploy/grants.sql grants: table -> (table privileges, {privilege: columns}).
DAEMON_TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "INDEX")
NEEDED_PRIVILEGES: Mapping[str, Tuple[Tuple[str, ...], Mapping[str, Tuple[str, ...]]]] = {
    "sns_qa_push_setting": (("SELECT",), {"UPDATE": ("status",)}),
    "sys_user_promotion": (("SELECT",), {"UPDATE": ("status",)}),
    "operation_activity": (("SELECT",), {"UPDATE": ("push_state", "push_count")}),
    "province_city_code": (("SELECT",), {}),
    "industry_category": (("SELECT",), {}),
    "account_basic": (("SELECT",), {}),
    "account_basic_detail": (("SELECT",), {}),
    "account_basic_category_map": (("SELECT",), {}),
    "card_info_jsonver": (("SELECT",), {}),
    "company_info_jsonVer": (("SELECT",), {}),
    "message_queue": (("INSERT",), {}),
    "message_promotion": (("INSERT",), {}),
    "mh_campaign_run": (DAEMON_TABLE_PRIVILEGES, {}),
    "mh_audience": (DAEMON_TABLE_PRIVILEGES, {}),
    "mh_lease": (DAEMON_TABLE_PRIVILEGES, {}),
    "mh_standby": (DAEMON_TABLE_PRIVILEGES, {}),
    "mh_job_health": (DAEMON_TABLE_PRIVILEGES, {}),
}

# deploy/recommended_indexes.sql: table -> the first column of each index, and why.
RECOMMENDED_INDEXES: Mapping[str, Tuple[str, ...]] = {
    "account_basic_detail": ("city_code",),
    "card_info_jsonver": ("cityM_code", "provinceM_code"),
    "account_basic_category_map": ("category_id",),
    "company_info_jsonVer": ("ind_code",),
    "sns_qa_push_setting": ("status",),
    "sys_user_promotion": ("status",),
    "operation_activity": ("isnotify",),
}
POLLED_TABLES = frozenset({"sns_qa_push_setting", "sys_user_promotion", "operation_activity"})

_CREATE_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\) ENGINE", re.S)
_KEYWORDS = frozenset({"PRIMARY", "UNIQUE", "KEY", "INDEX", "CONSTRAINT"})


def daemon_columns() -> Dict[str, Set[str]]:
    """The daemon's tables and their columns, from daemon_schema.sql's CREATE TABLEs
    (which hold the columns Store.upgrade_schema adds to older tables too)."""
    tables = {}
    for name, body in _CREATE_TABLE.findall(read_sql("daemon_schema.sql")):
        words = (line.split()[0] for line in body.splitlines()
                 if line.strip() and not line.lstrip().startswith("--"))
        tables[name] = {word for word in words if word.upper() not in _KEYWORDS}
    return tables


@dataclass(frozen=True)
class Finding:
    level: int  # EXIT_OK, EXIT_REFUSED (a warning) or EXIT_ERROR
    text: str

    def line(self) -> str:
        return "%-7s %s" % ({EXIT_OK: "OK", EXIT_REFUSED: "WARNING",
                             EXIT_ERROR: "ERROR"}[self.level], self.text)


def run(config: Config, args: argparse.Namespace) -> int:
    findings = [Finding(EXIT_OK, "%s: parsed, [%s] %s" % (config.config_path, config.env,
                                                           config.db.describe()))]
    findings += check(config)
    for finding in findings:
        print(finding.line())
    return max(finding.level for finding in findings)


def check(config: Config) -> List[Finding]:
    tables = sorted(set(PLATFORM_COLUMNS) | set(daemon_columns()))
    store = Store(config.db, max_connections=1)
    try:
        catalog = store.catalog(tables)
    except DatabaseError as error:
        return [Finding(EXIT_ERROR, "cannot read the database: %s (%s)"
                        % (error, config.db.describe()))]
    finally:
        store.close()
    findings = [Finding(EXIT_OK, "connected to %s as %s (server %s)" % (
        config.db.describe(), catalog.account, catalog.version))]
    findings += platform_findings(catalog)
    findings += privilege_findings(catalog)
    findings += daemon_table_findings(catalog)
    findings += index_findings(catalog)
    return findings


def platform_findings(catalog: Catalog) -> List[Finding]:
    findings = []
    for table, expected in PLATFORM_COLUMNS.items():
        present = catalog.columns.get(table)
        if present is None:
            if _usable(catalog, table):  # else hidden by information_schema: a grant's line
                findings.append(Finding(EXIT_ERROR, "table %s is missing" % table))
            continue
        for column, kind in expected.items():
            data_type = present.get(column.lower())
            if data_type is None:
                findings.append(Finding(EXIT_ERROR, "column %s.%s is missing" % (table, column)))
            elif data_type not in (INTEGER_TYPES if kind == INTEGER else TEXT_TYPES):
                findings.append(Finding(EXIT_ERROR, "column %s.%s is %s; the daemon expects "
                                                    "an %s type" % (table, column, data_type,
                                                                    kind)))
    seen = [table for table in PLATFORM_COLUMNS if table in catalog.columns]
    if not findings and seen:
        findings.append(Finding(EXIT_OK, "%s of the platform's tables have the %d columns "
                                         "the daemon reads and writes, of the expected types"
                                % ("all %d" % len(seen) if len(seen) == len(PLATFORM_COLUMNS)
                                   else "%d (of %d)" % (len(seen), len(PLATFORM_COLUMNS)),
                                   sum(len(PLATFORM_COLUMNS[table]) for table in seen))))
    return findings


def _usable(catalog: Catalog, table: str) -> bool:
    """The account holds a privilege on the table, so information_schema would show it."""
    privileges, column_privileges = NEEDED_PRIVILEGES[table]
    return any(catalog.granted(table, p) for p in privileges) or any(
        catalog.granted(table, p, column) for p, columns in column_privileges.items()
        for column in columns)


def privilege_findings(catalog: Catalog) -> List[Finding]:
    missing = []
    for table, (privileges, column_privileges) in NEEDED_PRIVILEGES.items():
        lacking = [p for p in privileges if not catalog.granted(table, p)]
        lacking += ["%s (%s)" % (p, ", ".join(columns))
                    for p, columns in column_privileges.items()
                    if not all(catalog.granted(table, p, column) for column in columns)]
        if lacking:
            missing.append(Finding(EXIT_ERROR, "%s lacks %s on %s (deploy/grants.sql)" % (
                catalog.account, ", ".join(lacking), table)))
    return missing or [Finding(EXIT_OK, "%s holds every privilege of deploy/grants.sql"
                                        % catalog.account)]


def daemon_table_findings(catalog: Catalog) -> List[Finding]:
    findings = []
    for table, columns in sorted(daemon_columns().items()):
        present = catalog.columns.get(table)
        if present is None:
            findings.append(Finding(EXIT_OK, "%s does not exist yet: the daemon creates it at "
                                             "its first start" % table))
            continue
        lacking = sorted(column for column in columns if column.lower() not in present)
        if lacking:
            findings.append(Finding(EXIT_REFUSED, "%s lacks the columns %s of this version: "
                                                  "the daemon adds them at its next start"
                                    % (table, ", ".join(lacking))))
        else:
            findings.append(Finding(EXIT_OK, "%s is current" % table))
    return findings


def index_findings(catalog: Catalog) -> List[Finding]:
    findings = []
    for table, columns in RECOMMENDED_INDEXES.items():
        for column in columns:
            if (table, column.lower()) in catalog.index_heads:
                continue
            why = ("each poll scans the table" if table in POLLED_TABLES else
                   "every campaign takes the scan audience plan")
            findings.append(Finding(EXIT_REFUSED, "no index starts with %s.%s (deploy/"
                                                  "recommended_indexes.sql): %s" % (
                                                      table, column, why)))
    return findings or [Finding(EXIT_OK, "the recommended indexes are present")]
