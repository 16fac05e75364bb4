"""Target code lists: parsing, the func REGEXP, the plan a region's reach gets. No database."""
import re

import pytest

from mg_handling.errors import CampaignError
from mg_handling.targeting import Targeting, item_pattern, parse_codes, plan_for_reach


@pytest.mark.parametrize("text,codes", [
    ("C1", ("C1",)),
    ("C1,C2", ("C1", "C2")),
    ("C1，C2", ("C1", "C2")),              # the full-width comma of Chinese input
    (" C2 ，C1, C2 ,,", ("C2", "C1")),       # spaces and empties dropped, first order kept
    ("", ()),
    ("，,  ,", ()),
    ("a_b-C9", ("a_b-C9",)),
    ("X" * 16, ("X" * 16,)),
])
def test_parse_codes(text, codes):
    assert parse_codes("region", text) == codes


@pytest.mark.parametrize("text,shown", [
    ("C1;C2", "'C1;C2'"),
    ("北京", "'北京'"),
    ("C1,🎉", "'🎉'"),
    ("C1 C2", "'C1 C2'"),
    ("X" * 17, "'%s'" % ("X" * 17)),
    ("C1' --", "\"C1' --\""),
    ("F1|F2", "'F1|F2'"),  # a regex metacharacter never reaches func_pattern
])
def test_parse_codes_refuses_an_invalid_item_naming_it(text, shown):
    with pytest.raises(CampaignError) as caught:
        parse_codes("func", text)
    assert caught.value.field == "func"
    assert caught.value.reason.startswith("invalid code %s" % shown)


def test_parse_codes_null_fails():
    with pytest.raises(CampaignError) as caught:
        parse_codes("industry", None)
    assert (caught.value.field, caught.value.reason) == ("industry", "is NULL")


def test_from_row_reads_the_three_dimensions_and_names_empty_ones():
    targeting = Targeting.from_row({"region": "P1，C3", "industry": " ", "func": "F1,F2"})
    assert targeting == Targeting(("P1", "C3"), (), ("F1", "F2"))
    assert targeting.empty_dimensions() == ("industry",)


def as_python_regex(pattern):
    """The MariaDB (PCRE) pattern in Python's dialect: only [[:space:]] differs."""
    return re.compile(pattern.replace("[[:space:]]", r"\s"))


@pytest.mark.parametrize("func_code,matches", [
    ("F1", True),
    ("F2", True),
    ("F0,F1", True),
    ("F0，F2，F3", True),
    (" F0 ， F1 ", True),
    ("F1\t,F9", True),
    ("F10", False),          # whole codes only
    ("XF1", False),
    ("F1X,F3", False),
    ("F3,F12", False),
    ("", False),
    ("职能F1", False),
])
def test_func_pattern_matches_whole_items_of_a_func_code_list(func_code, matches):
    pattern = as_python_regex(item_pattern(("F1", "F2")))
    assert bool(pattern.search(func_code)) is matches


def test_func_pattern_holds_each_code_once():
    pattern = item_pattern(("F1", "F2", "F_3"))
    assert "(F1|F2|F_3)" in pattern


@pytest.mark.parametrize("reach,plan", [
    ({"reach": 30, "users": 100, "data_bytes": 10, "buffer_pool_bytes": 10}, "narrow"),
    ({"reach": 31, "users": 100, "data_bytes": 10, "buffer_pool_bytes": 10}, "scan"),
    ({"reach": 3, "users": 100, "data_bytes": 100, "buffer_pool_bytes": 10}, "narrow"),
    ({"reach": 4, "users": 100, "data_bytes": 100, "buffer_pool_bytes": 10}, "scan"),
    ({"reach": 0, "users": None, "data_bytes": None, "buffer_pool_bytes": 10}, "narrow"),
    ({"reach": 1, "users": None, "data_bytes": None, "buffer_pool_bytes": 10}, "scan"),
])
def test_plan_for_reach(reach, plan):
    """narrow up to 30 % of the users, times the share of the data the buffer pool holds."""
    assert plan_for_reach(reach) == plan
