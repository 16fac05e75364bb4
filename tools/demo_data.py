"""A realistic, deterministic demo data set for the legacy schema.

`load_demo_data(connection)` fills an EMPTY legacy schema (see
testkit/legacy_schema.sql, already created) through a PyMySQL
connection: regions, industries, users with their default cards and
companies, card holders who are not registered users, first-use industries,
and one due plus one not-yet-due campaign of each kind (news, SMS promotion,
activity). The same seed gives the same data; only the timestamps follow the
database clock.

Character sets: several legacy columns are utf8 (3-byte) and MariaDB's strict
mode rejects emoji there, so emoji appear only in utf8mb4 columns
(sns_qa_push_setting.content, sys_user_promotion.title).
"""
import datetime
import json
import random
import uuid
from typing import List, Sequence, Tuple

# (province_code, province, english, [(prefecture_code, city, english, capital, weight)])
# Real GB/T 2260 codes. The weight skews users towards the big cities.
PROVINCES = [
    ("110000", "北京市", "Beijing", [("110100", "北京市", "Beijing", 1, 180)]),
    ("310000", "上海市", "Shanghai", [("310100", "上海市", "Shanghai", 1, 170)]),
    ("120000", "天津市", "Tianjin", [("120100", "天津市", "Tianjin", 1, 14)]),
    ("440000", "广东省", "Guangdong", [
        ("440100", "广州市", "Guangzhou", 1, 100),
        ("440300", "深圳市", "Shenzhen", 0, 120),
        ("440400", "珠海市", "Zhuhai", 0, 6),
        ("440600", "佛山市", "Foshan", 0, 10),
        ("441300", "惠州市", "Huizhou", 0, 5),
        ("441900", "东莞市", "Dongguan", 0, 12),
        ("442000", "中山市", "Zhongshan", 0, 5),
    ]),
    ("330000", "浙江省", "Zhejiang", [
        ("330100", "杭州市", "Hangzhou", 1, 40),
        ("330200", "宁波市", "Ningbo", 0, 12),
        ("330300", "温州市", "Wenzhou", 0, 8),
        ("330400", "嘉兴市", "Jiaxing", 0, 4),
        ("330600", "绍兴市", "Shaoxing", 0, 4),
        ("330700", "金华市", "Jinhua", 0, 5),
    ]),
    ("320000", "江苏省", "Jiangsu", [
        ("320100", "南京市", "Nanjing", 1, 28),
        ("320200", "无锡市", "Wuxi", 0, 8),
        ("320400", "常州市", "Changzhou", 0, 5),
        ("320500", "苏州市", "Suzhou", 0, 25),
        ("320600", "南通市", "Nantong", 0, 4),
    ]),
    ("510000", "四川省", "Sichuan", [
        ("510100", "成都市", "Chengdu", 1, 35),
        ("510700", "绵阳市", "Mianyang", 0, 3),
        ("511100", "乐山市", "Leshan", 0, 2),
    ]),
    ("420000", "湖北省", "Hubei", [
        ("420100", "武汉市", "Wuhan", 1, 28),
        ("420500", "宜昌市", "Yichang", 0, 3),
        ("420600", "襄阳市", "Xiangyang", 0, 3),
    ]),
    ("370000", "山东省", "Shandong", [
        ("370100", "济南市", "Jinan", 1, 10),
        ("370200", "青岛市", "Qingdao", 0, 14),
        ("370600", "烟台市", "Yantai", 0, 4),
    ]),
    ("350000", "福建省", "Fujian", [
        ("350100", "福州市", "Fuzhou", 1, 8),
        ("350200", "厦门市", "Xiamen", 0, 12),
        ("350500", "泉州市", "Quanzhou", 0, 5),
    ]),
    ("410000", "河南省", "Henan", [
        ("410100", "郑州市", "Zhengzhou", 1, 12),
        ("410300", "洛阳市", "Luoyang", 0, 3),
    ]),
    ("430000", "湖南省", "Hunan", [
        ("430100", "长沙市", "Changsha", 1, 14),
        ("430200", "株洲市", "Zhuzhou", 0, 2),
    ]),
    ("610000", "陕西省", "Shaanxi", [
        ("610100", "西安市", "Xi'an", 1, 15),
        ("610300", "宝鸡市", "Baoji", 0, 2),
    ]),
]

# (level-1 code, name, weight, company-name suffixes, [(level-2 code, name)])
INDUSTRIES = [
    ("10", "信息技术", 30, ["科技", "网络科技", "信息技术", "软件"], [
        ("1001", "互联网"), ("1002", "软件开发"), ("1003", "电子商务"),
        ("1004", "通信"), ("1005", "人工智能")]),
    ("20", "金融", 15, ["投资", "金融服务", "资产管理"], [
        ("2001", "银行"), ("2002", "证券"), ("2003", "保险"), ("2004", "基金投资")]),
    ("30", "制造业", 14, ["制造", "机械", "电子", "新能源科技"], [
        ("3001", "汽车及零部件"), ("3002", "电子制造"), ("3003", "机械设备"),
        ("3004", "新能源")]),
    ("40", "房地产与建筑", 8, ["置业", "建设工程", "物业服务"], [
        ("4001", "房地产开发"), ("4002", "建筑工程"), ("4003", "物业管理")]),
    ("50", "教育培训", 8, ["教育科技", "培训"], [
        ("5001", "K12教育"), ("5002", "职业培训"), ("5003", "高等教育")]),
    ("60", "医疗健康", 8, ["医药", "医疗器械", "健康科技"], [
        ("6001", "医药"), ("6002", "医疗器械"), ("6003", "医疗服务")]),
    ("70", "商贸零售", 9, ["贸易", "商贸", "进出口"], [
        ("7001", "快速消费品"), ("7002", "批发贸易"), ("7003", "进出口贸易"),
        ("7004", "零售连锁")]),
    ("80", "专业服务", 8, ["咨询", "广告传媒", "人力资源服务"], [
        ("8001", "管理咨询"), ("8002", "法律服务"), ("8003", "广告传媒"),
        ("8004", "人力资源")]),
]

# (code, name, weight, titles)
FUNCTIONS = [
    ("F01", "销售", 20, ["销售总监", "销售经理", "大客户经理", "区域销售经理"]),
    ("F02", "市场", 12, ["市场总监", "市场经理", "品牌经理"]),
    ("F03", "研发", 15, ["研发工程师", "高级工程师", "技术总监", "架构师"]),
    ("F04", "产品", 8, ["产品经理", "高级产品经理", "产品总监"]),
    ("F05", "运营", 8, ["运营经理", "运营总监", "新媒体运营"]),
    ("F06", "人力资源", 5, ["人力资源经理", "招聘主管", "HRBP"]),
    ("F07", "财务", 6, ["财务经理", "财务总监", "会计"]),
    ("F08", "行政", 4, ["行政主管", "行政经理"]),
    ("F09", "法务", 2, ["法务经理", "法律顾问"]),
    ("F10", "客服", 4, ["客服主管", "客户成功经理"]),
    ("F11", "采购", 4, ["采购经理", "采购专员"]),
    ("F12", "生产", 4, ["生产经理", "厂长"]),
    ("F13", "设计", 4, ["设计总监", "UI设计师"]),
    ("F14", "管理", 8, ["总经理", "副总裁", "首席执行官", "合伙人"]),
    ("F15", "咨询", 3, ["咨询顾问", "高级顾问"]),
]

SURNAMES = [
    ("张", "zhang"), ("王", "wang"), ("李", "li"), ("刘", "liu"), ("陈", "chen"),
    ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
    ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"),
    ("郭", "guo"), ("何", "he"), ("林", "lin"), ("高", "gao"), ("罗", "luo"),
    ("郑", "zheng"), ("梁", "liang"), ("谢", "xie"), ("宋", "song"), ("唐", "tang"),
    ("许", "xu"), ("韩", "han"), ("冯", "feng"), ("邓", "deng"), ("曹", "cao"),
]
GIVEN_NAMES = [
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"),
    ("丽", "li"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
    ("勇", "yong"), ("艳", "yan"), ("杰", "jie"), ("娟", "juan"), ("涛", "tao"),
    ("明", "ming"), ("超", "chao"), ("秀英", "xiuying"), ("霞", "xia"), ("平", "ping"),
    ("刚", "gang"), ("桂英", "guiying"), ("建华", "jianhua"), ("晓东", "xiaodong"),
    ("子涵", "zihan"), ("雨轩", "yuxuan"), ("浩然", "haoran"), ("思远", "siyuan"),
    ("欣怡", "xinyi"), ("佳琪", "jiaqi"), ("志强", "zhiqiang"), ("海燕", "haiyan"),
    ("文博", "wenbo"), ("梓萱", "zixuan"), ("宇航", "yuhang"), ("婷婷", "tingting"),
]
BRANDS = [
    "星辰", "华信", "远航", "博雅", "鼎盛", "中科", "金桥", "云图", "天诚", "恒达",
    "瑞丰", "汇通", "锦程", "新锐", "百川", "宏图", "正和", "嘉禾", "启明", "领航",
    "智汇", "优品", "万象", "海纳",
]
EMAIL_DOMAINS = ["example.com", "example.cn", "example.net", "example.org"]
MOBILE_PREFIXES = "3456789"

# Cards of people who are not users: one per ten users (300 for 3000).
EXTRA_CARDS_PER_USER = 0.1

# Targeting of the campaigns (comma lists mixing province/city, level-1/level-2).
NEWS_DUE = dict(region="110000,440300,310100", industry="10,2001", func="F01,F03")
NEWS_LATER = dict(region="330000", industry="", func="")
PROMOTION_DUE = dict(region="440000,330100,320500", industry="20,1001,7003",
                     func="F01,F02,F14")
PROMOTION_LATER = dict(region="", industry="60", func="")
ACTIVITY_DUE = dict(region="110100,310000,440100,510100", industry="10,30,8003",
                    func="F03,F04,F05")
ACTIVITY_LATER = dict(region="420000", industry="50", func="F06")


def _hex_id(rng: random.Random) -> str:
    """A uuid4-looking 32-hex id drawn from the seeded generator."""
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


class _Gen:
    """All random choices, from one seeded generator, in a fixed order."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.mobiles = set()  # type: set
        self.ids = set()  # type: set
        self.cities = []  # (prefecture_code, city, english, province_code, province, province_en)
        weights = []
        for pcode, pname, pen, cities in PROVINCES:
            for ccode, cname, cen, _capital, weight in cities:
                self.cities.append((ccode, cname, cen, pcode, pname, pen))
                weights.append(weight)
        self.city_weights = weights
        self.level2 = []  # (code, name, level-1 code)
        l2_weights = []
        for code1, _name1, weight, _suffixes, children in INDUSTRIES:
            for code2, name2 in children:
                self.level2.append((code2, name2, code1))
                l2_weights.append(weight / len(children))
        self.level2_weights = l2_weights
        self.suffixes = {code1: suffixes for code1, _n, _w, suffixes, _c in INDUSTRIES}

    def hex_id(self) -> str:
        while True:
            value = _hex_id(self.rng)
            if value not in self.ids:
                self.ids.add(value)
                return value

    def mobile(self) -> str:
        while True:
            value = "1%s%09d" % (self.rng.choice(MOBILE_PREFIXES),
                                 self.rng.randrange(10 ** 9))
            if value not in self.mobiles:
                self.mobiles.add(value)
                return value

    def person(self) -> Tuple[str, str, str, str]:
        surname, sur_py = self.rng.choice(SURNAMES)
        given, given_py = self.rng.choice(GIVEN_NAMES)
        return surname + given, sur_py, given_py, "%s %s" % (given_py.capitalize(),
                                                             sur_py.capitalize())

    def city(self) -> tuple:
        return self.rng.choices(self.cities, weights=self.city_weights)[0]

    def industry(self) -> tuple:
        return self.rng.choices(self.level2, weights=self.level2_weights)[0]

    def functions(self) -> List[tuple]:
        count = self.rng.choices([1, 2, 3], weights=[55, 33, 12])[0]
        chosen = []  # type: List[tuple]
        pool = list(FUNCTIONS)
        for _ in range(count):
            pick = self.rng.choices(pool, weights=[f[2] for f in pool])[0]
            pool.remove(pick)
            chosen.append(pick)
        return chosen

    def func_fields(self, functions: Sequence[tuple]) -> Tuple[str, str]:
        """(func_code, func_name); the code list sometimes uses '，' or ', '."""
        separator = self.rng.choices([",", "，", ", "], weights=[84, 8, 8])[0]
        codes = separator.join(f[0] for f in functions)
        names = ",".join(f[1] for f in functions)
        return codes, names


def _company_row(gen: _Gen, card_id: str, user_id: str, city: tuple) -> tuple:
    code2, name2, code1 = gen.industry()
    functions = gen.functions()
    func_code, func_name = gen.func_fields(functions)
    city_short = city[1][:-1] if city[1].endswith("市") else city[1]
    kind = "股份有限公司" if gen.rng.random() < 0.15 else "有限公司"
    company = "%s%s%s%s" % (city_short, gen.rng.choice(BRANDS),
                            gen.rng.choice(gen.suffixes[code1]), kind)
    title = gen.rng.choice(functions[0][3])
    return (card_id, user_id, company, name2, code2, title, func_name, func_code)


def _card_rows(gen: _Gen, card_id: str, user_id: str, name: str, english: str,
               mobile: str, city: tuple, created: str) -> List[tuple]:
    """Side 0 (Chinese) always, side 1 (English back side) for some cards."""
    ccode, cname, cen, pcode, pname, pen = city
    if gen.rng.random() < 0.03:  # address without a city on the card
        ccode, cname = "", ""
    rows = [(card_id, user_id, 0, name, mobile, pname, pcode, cname, ccode,
             created, created)]
    if gen.rng.random() < 0.4:
        if gen.rng.random() < 0.7:
            rows.append((card_id, user_id, 1, english, mobile, pen, pcode, cen,
                         ccode, created, created))
        else:  # back side with a name and a number only
            rows.append((card_id, user_id, 1, english, mobile, "", "", "", "",
                         created, created))
    return rows


def _news_content(items: List[Tuple[str, str]], created: int) -> str:
    data = []
    for index, (newsid, title) in enumerate(items):
        data.append({
            "newsid": newsid,
            "title": title,
            "url": "https://news.example.com/%s" % newsid,
            "coverurl": "https://img.example.com/%s.jpg" % newsid,
            "createdtime": created - 600 * index,
        })
    return json.dumps({"messagetype": 230, "params": {"data": data}},
                      ensure_ascii=False)


def _datetime_text(ts: int) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def load_demo_data(connection, seed: int = 2026, users: int = 3000) -> dict:
    """Fill an empty legacy schema with demo data and commit.

    Returns a summary: row counts per table plus `campaigns`, a list of
    {kind, table, id, uid, title, due, push_time, region, industry, func}
    (uid is pro_id / activity_id where the table has one, else '').
    """
    gen = _Gen(seed)
    rng = gen.rng
    with connection.cursor() as cursor:
        cursor.execute("SELECT UNIX_TIMESTAMP()")
        now = int(cursor.fetchone()[0])

    # -- reference data
    region_rows = []
    for pcode, pname, _pen, cities in PROVINCES:
        for ccode, cname, _cen, capital, _weight in cities:
            region_rows.append(("86", "中国", pcode, pname, ccode, cname, capital))
    industry_rows = []
    for code1, name1, _weight, _suffixes, children in INDUSTRIES:
        industry_rows.append((code1, "0", name1))
        for code2, name2 in children:
            industry_rows.append((code2, code1, name2))

    # -- users, their default cards and companies
    account_rows, detail_rows, map_rows = [], [], []
    card_rows, company_rows = [], []
    user_ids = []
    default_cards = 0
    active = 0
    for _ in range(users):
        user_id = gen.hex_id()
        user_ids.append(user_id)
        name, sur_py, given_py, english = gen.person()
        mobile = gen.mobile()
        email = ""
        if rng.random() < 0.7:
            email = "%s.%s%s@%s" % (given_py, sur_py,
                                    rng.choice(["", str(rng.randrange(1, 999))]),
                                    rng.choice(EMAIL_DOMAINS))
        status = "active" if rng.random() < 0.95 else "inactive"
        active += status == "active"
        account_rows.append((user_id, "86", mobile, email, status))

        city = gen.city()
        city_code = city[0] if rng.random() < 0.98 else ""
        created = now - rng.randrange(3600, 3 * 365 * 86400)
        card_id = ""
        if rng.random() < 0.9:
            card_id = gen.hex_id()
            default_cards += 1
            card_city = city if rng.random() < 0.85 else gen.city()
            card_mobile = mobile if rng.random() < 0.85 else gen.mobile()
            card_rows.extend(_card_rows(gen, card_id, user_id, name, english,
                                        card_mobile, card_city,
                                        _datetime_text(created + 300)))
            company_rows.append(_company_row(gen, card_id, user_id, card_city))
        detail_rows.append((user_id, name, card_id, city_code, created))

        if rng.random() < 0.6:
            code2, _name2, code1 = gen.industry()
            map_rows.append((user_id, code2 if rng.random() < 0.8 else code1))

    # -- cards of people who are not registered (saved by some user)
    registered_mobiles = [row[2] for row in account_rows]
    extra_cards = int(users * EXTRA_CARDS_PER_USER)
    for _ in range(extra_cards):
        card_id = gen.hex_id()
        saver = rng.choice(user_ids)
        name, _sur, _given, english = gen.person()
        if rng.random() < 0.05:  # the holder registered later with another card
            mobile = rng.choice(registered_mobiles)
        else:
            mobile = gen.mobile()
        city = gen.city()
        created = now - rng.randrange(3600, 2 * 365 * 86400)
        card_rows.extend(_card_rows(gen, card_id, saver, name, english, mobile,
                                    city, _datetime_text(created)))
        company_rows.append(_company_row(gen, card_id, saver, city))

    # -- campaigns: one due and one for tomorrow, per kind
    admin_id = gen.hex_id()
    due, later = now - 60, now + 86400
    news_due = _news_content([
        ("n1001", "2026年数字名片行业白皮书发布 📈"),
        ("n1002", "AI 名片识别准确率再创新高，商务社交更高效 🤖"),
        ("n1003", "春季商务社交指南：三步拓展你的人脉圈 🤝"),
    ], now - 1800)
    news_later = _news_content([
        ("n1004", "明日预告：浙江数字经济峰会开幕 🚀"),
        ("n1005", "如何用电子名片管理客户关系"),
    ], now - 900)
    promo_due_title = "年终名片升级活动 🎉"
    promo_due = ("<p>尊敬的用户：<br>年终名片升级活动开始啦 &amp; 限时免费！"
                 "高级会员首月0元，名片扫描不限次数，回复TD退订。</p>")
    promo_later_title = "医疗行业专属名片模板上线 💊"
    promo_later = "<p>尊敬的用户：<br>医疗行业专属名片模板明日上线，敬请期待。</p>"
    act_due_title = "名片达人挑战赛：晒名片赢好礼"
    act_due = ("上传你的电子名片并分享给3位好友，即可参与抽奖，"
               "奖品包括智能手机、京东卡等。活动限时7天，快来参加吧！")
    act_later_title = "教师节专场：免费定制教师名片"
    act_later = "教育行业用户可免费定制一款精美电子名片，名额有限，先到先得。"

    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO province_city_code (country_code, country, province_code,"
            " province, prefecture_code, city, capital) VALUES (%s,%s,%s,%s,%s,%s,%s)",
            region_rows)
        cursor.executemany(
            "INSERT INTO industry_category (category_id, parent_id, name)"
            " VALUES (%s,%s,%s)", industry_rows)
        cursor.executemany(
            "INSERT INTO account_basic (user_id, mcode, mobile, email, status)"
            " VALUES (%s,%s,%s,%s,%s)", account_rows)
        cursor.executemany(
            "INSERT INTO account_basic_detail (user_id, real_name, card_id, city_code,"
            " created_time) VALUES (%s,%s,%s,%s,%s)", detail_rows)
        cursor.executemany(
            "INSERT INTO account_basic_category_map (account_id, category_id)"
            " VALUES (%s,%s)", map_rows)
        cursor.executemany(
            "INSERT INTO card_info_jsonver (card_id, user_id, side, name, mobile,"
            " provinceM, provinceM_code, cityM, cityM_code, created_time,"
            " updated_time) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", card_rows)
        cursor.executemany(
            "INSERT INTO company_info_jsonVer (card_id, user_id, companyName, industry,"
            " ind_code, title, func_name, func_code) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)",
            company_rows)

        campaigns = []

        def news(content: str, push_time: int, target: dict) -> None:
            cursor.execute(
                "INSERT INTO sns_qa_push_setting (isnotice, push_time, region, industry,"
                " func, content, created_time, admin_id, status)"
                " VALUES (0,%s,%s,%s,%s,%s,%s,%s,1)",
                (push_time, target["region"], target["industry"], target["func"],
                 content, now - 3600, admin_id))
            title = json.loads(content)["params"]["data"][0]["title"]
            campaigns.append(dict(kind="news", table="sns_qa_push_setting",
                                  id=cursor.lastrowid, uid="", title=title,
                                  due=push_time <= now, push_time=push_time, **target))

        def promotion(title: str, content: str, push_time: int, target: dict,
                      url: str) -> None:
            pro_id = gen.hex_id()
            cursor.execute(
                "INSERT INTO sys_user_promotion (pro_id, type, isalluser, push_time,"
                " region, industry, func, title, content, created_time, admin_id,"
                " status, isntice, url, json_data)"
                " VALUES (%s,3,2,%s,%s,%s,%s,%s,%s,%s,%s,1,0,%s,'')",
                (pro_id, push_time, target["region"], target["industry"],
                 target["func"], title, content, now - 3600, admin_id, url))
            campaigns.append(dict(kind="promotion", table="sys_user_promotion",
                                  id=cursor.lastrowid, uid=pro_id, title=title,
                                  due=push_time <= now, push_time=push_time, **target))

        def activity(title: str, content: str, online: int, target: dict,
                     slug: str) -> None:
            activity_id = gen.hex_id()
            cursor.execute(
                "INSERT INTO operation_activity (activity_id, type, isnotify,"
                " push_state, region, industry, func, show_id, image, title, content,"
                " onlinetime, offlinetime, user_id, created_time, modify_time, state,"
                " url, json_data)"
                " VALUES (%s,1,2,1,%s,%s,%s,'',%s,%s,%s,%s,%s,%s,%s,%s,2,%s,'')",
                (activity_id, target["region"], target["industry"], target["func"],
                 "https://img.example.com/activity/%s.jpg" % slug, title, content,
                 online, online + 7 * 86400, admin_id, now - 7200, now - 3600,
                 "https://m.example.com/activity/%s" % slug))
            campaigns.append(dict(kind="activity", table="operation_activity",
                                  id=cursor.lastrowid, uid=activity_id, title=title,
                                  due=online <= now, push_time=online, **target))

        news(news_due, due, NEWS_DUE)
        news(news_later, later, NEWS_LATER)
        promotion(promo_due_title, promo_due, due, PROMOTION_DUE,
                  "https://m.example.com/promo/2026-yearend")
        promotion(promo_later_title, promo_later, later, PROMOTION_LATER,
                  "https://m.example.com/promo/medical-template")
        activity(act_due_title, act_due, due, ACTIVITY_DUE, "card-star-2026")
        activity(act_later_title, act_later, later, ACTIVITY_LATER, "teachers-day")
    connection.commit()

    return {
        "now": now,
        "seed": seed,
        "provinces": len(PROVINCES),
        "cities": len(region_rows),
        "industries": len(industry_rows),
        "functions": len(FUNCTIONS),
        "users": users,
        "active_users": active,
        "users_with_card": default_cards,
        "extra_cards": extra_cards,
        "cards": default_cards + extra_cards,
        "card_rows": len(card_rows),
        "company_rows": len(company_rows),
        "category_maps": len(map_rows),
        "campaigns": campaigns,
    }
