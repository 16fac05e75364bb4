"""Who receives a campaign: the targeting rules of issue 2, one rule per test.

Every expected recipient set is known by construction: each test builds a few
users (or cards) that must receive and a few that must not, runs one poll and
compares the exact set written. The standard code tables come from the `db`
fixture: province P1 with cities C1 and C2, province P2 with city C3; level-1
industries I1 (children I11, I12) and I2 (child I21), both with parent '0'.

News campaigns default to region C1, industry I11, func F1.

Every rule is checked under both audience plans: the scan plan, and the
narrow plan (with deploy/recommended_indexes.sql applied), which must find
exactly the same recipients.
"""
from __future__ import annotations

import uuid
from typing import Any, Dict, Iterable, List, Optional

import pytest

from mg_handling.store import StoreTransaction
from testkit.db import apply_sql_file
from testkit.process import ROOT

NEWS = 230
RECOMMENDED_INDEXES = ROOT + "/deploy/recommended_indexes.sql"


@pytest.fixture(autouse=True, params=["scan", "narrow"])
def audience_plan(request, db, monkeypatch):
    """Run the test under one plan; the narrow one with its indexes in place."""
    if request.param == "narrow":
        apply_sql_file(db, RECOMMENDED_INDEXES)
    monkeypatch.setattr(StoreTransaction, "plan_for", lambda *_: request.param)
    return request.param


# ---------------------------------------------------------------- local builders

def card(db, *, city: str = "", province: str = "", ind: Optional[str] = None,
         func: Optional[str] = None, mobile: str = "", owner: str = "",
         card_id: Optional[str] = None, name: str = "王小明") -> str:
    """A business card: one card_info_jsonver row and one company_info_jsonVer row
    (the card tables are utf8: Chinese, but no emoji)."""
    card_id = card_id if card_id is not None else uuid.uuid4().hex
    db.insert("card_info_jsonver", card_id=card_id, user_id=owner, side=0, name=name,
              mobile=mobile, provinceM="北京市" if province else "", provinceM_code=province,
              cityM="北京" if city else "", cityM_code=city)
    db.insert("company_info_jsonVer", card_id=card_id, user_id=owner,
              companyName="星辰科技有限公司", industry="互联网", ind_code=ind,
              title="产品经理", func_name="产品", func_code=func)
    return card_id


def person(db, user_id: str, *, city: str = "", card_city: str = "", card_province: str = "",
           ind: Optional[str] = None, func: Optional[str] = "F1", first: Iterable[str] = (),
           **account: Any) -> str:
    """A registered user whose default card carries (card_city, card_province, ind, func)."""
    card_id = card(db, city=card_city, province=card_province, ind=ind, func=func,
                   owner=user_id)
    return db.add_user(user_id, city_code=city, card_id=card_id,
                       first_industries=list(first), **account)


def matching(db, user_id: str, **kwargs: Any) -> str:
    """A user matching the default news (C1 / I11 / F1) through the detail city,
    the card's company industry and the card's func."""
    values = dict(city="C1", ind="I11", func="F1")
    values.update(kwargs)
    return person(db, user_id, **values)


def news_recipients(db, run_once, **targets: Any) -> List[str]:
    """Add one due news campaign, run one poll, return its recipients (sorted, with repeats)."""
    news = db.add_news(**targets)
    assert run_once() == 0
    assert db.run("news", news)["state"] == "done"
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id = %s", [news]) == 2
    return db.recipients(NEWS)


def promotion_rows(db, promotion_type: int) -> List[Dict[str, Any]]:
    return db.query("SELECT * FROM message_promotion WHERE type = %s ORDER BY id",
                    [promotion_type])


def run_promotion(db, run_once, **fields: Any) -> int:
    fields.setdefault("title", "春季新品 🌸")
    promotion = db.add_promotion(**fields)
    assert run_once() == 0
    assert db.run("promotion", promotion)["state"] == "done"
    assert db.scalar("SELECT status FROM sys_user_promotion WHERE id = %s", [promotion]) == 2
    return promotion


# ---------------------------------------------------------------- region

def test_region_city_code_of_detail_matches(db, run_once):
    in_c1 = matching(db, "u_c1", city="C1")
    matching(db, "u_c2", city="C2")
    matching(db, "u_c3", city="C3")
    assert news_recipients(db, run_once, region="C1") == [in_c1]


def test_region_detail_city_not_in_code_table_still_matches_itself(db, run_once):
    odd = matching(db, "u_c9", city="C9")
    matching(db, "u_c1", city="C1")
    assert news_recipients(db, run_once, region="C9") == [odd]


def test_region_province_code_matches_detail_cities_inside_it(db, run_once):
    c1 = matching(db, "u_c1", city="C1")
    c2 = matching(db, "u_c2", city="C2")
    matching(db, "u_c3", city="C3")
    assert news_recipients(db, run_once, region="P1") == sorted([c1, c2])


def test_region_province_code_does_not_match_city_of_other_province(db, run_once):
    matching(db, "u_c1", city="C1")
    matching(db, "u_c2", city="C2")
    c3 = matching(db, "u_c3", city="C3")
    assert news_recipients(db, run_once, region="P2") == [c3]


def test_region_city_code_does_not_match_sibling_city(db, run_once):
    """A city code is not widened to its province: C1 does not reach C2."""
    c1 = matching(db, "u_c1", city="C1")
    matching(db, "u_c2", city="C2")
    assert news_recipients(db, run_once, region="C1") == [c1]


def test_region_card_city_code_matches(db, run_once):
    by_card = matching(db, "u_card_c2", city="", card_city="C2")
    matching(db, "u_card_c3", city="", card_city="C3")
    assert news_recipients(db, run_once, region="C2") == [by_card]


def test_region_card_province_code_matches_directly(db, run_once):
    """The card's own provinceM_code counts, even one unknown to province_city_code."""
    p7 = matching(db, "u_card_p7", city="", card_province="P7")
    p1 = matching(db, "u_card_p1", city="", card_province="P1")
    matching(db, "u_card_p2", city="", card_province="P2")
    assert news_recipients(db, run_once, region="P7,P1") == sorted([p7, p1])


def test_region_card_city_is_not_widened_to_its_province(db, run_once):
    """Card regions are the card's own cityM_code/provinceM_code: a card in C1
    without provinceM_code is not in P1 (unlike the detail city_code)."""
    with_province = matching(db, "u_card_c1_p1", city="", card_city="C1", card_province="P1")
    matching(db, "u_card_c1_only", city="", card_city="C1", card_province="")
    assert news_recipients(db, run_once, region="P1") == [with_province]


def test_region_codes_of_a_card_that_is_not_the_default_card_do_not_count(db, run_once):
    user = matching(db, "u_other_card", city="C3")
    card(db, city="C1", province="P1", ind="I11", func="F1", owner=user)  # not default
    expected = matching(db, "u_default", city="C1")
    assert news_recipients(db, run_once, region="C1") == [expected]


def test_region_mixed_province_and_city_codes(db, run_once):
    c1 = matching(db, "u_c1", city="C1")
    matching(db, "u_c2", city="C2")
    c3 = matching(db, "u_c3", city="C3")
    assert news_recipients(db, run_once, region="P2,C1") == sorted([c1, c3])


# ---------------------------------------------------------------- industry

def test_industry_first_use_category_matches(db, run_once):
    first = matching(db, "u_first_i11", ind=None, first=["I11"])
    matching(db, "u_first_i21", ind=None, first=["I21"])
    matching(db, "u_no_industry", ind=None)
    assert news_recipients(db, run_once, industry="I11") == [first]


def test_industry_default_card_company_ind_code_matches(db, run_once):
    company = matching(db, "u_company_i12", ind="I12")
    matching(db, "u_company_i21", ind="I21")
    assert news_recipients(db, run_once, industry="I12") == [company]


def test_industry_level1_code_matches_level2_users_under_it(db, run_once):
    via_card = matching(db, "u_card_i11", ind="I11")
    via_first = matching(db, "u_first_i12", ind=None, first=["I12"])
    level1 = matching(db, "u_card_i1", ind="I1")
    matching(db, "u_card_i21", ind="I21")
    matching(db, "u_first_i2", ind=None, first=["I2"])
    assert news_recipients(db, run_once, industry="I1") == sorted([via_card, via_first, level1])


def test_industry_level2_code_does_not_match_user_with_only_level1_parent(db, run_once):
    matching(db, "u_card_i1", ind="I1")
    matching(db, "u_first_i1", ind=None, first=["I1"])
    child = matching(db, "u_card_i11", ind="I11")
    matching(db, "u_card_i12", ind="I12")
    assert news_recipients(db, run_once, industry="I11") == [child]


def test_industry_parent_zero_or_empty_is_no_parent(db, run_once):
    """A list '0' must not match everyone whose row says parent_id '0' (or '')."""
    db.add_industry("I3", "", "无上级行业")
    matching(db, "u_i1", ind="I1")
    matching(db, "u_i11", ind="I11")
    matching(db, "u_i3", ind="I3")
    matching(db, "u_first_i2", ind=None, first=["I2"])
    assert news_recipients(db, run_once, industry="0") == []


def test_industry_code_missing_from_industry_category_matches_itself(db, run_once):
    unknown = matching(db, "u_i99", ind="I99")
    matching(db, "u_i11", ind="I11")
    assert news_recipients(db, run_once, industry="I99") == [unknown]


def test_industry_of_a_card_that_is_not_the_default_card_does_not_count(db, run_once):
    user = matching(db, "u_other_card", ind="I21")
    card(db, city="C1", ind="I11", func="F1", owner=user)  # not default
    expected = matching(db, "u_default", ind="I11")
    assert news_recipients(db, run_once, industry="I11") == [expected]


# ---------------------------------------------------------------- func

def test_func_from_default_card_company(db, run_once):
    f1 = matching(db, "u_f1", func="F1")
    matching(db, "u_f2", func="F2")
    matching(db, "u_null", func=None)
    matching(db, "u_empty", func="")
    assert news_recipients(db, run_once, func="F1") == [f1]


@pytest.mark.parametrize("func_code", ["F2,F1,F3", "F2，F1", " F2 , F1 ", "F1 ，F2", "F1,",
                                       "F3 ,\tF1"])
def test_func_code_on_card_is_a_comma_list(db, run_once, func_code):
    listed = matching(db, "u_listed", func=func_code)
    matching(db, "u_other", func="F2,F3")
    assert news_recipients(db, run_once, func="F1") == [listed]


def test_func_no_prefix_match_short_list_code(db, run_once):
    """F1 does not match F10, F11 or XF1."""
    exact = matching(db, "u_f1", func="F10,F1")
    matching(db, "u_f10", func="F10")
    matching(db, "u_f10_f11", func="F10,F11")
    matching(db, "u_xf1", func="XF1")
    assert news_recipients(db, run_once, func="F1") == [exact]


def test_func_no_prefix_match_long_list_code(db, run_once):
    """F10 does not match F1."""
    exact = matching(db, "u_f10", func="F10")
    matching(db, "u_f1", func="F1")
    matching(db, "u_f1_f2", func="F1,F2")
    assert news_recipients(db, run_once, func="F10") == [exact]


def test_func_codes_with_underscore_and_dash(db, run_once):
    underscore = matching(db, "u_f_1", func="F_1")
    dash = matching(db, "u_f-2", func="F3,F-2")
    matching(db, "u_f2", func="F2")
    assert news_recipients(db, run_once, func="F_1,F-2") == sorted([underscore, dash])


def test_func_underscore_is_not_a_wildcard(db, run_once):
    matching(db, "u_fx1", func="FX1")
    matching(db, "u_f1", func="F1")
    assert news_recipients(db, run_once, func="F_1") == []


def test_func_first_use_industry_never_gives_funcs(db, run_once):
    """The func list is compared only with the card's func_code: a first-use
    industry code (or a card industry code) equal to a func code does not count."""
    matching(db, "u_first", ind=None, first=["I11"], func="F1")
    matching(db, "u_no_func", ind=None, first=["I11"], func=None)
    assert news_recipients(db, run_once, industry="I11", func="I11") == []


def test_func_of_a_card_that_is_not_the_default_card_does_not_count(db, run_once):
    user = matching(db, "u_other_card", func="F2")
    card(db, city="C1", ind="I11", func="F1", owner=user)  # not default
    expected = matching(db, "u_default", func="F1")
    assert news_recipients(db, run_once, func="F1") == [expected]


def test_user_without_default_card_never_receives(db, run_once):
    """card_id '' is no card: it never joins the card rows whose card_id is ''."""
    card(db, card_id="", city="C1", province="P1", ind="I11", func="F1")
    db.add_user("u_no_card", city_code="C1", card_id="", first_industries=["I11"])
    expected = matching(db, "u_with_card")
    assert news_recipients(db, run_once) == [expected]


def test_codes_compare_with_the_columns_case_insensitive_collation(db, run_once):
    """README: codes are compared whole with the columns' own (case-insensitive) collation."""
    user = matching(db, "u_upper", city="C1", ind="I11", func="F1")
    matching(db, "u_f10", city="C1", ind="I11", func="f10")
    assert news_recipients(db, run_once, region="c1", industry="i11", func="f1") == [user]


# ---------------------------------------------------------------- AND across, OR within

def test_all_three_dimensions_must_match(db, run_once):
    full = matching(db, "u_all_three")
    matching(db, "u_no_region", city="C3")
    matching(db, "u_no_industry", ind="I21")
    matching(db, "u_no_func", func="F2")
    assert news_recipients(db, run_once) == [full]


def test_any_code_of_a_list_matches(db, run_once):
    a = matching(db, "u_a", city="C1", ind="I11", func="F1")
    b = matching(db, "u_b", city="C3", ind="I21", func="F9")
    matching(db, "u_c", city="C2", ind="I21", func="F9")
    assert news_recipients(db, run_once, region="C3,C1", industry="I21,I11",
                           func="F9,F1") == sorted([a, b])


def test_dimensions_may_match_through_different_sources(db, run_once):
    """Region from the card, industry from first use, func from the company row."""
    mixed = person(db, "u_mixed", city="", card_city="C1", ind=None, first=["I11"], func="F1")
    assert news_recipients(db, run_once) == [mixed]


# ---------------------------------------------------------------- accounts

@pytest.mark.parametrize("status", ["inactive", "disabled", "deleted", ""])
def test_inactive_accounts_never_receive(db, run_once, status):
    matching(db, "u_inactive", status=status)
    active = matching(db, "u_active")
    assert news_recipients(db, run_once) == [active]


def test_user_without_detail_row_receives_nothing(db, run_once):
    db.insert("account_basic", user_id="u_no_detail", mobile="13800000001",
              email="nodetail@example.com")
    db.insert("account_basic_category_map", account_id="u_no_detail", category_id="I11")
    card(db, city="C1", province="P1", ind="I11", func="F1", owner="u_no_detail")
    expected = matching(db, "u_with_detail")
    assert news_recipients(db, run_once) == [expected]


def test_detail_row_without_account_receives_nothing(db, run_once):
    card_id = card(db, city="C1", ind="I11", func="F1", owner="u_orphan")
    db.insert("account_basic_detail", user_id="u_orphan", real_name="孤儿", card_id=card_id,
              city_code="C1")
    expected = matching(db, "u_registered")
    assert news_recipients(db, run_once) == [expected]


# ---------------------------------------------------------------- one row per user

def test_one_row_per_user_however_many_codes_cards_and_companies_match(db, run_once):
    user = person(db, "u_many", city="C1", card_city="C1", card_province="P1",
                  ind="I11", func="F1,F2", first=["I11", "I12"])
    card_id = db.scalar("SELECT card_id FROM account_basic_detail WHERE user_id = %s", [user])
    db.add_card(card_id, city="C2", province="P1", side=1)                # 2nd card row
    db.add_company(card_id, ind_code="I12", func_code="F2，F1")          # 2nd company row
    single = matching(db, "u_single")
    rows = news_recipients(db, run_once, region="C1,P1,C2", industry="I1,I11,I12",
                           func="F1,F2")
    assert rows == sorted([user, single])


# ---------------------------------------------------------------- campaign lists

def test_list_accepts_full_width_comma(db, run_once):
    c1 = matching(db, "u_c1", city="C1")
    c3 = matching(db, "u_c3", city="C3", ind="I21", func="F2")
    matching(db, "u_c2", city="C2")
    assert news_recipients(db, run_once, region="C3，C1", industry="I21，I11",
                           func="F2，F1") == sorted([c1, c3])


def test_list_items_are_trimmed(db, run_once):
    user = matching(db, "u_spaces")
    assert news_recipients(db, run_once, region="  C1 ", industry=" I11 , I12 ",
                           func="\tF1 ") == [user]


def test_list_repeated_codes_give_one_row(db, run_once):
    user = matching(db, "u_repeat")
    assert news_recipients(db, run_once, region="C1,C1,P1,C1", industry="I11,I11，I11",
                           func="F1,F1") == [user]


def test_list_empty_items_are_dropped(db, run_once):
    c1 = matching(db, "u_c1", city="C1")
    c2 = matching(db, "u_c2", city="C2")
    matching(db, "u_c3", city="C3")
    assert news_recipients(db, run_once, region="C1,,C2,", industry=",I11,", func="F1,,") \
        == sorted([c1, c2])


def test_list_sixteen_character_code_is_valid(db, run_once):
    code = "C" * 15 + "1"
    user = matching(db, "u_long_city", city=code)
    assert news_recipients(db, run_once, region=code) == [user]


@pytest.mark.parametrize("field", ["region", "industry", "func"])
def test_list_of_hundreds_of_codes(db, run_once, field):
    prefix = {"region": "X", "industry": "J", "func": "G"}[field]
    right = {"region": "C1", "industry": "I11", "func": "F1"}[field]
    codes = ["%s%03d" % (prefix, i) for i in range(300)]
    codes.insert(150, right)
    user = matching(db, "u_in_long_list")
    matching(db, "u_outside", city="C3", ind="I21", func="F2")
    assert news_recipients(db, run_once, **{field: ",".join(codes)}) == [user]


BAD_CODES = ["C1' OR '1'='1", "C 1", "北京", "C" * 17, "C1;", "F%"]


@pytest.mark.parametrize("field,item", [("region", code) for code in BAD_CODES]
                         + [("industry", "I11' OR 1=1 -- "), ("func", "F1|F2")])
def test_invalid_code_fails_the_campaign(db, run_once, field, item):
    everybody = [matching(db, "u_%d" % i, city=city) for i, city in enumerate(["C1", "C3"])]
    assert everybody
    targets = {"region": "C1", "industry": "I11", "func": "F1"}
    targets[field] = "%s,%s" % (targets[field], item)
    news = db.add_news(**targets)
    exit_code = run_once()
    run = db.run("news", news)
    assert run["state"] == "failed"
    assert field in run["last_error"]
    assert item.strip() in run["last_error"]
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id = %s", [news]) == 1
    assert db.queue_rows() == []
    assert exit_code == 1  # "1 when any campaign failed during this run"


@pytest.mark.parametrize("field,text", [("region", ""), ("region", ",  ，"),
                                        ("industry", " "), ("func", "，,")])
def test_empty_targeting_is_never_sent(db, run_once, field, text):
    matching(db, "u_would_match")
    news = db.add_news(**{field: text})
    assert run_once() == 0
    assert db.run("news", news)["state"] == "skipped"
    assert db.scalar("SELECT status FROM sns_qa_push_setting WHERE id = %s", [news]) == 1
    assert db.queue_rows() == []


# ---------------------------------------------------------------- promotion email (type 2)

def test_promotion_email_one_row_per_distinct_address(db, run_once):
    matching(db, "u_li", email="李雷@例子.中国")
    matching(db, "u_han", email="hanmeimei@example.com")
    matching(db, "u_han_2", email="hanmeimei@example.com")      # shares the address
    matching(db, "u_no_email", email="", mobile="13800000009")
    matching(db, "u_outside", city="C3", email="outside@example.com")
    promotion = run_promotion(db, run_once, type=2, content="<p>你好，李雷</p>")
    rows = promotion_rows(db, 2)
    assert sorted(r["email"] for r in rows) == sorted(["李雷@例子.中国", "hanmeimei@example.com"])
    assert all(r["mobile"] == "" for r in rows)
    assert db.queue_rows() == []
    assert db.run("promotion", promotion)["state"] == "done"


def test_promotion_email_all_users_changes_nothing(db, run_once):
    matching(db, "u_mail", email="mail@example.com", mobile="13800000001")
    card(db, city="C1", ind="I11", func="F1", mobile="13900000001")  # unregistered holder
    run_promotion(db, run_once, type=2, isalluser=2)
    rows = promotion_rows(db, 2)
    assert [(r["email"], r["mobile"]) for r in rows] == [("mail@example.com", "")]
    assert promotion_rows(db, 3) == []


def test_promotion_email_addresses_are_trimmed_before_deduplication(db, run_once):
    matching(db, "u_padded", email="  wang@example.com ")
    matching(db, "u_plain", email="wang@example.com")
    matching(db, "u_blank", email="   ")
    run_promotion(db, run_once, type=2)
    assert [r["email"] for r in promotion_rows(db, 2)] == ["wang@example.com"]


# ---------------------------------------------------------------- promotion SMS (type 3)

def test_promotion_sms_one_row_per_distinct_mobile(db, run_once):
    matching(db, "u_a", mobile="13800000001")
    matching(db, "u_b", mobile="13800000002", email="b@example.com")
    matching(db, "u_b_2", mobile="13800000002")                  # shares the mobile
    matching(db, "u_no_mobile", mobile="", email="nomobile@example.com")
    matching(db, "u_outside", func="F2", mobile="13800000003")
    card(db, city="C1", ind="I11", func="F1", mobile="13900000001")  # holder: isalluser 1
    run_promotion(db, run_once, type=3, content="限时优惠&amp;好礼<br>回T退订")
    rows = promotion_rows(db, 3)
    assert sorted(r["mobile"] for r in rows) == ["13800000001", "13800000002"]
    assert all(r["email"] == "" for r in rows)


def test_promotion_sms_all_users_adds_matching_card_holders(db, run_once):
    matching(db, "u_registered", mobile="13800000001")
    # an unregistered person's card
    card(db, city="C1", ind="I11", func="F1", mobile="13900000001", owner="")
    # a card saved by a registered user, nobody's default card
    saver = matching(db, "u_saver", city="C3", mobile="13800000002")
    card(db, city="C1", ind="I11", func="F1", mobile="13900000002", owner=saver)
    # matching through the card's own province and a level-1 industry list
    card(db, province="P1", ind="I12", func="F7,F1", mobile="13900000003")
    # a card with two rows (two sides): each non-empty mobile
    two_sides = card(db, city="C1", ind="I11", func="F1", mobile="13900000004")
    db.add_card(two_sides, mobile="13900000005", side=1)
    db.add_card(two_sides, mobile="", side=1)
    run_promotion(db, run_once, type=3, isalluser=2, region="C1,P1", industry="I1")
    assert sorted(r["mobile"] for r in promotion_rows(db, 3)) == [
        "13800000001", "13900000001", "13900000002", "13900000003", "13900000004",
        "13900000005"]


def test_promotion_sms_all_users_card_mobile_of_registered_user_gives_one_row(db, run_once):
    user = matching(db, "u_same", mobile="13800000001")
    card_id = db.scalar("SELECT card_id FROM account_basic_detail WHERE user_id = %s", [user])
    db.query("UPDATE card_info_jsonver SET mobile = '13800000001' WHERE card_id = %s",
             [card_id])
    db.query("UPDATE card_info_jsonver SET cityM_code = 'C1' WHERE card_id = %s", [card_id])
    card(db, city="C1", ind="I11", func="F1", mobile="13800000001")  # someone else's copy
    run_promotion(db, run_once, type=3, isalluser=2)
    assert [r["mobile"] for r in promotion_rows(db, 3)] == ["13800000001"]


def test_promotion_sms_all_users_card_whose_own_data_does_not_match_adds_nothing(db, run_once):
    card(db, city="C3", ind="I11", func="F1", mobile="13900000001")   # region
    card(db, city="C1", ind="I21", func="F1", mobile="13900000002")   # industry
    card(db, city="C1", ind="I11", func="F10", mobile="13900000003")  # func (no prefix)
    card(db, city="C1", ind="I1", func="F1", mobile="13900000004")    # level-1 vs list I11
    card(db, card_id="", city="C1", ind="I11", func="F1", mobile="13900000005")  # no card id
    # a registered user matching through the detail city: the user's mobile is
    # sent, but the card's own data (no region) does not add the card's mobile
    user = matching(db, "u_detail_only", city="C1", mobile="13800000001")
    card_id = db.scalar("SELECT card_id FROM account_basic_detail WHERE user_id = %s", [user])
    db.query("UPDATE card_info_jsonver SET mobile = '13900000006' WHERE card_id = %s",
             [card_id])
    run_promotion(db, run_once, type=3, isalluser=2)
    assert [r["mobile"] for r in promotion_rows(db, 3)] == ["13800000001"]


def test_promotion_sms_mobiles_are_trimmed_and_overlong_card_mobiles_left_out(db, run_once):
    matching(db, "u_padded", mobile=" 13800000001 ")
    matching(db, "u_blank", mobile="  ")
    card(db, city="C1", ind="I11", func="F1", mobile="13800000001  ")
    card(db, city="C1", ind="I11", func="F1", mobile="+86-138-0000-0002-99")  # 20 > 18
    card(db, city="C1", ind="I11", func="F1", mobile="   ")
    card(db, city="C1", ind="I11", func="F1", mobile=" 13900000009 ")    # holder only
    run_promotion(db, run_once, type=3, isalluser=2)
    assert sorted(r["mobile"] for r in promotion_rows(db, 3)) == ["13800000001", "13900000009"]


def test_promotion_in_app_all_users_changes_nothing(db, run_once):
    user = matching(db, "u_in_app", mobile="13800000001")
    card(db, city="C1", ind="I11", func="F1", mobile="13900000001", owner="u_ghost")
    run_promotion(db, run_once, type=1, isalluser=2)
    assert db.recipients() == [user]
    assert db.query("SELECT * FROM message_promotion") == []


# ---------------------------------------------------------------- other sources

def _mixed_population(db) -> List[str]:
    """Users of every kind; returns those that match region P1, industry I1, func F1."""
    expected = [
        matching(db, "u_city", city="C2", ind="I12"),
        person(db, "u_card_region", card_province="P1", first=["I11"]),
        matching(db, "u_level1", city="C1", ind="I1"),
    ]
    matching(db, "u_other_province", city="C3")
    matching(db, "u_other_industry", ind="I21")
    matching(db, "u_prefix_func", func="F10")
    matching(db, "u_inactive", status="frozen")
    db.add_user("u_cardless", city_code="C1", first_industries=["I11"])
    return sorted(expected)


def test_activity_uses_the_same_user_targeting(db, run_once):
    expected = _mixed_population(db)
    activity = db.add_activity(region="P1", industry="I1", func="F1", title="线下沙龙")
    assert run_once() == 0
    assert db.recipients() == expected
    assert db.scalar("SELECT push_count FROM operation_activity WHERE id = %s",
                     [activity]) == len(expected)


def test_promotion_in_app_uses_the_same_user_targeting(db, run_once):
    expected = _mixed_population(db)
    run_promotion(db, run_once, type=1, region="P1", industry="I1", func="F1")
    assert db.recipients() == expected


def test_news_uses_the_same_user_targeting(db, run_once):
    expected = _mixed_population(db)
    assert news_recipients(db, run_once, region="P1", industry="I1", func="F1") == expected
