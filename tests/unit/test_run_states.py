"""Run states are stated once (mg_handling.states): the schema's comment, the
enum and the SQL must agree, and no statement spells a state itself."""
import re

from mg_handling.queries import NAMED_SQL_FILES, Q, read_sql
from mg_handling.states import FINAL, OPEN, RETRYABLE, SETTLED, RunState, sql_values

STATE_WORDS = {state.value for state in RunState}


def test_the_schema_comment_lists_exactly_the_enum():
    schema = read_sql("daemon_schema.sql")
    comment = re.search(r"-- state \(mg_handling/states\.py, RunState\): (.*?)\(",
                        schema, re.S)
    assert comment, "daemon_schema.sql must list the states of mh_campaign_run.state"
    listed = {word for word in re.findall(r"[a-z]+", comment.group(1)) if word != "and"}
    assert listed == STATE_WORDS


def test_no_statement_spells_a_state_the_sets_travel_as_parameters():
    for name in NAMED_SQL_FILES:
        code = "\n".join(line for line in read_sql(name).splitlines()
                         if not line.lstrip().startswith("--"))
        literals = set(re.findall(r"'([a-z]+)'", code)) & STATE_WORDS
        assert not literals, "%s spells states %s: pass them as parameters" % (name, literals)


def test_the_sets_partition_as_the_contract_says():
    assert not SETTLED & FINAL
    assert RunState.RUNNING not in SETTLED | FINAL
    assert RETRYABLE == SETTLED | {RunState.CANCELLED}
    assert RunState.DONE not in RETRYABLE and RunState.RUNNING not in RETRYABLE
    assert OPEN >= SETTLED and RunState.RUNNING in OPEN and RunState.RETRY in OPEN
    assert sql_values(SETTLED) == ("expired", "failed", "skipped")


def test_the_daemon_columns_of_a_due_row_are_told_apart_by_their_prefix():
    aliases = re.findall(r"\bAS (\w+)", Q.run_columns)
    assert aliases and all(alias.startswith("mh_") for alias in aliases)
    for job in ("news", "promotion", "activity"):
        columns = [column.split(".")[-1].strip() for column in
                   getattr(Q, job + "_columns").split(",")]
        assert "id" in columns and not any(column.startswith("mh_") for column in columns)
