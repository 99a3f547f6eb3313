"""Demo customers in bulk: a believable company's book of business, fast enough for benchmarks.

`demo_customers_load` writes a product catalogue, then persons and organisations with
their identifiers, addresses, contacts, tags, interactions, events, orders, tickets and
follow-up tasks, in chunks (one transaction each) through multi-row INSERTs rather than
per-row services: 10,000 customers take seconds, 1,000,000 stay within bounded memory.
The whole load is recorded by one audit entry ("demo.load" with its counts).

Everything comes from one seeded `random.Random`, so a seed gives the same book again
(timestamps are relative to the moment of loading). Values are generated already
normalised; the normaliser (`kehu.core.normalize`) is still the one that derives phone
parts, pinyin search keys and regions, and the tests check the rest against it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from kehu.accounts.models import User
from kehu.core.actor import Actor
from kehu.core.events import record_change
from kehu.core.normalize import (
    NormalizationError,
    name_search_keys,
    normalize_phone,
    region_for_province,
)
from kehu.customers.models import Address, ContactLink, Customer, CustomerTag, Identifier, Tag, TagGroup
from kehu.customers.services.identity import id_number_columns
from kehu.interactions.models import Event, FollowUpTask, Interaction
from kehu.transactions.models import Order, OrderLine, Product, Ticket

DAY = 86_400
LOCAL_OFFSET = 8 * 3600  # Asia/Shanghai, no daylight saving
HISTORY_DAYS = 730

# Geography -----------------------------------------------------------------------
#
# Province | city (a municipality is its own city) | postal code | area code and the
# first digit(s) of local numbers there | districts with their administrative
# division codes (the first six digits of a resident ID number registered there).
# Coherent by construction, unlike Faker's addresses; tests check every code against
# python-stdnum's division database and every region against the normaliser.
_GEOGRAPHY = """\
上海市|上海市|200000|21:5 6|黄浦区 310101,徐汇区 310104,静安区 310106,杨浦区 310110,闵行区 310112,浦东新区 310115
江苏省|南京市|210000|25:8 5|玄武区 320102,秦淮区 320104,建邺区 320105,鼓楼区 320106,江宁区 320115
江苏省|苏州市|215000|512:6|虎丘区 320505,吴中区 320506,相城区 320507,姑苏区 320508,吴江区 320509
江苏省|无锡市|214000|510:8|滨湖区 320211,梁溪区 320213,新吴区 320214
浙江省|杭州市|310000|571:8|上城区 330102,拱墅区 330105,西湖区 330106,滨江区 330108,余杭区 330110
浙江省|宁波市|315000|574:8|海曙区 330203,江北区 330205,鄞州区 330212
安徽省|合肥市|230000|551:6|瑶海区 340102,庐阳区 340103,蜀山区 340104,包河区 340111
福建省|福州市|350000|591:8|鼓楼区 350102,台江区 350103,仓山区 350104
福建省|厦门市|361000|592:2|思明区 350203,湖里区 350206,集美区 350211
山东省|济南市|250000|531:8|历下区 370102,市中区 370103,槐荫区 370104,历城区 370112
山东省|青岛市|266000|532:8|市南区 370202,市北区 370203,黄岛区 370211,崂山区 370212
江西省|南昌市|330000|791:8|东湖区 360102,西湖区 360103,青山湖区 360111
广东省|广州市|510000|20:8 3|越秀区 440104,海珠区 440105,天河区 440106,白云区 440111,番禺区 440113
广东省|深圳市|518000|755:8 2|罗湖区 440303,福田区 440304,南山区 440305,宝安区 440306,龙岗区 440307
广东省|佛山市|528000|757:8|禅城区 440604,南海区 440605,顺德区 440606
广西壮族自治区|南宁市|530000|771:2|兴宁区 450102,青秀区 450103,西乡塘区 450107
海南省|海口市|570000|898:6|龙华区 460106,美兰区 460108
北京市|北京市|100000|10:6 8|东城区 110101,西城区 110102,朝阳区 110105,丰台区 110106,海淀区 110108
天津市|天津市|300000|22:2|和平区 120101,河西区 120103,南开区 120104,滨海新区 120116
河北省|石家庄市|050000|311:8|长安区 130102,桥西区 130104,裕华区 130108
山西省|太原市|030000|351:5|小店区 140105,迎泽区 140106,杏花岭区 140107
内蒙古自治区|呼和浩特市|010000|471:6|新城区 150102,回民区 150103
湖北省|武汉市|430000|27:8|江岸区 420102,江汉区 420103,武昌区 420106,洪山区 420111
湖南省|长沙市|410000|731:8|芙蓉区 430102,天心区 430103,岳麓区 430104,开福区 430105
河南省|郑州市|450000|371:6|中原区 410102,二七区 410103,金水区 410105
四川省|成都市|610000|28:8|锦江区 510104,青羊区 510105,金牛区 510106,武侯区 510107,成华区 510108
重庆市|重庆市|400000|23:6|渝中区 500103,江北区 500105,沙坪坝区 500106,九龙坡区 500107,南岸区 500108,渝北区 500112
贵州省|贵阳市|550000|851:8|南明区 520102,云岩区 520103,观山湖区 520115
云南省|昆明市|650000|871:6|五华区 530102,盘龙区 530103,官渡区 530111
陕西省|西安市|710000|29:8|新城区 610102,碑林区 610103,莲湖区 610104,雁塔区 610113
甘肃省|兰州市|730000|931:8|城关区 620102,七里河区 620103
辽宁省|沈阳市|110000|24:8|和平区 210102,沈河区 210103,皇姑区 210105
辽宁省|大连市|116000|411:8|中山区 210202,西岗区 210203,沙河口区 210204
黑龙江省|哈尔滨市|150000|451:8|南岗区 230103,香坊区 230110,松北区 230109
吉林省|长春市|130000|431:8|南关区 220102,朝阳区 220104
"""

# Share of the customer base per region (the demo company sells mostly in the east).
REGION_WEIGHTS = {"华东": 36, "华南": 22, "华北": 20, "西南": 10, "华中": 7, "西北": 3, "东北": 2}


@dataclass(frozen=True)
class City:
    province: str
    city: str
    postal_code: str
    area_code: str
    local_leads: tuple[str, ...]
    districts: tuple[tuple[str, str], ...]  # (district, division code)
    region: str

    @property
    def short(self) -> str:
        return self.city[:-1] if self.city.endswith("市") else self.city


def _cities() -> list[City]:
    cities = []
    for line in _GEOGRAPHY.splitlines():
        province, city, postal, phone, districts = line.split("|")
        area, leads = phone.split(":")
        cities.append(City(
            province=province, city=city, postal_code=postal, area_code=area,
            local_leads=tuple(leads.split()),
            districts=tuple(tuple(d.split(" ")) for d in districts.split(",")),
            region=region_for_province(province),
        ))
    return cities


STREETS = ["中山路", "人民路", "解放路", "建设路", "长江路", "和平路", "文化路", "新华路",
           "青年路", "光明路", "朝阳路", "胜利路", "黄河路", "学院路", "科技路", "创业路",
           "金融街", "滨江大道", "世纪大道", "湖滨路", "东风路", "友谊路", "团结路", "工业路"]
BUILDINGS = ["国际大厦", "科技园", "商务中心", "金融中心", "创意园", "广场", "大厦", "产业园"]
ESTATES = ["花园", "小区", "公寓", "新村", "家园", "苑", "华庭", "名都"]

# Products --------------------------------------------------------------------------

# (category, [(SKU, name, list price CNY, consumable?)])
CATALOGUE = [
    ("打印设备", [
        ("PRT-M2300", "M2300 黑白激光办公打印机", "1299.00", False),
        ("PRT-C3500", "C3500 彩色激光打印机", "3899.00", False),
        ("PRT-MF460", "MF460 多功能一体机（打印/复印/扫描）", "2699.00", False),
        ("PRT-D735", "D735 针式发票打印机", "1680.00", False),
        ("PRT-A3-880", "A3-880 数码复合机", "18800.00", False),
        ("PRT-L215", "L215 标签打印机", "599.00", False),
    ]),
    ("打印耗材", [
        ("CON-TN23", "TN-23 原装硒鼓（黑色）", "389.00", True),
        ("CON-TN35C", "TN-35 彩色硒鼓四色套装", "1560.00", True),
        ("CON-INK70", "INK-70 墨盒（黑色）", "129.00", True),
        ("CON-TONER1K", "大容量碳粉 1kg", "260.00", True),
        ("CON-A4-80", "A4 复印纸 80g（5 包/箱）", "135.00", True),
        ("CON-RIB735", "D735 色带架", "45.00", True),
    ]),
    ("会议设备", [
        ("MTG-PJ4100", "PJ-4100 商务投影仪", "4299.00", False),
        ("MTG-PJ7200", "PJ-7200 激光工程投影仪", "15800.00", False),
        ("MTG-WB86", "86 英寸智能会议平板", "16999.00", False),
        ("MTG-VC300", "VC-300 视频会议终端", "6800.00", False),
        ("MTG-SCR120", "120 英寸电动投影幕布", "980.00", False),
        ("MTG-MIC4", "全向会议麦克风", "1290.00", False),
    ]),
    ("净水设备", [
        ("WTR-RO600", "RO-600 家用反渗透净水器", "2399.00", False),
        ("WTR-RO1200", "RO-1200 商用净水器", "6980.00", False),
        ("WTR-HOT50", "HOT-50 壁挂管线机", "899.00", False),
        ("WTR-F3SET", "RO-600 滤芯年度套装", "599.00", True),
        ("WTR-F5SET", "RO-1200 滤芯套装", "1380.00", True),
        ("WTR-DSP20", "立式冷热饮水机", "1150.00", False),
    ]),
    ("办公电脑", [
        ("PC-NB14", "14 英寸商务笔记本电脑", "5499.00", False),
        ("PC-DT560", "DT-560 商用台式电脑", "4199.00", False),
        ("PC-MON27", "27 英寸 2K 显示器", "1399.00", False),
        ("PC-KB100", "无线键鼠套装", "159.00", False),
        ("PC-UPS1K", "1kVA 不间断电源", "860.00", False),
    ]),
    ("网络设备", [
        ("NET-AX3000", "AX3000 企业级路由器", "699.00", False),
        ("NET-SW24", "24 口千兆交换机", "1290.00", False),
        ("NET-AP6", "吸顶式无线 AP", "468.00", False),
        ("NET-NAS4", "四盘位 NAS 网络存储", "3299.00", False),
    ]),
    ("办公家具", [
        ("FUR-CH90", "人体工学办公椅", "1580.00", False),
        ("FUR-DK140", "电动升降办公桌 1.4m", "2280.00", False),
        ("FUR-CAB4", "四门钢制文件柜", "760.00", False),
    ]),
    ("服务", [
        ("SVC-EXT1Y", "延保服务（1 年）", "299.00", False),
        ("SVC-ONSITE", "上门维修服务（次）", "200.00", False),
        ("SVC-INSTALL", "安装调试服务", "150.00", False),
        ("SVC-AMC", "年度维保合同（打印设备）", "3600.00", False),
    ]),
]
# Which consumables and services go with which device categories.
FOLLOW_ON = {"打印设备": ["打印耗材", "服务"], "净水设备": ["净水设备", "服务"],
             "会议设备": ["服务"], "办公电脑": ["网络设备", "服务"]}

# People and organisations ---------------------------------------------------------

SOURCES = [("官网", 18), ("展会", 8), ("转介绍", 12), ("电话营销", 10), ("微信", 14),
           ("天猫店", 14), ("京东店", 8), ("百度推广", 7), ("线下门店", 6), ("渠道代理", 3)]
LIFECYCLE = [("lead", 25), ("prospect", 20), ("customer", 35), ("loyal", 10), ("churned", 10)]
INDUSTRIES = [
    # (industry, weight, words used in company names)
    ("制造业", 22, ["机械制造", "精密机械", "电气设备", "汽车零部件", "新材料", "电子科技"]),
    ("信息技术", 16, ["信息技术", "软件技术", "网络科技", "数据科技", "智能科技"]),
    ("批发和零售", 14, ["商贸", "贸易", "电子商务", "百货"]),
    ("建筑和房地产", 8, ["建设工程", "建筑设计", "物业管理", "装饰工程"]),
    ("金融", 5, ["投资管理", "融资租赁", "保险代理"]),
    ("医疗健康", 6, ["医疗器械", "生物科技", "医药"]),
    ("物流", 6, ["物流", "供应链管理", "货运代理"]),
    ("住宿和餐饮", 5, ["餐饮管理", "酒店管理"]),
    ("专业服务", 8, ["企业管理咨询", "财务咨询", "人力资源服务", "知识产权代理"]),
    ("文化传媒", 5, ["文化传媒", "广告", "会展服务"]),
    ("教育", 5, []),   # schools: 事业单位
]
COMPANY_SIZES = [("20人以下", 30), ("20-99人", 35), ("100-499人", 22), ("500-999人", 8),
                 ("1000人以上", 5)]
REVENUE_BY_SIZE = {"20人以下": "500万以下", "20-99人": "500万-2000万", "100-499人": "2000万-1亿",
                   "500-999人": "1亿-10亿", "1000人以上": "10亿以上"}
NAME_CHARS = "鑫华恒盛达泰瑞博远通嘉宏信联创新中汇源科天海德明安康永昌兴丰卓越诚拓腾凯睿智邦晨"
COMPANY_FORMS = [("有限公司", 72), ("股份有限公司", 10), ("有限责任公司", 12), ("集团有限公司", 6)]
SCHOOLS = ["第一中学", "第二中学", "第三中学", "实验中学", "外国语学校", "实验小学",
           "职业技术学院", "中等专业学校", "高级中学"]
SCHOOL_TITLES = [("校长", "decision_maker", 4), ("办公室主任", "decision_maker", 6),
                 ("总务主任", "influencer", 6), ("信息中心主任", "influencer", 5),
                 ("教师", "user", 6), ("财务科长", "influencer", 3)]
# Organisations make up about a fifth of all customers once their contacts are counted:
# with c contacts on average, the chance p of drawing one satisfies p / (1 + c p) = 0.2.
CONTACTS_PER_ORGANISATION = (1, 1, 2, 2, 2, 3, 3, 4)
_MEAN_CONTACTS = sum(CONTACTS_PER_ORGANISATION) / len(CONTACTS_PER_ORGANISATION)
ORGANISATION_CHANCE = 0.2 / (1 - 0.2 * _MEAN_CONTACTS)
CONTACT_TITLES = [
    # (job title, decision role, weight)
    ("总经理", "decision_maker", 10), ("董事长", "decision_maker", 3),
    ("采购经理", "decision_maker", 14), ("行政总监", "decision_maker", 6),
    ("行政经理", "influencer", 14), ("IT 经理", "influencer", 10), ("财务经理", "influencer", 8),
    ("办公室主任", "decision_maker", 5), ("行政专员", "user", 14), ("前台", "gatekeeper", 8),
    ("IT 工程师", "user", 8),
]
PERSONAL_TITLES = ["", "", "", "教师", "医生", "工程师", "设计师", "个体经营", "公务员",
                   "自由职业", "会计", "律师", "退休"]
EMAIL_DOMAINS = [("qq.com", 34), ("163.com", 22), ("126.com", 10), ("sina.com", 5),
                 ("foxmail.com", 6), ("139.com", 5), ("outlook.com", 6), ("gmail.com", 3),
                 ("aliyun.com", 4), ("hotmail.com", 2), ("yeah.net", 3)]
TAGS = [("VIP", "#b45309"), ("重点客户", "#dc2626"), ("高潜力", "#16a34a"),
        ("价格敏感", "#0891b2"), ("老客户", "#7c3aed"), ("需回访", "#ea580c"),
        ("投诉过", "#be123c"), ("经销商", "#4f46e5"), ("政府采购", "#0f766e"),
        ("教育行业", "#2563eb"), ("天猫会员", "#e11d48"), ("展会客户", "#65a30d"),
        ("企业微信好友", "#15803d"), ("耗材复购", "#a16207")]
# Membership tiers (会员等级), a tag group: every person who has bought holds one, by lifetime
# spend on purchases (CNY, at least): 白金 20,000, 金卡 8,000, 银卡 3,000, else 普通.
TIER_GROUP = ("会员等级", "#9333ea")
TIERS = [("白金会员", Decimal(20000)), ("金卡会员", Decimal(8000)), ("银卡会员", Decimal(3000)),
         ("普通会员", Decimal(0))]

# Activity -------------------------------------------------------------------------

INTERACTION_KINDS = {  # kind: (weight for persons, weight for organisations)
    "call": (34, 30), "wechat": (26, 16), "visit": (3, 16), "meeting": (1, 10),
    "email": (6, 14), "sms": (12, 2), "note": (8, 8), "inquiry": (10, 4),
}
INTERACTION_CHANNEL = {"call": "电话", "wechat": "企业微信", "visit": "上门拜访", "meeting": "会议",
                       "email": "邮件", "sms": "短信", "note": "", "inquiry": "官网咨询"}
SUMMARIES = {
    "call": ["电话回访，客户对{p}的使用情况基本满意，询问耗材价格。",
             "致电确认{p}的采购预算，对方表示下月内部评审。",
             "客户来电咨询{p}的保修政策，已解答。",
             "电话沟通{p}报价，客户希望再优惠5%。",
             "回访上次报修的{p}，客户反馈已恢复正常。"],
    "wechat": ["微信发送{p}产品资料和报价单。", "客户微信询问{p}是否有现货。",
               "微信推送{p}促销活动，客户已读。", "客户微信反馈{p}安装视频有帮助。"],
    "visit": ["上门拜访，演示{p}，行政和IT负责人参加。", "到客户现场勘查，评估{p}的安装位置。",
              "拜访采购部，沟通{p}的年度框架协议。"],
    "meeting": ["与客户召开{p}方案评审会。", "线上会议介绍{p}的维保方案。"],
    "email": ["邮件发送{p}正式报价及合同草案。", "客户邮件确认{p}的到货时间。",
              "邮件回复{p}的发票信息。"],
    "sms": ["短信提醒客户{p}保养到期。", "短信通知{p}已发货及物流单号。"],
    "note": ["客户对{p}的价格较敏感，关注同类竞品。", "客户计划搬迁新办公室，可能新增{p}需求。",
             "决策人更换，需重新建立联系。"],
    "inquiry": ["官网留言咨询{p}的价格和交期。", "客户在线咨询{p}与旧款的区别。"],
}
OUTCOMES = ["有意向", "已报价", "暂无需求", "约定下次拜访", "已成交", "需要比价", "已解决", ""]
EVENT_TYPES = [("page_view", 42), ("product_view", 16), ("email_open", 12), ("email_click", 5),
               ("app_login", 9), ("search", 6), ("cart_add", 4), ("form_submit", 3),
               ("campaign_join", 3)]
CAMPAIGNS = ["春季办公焕新季", "618 年中大促", "双11 企业采购节", "开学季教育优惠", "年终答谢会",
             "净水健康月", "以旧换新计划"]
SITE_PAGES = ["/", "/pricing", "/support/drivers", "/about", "/cases", "/promotions"]
SEARCH_TERMS = ["硒鼓", "投影仪", "净水器 滤芯", "打印机 维修", "会议平板", "办公椅", "A4纸",
                "彩色打印机", "路由器", "延保"]
ORDER_STATUS_OLD = [("completed", 86), ("cancelled", 4), ("returned", 5), ("refunded", 5)]
ORDER_STATUS_RECENT = [("pending", 15), ("paid", 30), ("shipped", 35), ("completed", 20)]
CHANNEL_OF_SOURCE = {"天猫店": "tmall", "京东店": "jd", "微信": "wechat", "线下门店": "store",
                     "渠道代理": "distributor", "官网": "online"}
PAYMENTS_PERSON = [("wechat_pay", 45), ("alipay", 40), ("card", 10), ("cash", 5)]
PAYMENTS_ORG = [("bank_transfer", 70), ("credit", 20), ("alipay", 6), ("wechat_pay", 4)]
REPAIRS = {  # service requests by product category
    "打印设备": ["{p}卡纸报修", "{p}打印有条纹", "{p}无法联网打印", "{p}需要上门安装"],
    "打印耗材": ["{p}漏粉，申请更换", "{p}装机后提示不识别"],
    "会议设备": ["{p}画面偏色", "{p}无法开机", "{p}需要上门安装"],
    "净水设备": ["{p}漏水报修", "{p}出水慢", "{p}滤芯更换预约", "{p}需要上门安装"],
    "办公电脑": ["{p}无法开机", "{p}频繁蓝屏", "{p}预装系统激活失败"],
    "网络设备": ["{p}频繁断网", "{p}需要远程配置"],
    "办公家具": ["{p}预约安装", "{p}配件缺失"],
    "服务": ["{p}预约上门时间", "{p}服务内容确认"],
}
TICKET_SUBJECTS = {
    "complaint": ["{p}送货延误投诉", "{p}维修后再次故障", "{p}发票开具错误", "对{p}售后响应慢不满意"],
    "inquiry": ["{p}保修期查询", "{p}配件型号咨询", "{p}使用方法咨询", "{p}发票寄送进度"],
}
RESOLUTIONS = {
    "service_request": ["工程师上门处理，已恢复正常。", "远程指导客户完成设置。",
                        "已更换配件并测试通过。", "已寄送替换件，客户确认可用。"],
    "complaint": ["已补发货物并致歉。", "已重新开具发票并快递寄出。",
                  "已致电道歉，赠送一次免费保养。", "已安排主管回访，客户接受处理方案。"],
    "inquiry": ["已解答客户疑问。", "已发送说明资料。", "已告知保修期和服务网点。"],
}
TASK_TITLES = ["回访{p}使用情况", "跟进{p}报价", "提醒客户续订{p}", "确认{p}付款进度",
               "邀约客户参加产品演示", "发送{p}合同"]


def _weighted(pairs) -> tuple:
    """A table to draw from with `rng.choice`: each value repeated by its weight
    (weights in hundredths), which is several times faster than `rng.choices`."""
    return tuple(value for value, weight in pairs for _ in range(round(weight * 100)))


def _pick(rng: random.Random, table: tuple):
    return rng.choice(table)


@lru_cache(maxsize=100_000)
def _person_search_keys(name: str) -> tuple[str, str]:
    """Person names repeat a lot (张伟 …), so their keys are worth caching."""
    return name_search_keys(name)


# Unique values without remembering them: an affine bijection of a number range (the
# multiplier is coprime with the range's size), which also scatters consecutive indexes.
def _bijection(index: int, size: int, multiplier: int, offset: int) -> int:
    return (index * multiplier + offset) % size


MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150",
                   "151", "152", "153", "155", "156", "157", "158", "159", "166", "176",
                   "177", "178", "180", "181", "182", "183", "185", "186", "187", "188",
                   "189", "191", "198", "199"]
_MOBILE_SPACE = len(MOBILE_PREFIXES) * 10**8
_MOBILE_MULTIPLIER = 2_654_435_761  # coprime with 34 * 10**8 = 2**9 * 5**8 * 17


def demo_mobile(index: int, seed: int) -> str:
    """The demo's mobile number for customer number `index`: unique per index, valid."""
    n = _bijection(index, _MOBILE_SPACE, _MOBILE_MULTIPLIER, seed * 7_919 % _MOBILE_SPACE)
    return f"{MOBILE_PREFIXES[n // 10**8]}{n % 10**8:08d}"


def organisation_code(body: int) -> str:
    """A GB 11714 organisation code: eight digits and the MOD 11 check character."""
    digits = f"{body:08d}"
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    check = 11 - sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    return digits + ("X" if check == 10 else "0" if check == 11 else str(check))


def unified_credit_code(*, authority: str, entity: str, division: str, org_code: str) -> str:
    """A GB 32100-2015 unified social credit code with its MOD 31 check character."""
    from stdnum.cn import uscc

    body = f"{authority}{entity}{division}{org_code}"
    return body + uscc.calc_check_digit(body + "0")


def resident_id(*, division: str, birthday: date, sequence: int, male: bool) -> str:
    """A GB 11643 resident ID number: the sequence's last digit is odd for men, even for women."""
    from stdnum.cn import ric

    seq = sequence % 1000
    if (seq % 2 == 1) != male:
        seq = seq + 1 if seq < 999 else seq - 1
    body = f"{division}{birthday:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


# Writing ---------------------------------------------------------------------------


class _Table:
    """Collects rows for one model and writes them with executemany.

    The caller supplies values for `columns` (attnames) already in database form; every
    other column gets its model default, so a new field with a default does not break
    the loader.
    """

    def __init__(self, model: type[models.Model], columns: list[str], now_db):
        fields = {f.attname: f for f in model._meta.concrete_fields}
        unknown = [c for c in columns if c not in fields]
        if unknown:
            raise RuntimeError(f"{model.__name__} has no column(s) {unknown}")
        extra_names, extra_values = [], []
        for attname, f in fields.items():
            if attname in columns or (f.primary_key and isinstance(f, models.AutoField)):
                continue
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                extra_names.append(attname)
                extra_values.append(now_db)
            elif f.has_default():
                extra_names.append(attname)
                extra_values.append(f.get_db_prep_save(f.get_default(), connection))
            elif not f.null:
                raise RuntimeError(f"{model.__name__}.{attname} needs a value")
        qn = connection.ops.quote_name
        names = [fields[c].column for c in [*columns, *extra_names]]
        self.model = model
        # Table and column names come from the model and are quoted; values are parameters.
        target = f"{qn(model._meta.db_table)} ({', '.join(qn(n) for n in names)})"
        self.sql = f"INSERT INTO {target} VALUES ({', '.join(['%s'] * len(names))})"  # noqa: S608
        self.copy_sql = f"COPY {target} FROM STDIN"
        self.use_copy = connection.vendor == "postgresql"
        self.extra = tuple(extra_values)
        self.rows: list[tuple] = []
        self.written = 0

    def add(self, *values) -> None:
        self.rows.append(values + self.extra)

    def flush(self, cursor) -> None:
        if not self.rows:
            return
        if self.use_copy:
            # PostgreSQL: COPY is several times faster than a pipelined executemany.
            with connection.wrap_database_errors, cursor.cursor.copy(self.copy_sql) as copy:
                for row in self.rows:
                    copy.write_row(row)
        else:
            cursor.executemany(self.sql, self.rows)
        self.written += len(self.rows)
        self.rows = []


class _Db:
    """Database-form converters for the two backends (the ORM's work, done once per value).

    JSON goes as text both ways: SQLite stores it so, and PostgreSQL's COPY parses it.
    """

    def __init__(self):
        self.sqlite = connection.vendor == "sqlite"
        self._days: dict[int, str] = {}
        self._encode = json.JSONEncoder(ensure_ascii=False).encode

    def dt(self, ts: int):
        """A UTC timestamp in seconds as the backend stores an aware datetime."""
        if not self.sqlite:
            return datetime.fromtimestamp(ts, UTC)
        day, seconds = divmod(ts, DAY)
        text = self._days.get(day)
        if text is None:
            text = self._days[day] = time.strftime("%Y-%m-%d", time.gmtime(day * DAY))
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{text} {hours:02d}:{minutes:02d}:{secs:02d}"

    def date(self, value: date | None):
        if value is None:
            return None
        return value.isoformat() if self.sqlite else value

    def json(self, value) -> str:
        return self._encode(value)


# Loading ---------------------------------------------------------------------------


@dataclass
class DemoLoadResult:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class _Rep:
    id: int
    team_id: int | None
    region: str


@dataclass
class _Product:
    id: int
    sku: str
    name: str
    category: str
    price: Decimal
    consumable: bool


def products_ensure() -> list[_Product]:
    """The demo catalogue, created where a SKU is missing (existing products are kept)."""
    wanted = [(category, *item) for category, items in CATALOGUE for item in items]
    existing = set(Product.objects.filter(sku__in=[w[1] for w in wanted])
                   .values_list("sku", flat=True))
    Product.objects.bulk_create([
        Product(sku=sku, name=name, category=category, unit_price=Decimal(price))
        for category, sku, name, price, _consumable in wanted if sku not in existing
    ])
    rows = {p.sku: p for p in Product.objects.filter(sku__in=[w[1] for w in wanted])}
    return [_Product(rows[sku].pk, sku, rows[sku].name, rows[sku].category,
                     rows[sku].unit_price, consumable)
            for _category, sku, _name, _price, consumable in wanted]


def tags_ensure() -> dict[str, int]:
    """The demo's tags, the membership tiers among them (in their tag group)."""
    group, _created = TagGroup.objects.get_or_create(name=TIER_GROUP[0],
                                                     defaults={"color": TIER_GROUP[1]})
    wanted = [(n, c, None) for n, c in TAGS] + [(n, group.color, group) for n, _m in TIERS]
    names = [n for n, _c, _g in wanted]
    existing = set(Tag.objects.filter(name__in=names).values_list("name", flat=True))
    Tag.objects.bulk_create([Tag(name=n, color=c, group=g) for n, c, g in wanted
                             if n not in existing])
    return {t.name: t.pk for t in Tag.objects.filter(name__in=names)}


def tier_of(spend: Decimal) -> str:
    """The membership tier a lifetime spend on purchases earns."""
    return next(name for name, least in TIERS if spend >= least)


def _next_id(model) -> int:
    return (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1


class _Generator:
    """Generates customers with everything that hangs off them into the tables' row lists,
    chunk after chunk; the caller writes and empties the lists after each chunk."""

    def __init__(self, *, seed: int, rng: random.Random, db: _Db, now: int,
                 reps: list[_Rep], agents: list[int], products: list[_Product],
                 tag_ids: dict[str, int], events_per_customer: int | None, tables: dict):
        from faker.providers.company.zh_CN import Provider as CompanyProvider
        from faker.providers.person.zh_CN import Provider as PersonProvider

        self.seed, self.rng, self.db, self.now = seed, rng, db, now
        self.reps, self.agents, self.products, self.tag_ids = reps, agents, products, tag_ids
        self.events_per_customer = events_per_customer
        self.t = tables
        self.cities = _cities()
        self.cities_by_region: dict[str, list[City]] = {}
        for city in self.cities:
            self.cities_by_region.setdefault(city.region, []).append(city)
        self.region_table = _weighted([(r, w) for r, w in REGION_WEIGHTS.items()
                                       if r in self.cities_by_region])
        self.reps_by_region: dict[str, list[_Rep]] = {}
        for rep in reps:
            self.reps_by_region.setdefault(rep.region, []).append(rep)
        self.surnames = _weighted(list(PersonProvider.last_names.items()))
        self.male_names = list(PersonProvider.first_names_male)
        self.female_names = list(PersonProvider.first_names_female)
        self.company_prefixes = [p for p in CompanyProvider.company_prefixes
                                 if 2 <= len(p) <= 3 and not p.endswith(("公司", "国际"))]
        self.sources = _weighted(SOURCES)
        self.stages = _weighted(LIFECYCLE)
        self.industries = _weighted([(i[0], i[1]) for i in INDUSTRIES])
        self.industry_words = {i[0]: i[2] for i in INDUSTRIES}
        self.sizes = _weighted(COMPANY_SIZES)
        self.forms = _weighted(COMPANY_FORMS)
        self.titles = _weighted([((t, r), w) for t, r, w in CONTACT_TITLES])
        self.school_titles = _weighted([((t, r), w) for t, r, w in SCHOOL_TITLES])
        self.domains = _weighted(EMAIL_DOMAINS)
        self.event_types = _weighted(EVENT_TYPES)
        self.kinds_person = _weighted([(k, w[0]) for k, w in INTERACTION_KINDS.items()])
        self.kinds_org = _weighted([(k, w[1]) for k, w in INTERACTION_KINDS.items()])
        self.status_old = _weighted(ORDER_STATUS_OLD)
        self.status_recent = _weighted(ORDER_STATUS_RECENT)
        self.pay_person = _weighted(PAYMENTS_PERSON)
        self.pay_org = _weighted(PAYMENTS_ORG)
        self.by_category: dict[str, list[_Product]] = {}
        for product in products:
            self.by_category.setdefault(product.category, []).append(product)
        self.device_categories = [c for c in self.by_category if c in FOLLOW_ON]
        self.by_sku = {p.sku: p for p in products}
        self.prop_cache: dict[tuple, object] = {}
        self.org_names: set[str] = set()
        self.id_numbers: set[str] = set()
        self.landlines: set[str] = set()
        self.counts: dict[str, int] = {"persons": 0, "organisations": 0, "id_numbers": 0}
        self.ids = {m: _next_id(m) for m in (Customer, Order, Interaction, Ticket)}
        self.index = 0  # customers generated so far: drives the unique numbers

    # helpers ------------------------------------------------------------------------

    def _id(self, model) -> int:
        value = self.ids[model]
        self.ids[model] = value + 1
        return value

    def _local_time(self, day_ts: int, hour_lo: int, hour_hi: int, *, after: int = 0) -> int:
        """A moment on the local (UTC+8) day containing `day_ts`, between the given hours,
        not before `after` and not in the future."""
        midnight = (day_ts + LOCAL_OFFSET) // DAY * DAY - LOCAL_OFFSET
        moment = midnight + hour_lo * 3600 + int(self.rng.random() * (hour_hi - hour_lo) * 3600)
        latest = self.now - 60
        if moment > latest:
            # Later today than now: spread over what has passed, rather than piling every
            # such moment onto the same second.
            moment = after + int(self.rng.random() * max(0, latest - after))
        return max(min(moment, latest), after)

    def _person_name(self, male: bool) -> str:
        given = self.male_names if male else self.female_names
        return _pick(self.rng, self.surnames) + self.rng.choice(given)

    def _address(self, city: City, *, label: str, business: bool) -> tuple:
        rng = self.rng
        district, division = rng.choice(city.districts)
        if business:
            detail = (f"{rng.choice(STREETS)}{rng.randint(1, 999)}号"
                      f"{rng.choice(BUILDINGS)}{rng.randint(1, 32)}层")
        else:
            detail = (f"{rng.choice(STREETS)}{rng.randint(1, 999)}号{rng.choice(ESTATES)}"
                      f"{rng.randint(1, 30)}栋{rng.randint(1, 30)}{rng.randint(1, 4):02d}室")
        return (label, city.province, city.city, district, detail, division)

    def _owner(self, region: str) -> _Rep | None:
        if not self.reps or self.rng.random() < 0.05:  # the unassigned pool (公海)
            return None
        pool = self.reps_by_region.get(region)
        if pool and self.rng.random() < 0.9:
            return self.rng.choice(pool)
        return self.rng.choice(self.reps)

    # one customer -------------------------------------------------------------------

    def customers(self, count: int) -> None:
        """Generate `count` customers: ~20% organisations, each with 1-4 contact persons."""
        made = 0
        while made < count:
            remaining = count - made
            if remaining >= 2 and self.rng.random() < ORGANISATION_CHANCE:
                contacts = min(self.rng.choice(CONTACTS_PER_ORGANISATION), remaining - 1)
                self._organisation(contacts)
                made += 1 + contacts
            else:
                self._person(None)
                made += 1

    def _base(self, *, kind: str, region: str, city: City) -> dict:
        rng = self.rng
        owner = self._owner(region)
        created = self.now - rng.randint(DAY, HISTORY_DAYS * DAY)
        created = self._local_time(created, 8, 21)
        return {
            "id": self._id(Customer), "kind": kind, "region": region, "city": city,
            "owner": owner, "created": created, "source": _pick(rng, self.sources),
            "stage": _pick(rng, self.stages), "index": self._take_index(),
            "last_activity": None,
        }

    def _take_index(self) -> int:
        self.index += 1
        return self.index

    def _organisation(self, contact_count: int) -> None:
        rng = self.rng
        region = _pick(rng, self.region_table)
        city = rng.choice(self.cities_by_region[region])
        c = self._base(kind=Customer.KIND_ORGANISATION, region=region, city=city)
        industry = _pick(rng, self.industries)
        name, authority, entity = self._org_name(city, industry)
        size = _pick(rng, self.sizes)
        district_address = self._address(city, label="registered", business=True)
        org_code = organisation_code(_bijection(c["index"], 10**8, 61_803_399,
                                                self.seed * 104_729 % 10**8))
        uscc = unified_credit_code(authority=authority, entity=entity,
                                   division=district_address[5], org_code=org_code)
        pinyin, initials = name_search_keys(name)
        domain = f"{initials[2:6] or initials}{c['index']:x}.com.cn"
        c.update(name=name, pinyin=pinyin, initials=initials, uscc=uscc, industry=industry,
                 size=size, revenue=REVENUE_BY_SIZE[size], website=f"https://www.{domain}",
                 addresses=[district_address], domain=domain)
        if rng.random() < 0.4:
            c["addresses"].append(self._address(city, label="shipping", business=True))
        c["email"] = f"{rng.choice(('info', 'service', 'office', 'hr', 'admin'))}@{domain}"
        c["mobile"] = None
        c["landline"] = self._landline(city, c["index"])
        c["interests"] = rng.sample(self.device_categories, rng.randint(1, 2))
        c["channel"] = rng.choice(("phone", "email", "visit", "wechat"))
        self.counts["organisations"] += 1
        self._activity(c)
        self._write_customer(c)
        used_emails: set[str] = set()
        titles_used: set[str] = set()
        for n in range(contact_count):
            self._person(c, primary=(n == 0), used_emails=used_emails, titles_used=titles_used)

    def _org_name(self, city: City, industry: str) -> tuple[str, str, str]:
        rng = self.rng
        for attempt in range(50):
            if industry == "教育":
                name = f"{city.city}{rng.choice(SCHOOLS)}"
                if attempt:
                    name = f"{city.city}{rng.choice(city.districts)[0]}{rng.choice(SCHOOLS)}"
                authority, entity = "1", "2"  # 事业单位 registered by 机构编制
            else:
                stem = (rng.choice(self.company_prefixes) if rng.random() < 0.4
                        else rng.choice(NAME_CHARS) + rng.choice(NAME_CHARS))
                words = self.industry_words[industry]
                name = f"{city.short}{stem}{rng.choice(words)}{_pick(rng, self.forms)}"
                authority, entity = "9", "1"  # 工商 / 企业
            if name not in self.org_names:
                self.org_names.add(name)
                return name, authority, entity
        name = f"{name}{rng.choice(city.districts)[0][:-1]}分公司"
        if name in self.org_names:
            name = f"{name[:-3]}{self.index}分公司"
        self.org_names.add(name)
        return name, authority, entity

    def _landline(self, city: City, index: int) -> str | None:
        lead = self.rng.choice(city.local_leads)
        length = 7 if len(city.area_code) == 3 and city.area_code in ("471", "931") else 8
        rest = _bijection(index, 10 ** (length - len(lead)), 6_180_339, self.seed)
        raw = f"0{city.area_code}{lead}{rest:0{length - len(lead)}d}"
        try:
            phone = normalize_phone(raw)
        except NormalizationError:
            return None
        if phone.kind != "landline" or phone.e164 in self.landlines:
            return None
        self.landlines.add(phone.e164)
        return phone.e164

    def _person(self, org: dict | None, *, primary: bool = False,
                used_emails: set | None = None, titles_used: set | None = None) -> dict:
        rng = self.rng
        if org is not None:
            region, city = org["region"], org["city"]
        else:
            region = _pick(rng, self.region_table)
            city = rng.choice(self.cities_by_region[region])
        c = self._base(kind=Customer.KIND_PERSON, region=region, city=city)
        male = rng.random() < 0.52
        name = self._person_name(male)
        pinyin, initials = _person_search_keys(name)
        c.update(name=name, pinyin=pinyin, initials=initials, gender="male" if male else "female")
        home = self._address(city, label="home", business=False)
        c["addresses"] = [home]
        c["mobile"] = demo_mobile(c["index"], self.seed)
        c["landline"] = None
        birthday = None
        if rng.random() < 0.7:
            birthday = date(rng.randint(1958, 2003), rng.randint(1, 12), rng.randint(1, 28))
        c["birthday"] = birthday
        c["id_number"] = None
        if birthday is not None and org is None and rng.random() < 0.5:
            c["id_number"] = self._id_number(home[5], birthday, male)
        c["employer"] = org
        if org is not None:
            c["owner"], c["created"] = org["owner"], org["created"] + rng.randint(0, 30 * DAY)
            c["created"] = min(c["created"], self.now - 3600)
            c["source"], c["stage"] = org["source"], org["stage"]
            c["addresses"] = [("work", *org["addresses"][0][1:])]
            if rng.random() < 0.3:
                c["addresses"].append(home)
            titles = self.school_titles if org.get("industry") == "教育" else self.titles
            title, role = _pick(rng, titles)
            for _retry in range(10):
                if title not in titles_used:
                    break
                title, role = _pick(rng, titles)
            titles_used.add(title)
            c["title"] = title
            local = pinyin or f"contact{c['index']}"
            email = f"{local}@{org['domain']}"
            if email in used_emails:
                email = f"{local}{len(used_emails) + 1}@{org['domain']}"
            used_emails.add(email)
            c["email"] = email
            c["interests"] = org["interests"]
            self.t["links"].add(org["id"], c["id"], title, role, primary, self.db.dt(c["created"]))
        else:
            c["title"] = rng.choice(PERSONAL_TITLES)
            c["email"] = self._personal_email(pinyin, initials, c["index"], birthday) \
                if rng.random() < 0.7 else None
            c["interests"] = rng.sample(self.device_categories, rng.randint(1, 2))
        c["channel"] = rng.choice(("phone", "wechat", "wechat", "sms", "email"))
        c["wechat"] = f"wxid_{rng.getrandbits(64):016x}" if rng.random() < 0.35 else None
        self.counts["persons"] += 1
        self._activity(c)
        self._write_customer(c)
        return c

    def _personal_email(self, pinyin: str, initials: str, index: int,
                        birthday: date | None) -> str:
        rng = self.rng
        domain = _pick(rng, self.domains)
        if domain == "qq.com" and rng.random() < 0.7:
            return f"{_bijection(index, 9 * 10**9, 5_915_587_277, self.seed) + 10**8}@qq.com"
        year = f"{birthday:%Y}" if birthday and rng.random() < 0.5 else ""
        local = rng.choice((pinyin, f"{pinyin}_", initials, f"{pinyin}."))
        return f"{local or 'user'}{year}{index}@{domain}"

    def _id_number(self, division: str, birthday: date, male: bool) -> str:
        sequence = self.rng.randint(0, 998)
        for _attempt in range(500):
            number = resident_id(division=division, birthday=birthday, sequence=sequence,
                                 male=male)
            if number not in self.id_numbers:
                self.id_numbers.add(number)
                return number
            sequence = (sequence + 2) % 998
        raise RuntimeError("ran out of ID number sequences for one birthday and district")

    # activity --------------------------------------------------------------------

    def _activity(self, c: dict) -> None:
        """Interactions, events, orders, tickets and follow-ups for customer `c`."""
        rng, db, t = self.rng, self.db, self.t
        cid, owner, created = c["id"], c["owner"], c["created"]
        is_org = c["kind"] == Customer.KIND_ORGANISATION
        stage = c["stage"]
        # Churned customers went quiet half a year ago or more.
        end = self.now - (rng.randint(180, 400) * DAY if stage == "churned" else 0)
        end = max(end, created + 3600)
        span = end - created
        interests = c["interests"]
        products = [p for cat in interests for p in self.by_category[cat]]
        follow = [p for cat in interests for fc in FOLLOW_ON.get(cat, [])
                  for p in self.by_category[fc]]
        if self.events_per_customer is not None:
            n_events = self.events_per_customer
            n_inter = rng.randint(2, 6)
        else:
            total = rng.randint(10, 30)
            n_inter = round(total * (0.4 if is_org else 0.25))
            n_events = total - n_inter
        last = created
        owner_id = owner.id if owner else None
        kinds = self.kinds_org if is_org else self.kinds_person
        for _ in range(n_inter):
            when = self._local_time(created + int(rng.random() * span), 9, 19, after=created)
            kind = _pick(rng, kinds)
            product = rng.choice(products)
            inbound = kind == "inquiry" or (kind in ("call", "wechat") and rng.random() < 0.3)
            actor = owner_id
            if inbound and self.agents and (owner_id is None or rng.random() < 0.5):
                actor = rng.choice(self.agents)
            follow_up = None
            if kind in ("call", "visit", "meeting", "wechat") and rng.random() < 0.3:
                follow_up = (datetime.fromtimestamp(when + LOCAL_OFFSET, UTC).date()
                             + timedelta(days=rng.randint(3, 14)))
            iid = self._id(Interaction)
            t["interactions"].add(
                iid, cid, kind, "inbound" if inbound else "outbound", db.dt(when), actor,
                INTERACTION_CHANNEL[kind], rng.choice(SUMMARIES[kind]).format(p=product.name),
                rng.choice(OUTCOMES), db.date(follow_up), db.dt(when))
            if follow_up is not None:
                self._follow_up(cid, iid, owner_id, follow_up, product)
            last = max(last, when)
        add_event, rand, props_db = t["events"].add, rng.random, self._props_db
        for _ in range(n_events):
            when = self._local_time(created + int(rand() * span), 7, 24, after=created)
            etype = _pick(rng, self.event_types)
            key, source = self._event_key(etype, products, follow)
            at = db.dt(when)
            add_event(cid, etype, at, props_db(key), source, at)
            if when > last:
                last = when
        orders = {"lead": 0, "prospect": 1 if rng.random() < 0.1 else 0,
                  "customer": rng.randint(1, 4), "loyal": rng.randint(4, 12),
                  "churned": rng.randint(1, 3)}[stage]
        if c.get("employer") is not None:
            orders = 0  # a contact person: the organisation places the orders
        bought: list[tuple[_Product, int]] = []
        for _ in range(orders):
            when = self._local_time(created + rng.randint(0, span), 8, 22, after=created)
            bought.extend(self._order(c, when, products, follow, owner_id,
                                      pending_only=stage == "prospect"))
            last = max(last, when)
        if bought:
            c["external_erp"] = True
            for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3))):
                product, bought_at = rng.choice(bought)
                when = self._local_time(rng.randint(bought_at, max(bought_at, end)), 8, 20,
                                        after=bought_at)
                self._ticket(c, when, product)
                last = max(last, when)
        c["last_activity"] = last if last > created else None
        tags = []
        if stage == "loyal":
            tags.append("VIP" if rng.random() < 0.5 else "老客户")
        if stage == "prospect" and rng.random() < 0.4:
            tags.append("高潜力")
        if is_org and c.get("size") in ("500-999人", "1000人以上"):
            tags.append("重点客户")
        if is_org and c.get("industry") == "教育":
            tags.append("教育行业")
        if c["source"] == "天猫店":
            tags.append("天猫会员")
        if c["source"] == "展会":
            tags.append("展会客户")
        if c["source"] == "渠道代理":
            tags.append("经销商")
        if c.get("complained"):
            tags.append("投诉过")
        if any(p.consumable for p, _ in bought) and rng.random() < 0.5:
            tags.append("耗材复购")
        if not is_org and c.get("spend") is not None:
            tags.append(tier_of(c["spend"]))
        if rng.random() < 0.15:
            tags.append(rng.choice(("价格敏感", "需回访", "企业微信好友")))
        for tag in dict.fromkeys(tags):
            t["tags"].add(cid, self.tag_ids[tag], owner_id, db.dt(created))

    def _event_key(self, etype: str, products, follow) -> tuple[tuple, str]:
        """What an event's properties are made of (a hashable key) and its source."""
        rng = self.rng
        product = rng.choice(follow if follow and rng.random() < 0.3 else products)
        if etype == "page_view":
            page = rng.random()
            if page < 0.55:
                return (etype, product.sku, "page"), "web"
            if page < 0.75:
                return (etype, product.sku, "accessories"), "web"
            return (etype, rng.choice(SITE_PAGES)), "web"
        if etype == "product_view":
            return (etype, product.sku), rng.choice(("web", "app", "wechat_mp"))
        if etype == "email_open":
            return (etype, rng.choice(CAMPAIGNS)), "edm"
        if etype == "email_click":
            return (etype, rng.choice(CAMPAIGNS), product.sku), "edm"
        if etype == "app_login":
            return (etype, rng.choice(("ios", "android", "android", "harmonyos"))), "app"
        if etype == "search":
            return (etype, rng.choice(SEARCH_TERMS)), rng.choice(("web", "app"))
        if etype == "cart_add":
            return (etype, product.sku, rng.choice((1, 1, 1, 2, 3))), "web"
        if etype == "form_submit":
            return (etype, rng.choice(("试用申请", "报价申请", "售后预约")), product.sku), "web"
        return (etype, rng.choice(CAMPAIGNS)), rng.choice(("wechat_mp", "web"))

    def _props_db(self, key: tuple):
        """The properties for an event key, in database form (the few distinct ones cached)."""
        value = self.prop_cache.get(key)
        if value is None:
            value = self.prop_cache[key] = self.db.json(self._properties(key))
        return value

    def _properties(self, key: tuple) -> dict:
        etype = key[0]
        if etype == "page_view" and len(key) == 3:
            product = self.by_sku[key[1]]
            slug = product.sku.lower()
            if key[2] == "accessories":
                return {"url": f"/products/{slug}/accessories", "product": product.sku,
                        "title": f"{product.name} 配件与耗材"}
            return {"url": f"/products/{slug}", "product": product.sku, "title": product.name}
        if etype == "page_view":
            return {"url": key[1]}
        if etype == "product_view":
            product = self.by_sku[key[1]]
            return {"product": product.sku, "category": product.category,
                    "price": str(product.price)}
        if etype == "email_click":
            return {"campaign": key[1], "url": f"/products/{key[2].lower()}", "product": key[2]}
        if etype == "app_login":
            return {"platform": key[1]}
        if etype == "search":
            return {"q": key[1]}
        if etype == "cart_add":
            return {"product": key[1], "quantity": key[2]}
        if etype == "form_submit":
            return {"form": key[1], "product": key[2]}
        return {"campaign": key[1]}

    def _order(self, c: dict, when: int, products, follow, salesperson,
               *, pending_only: bool) -> list[tuple[_Product, int]]:
        rng, db, t = self.rng, self.db, self.t
        is_org = c["kind"] == Customer.KIND_ORGANISATION
        oid = self._id(Order)
        recent = self.now - when < 14 * DAY
        if pending_only:
            status = rng.choice(("pending", "cancelled"))
        else:
            status = _pick(rng, self.status_recent if recent else self.status_old)
        pool = products + follow if follow else products
        lines = rng.randint(1, 4 if is_org else 2)
        chosen = rng.sample(pool, min(lines, len(pool)))
        total = Decimal("0.00")
        for product in chosen:
            if product.consumable:
                qty = rng.randint(2, 40) if is_org else rng.randint(1, 4)
            else:
                qty = rng.randint(1, 10) if is_org else 1
            discount = Decimal(rng.choice(("1.00", "0.95", "0.90", "0.88", "0.85"))) \
                if is_org else Decimal(rng.choice(("1.00", "1.00", "0.95")))
            unit = (product.price * discount).quantize(Decimal("0.01"))
            amount = unit * qty
            total += amount
            t["lines"].add(oid, product.id, Decimal(qty), unit, amount)
        channel = CHANNEL_OF_SOURCE.get(c["source"], "direct" if is_org else "online")
        payment = _pick(rng, self.pay_org if is_org else self.pay_person)
        number = f"SO{datetime.fromtimestamp(when + LOCAL_OFFSET, UTC):%Y%m%d}{oid:07d}"
        notes = "客户退货，已入库。" if status == "returned" else (
            "已原路退款。" if status == "refunded" else "")
        t["orders"].add(oid, c["id"], number, status, db.dt(when), total,
                        "" if status == "pending" else payment, channel, salesperson, notes,
                        db.dt(when))
        if status in Order.PURCHASE_STATUSES:
            c["spend"] = c.get("spend", Decimal(0)) + total
        if status in ("cancelled", "refunded", "returned"):
            return []
        return [(p, when) for p in chosen]

    def _ticket(self, c: dict, when: int, product: _Product) -> None:
        rng, db, t = self.rng, self.db, self.t
        kind = rng.choices(("service_request", "complaint", "inquiry"), (55, 15, 30))[0]
        if kind == "complaint":
            c["complained"] = True
        tid = self._id(Ticket)
        age_days = (self.now - when) / DAY
        if age_days > 10:
            status = rng.choices(("closed", "resolved", "in_progress"), (70, 27, 3))[0]
        else:
            status = rng.choices(("open", "in_progress", "resolved"), (40, 35, 25))[0]
        resolved_at = satisfaction = None
        resolution = ""
        if status in ("resolved", "closed"):
            resolved_at = min(when + rng.randint(1800, 5 * DAY), self.now - 60)
            resolution = rng.choice(RESOLUTIONS[kind])
            if rng.random() < 0.75:
                weights = (2, 3, 10, 30, 55) if kind != "complaint" else (15, 20, 30, 20, 15)
                satisfaction = rng.choices((1, 2, 3, 4, 5), weights)[0]
        priority = rng.choices(("low", "normal", "high", "urgent"),
                               (15, 60, 20, 5) if kind != "complaint" else (0, 40, 45, 15))[0]
        subjects = REPAIRS[product.category] if kind == "service_request" else TICKET_SUBJECTS[kind]
        subject = rng.choice(subjects).format(p=product.name)
        number = f"TK{datetime.fromtimestamp(when + LOCAL_OFFSET, UTC):%Y%m%d}{tid:06d}"
        assignee = rng.choice(self.agents) if self.agents else None
        t["tickets"].add(tid, c["id"], number, kind, subject, f"客户反馈：{subject}。", status,
                         priority, assignee, product.id, satisfaction, resolution, db.dt(when),
                         db.dt(resolved_at) if resolved_at else None, db.dt(when))

    def _follow_up(self, cid: int, iid: int, assignee, due: date, product: _Product) -> None:
        rng, db = self.rng, self.db
        today = datetime.fromtimestamp(self.now + LOCAL_OFFSET, UTC).date()
        done_at = None
        if due >= today:
            status = "open"
        else:
            status = rng.choices(("done", "cancelled", "open"), (85, 5, 10))[0]
            if status == "done":
                moment = datetime(due.year, due.month, due.day, 10, tzinfo=UTC).timestamp()
                done_at = min(int(moment) - LOCAL_OFFSET + rng.randint(0, 8 * 3600),
                              self.now - 60)
        title = rng.choice(TASK_TITLES).format(p=product.name)
        created = min(int(datetime(due.year, due.month, due.day, tzinfo=UTC).timestamp())
                      - 3 * DAY, self.now - 60)
        self.t["tasks"].add(cid, iid, assignee, title, db.date(due), status,
                            db.dt(done_at) if done_at else None, db.dt(created))

    # the customer row and its identity children ---------------------------------

    def _write_customer(self, c: dict) -> None:
        rng, db, t = self.rng, self.db, self.t
        cid, created = c["id"], c["created"]
        created_db = db.dt(created)
        owner = c["owner"]
        primary = c["addresses"][0]
        province, city_name = primary[1], primary[2]
        mobile_e164 = ""
        if c.get("mobile"):
            phone = normalize_phone(c["mobile"])
            mobile_e164 = phone.e164
            t["identifiers"].add(cid, Identifier.MOBILE, "", phone.e164, phone.last4, "demo",
                                 rng.random() < 0.6, True, created_db, created_db)
        if c.get("landline"):
            phone = normalize_phone(c["landline"])
            t["identifiers"].add(cid, Identifier.LANDLINE, "", phone.e164, phone.last4, "demo",
                                 False, not mobile_e164, created_db, created_db)
            # As the services do: the primary phone column falls back to a landline.
            mobile_e164 = mobile_e164 or phone.e164
        if c.get("email"):
            t["identifiers"].add(cid, Identifier.EMAIL, "", c["email"], "", "demo",
                                 rng.random() < 0.4, True, created_db, created_db)
        if c.get("wechat"):
            t["identifiers"].add(cid, Identifier.WECHAT, "", c["wechat"], "", "demo",
                                 True, True, created_db, created_db)
        # Only the ciphertext, the blind index and the masked form are stored.
        id_columns = id_number_columns(c.get("id_number") or "")
        encrypted = id_columns["id_number_encrypted"]
        index = id_columns["id_number_index"]
        masked = id_columns["id_number_masked"]
        if index:
            t["identifiers"].add(cid, Identifier.ID_NUMBER, "", index, "", "demo", True, True,
                                 created_db, created_db)
            self.counts["id_numbers"] += 1
        if c.get("external_erp"):
            t["identifiers"].add(cid, Identifier.EXTERNAL, "erp", f"C{cid:08d}", "", "demo",
                                 True, False, created_db, created_db)
        if c["source"] == "天猫店":
            t["identifiers"].add(cid, Identifier.EXTERNAL, "tmall",
                                 f"tb{_bijection(c['index'], 10**10, 7_777_777_777, self.seed):010d}",
                                 "", "demo", True, False, created_db, created_db)
        for n, (label, prov, city, district, detail, _division) in enumerate(c["addresses"]):
            postal = c["city"].postal_code
            raw = f"{prov}{city if city != prov else ''}{district}{detail}"
            t["addresses"].add(cid, label, prov, city, district, detail, postal,
                               region_for_province(prov), raw, n == 0)
        is_org = c["kind"] == Customer.KIND_ORGANISATION
        notes = ""
        if rng.random() < 0.1:
            notes = rng.choice(("客户要求开具增值税专用发票。", "只在工作日上午联系。",
                                "对价格敏感，需要主管审批折扣。", "老客户介绍，注意服务质量。"))
        t["customers"].add(
            cid, c["kind"], c["name"], c["pinyin"], c["initials"],
            "" if is_org else c["gender"], db.date(c.get("birthday")),
            c.get("title", "") if not is_org else "",
            encrypted, index, masked,
            c.get("uscc", ""), c.get("industry", ""), c.get("size", ""), c.get("revenue", ""),
            c.get("website", ""),
            owner.id if owner else None, owner.team_id if owner else None,
            c["source"], c["stage"], c["channel"], db.json(c["interests"]), notes,
            province, city_name, region_for_province(province),
            mobile_e164, c.get("email") or "",
            Customer.STATUS_ACTIVE, created_db, created_db,
            db.dt(c["last_activity"]) if c["last_activity"] else None,
        )


def _tables(db: _Db, now_db) -> dict[str, _Table]:
    return {
        # Parents before children: the order rows are written in.
        "customers": _Table(Customer, [
            "id", "kind", "name", "name_pinyin", "name_initials", "gender", "birthday", "title",
            "id_number_encrypted", "id_number_index", "id_number_masked", "uscc", "industry",
            "company_size", "revenue_band", "website", "owner_id", "team_id", "source",
            "lifecycle_stage", "preferred_channel", "product_interests", "notes", "province",
            "city", "region", "primary_mobile", "primary_email", "status", "created_at",
            "updated_at", "last_activity_at"], now_db),
        "identifiers": _Table(Identifier, [
            "customer_id", "kind", "system", "value", "last4", "source", "verified",
            "is_primary", "first_seen", "last_seen"], now_db),
        "addresses": _Table(Address, [
            "customer_id", "label", "province", "city", "district", "detail", "postal_code",
            "region", "raw", "is_primary"], now_db),
        "links": _Table(ContactLink, [
            "organisation_id", "person_id", "job_title", "decision_role", "is_primary",
            "created_at"], now_db),
        "tags": _Table(CustomerTag, ["customer_id", "tag_id", "added_by_id", "added_at"], now_db),
        "interactions": _Table(Interaction, [
            "id", "customer_id", "kind", "direction", "occurred_at", "actor_id", "channel",
            "summary", "outcome", "next_follow_up", "created_at"], now_db),
        "tasks": _Table(FollowUpTask, [
            "customer_id", "interaction_id", "assignee_id", "title", "due_date", "status",
            "done_at", "created_at"], now_db),
        "events": _Table(Event, [
            "customer_id", "event_type", "occurred_at", "properties", "source", "received_at"],
            now_db),
        "orders": _Table(Order, [
            "id", "customer_id", "number", "status", "ordered_at", "total_amount",
            "payment_method", "sales_channel", "salesperson_id", "notes", "created_at"], now_db),
        "lines": _Table(OrderLine, ["order_id", "product_id", "quantity", "unit_price",
                                    "amount"], now_db),
        "tickets": _Table(Ticket, [
            "id", "customer_id", "number", "kind", "subject", "description", "status",
            "priority", "assignee_id", "product_id", "satisfaction", "resolution", "opened_at",
            "resolved_at", "created_at"], now_db),
    }


def _sales_reps() -> list[_Rep]:
    reps = (User.objects.filter(role__code="sales_rep", is_active=True)
            .select_related("team").order_by("pk"))
    return [_Rep(u.pk, u.team_id, u.team.region if u.team else "") for u in reps]


def _reset_sequences(models_: Iterable[type[models.Model]]) -> None:
    statements = connection.ops.sequence_reset_sql(no_style(), list(models_))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def _analyze(tables: Iterable[_Table]) -> None:
    """Fresh planner statistics after a bulk load (bounded sampling on SQLite)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit=2000")
            cursor.execute("ANALYZE")
        else:
            for table in tables:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table.model._meta.db_table)}")


def demo_customers_load(
    *,
    customers: int,
    seed: int,
    events_per_customer: int | None = None,
    chunk_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> DemoLoadResult:
    """Load `customers` demo customers and their history; one audit entry for the load.

    `events_per_customer` fixes the number of events per customer (benchmarks); by
    default each customer gets 10-30 interactions and events. `progress(n)` is called
    after each chunk with the number of customers written in it.
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    db = _Db()
    now = int(timezone.now().timestamp())
    products = products_ensure()
    tag_ids = tags_ensure()
    reps = _sales_reps()
    agents = list(User.objects.filter(role__code="service_agent", is_active=True)
                  .order_by("pk").values_list("pk", flat=True))
    tables = _tables(db, db.dt(now))
    gen = _Generator(seed=seed, rng=rng, db=db, now=now, reps=reps, agents=agents,
                     products=products, tag_ids=tag_ids,
                     events_per_customer=events_per_customer, tables=tables)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA cache_size=-262144")  # 256 MB page cache for index building
    written = 0
    while written < customers:
        size = min(chunk_size, customers - written)
        before = gen.index
        gen.customers(size)
        made = gen.index - before
        with transaction.atomic(), connection.cursor() as cursor:
            for table in tables.values():
                table.flush(cursor)
        written += made
        if progress is not None:
            progress(made)
    _reset_sequences([Customer, Order, Interaction, Ticket])
    _analyze(tables.values())
    counts = {
        "customers": tables["customers"].written,
        "persons": gen.counts["persons"],
        "organisations": gen.counts["organisations"],
        "contacts": tables["links"].written,
        "identifiers": tables["identifiers"].written,
        "id_numbers": gen.counts["id_numbers"],
        "addresses": tables["addresses"].written,
        "tags": tables["tags"].written,
        "interactions": tables["interactions"].written,
        "events": tables["events"].written,
        "follow_ups": tables["tasks"].written,
        "orders": tables["orders"].written,
        "order_lines": tables["lines"].written,
        "tickets": tables["tickets"].written,
        "products": len(products),
    }
    with transaction.atomic():
        record_change(actor=Actor.system(via="cli"), action="demo.load", event="demo.loaded",
                      object_type="customer",
                      object_repr=f"{counts['customers']} demo customers (seed {seed})",
                      changes={"counts": counts, "seed": seed,
                              "events_per_customer": events_per_customer})
    return DemoLoadResult(counts=counts, seconds=time.perf_counter() - started)
