"""The named-statement loader: entries, includes, and the mistakes it refuses."""
import pytest

from mg_handling.queries import Q, parse_named_queries


def test_entries_drop_comments_and_the_final_semicolon():
    queries = parse_named_queries("-- name: a\n-- why\nSELECT 1;\n-- name: b\nSELECT 2\n")
    assert queries == {"a": "SELECT 1", "b": "SELECT 2"}


def test_includes_nest():
    queries = parse_named_queries("-- name: inner\nx = 1\n-- name: middle\nWHERE {inner}\n"
                                  "-- name: outer\nSELECT * FROM t {middle};\n")
    assert queries["outer"] == "SELECT * FROM t WHERE x = 1"


@pytest.mark.parametrize("text, message", [
    ("-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n", "defined twice"),
    ("-- name: a\nSELECT {b}\n-- name: b\nSELECT {a}\n", "includes itself"),
])
def test_mistakes_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_named_queries(text)


def test_shipped_statements_have_no_unresolved_include():
    assert "{" not in Q.due_news
    assert "sns_qa_push_setting" in Q.due_news and "r.state" in Q.due_news
