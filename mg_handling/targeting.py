"""Who receives a campaign: parsing its target lists and filling its audience.

A campaign names comma-separated code lists for three dimensions: region,
industry and function. A user receives it when each dimension matches
(OR inside a list, AND across the three); the matching itself runs on the
database server as one INSERT ... SELECT into the campaign's frozen audience.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from mg_handling.errors import CampaignError
from mg_handling.queries import Q
from util.db import Transaction

DIMENSIONS = ("region", "industry", "func")
_SEPARATOR = re.compile("[,\uff0c]")  # ',' and the full-width '，'
_CODE = re.compile(r"[0-9A-Za-z_-]{1,16}")

# What an audience is made of: the SELECT of its recipients, and the
# statement that freezes them into mh_audience, in the scan plan; the narrow
# plan finds the same recipients starting from the region (see queries.sql).
AUDIENCE_KINDS = ("users", "emails", "mobiles", "mobiles_and_cards")
AUDIENCE_SELECTS = {kind: getattr(Q, "audience_" + kind) for kind in AUDIENCE_KINDS}
AUDIENCE_FILLS = {kind: getattr(Q, "fill_audience_" + kind) for kind in AUDIENCE_KINDS}
NARROW_SELECTS = {kind: getattr(Q, "audience_%s_narrow" % kind) for kind in AUDIENCE_KINDS}
NARROW_FILLS = {kind: getattr(Q, "fill_audience_%s_narrow" % kind) for kind in AUDIENCE_KINDS}
# The narrow plan pays off while the region reaches at most this share of the
# users (region users plus region cards, over users). Its index lookups are
# random reads: cheap while the tables fit in the buffer pool, slow when they
# do not. Measured at 1M users (README "Performance"): cached, narrow wins even
# at 32 % reach (4.0 s against 9.0 s); at a 128 MiB buffer pool it wins at
# 1.6 % (5.9 s against 8.3 s) and loses at 5.8 % (17.7 s against 9.0 s).
NARROW_MAX_SHARE_CACHED = 0.30
NARROW_MAX_SHARE_UNCACHED = 0.025
# The indexes the narrow plan starts from (deploy/recommended_indexes.sql).
NARROW_INDEXES = {("account_basic_detail", "city_code"), ("card_info_jsonver", "cityM_code"),
                  ("card_info_jsonver", "provinceM_code")}


def parse_codes(field: str, text: Optional[str]) -> Tuple[str, ...]:
    """A target list as its distinct codes, in order; an invalid item fails the campaign."""
    if text is None:
        raise CampaignError(field, "is NULL")
    codes = []
    for item in _SEPARATOR.split(text):
        item = item.strip()
        if not item or item in codes:
            continue
        if not _CODE.fullmatch(item):
            raise CampaignError(field, "invalid code %r (a code is 1-16 characters of "
                                       "0-9, A-Z, a-z, '_' and '-')" % item[:40])
        codes.append(item)
    return tuple(codes)


@dataclass(frozen=True)
class Targeting:
    region: Tuple[str, ...]
    industry: Tuple[str, ...]
    func: Tuple[str, ...]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Targeting":
        return cls(*(parse_codes(field, row[field]) for field in DIMENSIONS))

    def empty_dimensions(self) -> Tuple[str, ...]:
        return tuple(field for field in DIMENSIONS if not getattr(self, field))

    def func_pattern(self) -> str:
        """A REGEXP matching any of the codes as a whole item of a func_code list."""
        alternatives = "|".join(self.func)  # codes hold no regex metacharacters
        return "(^|,|\uff0c)[[:space:]]*(%s)[[:space:]]*(,|\uff0c|$)" % alternatives

    def query_params(self, transaction: Transaction) -> Dict[str, Any]:
        """The parameters of the audience statements, with the code lists expanded."""
        cities = _expand(transaction, Q.cities_in_provinces, self.region)
        industries = _expand(transaction, Q.industries_under, self.industry)
        return {"regions": self.region, "cities": cities, "industries": industries,
                "func_pattern": self.func_pattern()}


def _expand(transaction: Transaction, sql: str, codes: Tuple[str, ...]) -> Tuple[str, ...]:
    children = [row["code"] for row in transaction.all(sql, {"codes": codes})]
    return tuple(dict.fromkeys(codes + tuple(children)))


def choose_plan(transaction: Transaction, params: Dict[str, Any]) -> str:
    """'narrow' for a small region when its indexes exist, else 'scan'."""
    indexed = {(row["table_name"], row["column_name"])
               for row in transaction.all(Q.indexed_columns)}
    if not NARROW_INDEXES <= indexed:
        return "scan"
    return plan_for_reach(transaction.one(Q.region_reach, params))


def plan_for_reach(reach: Dict[str, Any]) -> str:
    """The plan for a region_reach row (the indexes being there)."""
    cached = (reach["data_bytes"] or 0) <= reach["buffer_pool_bytes"]
    share = NARROW_MAX_SHARE_CACHED if cached else NARROW_MAX_SHARE_UNCACHED
    return "narrow" if reach["reach"] <= share * (reach["users"] or 0) else "scan"


def fill_audience(transaction: Transaction, run_id: int, audience: str,
                  targeting: Targeting) -> Tuple[int, str]:
    """Freeze the campaign's recipients into mh_audience, replacing any earlier
    try; returns how many, and the plan used."""
    transaction.execute(Q.clear_audience, {"run_id": run_id})
    params = targeting.query_params(transaction)
    plan = choose_plan(transaction, params)
    params["run_id"] = run_id
    fills = NARROW_FILLS if plan == "narrow" else AUDIENCE_FILLS
    return transaction.execute(fills[audience], params), plan
