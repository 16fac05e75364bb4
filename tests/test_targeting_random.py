"""Random data sets and campaigns: every statement composed from the targeting
rules against a plain-Python statement of the same rules (README "Who receives
a campaign").

Each data set is seeded and small (a few hundred users, cards and companies,
with Chinese names) but full of the edges the rules must get right: province
codes, level-1 / level-2 industries and the '' and '0' non-parents, func lists
with '，', spaces and prefix traps, inactive users, empty card ids, shared
mobiles and emails, padded addresses, overlong card mobiles, card holders
without accounts, profiles without accounts and accounts without profiles.
For every campaign it compares: each plan's fill (scan and narrow; users,
emails, mobiles, mobiles_and_cards), the card-holder SELECT, and each plan's
per-code breakdown.
"""
from __future__ import annotations

import dataclasses
import itertools
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

import pytest

from mg_handling import targeting
from mg_handling.queries import read_sql
from mg_handling.store import StoreTransaction
from mg_handling.targeting import Targeting
from testkit.db import apply_sql_file
from testkit.process import ROOT
from util.db import Transaction, split_statements

CAMPAIGNS_PER_DATA_SET = 15
# Codes beside the `db` fixture's (P1: C1 C2, P2: C3; I1: I11 I12, I2: I21).
EXTRA_CITIES = (("P3", "C4", "杭州"), ("P3", "C5", "宁波"), ("P4", "C6", "成都"))
EXTRA_INDUSTRIES = (("I3", "", "制造业"), ("I31", "I3", "汽车"), ("I4", "0", "教育"),
                    ("I41", "I4", "培训"), ("I5", "I1", "一级下的另一行业"))
CITIES = ("C1", "C2", "C3", "C4", "C5", "C6")
PROVINCES = ("P1", "P2", "P3", "P4")
INDUSTRIES = ("I1", "I11", "I12", "I2", "I21", "I3", "I31", "I4", "I41", "I5")
FUNCS = ("F1", "F2", "F3", "F10", "F11", "XF1", "F_1", "F-2")
NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄晓明")


# ---------------------------------------------------------------- the data

@dataclass
class DataSet:
    cities: Dict[str, str] = field(default_factory=dict)          # city -> province
    industries: List[Tuple[str, str]] = field(default_factory=list)  # (category, parent)
    accounts: List[Dict[str, Any]] = field(default_factory=list)
    profiles: List[Dict[str, Any]] = field(default_factory=list)
    category_map: List[Dict[str, Any]] = field(default_factory=list)
    cards: List[Dict[str, Any]] = field(default_factory=list)
    companies: List[Dict[str, Any]] = field(default_factory=list)


def maybe(rng: random.Random, share: float, value: Any, otherwise: Any) -> Any:
    return value if rng.random() < share else otherwise


def padded(rng: random.Random, text: str) -> str:
    """Spaces around some values (not around the longest, which would not fit)."""
    if len(text) > 16:
        return text
    return maybe(rng, 0.2, " " * rng.randint(1, 2) + text + " " * rng.randint(0, 2), text)


def func_list(rng: random.Random) -> Optional[str]:
    if rng.random() < 0.08:
        return rng.choice([None, "", " "])
    items = rng.sample(FUNCS, rng.randint(1, 3))
    text = items[0]
    for item in items[1:]:
        text += rng.choice([",", "，", ", ", " ，", ",\t", " , "]) + item
    return text + maybe(rng, 0.1, rng.choice([",", "，", " "]), "")


def region_value(rng: random.Random) -> str:
    return rng.choice(CITIES + CITIES + PROVINCES + ("C9", "P7", ""))


def industry_value(rng: random.Random) -> Optional[str]:
    return rng.choice(INDUSTRIES + INDUSTRIES + ("I99", "0", None))


def add_card(data: DataSet, rng: random.Random, card_id: str, owner: str) -> None:
    """One to two card rows (sides) and zero to two company rows."""
    for side in range(rng.randint(1, 2)):
        mobile = rng.choice(["138%08d" % rng.randrange(40), "", "  ", "+86-138-0000-0002-99",
                             "139%08d" % rng.randrange(10_000)])
        data.cards.append(dict(card_id=card_id, user_id=owner, side=side,
                               name=rng.choice(NAMES), mobile=padded(rng, mobile),
                               cityM_code=maybe(rng, 0.6, region_value(rng), ""),
                               provinceM_code=maybe(rng, 0.4, rng.choice(PROVINCES + ("P7",)),
                                                    "")))
    for _ in range(rng.choice([0, 1, 1, 1, 2])):
        data.companies.append(dict(card_id=card_id, user_id=owner, companyName="星辰科技有限公司",
                                   industry="互联网", ind_code=industry_value(rng),
                                   func_name="产品", func_code=func_list(rng)))


def generate(seed: int) -> DataSet:
    rng = random.Random(seed)
    data = DataSet(cities={"C1": "P1", "C2": "P1", "C3": "P2"},
                   industries=[("I1", "0"), ("I11", "I1"), ("I12", "I1"), ("I2", "0"),
                               ("I21", "I2")])
    data.cities.update({city: province for province, city, _ in EXTRA_CITIES})
    data.industries += [(code, parent) for code, parent, _ in EXTRA_INDUSTRIES]
    for n in range(300):
        user_id = "u%04d" % n
        card_id = rng.choice(["", "k%04d" % n, "k%04d" % n, "k%04d" % rng.randrange(n + 1),
                              maybe(rng, 0.3, "gone%d" % n, "")])  # gone: a card without rows
        if rng.random() < 0.95:
            data.accounts.append(dict(
                user_id=user_id, mobile=padded(rng, rng.choice(["", "  "] + [
                    "138%08d" % rng.randrange(60) for _ in range(8)])),
                email=padded(rng, rng.choice(["", "李雷@例子.中国", "a%d@example.com"
                                              % rng.randrange(80), "韩梅梅%d@例子.中国"
                                              % rng.randrange(20)])),
                status=rng.choice(["active"] * 6 + ["inactive", "disabled", "deleted", ""])))
        if rng.random() < 0.95:
            data.profiles.append(dict(user_id=user_id, real_name=rng.choice(NAMES),
                                      card_id=card_id, city_code=region_value(rng)))
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            data.category_map.append(dict(account_id=user_id,
                                          category_id=industry_value(rng) or "I99"))
        if card_id.startswith("k") and not any(c["card_id"] == card_id for c in data.cards):
            add_card(data, rng, card_id, user_id)
    for n in range(60):  # holders without accounts, cards saved by users, cards without id
        add_card(data, rng, rng.choice(["h%03d" % n] * 4 + [""]),
                 rng.choice(["", "u%04d" % rng.randrange(300)]))
    return data


def load(db: Any, data: DataSet) -> None:
    for province, city, name in EXTRA_CITIES:
        db.add_city(province, city, name, "某省")
    for code, parent, name in EXTRA_INDUSTRIES:
        db.add_industry(code, parent, name)
    for table, rows in (("account_basic", data.accounts),
                        ("account_basic_detail", data.profiles),
                        ("account_basic_category_map", data.category_map),
                        ("card_info_jsonver", data.cards),
                        ("company_info_jsonVer", data.companies)):
        db.insert_many(table, rows)
    for statement in split_statements(read_sql("daemon_schema.sql")):
        db.query(statement)


def random_campaign(rng: random.Random) -> Dict[str, str]:
    """Code lists as an admin writes them: any separator, spaces, any case."""
    def codes(choices: Tuple[str, ...], most: int) -> str:
        picked = [maybe(rng, 0.15, code.lower(), code)
                  for code in rng.sample(choices, rng.randint(1, most))]
        return rng.choice([",", "，", " , "]).join(picked)
    return {"region": codes(CITIES + PROVINCES + ("C9", "P7"), 4),
            "industry": codes(INDUSTRIES + ("I99", "0"), 3),
            "func": codes(FUNCS, 3)}


# ---------------------------------------------------------------- the rules, in Python

def same(a: Optional[str], b: str) -> bool:
    """The columns' collation: case-insensitive; NULL matches nothing."""
    return a is not None and a.lower() == b.lower()


def any_same(value: Optional[str], codes: Set[str]) -> bool:
    return value is not None and value.lower() in codes


def items(func_code: Optional[str]) -> Set[str]:
    return {item.strip(" \t").lower() for item in re.split("[,，]", func_code or "")}


def trim(text: str) -> str:
    return text.strip(" ")


def by_key(rows: List[Dict[str, Any]], key: str) -> Dict[str, List[Dict[str, Any]]]:
    """Rows by a key column, compared as the collation does (case-insensitively)."""
    found: Dict[str, List[Dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row[key].lower(), []).append(row)
    return found


class Rules:
    """README "Who receives a campaign", read literally."""

    def __init__(self, data: DataSet, campaign: Targeting) -> None:
        self.data = data
        lower = lambda codes: {code.lower() for code in codes}  # noqa: E731
        self.regions, self.funcs = lower(campaign.region), lower(campaign.func)
        self.cities = self.regions | {city.lower() for city, province in data.cities.items()
                                      if province.lower() in self.regions}
        self.industries = lower(campaign.industry) | {
            code.lower() for code, parent in data.industries
            if parent.lower() in lower(campaign.industry) and parent not in ("", "0")}
        self.campaign = campaign
        self._cards = by_key(data.cards, "card_id")
        self._companies = by_key(data.companies, "card_id")
        self._first_use = by_key(data.category_map, "account_id")
        self.users = self._matching()

    def card_rows(self, card_id: str) -> List[Dict[str, Any]]:
        return self._cards.get(card_id.lower(), []) if card_id else []

    def companies(self, card_id: str) -> List[Dict[str, Any]]:
        return self._companies.get(card_id.lower(), []) if card_id else []

    def card_in_region(self, card_id: str) -> bool:
        return any(any_same(card["cityM_code"], self.regions)
                   or any_same(card["provinceM_code"], self.regions)
                   for card in self.card_rows(card_id))

    def card_in_industry(self, card_id: str) -> bool:
        return any(any_same(co["ind_code"], self.industries) for co in self.companies(card_id))

    def card_has_func(self, card_id: str) -> bool:
        return any(items(co["func_code"]) & self.funcs for co in self.companies(card_id))

    def user_matches(self, profile: Dict[str, Any]) -> bool:
        card_id = profile["card_id"]
        first_use = any(any_same(row["category_id"], self.industries)
                        for row in self._first_use.get(profile["user_id"], []))
        return bool(card_id) and (
            any_same(profile["city_code"], self.cities) or self.card_in_region(card_id)) and (
            first_use or self.card_in_industry(card_id)) and self.card_has_func(card_id)

    def _matching(self) -> List[Tuple[Dict[str, Any], Dict[str, Any]]]:
        """(profile, account) of every matching active user."""
        accounts = {account["user_id"]: account for account in self.data.accounts}
        return [(profile, accounts[profile["user_id"]]) for profile in self.data.profiles
                if profile["user_id"] in accounts
                and accounts[profile["user_id"]]["status"].lower() == "active"
                and self.user_matches(profile)]

    def card_holders(self) -> Set[str]:
        return {trim(card["mobile"]) for card in self.data.cards
                if card["card_id"] and trim(card["mobile"]) and len(trim(card["mobile"])) <= 18
                and self.card_in_region(card["card_id"])
                and self.card_in_industry(card["card_id"])
                and self.card_has_func(card["card_id"])}

    def audience(self, kind: str) -> Set[str]:
        users = self.users
        if kind == "users":
            return {profile["user_id"] for profile, _ in users}
        column = "email" if kind == "emails" else "mobile"
        found = {trim(account[column]) for _, account in users if trim(account[column])}
        return found | self.card_holders() if kind == "mobiles_and_cards" else found

    def codes_of(self, profile: Dict[str, Any], dimension: str) -> Set[str]:
        """The codes (lower case) through which a user matches a dimension."""
        card_id = profile["card_id"]
        if dimension == "region":
            found = {profile["city_code"], self.data.cities.get(profile["city_code"], "")}
            for card in self.card_rows(card_id):
                found |= {card["cityM_code"], card["provinceM_code"]}
        elif dimension == "industry":
            values = {row["category_id"] for row in self._first_use.get(profile["user_id"], [])}
            values |= {co["ind_code"] for co in self.companies(card_id) if co["ind_code"]}
            found = values | {parent for code, parent in self.data.industries
                              if parent not in ("", "0") and any(same(v, code) for v in values)}
        else:
            found = set().union(*[items(co["func_code"]) for co in self.companies(card_id)])
        return {code.lower() for code in found if code}

    def breakdown(self) -> Dict[Tuple[str, str], int]:
        counts: Counter = Counter()
        for profile, account in self.users:
            counts[("all", "")] += 1
            counts[("email", "")] += bool(trim(account["email"]))
            counts[("mobile", "")] += bool(trim(account["mobile"]))
            for dimension in targeting.DIMENSION_NAMES:
                for code in self.campaign.codes(dimension):
                    counts[(dimension, code.lower())] += code.lower() in self.codes_of(
                        profile, dimension)
        return {key: n for key, n in counts.items() if n}


# ---------------------------------------------------------------- the test

def frozen(db: Any, tx: Transaction, plan: str, kind: str, params: Dict[str, Any],
           run_id: int) -> List[str]:
    """The recipients one plan's fill statement freezes, in id order."""
    tx.execute(targeting.STATEMENTS[plan].fills[kind], dict(params, run_id=run_id))
    return [row["recipient"] for row in
            db.query("SELECT recipient FROM mh_audience WHERE run_id = %s ORDER BY id", [run_id])]


@pytest.mark.parametrize("seed, indexes", [(2026, True), (7, False), (1949, True)])
def test_every_statement_agrees_with_the_rules_on_random_data(db, seed, indexes):
    data = generate(seed)
    load(db, data)
    if indexes:
        apply_sql_file(db, ROOT + "/deploy/recommended_indexes.sql")
    rng = random.Random(seed + 1)
    tx = Transaction(db.conn)
    store_tx = StoreTransaction(tx)
    reached: Counter = Counter()
    run_ids = itertools.count(1)
    for _ in range(CAMPAIGNS_PER_DATA_SET):
        campaign = Targeting.from_row(random_campaign(rng))
        rules = Rules(data, campaign)
        query = store_tx.audience_query(campaign)
        params = dict(query.params)
        for plan in targeting.PLANS:
            for kind in targeting.AUDIENCE_KINDS:
                rows = frozen(db, tx, plan, kind, params, next(run_ids))
                reached[kind] += len(rows)
                assert sorted(rows) == sorted(rules.audience(kind)), (campaign, plan, kind)
                assert kind != "users" or rows == sorted(rows)  # frozen in user_id order
            counts = store_tx.breakdown_counts(dataclasses.replace(query, plan=plan))
            assert {(dimension, code.lower()): n for (dimension, code), n in counts.items()} \
                == rules.breakdown(), (campaign, plan)
        # one row per card row: the UNION of mobiles_and_cards removes the repeats
        holders = {row["recipient"] for row in tx.all(targeting.CARD_HOLDERS, params)}
        assert holders == rules.card_holders(), campaign
        reached["holders"] += len(holders)
    assert min(reached.values()) > 0, reached  # no rule was checked on empty audiences only
