"""Message templates: `{{ customer.name }}` in a subject and body, rendered safely.

A sandboxed Django template engine: only the tags and filters of
kehu.notifications.sandbox (no `load`, `include`, `extends`, `url`, `debug`, `safe`), no
template loaders, and a context of plain values only (dicts, lists, text, numbers, dates;
anything else becomes its text), so a template cannot reach the filesystem, the ORM or a
method with side effects. Templates and contexts are bounded in size; a missing variable
renders empty. Per language: a template may carry variants {"zh-hans": …, "en": …};
`message_variant` picks the one for a language.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.template.defaulttags import ForNode
from django.utils import translation
from django.utils.translation import gettext as _

from kehu.core.errors import ValidationFailed

MAX_TEMPLATE_CHARS = 20_000
MAX_OUTPUT_CHARS = 200_000
MAX_SUBJECT_CHARS = 300
MAX_CONTEXT_ITEMS = 5_000  # values in the whole context
MAX_LIST_ITEMS = 200       # items of one list (a loop over it stays small)
MAX_DEPTH = 8
MAX_LOOP_NESTING = 2

T = TypeVar("T")


class _SandboxEngine(Engine):
    default_builtins: list[str] = []


@lru_cache(maxsize=2)
def _engine(autoescape: bool) -> Engine:
    return _SandboxEngine(dirs=[], app_dirs=False, loaders=[], libraries={},
                          builtins=["kehu.notifications.sandbox"], string_if_invalid="",
                          autoescape=autoescape, debug=False)


def _plain(value: Any, budget: list[int], depth: int = 0) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise ValidationFailed(details={"context": [_("The message data is too large.")]})
    if value is None or isinstance(value, str | bool | int | float | Decimal | dt.date):
        return value
    if depth >= MAX_DEPTH:
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item, budget, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item, budget, depth + 1) for item in list(value)[:MAX_LIST_ITEMS]]
    return str(value)


def plain_context(context: Mapping[str, Any] | None) -> dict[str, Any]:
    """The context as plain values only (what a template may see)."""
    return _plain(dict(context or {}), [MAX_CONTEXT_ITEMS])


def _loop_depth(nodelist, depth: int = 0) -> int:
    deepest = depth
    for node in nodelist:
        inner = depth + 1 if isinstance(node, ForNode) else depth
        for attr in getattr(node, "child_nodelists", ()):
            child = getattr(node, attr, None)
            if child:
                deepest = max(deepest, _loop_depth(child, inner))
        if hasattr(node, "conditions_nodelists"):  # {% if %} branches
            for _condition, child in node.conditions_nodelists:
                deepest = max(deepest, _loop_depth(child, inner))
        deepest = max(deepest, inner)
    return deepest


def _compile(source: str, field: str, *, autoescape: bool):
    if not isinstance(source, str):
        raise ValidationFailed(details={field: [_("A template is text.")]})
    if len(source) > MAX_TEMPLATE_CHARS:
        raise ValidationFailed(details={field: [
            _("The template is too long (at most %d characters).") % MAX_TEMPLATE_CHARS]})
    try:
        template = _engine(autoescape).from_string(source)
    except TemplateSyntaxError as exc:
        raise ValidationFailed(details={field: [
            _("The template is not valid: %s") % exc]}) from None
    if _loop_depth(template.nodelist) > MAX_LOOP_NESTING:
        raise ValidationFailed(details={field: [
            _("Loops may be nested at most %d deep.") % MAX_LOOP_NESTING]})
    return template


def message_check(*, subject: str = "", body: str = "") -> None:
    """ValidationFailed naming `subject` or `body` when a template does not compile (a rule
    editor checks a template when it is saved, not when it first fires)."""
    _compile(subject, "subject", autoescape=False)
    _compile(body, "body", autoescape=False)


def message_variant(variants: Mapping[str, T] | T, language: str | None = None) -> T:
    """The variant of a per-language template for `language` ("zh-hans", "en", "en-us"):
    the exact language, else one of the same base language (en-us -> en, zh -> zh-hans),
    else the site language's, else the first. Anything not a mapping is its own variant."""
    if not isinstance(variants, Mapping):
        return variants
    if not variants:
        return ""  # type: ignore[return-value]
    wanted = (language or translation.get_language() or settings.LANGUAGE_CODE).lower()
    keyed = {str(key).lower(): value for key, value in variants.items()}
    if wanted in keyed:
        return keyed[wanted]
    base = wanted.split("-")[0]
    for key, value in keyed.items():
        if key.split("-")[0] == base:
            return value
    site = settings.LANGUAGE_CODE.lower()
    if site in keyed:
        return keyed[site]
    return next(iter(keyed.values()))


_SPACE = re.compile(r"\s+")


def message_render(*, subject: str | Mapping[str, str], body: str | Mapping[str, str],
                   context: Mapping[str, Any] | None, language: str | None = None,
                   html: bool = False) -> tuple[str, str]:
    """(subject, body) rendered with `context` in `language` (dates and translated filters
    follow it). Subject and body may be per-language variants. The subject comes out as one
    line; `html=True` escapes the values in the body (for an HTML part). ValidationFailed
    naming `subject`/`body` for a template that does not compile or renders too large."""
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    subject_source = message_variant(subject, language) or ""
    body_source = message_variant(body, language) or ""
    subject_template = _compile(subject_source, "subject", autoescape=False)
    body_template = _compile(body_source, "body", autoescape=html)
    data = plain_context(context)
    with translation.override(language):
        try:
            rendered_subject = subject_template.render(Context(data, autoescape=False))
            rendered_body = body_template.render(Context(data, autoescape=html))
        except ValidationFailed:
            raise
        except Exception as exc:  # a filter given a value it cannot take
            raise ValidationFailed(details={"body": [
                _("The template could not be rendered: %s") % exc]}) from None
    if len(rendered_body) > MAX_OUTPUT_CHARS:
        raise ValidationFailed(details={"body": [
            _("The message is too long (at most %d characters).") % MAX_OUTPUT_CHARS]})
    rendered_subject = _SPACE.sub(" ", rendered_subject).strip()[:MAX_SUBJECT_CHARS]
    return rendered_subject, rendered_body
