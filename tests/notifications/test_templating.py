"""message_render: variables, per-language variants, and the sandbox's walls."""

from __future__ import annotations

import datetime as dt

import pytest

from kehu.core.errors import ValidationFailed
from kehu.notifications.channels import message_check, message_render, message_variant


def test_variables_filters_and_missing_values():
    subject, body = message_render(
        subject="{{ customer.name }}\n的生日快到了",
        body="{{ customer.name }}，{{ customer.tier|default:'会员' }}{{ nobody.knows }}："
             "{% for o in orders %}{{ o.number }}{% if not forloop.last %}、{% endif %}{% endfor %}",
        context={"customer": {"name": "王<芳>"}, "orders": [{"number": "A1"}, {"number": "A2"}]},
        language="zh-hans")
    assert subject == "王<芳> 的生日快到了"  # one line
    assert body == "王<芳>，会员：A1、A2"      # text: not escaped; missing: empty


def test_html_bodies_escape_values():
    _subject, body = message_render(subject="x", body="<p>{{ name }}</p>",
                                    context={"name": "<script>alert(1)</script>"}, html=True)
    assert body == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"


@pytest.mark.parametrize("language,expected", [
    ("en", "Happy birthday"), ("en-us", "Happy birthday"), ("zh-hans", "生日快乐"),
    ("zh", "生日快乐"), ("fr", "生日快乐"),
])
def test_variant_for_a_language(language, expected):
    variants = {"zh-hans": "生日快乐", "en": "Happy birthday"}
    assert message_variant(variants, language) == expected
    assert message_render(subject=variants, body=variants, context={},
                          language=language) == (expected, expected)


def test_dates_follow_the_language():
    day = dt.date(2026, 3, 5)
    _s, en = message_render(subject="x", body="{{ d|date:'F j' }}", context={"d": day},
                            language="en")
    _s, zh = message_render(subject="x", body="{{ d|date:'F j' }}", context={"d": day},
                            language="zh-hans")
    assert en == "March 5" and zh == "三月 5"


@pytest.mark.parametrize("source", [
    "{% load static %}", "{% include 'web/base.html' %}", "{% extends 'web/base.html' %}",
    "{% debug %}", "{% url 'web:home' %}", "{% csrf_token %}", "{{ x|safe }}",
    "{% ssi '/etc/passwd' %}", "{{ x|pprint }}",
])
def test_sandbox_refuses_tags_and_filters_that_reach_out(source):
    with pytest.raises(ValidationFailed) as caught:
        message_render(subject="x", body=source, context={"x": 1})
    assert "body" in caught.value.details
    with pytest.raises(ValidationFailed):
        message_check(body=source)


def test_objects_in_the_context_are_only_text():
    class Dangerous:
        called = False

        def delete(self):
            Dangerous.called = True
            return "deleted"

        def __str__(self):
            return "客户"

    _s, body = message_render(subject="x", body="{{ c.delete }}|{{ c }}",
                              context={"c": Dangerous()})
    assert body == "|客户" and not Dangerous.called


def test_bounds():
    with pytest.raises(ValidationFailed):
        message_render(subject="x", body="x" * 20_001, context={})
    with pytest.raises(ValidationFailed) as caught:
        message_render(subject="x", body="{% for a in l %}{% for b in l %}{% for c in l %}"
                                          "{% endfor %}{% endfor %}{% endfor %}", context={})
    assert "nested" in str(caught.value.details)
    with pytest.raises(ValidationFailed):
        message_render(subject="x", body="{{ a }}", context={"a": {str(i): i for i in range(10_000)}})
    # A long list is cut to its first 200 items (a loop over it stays small).
    assert message_render(subject="x", body="{{ a|length }}",
                          context={"a": list(range(10_000))})[1] == "200"
    with pytest.raises(ValidationFailed) as caught:
        message_render(subject="{% if %}", body="", context={})
    assert "subject" in caught.value.details
