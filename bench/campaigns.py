"""The benchmark's campaigns: target code lists picked from the generated
distribution to reach an audience size, and the campaign rows themselves.

A campaign at fraction f of the users splits its selectivity over the three
dimensions. Code lists are picked greedily from each dimension's shares
(province or city, level-1 or level-2 industry, function), then the region list
is corrected once from the audience actually counted.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from common import execute, rows, scalar

from mg_handling.targeting import Targeting

NEWS, SMS = "news", "sms"


@dataclass
class Campaign:
    name: str              # e.g. news_30
    kind: str              # NEWS or SMS
    fraction: float        # the audience size aimed at, as a fraction of the users
    region: str = ""
    industry: str = ""
    func: str = ""
    campaign_id: int = 0
    audience: int = 0      # recipients, as the floor counted them
    shape: str = "scan"    # the floor's statement shape (floor.SHAPES)
    daemon_plan: str = ""  # the plan the daemon chooses for it, when it chooses
    counts: List[int] = field(default_factory=list)

    @property
    def table(self) -> str:
        return "sns_qa_push_setting" if self.kind == NEWS else "sys_user_promotion"

    @property
    def job(self) -> str:
        return "news" if self.kind == NEWS else "promotion"

    @property
    def output_table(self) -> str:
        return "message_queue" if self.kind == NEWS else "message_promotion"

    def targeting(self) -> Targeting:
        return Targeting.from_row({"region": self.region, "industry": self.industry,
                                   "func": self.func})


# ------------------------------------------------------------------ shares
@dataclass(frozen=True)
class Code:
    code: str
    share: float
    covers: Tuple[str, ...]  # the leaf codes it stands for (itself, or a parent's children)
    top: bool = True         # a province, a level-1 industry or a function: all of them = everyone


def region_codes(conn: Any) -> List[Code]:
    """Provinces and cities with the share of profiles in them."""
    counts = rows(conn, "SELECT p.province_code, p.prefecture_code, COUNT(d.id) AS n "
                        "FROM province_city_code p "
                        "LEFT JOIN account_basic_detail d ON d.city_code = p.prefecture_code "
                        "GROUP BY p.province_code, p.prefecture_code")
    return _with_parents(counts, "province_code", "prefecture_code")


def industry_codes(conn: Any) -> List[Code]:
    """Level-1 and level-2 industries with the share of companies in them."""
    counts = rows(conn, "SELECT i.parent_id, i.category_id, COUNT(co.id) AS n "
                        "FROM industry_category i "
                        "LEFT JOIN company_info_jsonVer co ON co.ind_code = i.category_id "
                        "WHERE i.parent_id NOT IN ('', '0') GROUP BY i.parent_id, i.category_id")
    return _with_parents(counts, "parent_id", "category_id")


def function_codes(conn: Any) -> List[Code]:
    """Function codes with the share of companies listing them (codes are F01-F99)."""
    codes = [row["code"] for row in rows(conn, "SELECT DISTINCT SUBSTR(func_code, 1, 3) AS code "
                                               "FROM company_info_jsonVer WHERE func_code <> ''")]
    total = scalar(conn, "SELECT COUNT(*) FROM company_info_jsonVer") or 1
    sums = ", ".join("SUM(func_code LIKE %s)" for _ in codes)
    counts = rows(conn, "SELECT %s FROM company_info_jsonVer" % sums,
                  ["%%%s%%" % code for code in codes])[0]
    return [Code(code, float(n or 0) / total, (code,)) for code, n in zip(codes, counts.values())]


def _with_parents(counts: List[Dict[str, Any]], parent: str, child: str) -> List[Code]:
    total = sum(row["n"] for row in counts) or 1
    children: Dict[str, List[Dict[str, Any]]] = {}
    for row in counts:
        children.setdefault(row[parent], []).append(row)
    codes = [Code(row[child], row["n"] / total, (row[child],), False) for row in counts]
    codes += [Code(code, sum(r["n"] for r in group) / total,
                   tuple(r[child] for r in group)) for code, group in children.items()]
    return codes


def pick(codes: List[Code], share: float) -> List[Code]:
    """Greedy: the biggest codes that do not overshoot `share`, without overlaps."""
    if share >= 0.999:
        return sorted((code for code in codes if code.top), key=lambda c: c.code)
    chosen: List[Code] = []
    covered: set = set()
    total = 0.0
    for code in sorted(codes, key=lambda c: (-c.share, c.code)):
        if total >= share * 0.97:
            break
        if covered.intersection(code.covers) or total + code.share > share * 1.03:
            continue
        chosen.append(code)
        covered.update(code.covers)
        total += code.share
    return chosen or sorted(codes, key=lambda c: c.share)[:1]


def code_list(codes: List[Code], separator: str = ",") -> str:
    return separator.join(code.code for code in codes)


# ------------------------------------------------------------------ plans
# Per dimension, the share of its codes; the product is the relative audience.
def dimension_shares(relative: float) -> Tuple[float, float, float]:
    """(region, industry, func) shares: a big audience splits evenly; a small one
    is mostly regional (a few cities), as marketing campaigns are."""
    if relative >= 0.999:
        return 1.0, 1.0, 1.0
    if relative >= 0.2:
        even = relative ** (1 / 3)
        return even, even, even
    return relative / 0.4, 0.6, 0.6


def plan_targets(conn: Any, campaign: Campaign, base_share: float,
                 count: Callable[[Campaign], int], users: int) -> None:
    """Fill the campaign's code lists so that its audience is about fraction * users."""
    relative = min(1.0, campaign.fraction / base_share)
    region_share, industry_share, func_share = dimension_shares(relative)
    regions = region_codes(conn)
    campaign.industry = code_list(pick(industry_codes(conn), industry_share))
    campaign.func = code_list(pick(function_codes(conn), func_share), "，")
    campaign.region = code_list(pick(regions, region_share))
    if relative >= 0.999:
        campaign.audience = count(campaign)
        return
    first = count(campaign)
    corrected = region_share * campaign.fraction * users / max(first, 1)
    campaign.region = code_list(pick(regions, min(corrected, 1.0)))
    campaign.counts = [first]
    campaign.audience = count(campaign)


# ------------------------------------------------------------------ rows
def news_content(campaign: Campaign) -> str:
    """A ~300-byte news message, as the admin backend writes it."""
    item = {"newsid": "bench-%s" % campaign.name,
            "title": "2026年数字名片行业白皮书发布：商务社交进入智能时代（%s）" % campaign.name,
            "url": "https://news.example.com/articles/%s" % campaign.name,
            "coverurl": "https://img.example.com/cover/%s.jpg" % campaign.name,
            "createdtime": 1764201600}
    return json.dumps({"messagetype": 230, "params": {"data": [item]}}, ensure_ascii=False)


SMS_CONTENT = ("<p>尊敬的用户：<br>年终名片升级活动开始啦 &amp; 限时免费！高级会员首月0元，"
               "名片扫描不限次数。回复TD退订。</p>")


def insert_campaign(conn: Any, campaign: Campaign) -> int:
    """The campaign row, already marked sent (status 2): make_due() arms it."""
    target = (campaign.region, campaign.industry, campaign.func)
    if campaign.kind == NEWS:
        execute(conn, "INSERT INTO sns_qa_push_setting (isnotice, push_time, region, industry,"
                      " func, content, created_time, admin_id, status)"
                      " VALUES (0, UNIX_TIMESTAMP(), %s, %s, %s, %s, UNIX_TIMESTAMP(),"
                      " 'bench-admin', 2)", target + (news_content(campaign),))
    else:
        execute(conn, "INSERT INTO sys_user_promotion (pro_id, type, isalluser, push_time,"
                      " region, industry, func, title, content, created_time, admin_id, status,"
                      " isntice, url, json_data) VALUES (MD5(%s), 3, 2, UNIX_TIMESTAMP(), %s,"
                      " %s, %s, '年终名片升级活动', %s, UNIX_TIMESTAMP(), 'bench-admin', 2, 0,"
                      " 'https://m.example.com/promo/bench', '')",
                (campaign.name,) + target + (SMS_CONTENT,))
    campaign.campaign_id = scalar(conn, "SELECT LAST_INSERT_ID()")
    return campaign.campaign_id


def make_due(conn: Any, campaign: Campaign) -> None:
    """Arm one campaign: due a minute ago, not sent; every other one stays sent."""
    execute(conn, "UPDATE `%s` SET status = 1, push_time = UNIX_TIMESTAMP() - 60 WHERE id = %%s"
            % campaign.table, [campaign.campaign_id])


def campaign_row(conn: Any, campaign: Campaign) -> Optional[Dict[str, Any]]:
    found = rows(conn, "SELECT * FROM `%s` WHERE id = %%s" % campaign.table,
                 [campaign.campaign_id])
    return found[0] if found else None
