"""MariaDB's own floor: ONE hand-written INSERT ... SELECT writing exactly the rows
the daemon writes for a campaign; its SELECT is also the legacy daemon's query.

The matching follows README "Who receives a campaign", written for speed:
- the province and parent-industry expansions are subqueries of the statement
  itself (no round trip);
- the card-side conditions are semi-joins on the card_id indexes, the account
  side converted to the card tables' utf8 so the index is used; the card region
  is a non-correlated IN, materialized once instead of one lookup per user;
- three shapes: `scan` reads every profile once and joins the rest; `sets`
  reads every profile once and looks it up in in-memory sets (the IN
  subqueries behind ORs, and the active users as a set), as the daemon's scan
  plan does; `narrow` starts from the region's profiles and cards (a UNION of
  ids, through the indexes of deploy/recommended_indexes.sql when they exist).
  The benchmark tries the variants that can win and keeps the fastest (see
  run.py);
- SET STATEMENT lifts the in-memory temporary table limit and, for the scan,
  enables hash joins, for this statement only; no ORDER BY (the floor owes no
  order).
The message is the daemon's own Delivery, so content, title and type are
byte-identical to the daemon's rows.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

from campaigns import NEWS, Campaign

from mg_handling.messages import Delivery

try:
    from mg_handling.targeting import item_pattern
except ImportError:  # a daemon from before the composer (MH_DAEMON_ROOT: a baseline)
    from mg_handling.targeting import Targeting

    def item_pattern(codes: Tuple[str, ...]) -> str:
        return Targeting((), (), codes).func_pattern()

# Per shape: the scan joins most rows (hash joins help when the data is cached),
# scan_plain is the same statement with the server's own settings, the narrow
# shape joins few rows.
HINTS = {"scan": "SET STATEMENT tmp_table_size = 1073741824, max_heap_table_size = 1073741824,"
                 " join_cache_level = 8 FOR\n",
         "sets": "SET STATEMENT tmp_table_size = 1073741824, max_heap_table_size = 1073741824"
                 " FOR\n",
         "scan_plain": "",
         "narrow": "SET STATEMENT tmp_table_size = 1073741824, max_heap_table_size = 1073741824"
                   " FOR\n"}
BODY = {"scan": "scan", "sets": "sets", "scan_plain": "scan", "narrow": "narrow"}
SHAPES = tuple(HINTS)

CHILD_INDUSTRIES = """(SELECT category_id FROM industry_category
                WHERE parent_id IN %(industries)s AND parent_id NOT IN ('', '0'))"""

REGION_CARDS = """(SELECT c.card_id FROM card_info_jsonver c
                   WHERE c.cityM_code IN %(regions)s OR c.provinceM_code IN %(regions)s)"""

REGION = """(d.city_code IN %(regions)s
       OR d.city_code IN (SELECT prefecture_code FROM province_city_code
                          WHERE province_code IN %(regions)s)
       OR CONVERT(d.card_id USING utf8) IN {cards})""".replace("{cards}", REGION_CARDS)

INDUSTRY = """(EXISTS (SELECT 1 FROM account_basic_category_map m
               WHERE m.account_id = u.user_id
                 AND (m.category_id IN %(industries)s OR m.category_id IN {children}))
       OR EXISTS (SELECT 1 FROM company_info_jsonVer ci
                  WHERE ci.card_id = CONVERT(d.card_id USING utf8)
                    AND (ci.ind_code IN %(industries)s OR ci.ind_code IN {children})))""" \
    .replace("{children}", CHILD_INDUSTRIES)

INDUSTRY_SETS = """(d.user_id IN (SELECT m.account_id FROM account_basic_category_map m
                    WHERE m.category_id IN %(industries)s OR m.category_id IN {children})
       OR CONVERT(d.card_id USING utf8) IN (
            SELECT ci.card_id FROM company_info_jsonVer ci
            WHERE ci.ind_code IN %(industries)s OR ci.ind_code IN {children}))""" \
    .replace("{children}", CHILD_INDUSTRIES)

FUNCTION_SET = """CONVERT(d.card_id USING utf8) IN (
            SELECT cf.card_id FROM company_info_jsonVer cf
            WHERE cf.func_code REGEXP %(func_pattern)s)"""

ACTIVE_USERS_SET = """d.user_id IN (SELECT au.user_id FROM account_basic au
                    WHERE au.status = 'active')"""

FUNCTION = """EXISTS (SELECT 1 FROM company_info_jsonVer cf
              WHERE cf.card_id = CONVERT(d.card_id USING utf8)
                AND cf.func_code REGEXP %(func_pattern)s)"""

# The profiles of the region, each once: by city, by the province's cities, by card.
NARROW_SOURCE = """(SELECT p1.id FROM account_basic_detail p1 WHERE p1.city_code IN %(regions)s
      UNION
      SELECT p2.id FROM province_city_code pc
      JOIN account_basic_detail p2 ON p2.city_code = pc.prefecture_code
      WHERE pc.province_code IN %(regions)s
      UNION
      SELECT p3.id FROM card_info_jsonver c3
      JOIN account_basic_detail p3 ON p3.card_id = c3.card_id
      WHERE c3.cityM_code IN %(regions)s OR c3.provinceM_code IN %(regions)s) region
JOIN account_basic_detail d ON d.id = region.id"""

MATCHING_USERS = {
    "scan": """FROM account_basic_detail d
JOIN account_basic u ON u.user_id = d.user_id
WHERE u.status = 'active' AND d.card_id <> ''
  AND {region}
  AND {industry}
  AND {function}""".format(region=REGION, industry=INDUSTRY, function=FUNCTION),
    "sets": """FROM account_basic_detail d
STRAIGHT_JOIN account_basic u ON u.user_id = d.user_id
WHERE d.card_id <> ''
  AND {region}
  AND {industry}
  AND {function}
  AND u.status = 'active'""".format(region=REGION, industry=INDUSTRY_SETS, function=FUNCTION_SET),
    "narrow": """FROM {source}
JOIN account_basic u ON u.user_id = d.user_id
WHERE u.status = 'active' AND d.card_id <> ''
  AND {industry}
  AND {function}""".format(source=NARROW_SOURCE, industry=INDUSTRY, function=FUNCTION),
}

# Cards whose own rows match, registered or not (SMS to "all users").
MATCHING_CARD_MOBILES = """SELECT TRIM(c.mobile) AS recipient
FROM card_info_jsonver c
WHERE c.card_id <> '' AND TRIM(c.mobile) <> '' AND CHAR_LENGTH(TRIM(c.mobile)) <= 18
  AND c.card_id IN (SELECT r.card_id FROM card_info_jsonver r
                    WHERE r.cityM_code IN %(regions)s OR r.provinceM_code IN %(regions)s)
  AND EXISTS (SELECT 1 FROM company_info_jsonVer ci WHERE ci.card_id = c.card_id
              AND (ci.ind_code IN %(industries)s OR ci.ind_code IN {children}))
  AND EXISTS (SELECT 1 FROM company_info_jsonVer cf WHERE cf.card_id = c.card_id
              AND cf.func_code REGEXP %(func_pattern)s)""".replace("{children}", CHILD_INDUSTRIES)

WRITE = {
    NEWS: """INSERT INTO message_queue
    (type, to_uid, from_uid, content, nflag, created_time, modified_time, isread, title)
SELECT %(message_type)s, x.recipient, %(from_uid)s, %(content)s, 0,
       CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED),
       CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED), 0, %(title)s
FROM ({audience}) x""",
    "sms": """INSERT INTO message_promotion
    (type, mobile, email, title, content, created_time, modified_time, status)
SELECT %(message_type)s, x.recipient, '', %(title)s, %(content)s,
       UNIX_TIMESTAMP(), UNIX_TIMESTAMP(), 0
FROM ({audience}) x""",
}


def audience_select(kind: str, shape: str) -> str:
    """The recipients of a campaign, one row each, without hints."""
    users = MATCHING_USERS[BODY[shape]]
    if kind == NEWS and shape == "sets":  # no account column needed: the active users as a set
        return ("SELECT d.user_id AS recipient\n" + users.replace(
            "STRAIGHT_JOIN account_basic u ON u.user_id = d.user_id\n", "").replace(
            "u.status = 'active'", ACTIVE_USERS_SET))
    if kind == NEWS:
        return "SELECT u.user_id AS recipient\n" + users
    return ("SELECT TRIM(u.mobile) AS recipient\n" + users + "\n  AND TRIM(u.mobile) <> ''"
            "\nUNION\n" + MATCHING_CARD_MOBILES)


def audience_sql(campaign: Campaign, shape: str) -> str:
    """The audience query as the legacy daemon would send it (with the floor's hints)."""
    return HINTS[shape] + audience_select(campaign.kind, shape)


def count_sql(campaign: Campaign, shape: str) -> str:
    return HINTS[shape] + "SELECT COUNT(*) FROM (%s) a" % audience_select(campaign.kind, shape)


def floor_sql(campaign: Campaign, shape: str) -> str:
    return HINTS[shape] + WRITE[campaign.kind].replace("{audience}",
                                                       audience_select(campaign.kind, shape))


def target_params(campaign: Campaign) -> Dict[str, Any]:
    """The campaign's code lists, parsed by the daemon's own Targeting."""
    targeting = campaign.targeting()
    return {"regions": targeting.region, "industries": targeting.industry,
            "func_pattern": item_pattern(targeting.func)}


def floor_params(campaign: Campaign, delivery: Delivery) -> Dict[str, Any]:
    params = target_params(campaign)
    params.update(message_type=delivery.message_type, from_uid=delivery.from_uid,
                  title=delivery.title, content=delivery.content)
    return params
