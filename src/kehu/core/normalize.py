"""The one normalisation module: forms, API, imports and matching all call these.

Every function takes what a person typed (full-width digits, stray spaces,
Chinese date formats …) and returns the canonical form kehu stores, or raises
NormalizationError with a translated message. Messages never repeat the input,
so an ID number cannot leak into a log or an error response through them.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from typing import Literal

from django.utils.translation import gettext_lazy as _


class NormalizationError(ValueError):
    """A value that cannot be normalised; str() is a human message in the active language."""

    def __init__(self, message, *, code: str = "invalid"):
        self.message = message
        self.code = code
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.message)


MSG_PHONE = _("Enter a valid phone number.")
MSG_EMAIL = _("Enter a valid email address.")
MSG_ID_NUMBER = _("Enter a valid 18-character resident ID number.")
MSG_ID_CHECKSUM = _("The ID number's check digit is wrong; check it for a typo.")
MSG_ID_BIRTH = _("The ID number contains an impossible birth date.")
MSG_ID_PLACE = _("The ID number's area code does not exist.")
MSG_USCC = _("Enter a valid 18-character unified social credit code.")
MSG_USCC_CHECKSUM = _("The unified social credit code's check character is wrong.")
MSG_DATE = _("Enter a date such as 1990-01-02.")
MSG_DATE_IMPOSSIBLE = _("This date does not exist.")
MSG_GENDER = _("Gender must be male, female or unknown.")
MSG_NAME = _("Enter a name.")


def _text(raw) -> str:
    """NFKC folds full-width digits, letters and spaces to their ASCII forms."""
    return unicodedata.normalize("NFKC", "" if raw is None else str(raw)).strip()


# Phones ---------------------------------------------------------------------


@dataclass(frozen=True)
class Phone:
    e164: str
    kind: Literal["mobile", "landline"]
    last4: str


_PHONE_JUNK = re.compile(r"[\s\-().\u00a0/]")
# A number may not start or end with these (after full-width forms are folded): "−" and "‐"
# are the minus and hyphen signs NFKC leaves alone.
_PHONE_EDGE = frozenset("-./\u2212\u2010\u2011\u2012\u2013\u2014")


@cache
def _cn_mobile_pattern() -> re.Pattern:
    # phonenumbers' own mainland mobile pattern, so the fast path accepts exactly
    # what the full parse would (no drift when its metadata is updated).
    from phonenumbers import PhoneMetadata

    return re.compile(PhoneMetadata.metadata_for_region("CN").mobile.national_number_pattern)


def normalize_phone(raw: str, region: str = "CN") -> Phone:
    """Any common way of writing a number -> E.164, its kind and its last four digits.

    Plain 11-digit mainland mobiles (most of any import) skip the full parser. Full-width
    digits are read as digits; separators are allowed between digits only, so a negative
    number such as "-13900000026" (a spreadsheet formula's result) is refused.
    """
    folded = _text(raw)
    if folded[:1] in _PHONE_EDGE or folded[-1:] in _PHONE_EDGE:
        raise NormalizationError(MSG_PHONE, code="phone")
    text = _PHONE_JUNK.sub("", folded)
    if len(text) == 11 and region == "CN" and text.isdigit() and text[0] == "1":
        if _cn_mobile_pattern().fullmatch(text):
            return Phone(e164="+86" + text, kind="mobile", last4=text[-4:])
    elif (len(text) == 14 and text.startswith("+861") and region == "CN"
          and text[1:].isdigit() and _cn_mobile_pattern().fullmatch(text[3:])):
        return Phone(e164=text, kind="mobile", last4=text[-4:])
    return _phone_full(text, region)


def _phone_full(text: str, region: str) -> Phone:
    """The full phonenumbers parse (the slow path; the fast paths above must agree with it)."""
    if not text or len(text) > 24:
        raise NormalizationError(MSG_PHONE, code="phone")
    import phonenumbers

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise NormalizationError(MSG_PHONE, code="phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise NormalizationError(MSG_PHONE, code="phone")
    number_type = phonenumbers.number_type(number)
    mobile = number_type in (phonenumbers.PhoneNumberType.MOBILE,
                             phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    national = str(number.national_number)
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        kind="mobile" if mobile else "landline",
        last4=national[-4:],
    )


# Emails ---------------------------------------------------------------------


def normalize_email(raw: str) -> str:
    """Trimmed, lower-cased and syntactically valid (no DNS lookups)."""
    text = _text(raw).lower()
    if len(text) <= 100 and "--" not in text:
        match = _PLAIN_EMAIL.fullmatch(text)
        if match and len(match.group(1)) <= 64 and match.group(2) not in _SPECIAL_TLDS:
            return text
    return _email_full(text)


# Plain ASCII addresses (nearly every real one) that email-validator would accept unchanged:
# dot-atoms of letters, digits, _ + - ; domain labels of letters, digits and inner hyphens;
# a top-level domain of 2+ letters. Anything else takes the full validator.
_PLAIN_EMAIL = re.compile(r"([a-z0-9_+\-]+(?:\.[a-z0-9_+\-]+)*)@"
                          r"(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+([a-z]{2,63})")
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})


def _email_full(text: str) -> str:
    """email-validator's full check (the slow path; the fast path above must agree with it)."""
    from email_validator import EmailNotValidError, validate_email

    if not text:
        raise NormalizationError(MSG_EMAIL, code="email")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise NormalizationError(MSG_EMAIL, code="email") from exc
    return result.normalized.lower()


# Resident ID numbers and credit codes ----------------------------------------


@dataclass(frozen=True)
class IdNumber:
    value: str
    birthday: date
    gender: Literal["male", "female"]

    def __repr__(self) -> str:  # keep the clear number out of tracebacks and logs
        return f"IdNumber(value='{self.value[:3]}…', birthday=…, gender=…)"


_ID_JUNK = re.compile(r"[\s\-]")


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


@cache
def _area_exists(code: str) -> bool:
    from stdnum import numdb

    return any(props for _part, props in numdb.get("cn/loc").info(code))


def normalize_id_number(raw: str) -> IdNumber:
    """Validate a mainland resident ID (GB 11643): length, area code, birth date, MOD 11-2.

    The check digit and birth date are computed inline and area codes looked up once each
    (bulk imports); `_id_number_full` is the python-stdnum path it must agree with.
    """
    text = _ID_JUNK.sub("", _text(raw)).upper()
    if len(text) != 18 or not text[:17].isdigit() or text[17] not in "0123456789X":
        raise NormalizationError(MSG_ID_NUMBER, code="id_number")
    total = 0
    for weight, digit in zip(_ID_WEIGHTS, text, strict=False):
        total += weight * (ord(digit) - 48)
    if text[17] != _ID_CHECK[total % 11]:
        raise NormalizationError(MSG_ID_CHECKSUM, code="id_number_checksum")
    try:
        birthday = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise NormalizationError(MSG_ID_BIRTH, code="id_number_birth") from None
    if birthday > date.today() or birthday.year < 1880:  # noqa: DTZ011 - a calendar date
        raise NormalizationError(MSG_ID_BIRTH, code="id_number_birth")
    if not _area_exists(text[:6]):
        raise NormalizationError(MSG_ID_PLACE, code="id_number_place")
    return IdNumber(value=text, birthday=birthday,
                    gender="male" if int(text[16]) % 2 else "female")


def _id_number_full(raw: str) -> IdNumber:
    """The python-stdnum validation (the slow path normalize_id_number must agree with)."""
    from stdnum import exceptions
    from stdnum.cn import ric

    text = _ID_JUNK.sub("", _text(raw)).upper()
    if len(text) != 18 or not text[:17].isdigit() or text[17] not in "0123456789X":
        raise NormalizationError(MSG_ID_NUMBER, code="id_number")
    if text[17] != ric.calc_check_digit(text):
        raise NormalizationError(MSG_ID_CHECKSUM, code="id_number_checksum")
    try:
        birthday = ric.get_birth_date(text)
    except exceptions.ValidationError:
        raise NormalizationError(MSG_ID_BIRTH, code="id_number_birth") from None
    if birthday > date.today() or birthday.year < 1880:  # noqa: DTZ011 - a calendar date
        raise NormalizationError(MSG_ID_BIRTH, code="id_number_birth")
    # The area code must exist, but not necessarily in the birth year: stdnum's
    # get_birth_place insists on that and rejects GB 11643's own 11010519491231002X.
    from stdnum import numdb

    if not any(props for _part, props in numdb.get("cn/loc").info(text[:6])):
        raise NormalizationError(MSG_ID_PLACE, code="id_number_place")
    return IdNumber(value=text, birthday=birthday,
                    gender="male" if int(text[16]) % 2 else "female")


def normalize_uscc(raw: str) -> str:
    """Validate a unified social credit code (GB 32100): format and MOD 31 check character."""
    from stdnum import exceptions
    from stdnum.cn import uscc

    text = _ID_JUNK.sub("", _text(raw)).upper()
    try:
        return uscc.validate(text)
    except exceptions.InvalidChecksum:
        raise NormalizationError(MSG_USCC_CHECKSUM, code="uscc_checksum") from None
    except exceptions.ValidationError:
        raise NormalizationError(MSG_USCC, code="uscc") from None


# Names ----------------------------------------------------------------------

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
_RUNS = re.compile(rf"[{_CJK}]+|[A-Za-z0-9]+")
_IS_CJK = re.compile(rf"[{_CJK}]")
_MIDDLE_DOTS = re.compile(r"[•・‧∙⋅．]")

# Surnames read differently from the same character in ordinary words.
_SURNAMES = {
    "尉迟": "yu chi", "万俟": "mo qi", "单于": "chan yu", "长孙": "zhang sun", "澹台": "tan tai",
    "曾": "zeng", "单": "shan", "仇": "qiu", "解": "xie", "区": "ou", "查": "zha", "朴": "piao",
    "盖": "ge", "乐": "yue", "缪": "miao", "翟": "zhai", "秘": "bi", "覃": "qin", "种": "chong",
    "员": "yun", "宿": "su", "繁": "po", "句": "gou", "召": "shao", "华": "hua", "任": "ren",
    "便": "pian", "薄": "bo", "隗": "wei", "重": "chong", "折": "she", "黑": "he", "那": "na",
    "沈": "shen", "石": "shi", "葛": "ge", "乜": "nie", "柏": "bai", "贲": "ben", "芮": "rui",
    "阚": "kan", "尉": "wei", "藏": "zang", "朝": "chao", "牟": "mou", "卜": "bu", "都": "du",
    "长": "chang", "传": "chuan", "和": "he", "行": "xing", "省": "xing",
}


def normalize_name(raw: str) -> str:
    """Trim, fold full-width forms, collapse inner spaces (none between Chinese characters)."""
    text = _MIDDLE_DOTS.sub("·", _text(raw))
    text = re.sub(r"\s+", " ", text)
    return _SPACE_BETWEEN_CJK.sub("", text)


def name_search_keys(name: str) -> tuple[str, str]:
    """(full pinyin, initials) for search: 张伟 -> ("zhangwei", "zw"); Latin letters kept.

    Person names read the surname the way surnames are read (曾 zeng, 单 shan). Names repeat
    a lot in imports (张伟 …), so results are remembered.
    """
    return _name_search_keys(name)


@lru_cache(maxsize=1 << 16)
def _name_search_keys(name: str) -> tuple[str, str]:
    syllables, text = _surname_reading(normalize_name(name))
    for run in _RUNS.findall(text):
        if _IS_CJK.match(run):
            syllables.extend(_run_pinyin(run))
        else:
            syllables.append(run.lower())
    full = "".join(syllables)
    initials = "".join(s[0] for s in syllables if s)
    return full[:400], initials[:100]


def _run_pinyin(run: str) -> list[str]:
    """lazy_pinyin(run), without its per-call cost where the answer is known: pypinyin
    reads a run phrase by phrase, so a run in which no two neighbours start a phrase reads
    character by character (each character's own first reading, remembered)."""
    from pypinyin import lazy_pinyin
    from pypinyin.seg.mmseg import p_set

    if len(run) > 1 and any(run[i:i + 2] in p_set for i in range(len(run) - 1)):
        return lazy_pinyin(run)
    return [_char_pinyin(char) for char in run]


@lru_cache(maxsize=1 << 15)
def _char_pinyin(char: str) -> str:
    from pypinyin import lazy_pinyin

    return lazy_pinyin(char)[0]


# Dates and gender -----------------------------------------------------------

_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def parse_date(raw) -> date:
    """1990-01-02, 1990/1/2, 19900102, 1990年1月2日 and 1990.1.2 -> date; 2月30日 raises."""
    if isinstance(raw, date):
        return raw if type(raw) is date else raw.date()
    text = _text(raw)
    match = _DATE.match(text) or _COMPACT_DATE.match(text)
    if not match:
        raise NormalizationError(MSG_DATE, code="date")
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise NormalizationError(MSG_DATE_IMPOSSIBLE, code="date_impossible") from None


_GENDERS = {
    "male": {"男", "男性", "先生", "m", "male", "man", "mr", "1", "公"},
    "female": {"女", "女性", "女士", "小姐", "太太", "f", "female", "woman", "mrs", "ms", "miss",
               "2"},
    "unknown": {"", "未知", "保密", "不详", "u", "unknown", "0", "9", "-", "其他", "other"},
}
_GENDER_OF = {word: gender for gender, words in _GENDERS.items() for word in words}


def normalize_gender(raw) -> str:
    """男/女/M/F/male/female/先生/女士/GB 2261 codes -> "male" | "female" | "unknown"."""
    text = _text(raw).lower().rstrip(".")
    if text in _GENDER_OF:
        return _GENDER_OF[text]
    raise NormalizationError(MSG_GENDER, code="gender")


# Addresses ------------------------------------------------------------------


@dataclass(frozen=True)
class AddressParts:
    province: str
    city: str
    district: str
    detail: str
    region: str


REGION_EAST, REGION_SOUTH, REGION_NORTH, REGION_CENTRAL = "华东", "华南", "华北", "华中"
REGION_SOUTHWEST, REGION_NORTHWEST, REGION_NORTHEAST, REGION_HMT = "西南", "西北", "东北", "港澳台"
REGIONS = [
    (REGION_EAST, _("East China")), (REGION_SOUTH, _("South China")),
    (REGION_NORTH, _("North China")), (REGION_CENTRAL, _("Central China")),
    (REGION_SOUTHWEST, _("Southwest China")), (REGION_NORTHWEST, _("Northwest China")),
    (REGION_NORTHEAST, _("Northeast China")), (REGION_HMT, _("Hong Kong, Macao and Taiwan")),
]

# Province-level divisions and their prefecture-level cities (plus county-level cities
# governed directly by the province), from the national administrative division codes
# (as packaged by cpca, MIT), updated for 莱芜 (merged into 济南, 2019) and 那曲 (city, 2018).
_DIVISIONS = """\
北京市|华北|
天津市|华北|
河北省|华北|石家庄市 唐山市 秦皇岛市 邯郸市 邢台市 保定市 张家口市 承德市 沧州市 廊坊市 衡水市
    定州市 辛集市
山西省|华北|太原市 大同市 阳泉市 长治市 晋城市 朔州市 晋中市 运城市 忻州市 临汾市 吕梁市
内蒙古自治区|华北|呼和浩特市 包头市 乌海市 赤峰市 通辽市 鄂尔多斯市 呼伦贝尔市 巴彦淖尔市
    乌兰察布市 兴安盟 锡林郭勒盟 阿拉善盟
辽宁省|东北|沈阳市 大连市 鞍山市 抚顺市 本溪市 丹东市 锦州市 营口市 阜新市 辽阳市 盘锦市 铁岭市
    朝阳市 葫芦岛市
吉林省|东北|长春市 吉林市 四平市 辽源市 通化市 白山市 松原市 白城市 延边朝鲜族自治州
黑龙江省|东北|哈尔滨市 齐齐哈尔市 鸡西市 鹤岗市 双鸭山市 大庆市 伊春市 佳木斯市 七台河市 牡丹江市
    黑河市 绥化市 大兴安岭地区
上海市|华东|
江苏省|华东|南京市 无锡市 徐州市 常州市 苏州市 南通市 连云港市 淮安市 盐城市 扬州市 镇江市 泰州市
    宿迁市
浙江省|华东|杭州市 宁波市 温州市 嘉兴市 湖州市 绍兴市 金华市 衢州市 舟山市 台州市 丽水市
安徽省|华东|合肥市 芜湖市 蚌埠市 淮南市 马鞍山市 淮北市 铜陵市 安庆市 黄山市 滁州市 阜阳市 宿州市
    六安市 亳州市 池州市 宣城市
福建省|华东|福州市 厦门市 莆田市 三明市 泉州市 漳州市 南平市 龙岩市 宁德市
江西省|华东|南昌市 景德镇市 萍乡市 九江市 新余市 鹰潭市 赣州市 吉安市 宜春市 抚州市 上饶市
山东省|华东|济南市 青岛市 淄博市 枣庄市 东营市 烟台市 潍坊市 济宁市 泰安市 威海市 日照市 临沂市
    德州市 聊城市 滨州市 菏泽市
河南省|华中|郑州市 开封市 洛阳市 平顶山市 安阳市 鹤壁市 新乡市 焦作市 濮阳市 许昌市 漯河市
    三门峡市 南阳市 商丘市 信阳市 周口市 驻马店市 济源市
湖北省|华中|武汉市 黄石市 十堰市 宜昌市 襄阳市 鄂州市 荆门市 孝感市 荆州市 黄冈市 咸宁市 随州市
    恩施土家族苗族自治州 仙桃市 天门市 潜江市 神农架林区
湖南省|华中|长沙市 株洲市 湘潭市 衡阳市 邵阳市 岳阳市 常德市 张家界市 益阳市 郴州市 永州市 怀化市
    娄底市 湘西土家族苗族自治州
广东省|华南|广州市 韶关市 深圳市 珠海市 汕头市 佛山市 江门市 湛江市 茂名市 肇庆市 惠州市 梅州市
    汕尾市 河源市 阳江市 清远市 东莞市 中山市 潮州市 揭阳市 云浮市
广西壮族自治区|华南|南宁市 柳州市 桂林市 梧州市 北海市 防城港市 钦州市 贵港市 玉林市 百色市 贺州市
    河池市 来宾市 崇左市
海南省|华南|海口市 三亚市 三沙市 儋州市 万宁市 东方市 五指山市 文昌市 琼海市 临高县 定安县 屯昌县
    澄迈县 乐东黎族自治县 保亭黎族苗族自治县 昌江黎族自治县 琼中黎族苗族自治县 白沙黎族自治县
    陵水黎族自治县
重庆市|西南|
四川省|西南|成都市 自贡市 攀枝花市 泸州市 德阳市 绵阳市 广元市 遂宁市 内江市 乐山市 南充市 眉山市
    宜宾市 广安市 达州市 雅安市 巴中市 资阳市 阿坝藏族羌族自治州 甘孜藏族自治州 凉山彝族自治州
贵州省|西南|贵阳市 六盘水市 遵义市 安顺市 毕节市 铜仁市 黔西南布依族苗族自治州
    黔东南苗族侗族自治州 黔南布依族苗族自治州
云南省|西南|昆明市 曲靖市 玉溪市 保山市 昭通市 丽江市 普洱市 临沧市 楚雄彝族自治州
    红河哈尼族彝族自治州 文山壮族苗族自治州 西双版纳傣族自治州 大理白族自治州 德宏傣族景颇族自治州
    怒江傈僳族自治州 迪庆藏族自治州
西藏自治区|西南|拉萨市 日喀则市 昌都市 林芝市 山南市 那曲市 阿里地区
陕西省|西北|西安市 铜川市 宝鸡市 咸阳市 渭南市 延安市 汉中市 榆林市 安康市 商洛市
甘肃省|西北|兰州市 嘉峪关市 金昌市 白银市 天水市 武威市 张掖市 平凉市 酒泉市 庆阳市 定西市 陇南市
    临夏回族自治州 甘南藏族自治州
青海省|西北|西宁市 海东市 海北藏族自治州 黄南藏族自治州 海南藏族自治州 果洛藏族自治州
    玉树藏族自治州 海西蒙古族藏族自治州
宁夏回族自治区|西北|银川市 石嘴山市 吴忠市 固原市 中卫市
新疆维吾尔自治区|西北|乌鲁木齐市 克拉玛依市 吐鲁番市 哈密市 昌吉回族自治州 博尔塔拉蒙古自治州
    巴音郭楞蒙古自治州 阿克苏地区 克孜勒苏柯尔克孜自治州 喀什地区 和田地区 伊犁哈萨克自治州
    塔城地区 阿勒泰地区 石河子市 阿拉尔市 图木舒克市 五家渠市 北屯市 铁门关市 双河市 可克达拉市
    昆玉市 胡杨河市 新星市
台湾省|港澳台|
香港特别行政区|港澳台|
澳门特别行政区|港澳台|
"""

_MUNICIPALITIES = {"北京市", "天津市", "上海市", "重庆市"}
_ETHNIC_TAIL = re.compile(
    r"(?:朝鲜|土家|苗|藏|羌|彝|布依|侗|哈尼|壮|傣|白|景颇|傈僳|回|蒙古|柯尔克孜|哈萨克|黎|维吾尔)族?$"
)
_DIVISION_SUFFIX = re.compile(r"(?:特别行政区|自治区|自治州|自治县|地区|林区|省|市|盟|县)$")


def _short(name: str) -> str:
    """浙江省 -> 浙江, 广西壮族自治区 -> 广西, 延边朝鲜族自治州 -> 延边."""
    short = _DIVISION_SUFFIX.sub("", name)
    while True:
        shorter = _ETHNIC_TAIL.sub("", short)
        if shorter == short or len(shorter) < 2:
            return short
        short = shorter


@cache
def _tables():
    provinces: dict[str, tuple[str, str]] = {}  # any spelling -> (full name, region)
    cities: dict[str, tuple[str, str]] = {}  # any spelling -> (full name, province)
    province_cities: dict[str, dict[str, str]] = {}
    lines: list[str] = []
    for line in _DIVISIONS.splitlines():  # indented lines continue the province above
        if line.startswith(" "):
            lines[-1] += line
        else:
            lines.append(line)
    for line in lines:
        province, region, names = line.split("|")
        provinces[province] = provinces[_short(province)] = (province, region)
        own: dict[str, str] = {}
        for city in names.split():
            own[city] = own.setdefault(_short(city), city)
        province_cities[province] = own
    for province, own in province_cities.items():
        for spelling, city in own.items():
            # A short spelling that names a province too (吉林, 海南) stays a province.
            if spelling == city or spelling not in provinces:
                cities.setdefault(spelling, (city, province))
    return provinces, cities, province_cities


@cache
def _all_cities() -> dict[str, str]:
    return {spelling: city for spelling, (city, _province) in _tables()[1].items()}


def region_for_province(province: str) -> str:
    """浙江 or 浙江省 -> 华东; an unknown province gives ""."""
    provinces, _cities, _pc = _tables()
    found = provinces.get(_text(province))
    return found[1] if found else ""


def _match_prefix(text: str, names: dict[str, object]) -> str | None:
    """The longest name in `names` that `text` starts with, unless it is only the start of a
    longer division name (朝阳 in 朝阳区 is Beijing's district, not Liaoning's city)."""
    for size in range(min(len(text), 12), 1, -1):
        head = text[:size]
        if head in names:
            if head[-1] not in "省市区县州盟旗" and text[size:size + 1] in tuple("区县旗"):
                continue
            return head
    return None


_DISTRICT = re.compile(r"^([^\d\s,，路街道号巷弄]{1,7}?(?:新区|区|县|旗|市))(?!场|民|政|委|辖)")
_NOT_DISTRICT = ("小区", "社区", "校区", "街区", "景区", "厂区", "园区")


def parse_address(raw: str) -> AddressParts:
    """Split a Chinese address into province / city / district / the rest, and its region.

    Missing levels are inferred where unambiguous (杭州市西湖区… -> 浙江省); an address
    outside the tables keeps everything in `detail`.
    """
    text = re.sub(r"\s+", "", _text(raw))
    provinces, cities, province_cities = _tables()
    province = city = district = ""
    rest = text
    head = _match_prefix(rest, provinces)
    if head:
        province = provinces[head][0]
        rest = rest[len(head):]
        if province in _MUNICIPALITIES:
            city = province
            again = _match_prefix(rest, {province: 1, _short(province): 1})
            rest = rest[len(again):] if again else rest
    if not city:
        pool = province_cities[province] if province else _all_cities()
        head = _match_prefix(rest, pool)
        if head:
            city = pool[head]
            rest = rest[len(head):]
            province = province or cities[head][1]
    county = _match_county(rest, province, city)
    if county:  # the GB/T 2260 table knows 道里区, and where a lone district lies
        district, province, city = county[0], province or county[1], city or county[2]
        rest = rest[len(district):]
    elif province or city:
        match = _DISTRICT.match(rest)
        if match and not match.group(1).endswith(_NOT_DISTRICT):
            district = match.group(1)
            rest = rest[len(district):]
    return AddressParts(province=province, city=city, district=district, detail=rest,
                        region=region_for_province(province) if province else "")


# Matching keys ----------------------------------------------------------------
# Keys that two spellings of the same value share, for duplicate detection. They are not
# what kehu stores (the functions above give that); a matching key is lossy on purpose.


@cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s.json")


def to_simplified(text: str) -> str:
    """Traditional -> simplified characters (OpenCC t2s): 劉偉 -> 刘伟, 張國榮 -> 张国荣."""
    return _t2s().convert(text) if _IS_CJK.search(text) else text


_NAME_JUNK = re.compile(r"[\s·.\-_'’,，]+")


def name_match_key(raw) -> str:
    """A name as matching compares it: simplified, no spaces or dots, Latin lower-cased.

    张 伟, 張偉 and ＺＨＡＮＧ　Ｗｅｉ give 张伟, 张伟, zhangwei.
    """
    return _NAME_JUNK.sub("", to_simplified(normalize_name(raw))).lower()


# Two-character surnames, so the given name of 欧阳娜娜 is 娜娜 and not 阳娜娜.
_COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 夏侯 司徒 令狐 慕容 公孙 轩辕 宇文 长孙 尉迟 澹台 万俟 单于 "
    "端木 独孤 南宫 西门 呼延 百里 东郭 闻人 申屠 太史 钟离 宗政 濮阳 公冶 赫连 拓跋".split()
)


@cache
def _syllables() -> frozenset[str]:
    """Every toneless Mandarin syllable (426 in pypinyin's dictionary, less vowel-less ones)."""
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    found = set()
    for readings in pinyin_dict.values():
        for reading in readings.split(","):
            plain = to_normal(reading).replace("ü", "v")
            if plain.isascii() and plain.isalpha() and re.search("[aeiouv]", plain):
                found.add(plain)
    return frozenset(found)


def split_pinyin(word: str) -> list[str]:
    """zhangwei -> [zhang, wei]; xian -> [xian]; a word that is not pinyin stays whole.

    The fewest syllables win, so xian is 先, not xi'an; an apostrophe marks a break.
    """
    word = word.lower()
    known = _syllables()
    if not word.isascii() or not word.isalpha():
        return [word] if word else []
    best: list[list[str] | None] = [None] * (len(word) + 1)
    best[0] = []
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            head = best[start]
            if head is not None and word[start:end] in known:
                if best[end] is None or len(head) + 1 < len(best[end]):
                    best[end] = [*head, word[start:end]]
    return best[-1] or [word]


@dataclass(frozen=True)
class NamePinyin:
    """A person's name as pinyin syllables; `surname` is how many lead the list (0: unknown,
    as for a name typed in Latin letters, whose order people write either way)."""

    syllables: tuple[str, ...]
    surname: int

    @property
    def key(self) -> str:
        """Syllables sorted, so Zhang Wei, Wei Zhang and 张伟 share one key."""
        return " ".join(sorted(self.syllables))

    @property
    def given(self) -> str:
        return " ".join(self.syllables[self.surname:]) if self.surname else ""

    @property
    def family(self) -> str:
        return " ".join(self.syllables[:self.surname])


def _surname_reading(text: str) -> tuple[list[str], str]:
    """(the surname's syllables in its special reading, the rest) or ([], text)."""
    for surname in (text[:2], text[:1]):
        if surname and surname in _SURNAMES:
            return _SURNAMES[surname].split(), text[len(surname):]
    return [], text


@functools.lru_cache(maxsize=65536)
def name_pinyin(raw) -> NamePinyin:
    """张伟 / 張偉 / 章玮 -> zhang wei (surname 1); 曾小贤 -> zeng xiao xian; Zhang Wei -> unknown order.

    Chinese names read the surname as a surname (曾 zeng, 单 shan, 尉迟 yu chi); names in
    Latin letters are split into syllables (ZHANGWEI -> zhang wei).
    """
    from pypinyin import lazy_pinyin

    text = _NAME_JUNK.sub(" ", to_simplified(normalize_name(raw))).strip()
    if not text:
        return NamePinyin((), 0)
    if not _IS_CJK.search(text):
        syllables = [s for word in text.split() for s in split_pinyin(word)]
        return NamePinyin(tuple(syllables), 0)
    text = text.replace(" ", "")
    special, rest = _surname_reading(text)
    surname_chars = 2 if text[:2] in _COMPOUND_SURNAMES else 1
    syllables = [*special]
    for run in _RUNS.findall(rest):
        syllables.extend(lazy_pinyin(run) if _IS_CJK.match(run) else split_pinyin(run))
    if special:
        surname = len(special)
    else:
        surname = surname_chars if len(syllables) > surname_chars else 0
    return NamePinyin(tuple(syllables), surname)


def phone_match_key(raw) -> str | None:
    """E.164 of any way of writing a phone, or None when it is not a phone number."""
    if raw is None or not str(raw).strip():
        return None
    try:
        return normalize_phone(str(raw)).e164
    except NormalizationError:
        return None


def email_match_key(raw) -> str | None:
    """Lower case without any space (people type ' Zhang @ qq.com'); None without an @."""
    text = re.sub(r"\s+", "", _text(raw)).lower()
    return text if text.count("@") == 1 and not text.startswith("@") and not text.endswith("@") else None


_DATE_LOOSE = re.compile(
    r"^(\d{2}|\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?(?:[T\s]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)


def parse_date_loose(raw) -> date:
    """parse_date, plus what spreadsheets and people add: a time (1990-01-02 00:00:00),
    1990年1月2号, and two-digit years (90-1-2 -> 1990, 05/3/4 -> 2005; pivot: this year)."""
    try:
        return parse_date(raw)
    except NormalizationError as exc:
        match = _DATE_LOOSE.match(_text(raw))
        if not match:
            raise exc from None
    year, month, day = (int(part) for part in match.groups())
    if year < 100:
        this_year = date.today().year  # noqa: DTZ011 - a calendar date
        year += 2000 if 2000 + year <= this_year else 1900
    try:
        return date(year, month, day)
    except ValueError:
        raise NormalizationError(MSG_DATE_IMPOSSIBLE, code="date_impossible") from None


def date_match_key(raw) -> str | None:
    """ISO date of any typed form, or None."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        return parse_date_loose(raw).isoformat()
    except NormalizationError:
        return None


def id_number_match_key(raw) -> str | None:
    """Upper-case without spaces or dashes (lower-case x is the same ID), valid or not."""
    text = _ID_JUNK.sub("", _text(raw)).upper()
    return text or None


MSG_ID_BIRTHDAY_MISMATCH = _("The ID number's birth date differs from the birthday.")
MSG_ID_GENDER_MISMATCH = _("The ID number's gender digit differs from the gender.")


def id_number_inconsistencies(raw, *, birthday=None, gender=None) -> list[NormalizationError]:
    """What is wrong with an ID number for this person: invalid, or a birth date or gender
    digit that contradicts the record's birthday or gender. Empty when all agree.

    `birthday` and `gender` are raw values as typed; unknown or unparseable ones are skipped.
    """
    try:
        id_number = normalize_id_number(raw)
    except NormalizationError as exc:
        return [exc]
    problems = []
    if birthday not in (None, ""):
        try:
            if parse_date_loose(birthday) != id_number.birthday:
                problems.append(NormalizationError(MSG_ID_BIRTHDAY_MISMATCH, code="id_number_birthday"))
        except NormalizationError:
            pass
    if gender not in (None, ""):
        try:
            known = normalize_gender(gender)
        except NormalizationError:
            known = "unknown"
        if known != "unknown" and known != id_number.gender:
            problems.append(NormalizationError(MSG_ID_GENDER_MISMATCH, code="id_number_gender"))
    return problems


_LEGAL_SUFFIXES = re.compile(
    r"(?:股份有限公司|有限责任公司|集团有限公司|集团股份有限公司|有限公司|股份公司|总公司|分公司|"
    r"集团公司|集团|公司|有限|co\.?,?ltd\.?|co\.?|ltd\.?|limited|inc\.?|corp\.?|corporation|"
    r"group|llc|gmbh)$"
)
_BRACKETED = re.compile(r"[(\[（【][^)\]）】]*[)\]）】]")


def company_match_key(raw) -> str:
    """北京百度网讯科技有限公司, 百度网讯科技（北京）有限责任公司 and 百度网讯科技集团 -> 百度网讯科技.

    Simplified, without brackets and what they hold, without legal suffixes (repeated:
    集团有限公司) and without a leading province or city; Latin lower-cased.
    """
    text = _BRACKETED.sub("", to_simplified(_text(raw)).lower())
    text = re.sub(r"[\s·.,，、\-_&'\"]+", "", text)
    while True:
        shorter = _LEGAL_SUFFIXES.sub("", text)
        if shorter == text or not shorter:
            break
        text = shorter
    provinces, cities, _pc = _tables()
    for _round in range(2):  # 浙江杭州…: a province, then a city
        head = _match_prefix(text, provinces) or _match_prefix(text, cities)
        if head and len(text) - len(head) >= 2:
            text = text[len(head):]
    return text


@cache
def _counties() -> dict[str, list[tuple[str, str, str]]]:
    """County-level name -> [(code, province, city)] from the vendored GB/T 2260 table."""
    from importlib.resources import files

    names: dict[str, str] = {}
    for line in files("kehu.core").joinpath("data/gb2260.tsv").read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            code, name = line.split("\t")
            names[code] = name
    provinces, cities, _pc = _tables()
    found: dict[str, list[tuple[str, str, str]]] = {}
    for code, name in names.items():
        if code.endswith("00"):
            continue
        province = provinces.get(names.get(code[:2] + "0000", ""), ("",))[0]
        if not province:
            continue
        city = names.get(code[:4] + "00", "")
        if province in _MUNICIPALITIES:
            city = province
        elif city not in cities:
            city = name if name in cities else ""  # county-level cities governed by the province
        found.setdefault(name, []).append((code, province, city))
    return found


def _match_county(text: str, province: str, city: str) -> tuple[str, str, str] | None:
    """The county-level division `text` starts with, within city/province when known, as
    (name, province, city); None when there is none or it is ambiguous without them."""
    counties = _counties()
    for size in range(min(len(text), 10), 1, -1):
        head = text[:size]
        places = counties.get(head)
        if not places:
            continue
        if city:
            places = [p for p in places if p[2] == city]
        elif province:
            places = [p for p in places if p[1] == province]
        if len(places) == 1:
            return head, places[0][1], places[0][2]
    return None
