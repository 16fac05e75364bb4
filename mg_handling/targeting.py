"""Who receives a campaign: the targeting rules, stated once, and every statement made from them.

A campaign names comma-separated code lists for three dimensions: region,
industry and function. A user receives it when each dimension matches (OR
inside a list, AND across the three). DIMENSIONS says where each dimension's
codes are read and which codes stand for more codes; the composer below turns
that one description into every statement that matches users or cards: each
plan's audience SELECTs and the fills that freeze them, the card-holder SELECT,
the per-code breakdown of `preview`, the code expansions and the region reach
that chooses the plan. A change to a rule is one edit of DIMENSIONS.

The matching runs on the database server, as one INSERT ... SELECT into the
campaign's frozen audience. Composition pastes only fixed text of this module
(table, column and alias names, the fixed literals); values always travel as
%(name)s parameters. The statements are built once, at import.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from mg_handling.errors import CampaignError
from mg_handling.queries import Q

_SEPARATOR = re.compile("[,\uff0c]")  # ',' and the full-width '，'
_CODE = re.compile(r"[0-9A-Za-z_-]{1,16}")

# ---------------------------------------------------------------- the rules

# Where a source's rows hang: the profile row itself, the user (by user_id) or
# the user's default card (account_basic_detail.card_id; '' = no card).
PROFILE, USER, CARD = "profile", "user", "card"
# The profile's charset: the card tables are utf8, the account tables utf8mb4,
# and the side that is converted decides which card_id index can be used.
PROFILE_CHARSET = "utf8mb4"
# A code matches a whole item of a list column (',' or '，' between items,
# spaces around them): the pattern is these two halves around the codes.
ITEM_PATTERN = ("(^|,|\uff0c)[[:space:]]*(", ")[[:space:]]*(,|\uff0c|$)")


@dataclass(frozen=True)
class Children:
    """Codes that stand for more codes: a code also matches the `child` values of
    the `table` rows whose `parent` is that code (no further down)."""
    table: str
    parent: str
    child: str
    charset: str
    no_parent: Tuple[str, ...] = ()  # values of `parent` that mean "no parent"


@dataclass(frozen=True)
class Source:
    """One place a user's codes of a dimension are read: `columns` of `table`,
    compared whole with the campaign's codes (`widened`: with the codes and
    their children; `item_lists`: each column holds a list of codes). `charset`
    is the one of its key and code columns; a PROFILE source is the profile
    row itself, aliased d in every statement."""
    of: str
    table: str
    alias: str
    charset: str
    columns: Tuple[str, ...]
    key: str = ""  # the column naming the user or the card (not for PROFILE)
    widened: bool = False
    item_lists: bool = False


@dataclass(frozen=True)
class Dimension:
    """A campaign column; the user matches it through any of its sources (the
    cheap ones first: an OR tries them in order)."""
    name: str
    sources: Tuple[Source, ...]
    children: Optional[Children] = None

    # The statements' parameters: the codes as written, the codes and their
    # children, the codes as an item_pattern().
    @property
    def codes_param(self) -> str:
        return self.name + "_codes"

    @property
    def widened_param(self) -> str:
        return self.name + "_widened"

    @property
    def pattern_param(self) -> str:
        return self.name + "_pattern"


_DEFAULT_CARD = Source(CARD, "card_info_jsonver", "c", "utf8", ("cityM_code", "provinceM_code"),
                       key="card_id")


def _company(column: str, widened: bool = False, item_lists: bool = False) -> Source:
    """A column of the default card's company row."""
    return Source(CARD, "company_info_jsonVer", "co", "utf8", (column,), "card_id", widened,
                  item_lists)


DIMENSIONS: Tuple[Dimension, ...] = (
    # Region: the profile's city (a province code also reaches the cities
    # inside it), and the city and province written on the default card.
    Dimension("region", (
        Source(PROFILE, "account_basic_detail", "d", PROFILE_CHARSET, ("city_code",),
               widened=True),
        _DEFAULT_CARD),
        Children("province_city_code", "province_code", "prefecture_code", "utf8mb4")),
    # Industry: the industry picked at first use and the default card's
    # company industry (a level-1 code also reaches the level-2 ones under it).
    Dimension("industry", (
        Source(USER, "account_basic_category_map", "m", "utf8mb4", ("category_id",),
               key="account_id", widened=True),
        _company("ind_code", widened=True)),
        Children("industry_category", "parent_id", "category_id", "utf8", ("", "0"))),
    # Function: the default card's company func_code, itself a list.
    Dimension("func", (_company("func_code", item_lists=True),)),
)
DIMENSION_NAMES = tuple(dimension.name for dimension in DIMENSIONS)
# The narrow plan starts from the first dimension (the region), through these
# columns' indexes (deploy/recommended_indexes.sql).
DRIVING = DIMENSIONS[0]


# ---------------------------------------------------------------- campaign lists

def parse_codes(field: str, text: Optional[str]) -> Tuple[str, ...]:
    """A target list as its distinct codes, in order; an invalid item fails the campaign."""
    if text is None:
        raise CampaignError(field, "is NULL")
    codes: List[str] = []
    for item in _SEPARATOR.split(text):
        item = item.strip()
        if not item or item in codes:
            continue
        if not _CODE.fullmatch(item):
            raise CampaignError(field, "invalid code %r (a code is 1-16 characters of "
                                       "0-9, A-Z, a-z, '_' and '-')" % item[:40])
        codes.append(item)
    return tuple(codes)


def item_pattern(codes: Tuple[str, ...]) -> str:
    """A REGEXP matching any of the codes as a whole item of a list."""
    return ITEM_PATTERN[0] + "|".join(codes) + ITEM_PATTERN[1]  # codes hold no metacharacters


@dataclass(frozen=True)
class Targeting:
    region: Tuple[str, ...]
    industry: Tuple[str, ...]
    func: Tuple[str, ...]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Targeting":
        return cls(*(parse_codes(field, row[field]) for field in DIMENSION_NAMES))

    def codes(self, dimension: str) -> Tuple[str, ...]:
        codes: Tuple[str, ...] = getattr(self, dimension)
        return codes

    def empty_dimensions(self) -> Tuple[str, ...]:
        return tuple(name for name in DIMENSION_NAMES if not self.codes(name))


# ---------------------------------------------------------------- the composer

def _convert(expression: str, charset: str, to: str) -> str:
    return expression if charset == to else "CONVERT(%s USING %s)" % (expression, to)


def _param(dimension: Dimension, source: Source) -> str:
    """The parameter a source's columns are compared with."""
    if source.item_lists:
        return dimension.pattern_param
    if source.widened and not dimension.children:
        raise ValueError("%s: a widened source needs the dimension's children" % source.table)
    return dimension.widened_param if source.widened else dimension.codes_param


def _tests(dimension: Dimension, source: Source) -> List[str]:
    """The comparisons of a source's columns with the campaign's codes."""
    compare = "REGEXP" if source.item_lists else "IN"
    return ["%s.%s %s %%(%s)s" % (source.alias, column, compare, _param(dimension, source))
            for column in source.columns]


def _condition(dimension: Dimension, source: Source) -> str:
    return " OR ".join(_tests(dimension, source))


def _grouped(condition: str) -> str:
    """A condition to AND with others: parenthesized when it is an OR."""
    return "(%s)" % condition if " OR " in condition else condition


def _negated(test: str) -> str:
    return test.replace(" IN %(", " NOT IN %(").replace(" REGEXP %(", " NOT REGEXP %(")


@dataclass(frozen=True)
class Scope:
    """How a statement names the user being matched and the user's default card
    (in the profile's charset)."""
    user: str = "d.user_id"
    card: str = "d.card_id"
    card_charset: str = PROFILE_CHARSET

    def key(self, source: Source) -> str:
        if source.of == USER:
            return self.user
        return _convert(self.card, self.card_charset, source.charset)


def _any_of(tests: List[str], indent: str) -> str:
    return tests[0] if len(tests) == 1 else "(%s)" % ("\n%sOR " % indent).join(tests)


def _as_set(dimension: Dimension, source: Source, scope: Scope) -> str:
    """Source matches as one in-memory set, built by one sequential pass over its
    table (IGNORE INDEX: per-user index lookups would be random reads)."""
    if source.of == PROFILE:
        return _condition(dimension, source)
    return ("{key} IN (\n            SELECT {a}.{k} FROM {t} {a} IGNORE INDEX ({k})\n"
            "            WHERE {c})").format(key=scope.key(source), a=source.alias, k=source.key,
                                            t=source.table, c=_condition(dimension, source))


def _as_lookup(dimension: Dimension, source: Source, scope: Scope) -> str:
    """Source matches as a scalar subquery: an index lookup for each user.
    Written as EXISTS, the optimizer may turn it into a full pass instead."""
    return ("(SELECT 1 FROM {t} {a}\n         WHERE {a}.{k} = {key} AND {c}\n"
            "         LIMIT 1)").format(t=source.table, a=source.alias, k=source.key,
                                        key=scope.key(source),
                                        c=_grouped(_condition(dimension, source)))


def _dimension_as_sets(dimension: Dimension, scope: Scope,
                       sources: Optional[Tuple[Source, ...]] = None) -> str:
    return _any_of([_as_set(dimension, source, scope)
                    for source in (sources or dimension.sources)], "       ")


def _dimension_as_lookups(dimension: Dimension, scope: Scope) -> str:
    profile = [_condition(dimension, source)
               for source in dimension.sources if source.of == PROFILE]
    lookups = [_as_lookup(dimension, source, scope)
               for source in dimension.sources if source.of != PROFILE]
    if lookups:
        found = lookups[0] if len(lookups) == 1 else \
            "COALESCE(\n        %s)" % ",\n        ".join(lookups)
        profile.append(found + " IS NOT NULL")
    return _any_of(profile, "       ")


# -- the scan plan: every profile read once, in order, each looked up in sets

def _matching_profiles() -> str:
    scope = Scope()
    return "d.card_id <> ''\n  AND " + "\n  AND ".join(
        _dimension_as_sets(dimension, scope) for dimension in DIMENSIONS)


def _scan_users() -> str:
    """The matching users' profiles, joined to their (active) accounts."""
    return ("FROM account_basic_detail d\n"
            "STRAIGHT_JOIN account_basic u ON u.user_id = d.user_id\n"
            "WHERE %s\n  AND u.status = 'active'" % _matching_profiles())


def _scan_user_ids() -> str:
    """The user audience needs no account column but the status: the active
    users are one more in-memory set, cheaper than an index lookup per profile."""
    return ("SELECT d.user_id AS recipient\nFROM account_basic_detail d\nWHERE %s\n"
            "  AND d.user_id IN (SELECT u.user_id FROM account_basic u IGNORE INDEX (user_id)\n"
            "                    WHERE u.status = 'active')" % _matching_profiles())


# -- the narrow plan: from the region's profiles and cards, through the indexes

def _narrow_users() -> str:
    """The region's profiles by their own columns, then (leaving those out, so
    UNION ALL never repeats a user) the profiles whose default card is one of
    the region's cards; each checked against the other dimensions by lookups."""
    profile = [s for s in DRIVING.sources if s.of == PROFILE]
    cards = [s for s in DRIVING.sources if s.of != PROFILE]
    if not profile or len(cards) != 1 or cards[0].of != CARD:
        raise ValueError("the narrow plan starts from profile columns and one card table")
    card = cards[0]
    tests = [test for source in profile for test in _tests(DRIVING, source)]
    return ("SELECT u.user_id, u.email, u.mobile\nFROM account_basic_detail d\n"
            "JOIN account_basic u ON u.user_id = d.user_id\nWHERE {by_profile}\n  {rest}\n"
            "UNION ALL\nSELECT u.user_id, u.email, u.mobile\n"
            "FROM (SELECT DISTINCT {card_id} AS card_id FROM {t} {a}\n"
            "      WHERE {c}) region_cards\n"
            "STRAIGHT_JOIN account_basic_detail d ON d.card_id = region_cards.card_id\n"
            "STRAIGHT_JOIN account_basic u ON u.user_id = d.user_id\n"
            "WHERE {not_by_profile}\n  {rest}").format(
        by_profile=_grouped(" OR ".join(tests)),
        not_by_profile=" AND ".join(map(_negated, tests)),
        rest=_narrow_checks(), t=card.table, a=card.alias,
        card_id=_convert("%s.%s" % (card.alias, card.key), card.charset, PROFILE_CHARSET),
        c=_condition(DRIVING, card))


def _narrow_checks() -> str:
    """What the narrow plan asks of a user of the region besides the region."""
    scope = Scope(user="u.user_id")
    return "AND u.status = 'active'\n  AND d.card_id <> ''\n  AND " + "\n  AND ".join(
        _dimension_as_lookups(dimension, scope)
        for dimension in DIMENSIONS if dimension is not DRIVING)


# -- card holders: cards whose own data matches, registered or not

def _card_holders() -> str:
    """Mobiles of the business cards whose own rows match every dimension."""
    scope = Scope(card="h.card_id", card_charset=_DEFAULT_CARD.charset)
    tests = []
    for dimension in DIMENSIONS:
        cards = tuple(source for source in dimension.sources if source.of == CARD)
        if not cards:
            raise ValueError("dimension %s has no card source for card holders" % dimension.name)
        tests.append(_dimension_as_sets(dimension, scope, cards))
    return ("SELECT TRIM(h.mobile) AS recipient\nFROM {t} h\n"
            "WHERE h.card_id <> '' AND TRIM(h.mobile) <> '' AND CHAR_LENGTH(TRIM(h.mobile)) <= 18"
            "\n  AND {tests}").format(t=_DEFAULT_CARD.table, tests="\n  AND ".join(tests))


# -- the audiences of each plan, their fills

AUDIENCE_KINDS = ("users", "emails", "mobiles", "mobiles_and_cards")
PLANS = ("scan", "narrow")
# The account column each address audience sends to; one row per address.
_ADDRESS = {"emails": "email", "mobiles": "mobile", "mobiles_and_cards": "mobile"}


def _audience(plan: str, kind: str) -> str:
    """One recipient per row, no duplicates."""
    if kind == "users":
        return _scan_user_ids() if plan == "scan" else \
            "SELECT m.user_id AS recipient FROM (%s) m" % _narrow_users()
    if plan == "scan":
        column = "u." + _ADDRESS[kind]
        matching = "%s\n  AND TRIM(%s) <> ''" % (_scan_users(), column)
    else:
        column = "m." + _ADDRESS[kind]
        matching = "FROM (%s) m\nWHERE TRIM(%s) <> ''" % (_narrow_users(), column)
    if kind == "mobiles_and_cards":  # UNION removes the duplicates
        return "SELECT TRIM(%s) AS recipient\n%s\nUNION\n%s" % (column, matching,
                                                              _card_holders())
    return "SELECT DISTINCT TRIM(%s) AS recipient\n%s" % (column, matching)


def fill_of(select: str, kind: str) -> str:
    """The statement that freezes an audience. A user audience is frozen in
    user_id order, so the chunks write message_queue's to_uid index in order,
    at its end (838k recipients: 7.6 s of writing instead of 10.4, for nothing
    at the freeze)."""
    fill = ("INSERT INTO mh_audience (run_id, recipient)\n"
            "SELECT %%(run_id)s, a.recipient FROM (%s) a" % select)
    return fill + "\nORDER BY a.recipient" if kind == "users" else fill


# -- preview's breakdown: the accounts each code reaches, in one statement

def _breakdown_joins(scope: Scope) -> List[str]:
    """Each matching account's rows of every source, through their indexes (one
    join per table, its rows matching any dimension), and the parents of the
    widened values: the profile first, then the card's rows, then the user's."""
    rank = {PROFILE: 0, CARD: 1, USER: 2}
    sources = sorted(((d, s) for d in DIMENSIONS for s in d.sources),
                     key=lambda pair: rank[pair[1].of])
    conditions: Dict[str, List[str]] = {}
    for dimension, source in sources:
        if source.of != PROFILE:
            conditions.setdefault(source.alias, []).append(_condition(dimension, source))
    lines: List[str] = []
    for dimension, source in sources:
        if source.alias in conditions:
            lines.append("LEFT JOIN {t} {a}\n       ON {a}.{k} = {key}\n      AND {c}".format(
                t=source.table, a=source.alias, k=source.key, key=scope.key(source),
                c=_grouped(" OR ".join(conditions.pop(source.alias)))))
        if source.widened and dimension.children:
            lines += [_parent_join(dimension.children, source, column)
                      for column in source.columns]
    return lines


def _parent_alias(source: Source, column: str) -> str:
    return "%s_%s_parent" % (source.alias, column)


def _parent_join(children: Children, source: Source, column: str) -> str:
    alias = _parent_alias(source, column)
    value = _convert("%s.%s" % (source.alias, column), source.charset, children.charset)
    join = "LEFT JOIN {t} {a} ON {a}.{child} = {value}".format(
        t=children.table, a=alias, child=children.child, value=value)
    if children.no_parent:
        join += " AND {a}.{parent} NOT IN ({none})".format(
            a=alias, parent=children.parent, none=", ".join(map(_literal, children.no_parent)))
    return join


def _literal(text: str) -> str:
    """A fixed value of this module as SQL text (letters and digits only)."""
    if not re.fullmatch("[0-9A-Za-z]*", text):
        raise ValueError("not a plain literal: %r" % text)
    return "'%s'" % text


def _code_matches(dimension: Dimension) -> str:
    """When a row k of campaign_code_rows (one code) matches an account."""
    tests = []
    for source in dimension.sources:
        for column in source.columns:
            value = "%s.%s" % (source.alias, column)
            if source.item_lists:  # LIKE spares the REGEXP for the codes a list cannot hold
                tests.append("({v} LIKE CONCAT('%%', k.code, '%%')\n           AND {v} REGEXP "
                             "CONCAT('{p0}', k.code, '{p1}'))".format(
                                 v=value, p0=ITEM_PATTERN[0], p1=ITEM_PATTERN[1]))
                continue
            tests.append("k.code = " + value)
            if source.widened and dimension.children:
                tests.append("k.code = %s.%s" % (_parent_alias(source, column),
                                                 dimension.children.parent))
    return "(k.dimension = '%s'\n      AND %s)" % (dimension.name,
                                                  _grouped("\n           OR ".join(tests)))


def _breakdown(plan: str) -> str:
    """The matching accounts, counted under every code they match, in one
    statement however many codes there are. The audience is computed first, as
    the send computes it in that plan (DISTINCT keeps the optimizer from merging
    it into the joins); then each account's rows are looked up through their
    indexes, and each code compared with columns (the codes come last, or the
    audience would be evaluated once per code). Row ('all', '') counts every
    account, ('email', '') and ('mobile', '') the ones with an address. At 1M
    users (data cached) a 1 % campaign's breakdown takes 1.2 s (16.1 s with sets
    of the whole card and company tables); 30 %: 22 s, 100 %: 78 s."""
    return ("SELECT k.dimension, k.code, COUNT(DISTINCT a.recipient) AS accounts\n"
            "FROM (SELECT DISTINCT x.recipient FROM (%s) x) a\n%s"
            % (_audience(plan, "users"), _breakdown_of_audience()))


def _breakdown_of_audience() -> str:
    """Each account of the audience `a` joined to its rows and to the codes it matches."""
    return "\n".join(
        ["STRAIGHT_JOIN account_basic_detail d ON d.user_id = a.recipient",
         "STRAIGHT_JOIN account_basic u ON u.user_id = a.recipient"]
        + _breakdown_joins(Scope(user="a.recipient"))
        + ["STRAIGHT_JOIN (%s) k" % Q.campaign_code_rows,
           "  ON k.dimension = 'all'",
           "  OR (k.dimension = 'email' AND TRIM(u.email) <> '')",
           "  OR (k.dimension = 'mobile' AND TRIM(u.mobile) <> '')"]
        + ["  OR " + _code_matches(dimension) for dimension in DIMENSIONS]
        + ["GROUP BY k.dimension, k.code"])


# -- choosing the plan, expanding the codes

def _expansion(children: Children) -> str:
    """The children of some codes."""
    sql = "SELECT {child} AS code FROM {t} WHERE {parent} IN %(codes)s".format(
        child=children.child, t=children.table, parent=children.parent)
    if children.no_parent:
        sql += " AND %s NOT IN (%s)" % (children.parent,
                                        ", ".join(map(_literal, children.no_parent)))
    return sql


def _region_reach() -> str:
    """How far the region reaches (its profiles plus its cards, index-only counts
    with the recommended indexes), and whether the tables the audience reads fit
    in the buffer pool."""
    counts = []
    for source in DRIVING.sources:
        counts.append("(SELECT COUNT(*) FROM {t} {a} WHERE {c})".format(
            t=source.table, a=source.alias, c=_condition(DRIVING, source)))
    return ("SELECT %s AS reach,\n"
            "       (SELECT table_rows FROM information_schema.TABLES\n"
            "        WHERE table_schema = DATABASE() AND table_name = 'account_basic_detail')"
            " AS users,\n"
            "       (SELECT SUM(data_length + index_length) FROM information_schema.TABLES\n"
            "        WHERE table_schema = DATABASE() AND table_name IN %%(tables)s)"
            " AS data_bytes,\n"
            "       @@innodb_buffer_pool_size AS buffer_pool_bytes" % "\n     + ".join(counts))


@dataclass(frozen=True)
class PlanStatements:
    """One plan's statements: each audience kind's SELECT and fill, and the breakdown."""
    selects: Mapping[str, str]
    fills: Mapping[str, str]
    breakdown: str


def _plan_statements(plan: str) -> PlanStatements:
    selects = {kind: _audience(plan, kind) for kind in AUDIENCE_KINDS}
    return PlanStatements(MappingProxyType(selects),
                          MappingProxyType({kind: fill_of(selects[kind], kind)
                                            for kind in AUDIENCE_KINDS}),
                          _breakdown(plan))


STATEMENTS: Mapping[str, PlanStatements] = MappingProxyType(
    {plan: _plan_statements(plan) for plan in PLANS})
CARD_HOLDERS = _card_holders()
EXPANSIONS: Mapping[str, str] = MappingProxyType(
    {d.name: _expansion(d.children) for d in DIMENSIONS if d.children})
REGION_REACH = _region_reach()
# The tables an audience reads, whose size the plan choice compares with the buffer pool.
AUDIENCE_TABLES = tuple(sorted({"account_basic", "account_basic_detail"}
                               | {s.table for d in DIMENSIONS for s in d.sources}))
# The columns the narrow plan starts from: it is chosen only when each is the
# first column of an index (deploy/recommended_indexes.sql, or an equivalent).
NARROW_INDEXES = frozenset((source.table, column) for source in DRIVING.sources
                           for column in source.columns)

# ---------------------------------------------------------------- the plan choice

# Whether the narrow plan still earns its code, and when it is chosen. Its
# index lookups are random reads: cheap while the tables fit in the buffer
# pool, disk reads in proportion to the share that does not. So it is chosen
# while the region reaches (profiles plus cards, over profiles) at most 30 %
# of the users, times the share of the audience tables the buffer pool holds.
# Measured (bench/plans.py for 200k; bench at commit d311648 for 1M), narrow
# against scan, with deploy/recommended_indexes.sql:
#   1M,   cached:      1 % campaign (reach ~6 %) 0.9 s against 3.6 s;
#                      reach 32 % 4.0 s against 9.0 s          (limit 30 %)
#   1M,   128 MiB:     reach 1.6 % 5.9 s against 8.3 s;
#                      reach 5.8 % 17.7 s against 9.0 s        (limit 2.6 %)
#   200k, cached:      reach 6 % 0.39 s against 2.80 s;
#                      reach 17 % 0.78 s against 1.87 s        (limit 30 %)
#   200k, 128 MiB:     reach 6 % 1.41 s against 2.62 s; 11.5 % 5.07 s against
#                      4.76 s; 17 % 7.15 s against 4.67 s      (limit 13 %)
# Choosing costs 0.1 s cached, 0.4-0.6 s at 128 MiB (200k users).
NARROW_MAX_SHARE = 0.30


def plan_for_reach(reach: Mapping[str, Any]) -> str:
    """The plan for a REGION_REACH row (the indexes being there)."""
    held = min(1.0, reach["buffer_pool_bytes"] / max(float(reach["data_bytes"] or 0), 1.0))
    limit = NARROW_MAX_SHARE * held * (reach["users"] or 0)
    return "narrow" if reach["reach"] <= limit else "scan"


# ---------------------------------------------------------------- the parameters
# Run by the store (mg_handling/store.py): the expansions first, then everything else.

def widenings(targeting: Targeting) -> List[Tuple[str, str, Tuple[str, ...]]]:
    """(parameter, expansion statement, codes) of every parameter that holds a
    dimension's codes widened with their children."""
    found: Dict[str, Tuple[str, str, Tuple[str, ...]]] = {}
    for dimension in DIMENSIONS:
        for source in dimension.sources:
            name = _param(dimension, source)
            if source.widened and not source.item_lists and name not in found:
                found[name] = (name, EXPANSIONS[dimension.name],
                               targeting.codes(dimension.name))
    return list(found.values())


def audience_params(targeting: Targeting, children: Mapping[str, Sequence[str]]
                    ) -> Dict[str, Any]:
    """The parameters of every targeting statement: each dimension's codes as
    written, widened with their `children` (per widened parameter), and as an
    item pattern."""
    params: Dict[str, Any] = {}
    for dimension in DIMENSIONS:
        codes = targeting.codes(dimension.name)
        for source in dimension.sources:
            name = _param(dimension, source)
            if source.item_lists:
                params[name] = item_pattern(codes)
            elif source.widened:
                params[name] = tuple(dict.fromkeys(codes + tuple(children[name])))
            else:
                params[name] = codes
    return params
