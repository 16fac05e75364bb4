"""Reference data of the benchmark's data set: regions, industries, functions, names.

Regions follow GB/T 2260: 31 provinces with their real codes and the real names
of their 337 prefecture-level divisions, numbered in order inside each province
(ppNN00). Lists are ordered; the generator turns an order into a size rank with
BIG_CITIES first, so a few big cities hold most users.
"""
from __future__ import annotations

from typing import List, Tuple

# (province code, province, short city names in order); a name ending in 州 with
# more than two characters, 盟 or 地区 is complete, the others get 市.
PROVINCES: List[Tuple[str, str, str]] = [
    ("110000", "北京市", "北京"),
    ("120000", "天津市", "天津"),
    ("130000", "河北省", "石家庄 唐山 秦皇岛 邯郸 邢台 保定 张家口 承德 沧州 廊坊 衡水"),
    ("140000", "山西省", "太原 大同 阳泉 长治 晋城 朔州 晋中 运城 忻州 临汾 吕梁"),
    ("150000", "内蒙古自治区", "呼和浩特 包头 乌海 赤峰 通辽 鄂尔多斯 呼伦贝尔 巴彦淖尔 乌兰察布 "
                          "兴安盟 锡林郭勒盟 阿拉善盟"),
    ("210000", "辽宁省", "沈阳 大连 鞍山 抚顺 本溪 丹东 锦州 营口 阜新 辽阳 盘锦 铁岭 朝阳 葫芦岛"),
    ("220000", "吉林省", "长春 吉林 四平 辽源 通化 白山 松原 白城 延边朝鲜族自治州"),
    ("230000", "黑龙江省", "哈尔滨 齐齐哈尔 鸡西 鹤岗 双鸭山 大庆 伊春 佳木斯 七台河 牡丹江 黑河 绥化 "
                       "大兴安岭地区"),
    ("310000", "上海市", "上海"),
    ("320000", "江苏省", "南京 无锡 徐州 常州 苏州 南通 连云港 淮安 盐城 扬州 镇江 泰州 宿迁"),
    ("330000", "浙江省", "杭州 宁波 温州 嘉兴 湖州 绍兴 金华 衢州 舟山 台州 丽水"),
    ("340000", "安徽省", "合肥 芜湖 蚌埠 淮南 马鞍山 淮北 铜陵 安庆 黄山 滁州 阜阳 宿州 六安 亳州 "
                      "池州 宣城"),
    ("350000", "福建省", "福州 厦门 莆田 三明 泉州 漳州 南平 龙岩 宁德"),
    ("360000", "江西省", "南昌 景德镇 萍乡 九江 新余 鹰潭 赣州 吉安 宜春 抚州 上饶"),
    ("370000", "山东省", "济南 青岛 淄博 枣庄 东营 烟台 潍坊 济宁 泰安 威海 日照 临沂 德州 聊城 "
                      "滨州 菏泽"),
    ("410000", "河南省", "郑州 开封 洛阳 平顶山 安阳 鹤壁 新乡 焦作 濮阳 许昌 漯河 三门峡 南阳 商丘 "
                      "信阳 周口 驻马店"),
    ("420000", "湖北省", "武汉 黄石 十堰 宜昌 襄阳 鄂州 荆门 孝感 荆州 黄冈 咸宁 随州 "
                      "恩施土家族苗族自治州"),
    ("430000", "湖南省", "长沙 株洲 湘潭 衡阳 邵阳 岳阳 常德 张家界 益阳 郴州 永州 怀化 娄底 "
                      "湘西土家族苗族自治州"),
    ("440000", "广东省", "广州 韶关 深圳 珠海 汕头 佛山 江门 湛江 茂名 肇庆 惠州 梅州 汕尾 河源 "
                      "阳江 清远 东莞 中山 潮州 揭阳 云浮"),
    ("450000", "广西壮族自治区", "南宁 柳州 桂林 梧州 北海 防城港 钦州 贵港 玉林 百色 贺州 河池 来宾 崇左"),
    ("460000", "海南省", "海口 三亚 三沙 儋州"),
    ("500000", "重庆市", "重庆"),
    ("510000", "四川省", "成都 自贡 攀枝花 泸州 德阳 绵阳 广元 遂宁 内江 乐山 南充 眉山 宜宾 广安 "
                      "达州 雅安 巴中 资阳 阿坝藏族羌族自治州 甘孜藏族自治州 凉山彝族自治州"),
    ("520000", "贵州省", "贵阳 六盘水 遵义 安顺 毕节 铜仁 黔西南布依族苗族自治州 黔东南苗族侗族自治州 "
                      "黔南布依族苗族自治州"),
    ("530000", "云南省", "昆明 曲靖 玉溪 保山 昭通 丽江 普洱 临沧 楚雄彝族自治州 红河哈尼族彝族自治州 "
                      "文山壮族苗族自治州 西双版纳傣族自治州 大理白族自治州 德宏傣族景颇族自治州 "
                      "怒江傈僳族自治州 迪庆藏族自治州"),
    ("540000", "西藏自治区", "拉萨 日喀则 昌都 林芝 山南 那曲 阿里地区"),
    ("610000", "陕西省", "西安 铜川 宝鸡 咸阳 渭南 延安 汉中 榆林 安康 商洛"),
    ("620000", "甘肃省", "兰州 嘉峪关 金昌 白银 天水 武威 张掖 平凉 酒泉 庆阳 定西 陇南 "
                      "临夏回族自治州 甘南藏族自治州"),
    ("630000", "青海省", "西宁 海东 海北藏族自治州 黄南藏族自治州 海南藏族自治州 果洛藏族自治州 "
                      "玉树藏族自治州 海西蒙古族藏族自治州"),
    ("640000", "宁夏回族自治区", "银川 石嘴山 吴忠 固原 中卫"),
    ("650000", "新疆维吾尔自治区", "乌鲁木齐 克拉玛依 吐鲁番 哈密 昌吉回族自治州 博尔塔拉蒙古自治州 "
                              "巴音郭楞蒙古自治州 阿克苏地区 克孜勒苏柯尔克孜自治州 喀什地区 和田地区 "
                              "伊犁哈萨克自治州 塔城地区 阿勒泰地区"),
]

# The biggest cities, biggest first; every other city follows in table order.
BIG_CITIES = ("北京 上海 深圳 广州 杭州 成都 重庆 武汉 苏州 南京 西安 天津 长沙 郑州 东莞 青岛 "
              "宁波 佛山 合肥 厦门 济南 福州 无锡 昆明 沈阳 大连 哈尔滨 长春 南昌 石家庄").split()

# (level-1 code, name, level-2 names): 20 level-1 and 100 level-2 industries,
# level-2 codes are the parent's code and a two-digit number. Ordered by size.
INDUSTRIES: List[Tuple[str, str, str]] = [
    ("10", "信息技术", "互联网 软件开发 电子商务 人工智能 云计算与大数据"),
    ("11", "金融", "银行 证券 保险 基金投资 互联网金融"),
    ("12", "制造业", "汽车及零部件 电子制造 机械设备 新能源 化工材料"),
    ("13", "商贸零售", "快速消费品 批发贸易 进出口贸易 零售连锁 奢侈品"),
    ("14", "专业服务", "管理咨询 法律服务 会计审计 人力资源 知识产权"),
    ("15", "房地产与建筑", "房地产开发 建筑工程 物业管理 装饰装修 建材"),
    ("16", "教育培训", "K12教育 职业培训 高等教育 在线教育 留学服务"),
    ("17", "医疗健康", "医药 医疗器械 医疗服务 生物技术 健康管理"),
    ("18", "广告传媒", "广告营销 影视娱乐 出版发行 新媒体 公关会展"),
    ("19", "通信", "电信运营 通信设备 物联网 卫星通信 网络设备"),
    ("20", "交通物流", "快递物流 航空 铁路运输 航运港口 仓储"),
    ("21", "能源化工", "石油天然气 电力 煤炭 光伏 环保"),
    ("22", "汽车", "整车制造 汽车销售 汽车后市场 新能源汽车 汽车金融"),
    ("23", "餐饮酒店", "餐饮连锁 酒店 旅游 休闲娱乐 食品加工"),
    ("24", "农林牧渔", "种植业 畜牧业 林业 渔业 农产品加工"),
    ("25", "政府与公共事业", "政府机关 事业单位 社会组织 公共服务 国际组织"),
    ("26", "文化体育", "体育 艺术 文化创意 游戏 动漫"),
    ("27", "纺织服装", "服装设计 纺织 鞋帽箱包 家纺 服饰零售"),
    ("28", "家居家电", "家具 家电制造 智能家居 厨卫 照明"),
    ("29", "其他行业", "贸易代理 租赁服务 家政服务 维修服务 综合"),
]

# (code, name, job titles): 30 functions, ordered by size.
FUNCTIONS: List[Tuple[str, str, str]] = [
    ("F01", "销售", "销售总监 销售经理 大客户经理"), ("F02", "研发", "研发工程师 技术总监 架构师"),
    ("F03", "市场", "市场总监 市场经理 品牌经理"), ("F04", "管理", "总经理 副总裁 合伙人"),
    ("F05", "产品", "产品经理 产品总监 产品专员"), ("F06", "运营", "运营经理 运营总监 新媒体运营"),
    ("F07", "财务", "财务经理 财务总监 会计"), ("F08", "人力资源", "人力资源经理 招聘主管 HRBP"),
    ("F09", "客服", "客服主管 客户成功经理 客服专员"), ("F10", "采购", "采购经理 采购专员 供应链经理"),
    ("F11", "生产", "生产经理 厂长 车间主任"), ("F12", "设计", "设计总监 UI设计师 平面设计师"),
    ("F13", "行政", "行政主管 行政经理 前台"), ("F14", "法务", "法务经理 法律顾问 合规经理"),
    ("F15", "咨询", "咨询顾问 高级顾问 项目经理"), ("F16", "质量", "质量经理 质检工程师 QA"),
    ("F17", "物流", "物流经理 仓储主管 调度"), ("F18", "投资", "投资经理 投资总监 分析师"),
    ("F19", "公关", "公关经理 媒介经理 公关总监"), ("F20", "培训", "培训经理 讲师 培训专员"),
    ("F21", "测试", "测试工程师 测试经理 自动化测试"), ("F22", "数据", "数据分析师 数据工程师 数据总监"),
    ("F23", "安全", "安全工程师 安全总监 安全顾问"), ("F24", "运维", "运维工程师 运维经理 SRE"),
    ("F25", "项目管理", "项目经理 PMO 项目总监"), ("F26", "商务", "商务经理 商务总监 渠道经理"),
    ("F27", "编辑", "编辑 主编 内容运营"), ("F28", "医生", "主治医师 主任医师 医生"),
    ("F29", "教师", "教师 教授 讲师"), ("F30", "律师", "律师 合伙人律师 律师助理"),
]

SURNAMES = ("张 zhang,王 wang,李 li,刘 liu,陈 chen,杨 yang,黄 huang,赵 zhao,吴 wu,周 zhou,"
            "徐 xu,孙 sun,马 ma,朱 zhu,胡 hu,郭 guo,何 he,林 lin,高 gao,罗 luo,郑 zheng,"
            "梁 liang,谢 xie,宋 song,唐 tang,许 xu,韩 han,冯 feng,邓 deng,曹 cao").split(",")
GIVEN_NAMES = ("伟 wei,芳 fang,娜 na,敏 min,静 jing,丽 li,强 qiang,磊 lei,军 jun,洋 yang,"
               "勇 yong,艳 yan,杰 jie,娟 juan,涛 tao,明 ming,超 chao,秀英 xiuying,霞 xia,平 ping,"
               "刚 gang,桂英 guiying,建华 jianhua,晓东 xiaodong,子涵 zihan,雨轩 yuxuan,"
               "浩然 haoran,思远 siyuan,欣怡 xinyi,佳琪 jiaqi,志强 zhiqiang,海燕 haiyan").split(",")
BRANDS = ("星辰 华信 远航 博雅 鼎盛 中科 金桥 云图 天诚 恒达 瑞丰 汇通 锦程 新锐 百川 宏图 正和 "
          "嘉禾 启明 领航 智汇 优品 万象 海纳").split()
COMPANY_SUFFIXES = ("科技有限公司 信息技术有限公司 贸易有限公司 咨询有限公司 股份有限公司 "
                    "实业有限公司 集团有限公司 投资有限公司").split()
EMAIL_DOMAINS = ("example.com", "example.cn", "example.net", "example.org")


def city_name(short: str) -> str:
    complete = short.endswith(("盟", "地区")) or (short.endswith("州") and len(short) > 3)
    return short if complete else short + "市"


def cities() -> List[Tuple[int, str, str, str, str]]:
    """(size rank, prefecture code, city, province code, province), biggest first."""
    rows = []
    for pcode, province, names in PROVINCES:
        for number, short in enumerate(names.split(), 1):
            rows.append((short, "%s%02d00" % (pcode[:2], number), city_name(short),
                         pcode, province))
    big = {name: rank for rank, name in enumerate(BIG_CITIES)}
    rows.sort(key=lambda row: big.get(row[0], len(big)))  # stable: the rest keep table order
    return [(rank,) + row[1:] for rank, row in enumerate(rows)]


def industries() -> List[Tuple[int, str, str, str]]:
    """Level-2 industries (size rank, code, name, level-1 code), biggest first:
    round-robin over the level-1 industries so that big parents have big children."""
    rows = []
    for number in range(5):
        for code, _name, children in INDUSTRIES:
            rows.append(("%s%02d" % (code, number + 1), children.split()[number], code))
    return [(rank,) + row for rank, row in enumerate(rows)]


def words() -> List[Tuple[str, int, str]]:
    """(kind, index, word) for the name lists used by the generator."""
    rows = []
    for index, item in enumerate(SURNAMES):
        rows += [("surname", index, item.split()[0]), ("surname_py", index, item.split()[1])]
    for index, item in enumerate(GIVEN_NAMES):
        rows += [("given", index, item.split()[0]), ("given_py", index, item.split()[1])]
    for kind, values in (("brand", BRANDS), ("suffix", COMPANY_SUFFIXES),
                         ("domain", EMAIL_DOMAINS)):
        rows += [(kind, index, value) for index, value in enumerate(values)]
    return rows
