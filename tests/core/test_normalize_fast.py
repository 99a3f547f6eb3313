"""The fast paths of kehu.core.normalize give exactly what the full parsers give."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kehu.core import normalize
from kehu.core.normalize import (
    NormalizationError,
    _email_full,
    _id_number_full,
    _phone_full,
    normalize_email,
    normalize_id_number,
    normalize_phone,
)


def _outcome(function, value):
    try:
        return ("ok", function(value))
    except NormalizationError as exc:
        return ("error", exc.code, str(exc))


_digits = st.text("0123456789", min_size=0, max_size=14)
_phones = st.one_of(
    _digits.map(lambda d: "1" + d[:10]),
    st.builds(lambda a, b: f"1{a}{b:08d}", st.sampled_from("0123456789"),
              st.integers(0, 99_999_999)),
    st.builds(lambda a, b: f"+861{a}{b:08d}", st.sampled_from("0123456789"),
              st.integers(0, 99_999_999)),
    st.builds(lambda a, b, sep: f"1{a}{sep}{b:04d}{sep}{b:04d}", st.sampled_from("3456789"),
              st.integers(0, 9999), st.sampled_from([" ", "-", ""])),
    _digits,
)


@settings(max_examples=3000, deadline=None)
@given(_phones)
def test_phone_fast_path_agrees_with_phonenumbers(text):
    compact = normalize._PHONE_JUNK.sub("", normalize._text(text))
    assert _outcome(normalize_phone, text) == _outcome(lambda t: _phone_full(t, "CN"), compact)


_local = st.text("abcxyz019_+-.", min_size=0, max_size=12)
_label = st.text("abz09-", min_size=0, max_size=8)
_tld = st.one_of(st.text("abcmnz", min_size=1, max_size=5),
                 st.sampled_from(["com", "cn", "local", "test", "onion", "c0m", "xn--p1ai"]))
_emails = st.one_of(
    st.builds(lambda lo, la, t: f"{lo}@{la}.{t}", _local, _label, _tld),
    st.builds(lambda lo, a, b, t: f"{lo}@{a}.{b}.{t}", _local, _label, _label, _tld),
    st.text(min_size=0, max_size=20),
    st.emails().map(str.lower),
)


@settings(max_examples=3000, deadline=None)
@given(_emails)
def test_email_fast_path_agrees_with_email_validator(text):
    folded = normalize._text(text).lower()
    assert _outcome(normalize_email, text) == _outcome(_email_full, folded)


def _with_check(body: str) -> str:
    total = sum(int(c) * w for c, w in zip(body, normalize._ID_WEIGHTS, strict=True))
    return body + normalize._ID_CHECK[total % 11]


_areas = st.sampled_from(["110105", "330106", "440305", "999999", "000000", "110000", "510104"])
_bodies = st.builds(lambda area, y, m, d, seq: f"{area}{y:04d}{m:02d}{d:02d}{seq:03d}", _areas,
                    st.integers(1850, 2030), st.integers(0, 13), st.integers(0, 32),
                    st.integers(0, 999))
_ids = st.one_of(_bodies.map(_with_check),
                 st.builds(lambda b, c: b + c, _bodies, st.sampled_from("0123456789Xx")),
                 st.text("0123456789X -", min_size=0, max_size=20))


@settings(max_examples=3000, deadline=None)
@given(_ids)
def test_id_number_fast_path_agrees_with_stdnum(text):
    assert _outcome(normalize_id_number, text) == _outcome(_id_number_full, text)


@pytest.mark.parametrize("text,expected", [
    ("13812345678", "+8613812345678"), ("+86 138 1234 5678", "+8613812345678"),
    ("+8613812345678", "+8613812345678"), ("010-12345678", "+861012345678"),
])
def test_phone_examples(text, expected):
    assert normalize_phone(text).e164 == expected


def test_published_id_number_passes_both_paths():
    assert normalize_id_number("11010519491231002X") == _id_number_full("11010519491231002X")


_HANZI = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
_NAME_CHARS = "王李张曾单伟芳娜秀英敏静丽强磊长行重乐朝和都一不了欣怡子涵浩然宇轩"


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(_HANZI, min_size=1, max_size=5),
                 st.text(st.sampled_from(_NAME_CHARS), min_size=1, max_size=4)))
def test_run_pinyin_reads_exactly_as_pypinyin(run):
    from pypinyin import lazy_pinyin

    from kehu.core.normalize import _run_pinyin

    assert _run_pinyin(run) == lazy_pinyin(run)


@pytest.mark.parametrize("run", ["长城", "银行", "重庆", "音乐", "朝阳", "欣怡", "长"])
def test_run_pinyin_takes_phrases_as_pypinyin_does(run):
    from pypinyin import lazy_pinyin

    from kehu.core.normalize import _run_pinyin

    assert _run_pinyin(run) == lazy_pinyin(run)
