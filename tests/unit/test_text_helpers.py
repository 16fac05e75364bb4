"""The operator commands' text helpers (mg_handling/commands.py): terminal widths of
Chinese and emoji, cutting, tables, durations, numbers. No database."""
import pytest

from mg_handling.commands import cut, display_width, table
from mg_handling.formats import duration, number


@pytest.mark.parametrize("text,width", [
    ("", 0),
    ("abc", 3),
    ("推广", 4),
    ("推广 ok", 7),
    ("🎉", 2),
    ("ｶ", 1),                # half-width katakana
    ("Ａ", 2),               # full-width Latin
    ("é", 1),                # e + combining acute accent
    ("👍\u200d", 2),          # zero-width joiner takes no column
])
def test_display_width(text, width):
    assert display_width(text) == width


@pytest.mark.parametrize("text,width,expected", [
    ("短标题", 10, "短标题"),
    ("春节活动 🧧 红包", 11, "春节活动 …"),
    ("春节活动红包", 6, "春节…"),
    ("春节活动红包", 7, "春节活…"),
    ("a  b\n\tc", 10, "a b c"),         # whitespace runs become one space
    ("abcdef", 4, "abc…"),
])
def test_cut_keeps_within_the_columns(text, width, expected):
    assert cut(text, width) == expected
    assert display_width(cut(text, width)) <= width


def test_table_aligns_by_terminal_columns_and_right_aligns_numbers():
    lines = table(["任务", "rows"], [["新闻 📰", 5], ["activity", 1234]], right=[1])
    assert lines == [
        "  任务      rows",
        "  新闻 📰      5",
        "  activity  1234",
    ]


def test_table_trims_trailing_spaces_and_honours_the_indent():
    assert table(["a", "b"], [["长长", ""]], indent="") == ["a     b", "长长"]


@pytest.mark.parametrize("seconds,text", [
    (None, "-"),
    (0, "0 s"),
    (59.4, "59 s"),
    (59.6, "1 min 00 s"),
    (200, "3 min 20 s"),
    (3599, "59 min 59 s"),
    (3600, "1 h 00 min"),
    (7500, "2 h 05 min"),
    (86399, "23 h 59 min"),
    (86400 * 3 + 3600 * 4 + 59, "3 d 4 h"),
])
def test_duration(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize("value,text", [(None, "-"), (0, "0"), (999, "999"),
                                        (1234567, "1,234,567")])
def test_number(value, text):
    assert number(value) == text
