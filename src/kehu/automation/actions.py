"""The action catalogue: what a rule does for each customer it fires for.

An action is JSON, `{"kind": "<key>", ...params}`. Each performs through the owning app's
services (follow-ups, customers, notifications, assignment) as the rule's actor, so field
rules, audit entries and domain events apply exactly as for a person. Marketing messages to
the customer pass `kehu.automation.consent.may_contact` first; how many were skipped for
consent is in the run log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from kehu.automation.consent import MARKETING, SERVICE, may_contact
from kehu.automation.triggers import Param
from kehu.core.errors import ValidationFailed

MAX_ACTIONS = 10
MAX_RECIPIENTS = 20
MAX_TEXT = 2000


class ActionSkipped(Exception):
    """The action did not apply to this customer (no owner, no address, no consent): recorded
    as skipped, not retried."""


@dataclass(frozen=True)
class ActionSpec:
    key: str
    label: Any
    params: tuple[Param, ...]
    perform: Callable[..., str]


def _roles():
    from django.apps import apps

    return [(r.code, str(r.name)) for r in apps.get_model("accounts", "Role").objects.order_by(
        "name")]


def _users():
    from django.apps import apps

    return [(str(u.pk), u.display_name or u.username) for u in apps.get_model(
        "accounts", "User").objects.filter(is_active=True).order_by("username")[:500]]


RECIPIENTS = [("owner", _("the customer's owner")), ("manager", _("the owner's manager")),
              ("owner_and_manager", _("the owner and the owner's manager")),
              ("role", _("everyone with a role")), ("user", _("a named user"))]


def _recipient_choices():
    return [(k, str(v)) for k, v in RECIPIENTS]


def settable_fields():
    """Fields a rule may set: plain, non-sensitive customer fields and custom fields."""
    from kehu.segments.definition import Catalogue

    plain = {"lifecycle_stage", "source", "industry", "preferred_channel", "region",
             "province", "city"}
    return [(spec.key, str(spec.label)) for spec in Catalogue.load().fields.values()
            if spec.key in plain or spec.key.startswith("custom.")]


_WHO = (Param("to", _("For"), "choice", True, _recipient_choices, "owner"),
        Param("role", _("Role"), "choice", False, _roles),
        Param("user", _("User"), "choice", False, _users))


# Rendering ------------------------------------------------------------------------------------

_ENGINE = Engine(autoescape=False)


def check_template(text: str, path: str) -> None:
    try:
        _ENGINE.from_string(text)
    except TemplateSyntaxError as exc:
        raise ValidationFailed(details={path: [_g("Template error: %s") % exc]}) from exc


def template_context(ctx) -> dict[str, Any]:
    """The variables a message may use: {{ customer.name }}, {{ customer.owner }},
    {{ customer.city }}, {{ rule.name }}, {{ today }}, {{ due }} …"""
    c = ctx.customer
    owner = c.owner
    return {"customer": {"name": c.name, "id": c.pk, "city": c.city, "province": c.province,
                         "region": c.region, "company": c.company, "industry": c.industry,
                         "owner": (owner.display_name or owner.username) if owner else "",
                         "lifecycle": str(dict(c.LIFECYCLE_STAGES).get(c.lifecycle_stage, "")),
                         "url": card_url(c.pk)},
            "rule": {"name": ctx.rule.name, "id": ctx.rule.pk},
            "today": timezone.localdate().isoformat()}


def card_url(customer_id: int) -> str:
    from django.urls import reverse

    return reverse("cards:card", args=[customer_id])


def render(text: str, ctx, extra: dict[str, Any] | None = None) -> str:
    return _ENGINE.from_string(text or "").render(Context({**template_context(ctx),
                                                           **(extra or {})})).strip()


# Recipients -----------------------------------------------------------------------------------


def recipients(ctx, action: dict[str, Any]) -> list:
    """The users an action addresses, active ones only, at most MAX_RECIPIENTS."""
    from django.apps import apps

    user_model = apps.get_model("accounts", "User")
    who = action.get("to", "owner")
    found: list = []
    owner = ctx.customer.owner
    if who in ("owner", "owner_and_manager") and owner is not None:
        found.append(owner)
    if who in ("manager", "owner_and_manager") and owner is not None:
        found.extend(_managers(owner))
    if who == "role" and action.get("role"):
        found.extend(user_model.objects.filter(role__code=action["role"], is_active=True)
                     .order_by("pk")[:MAX_RECIPIENTS])
    if who == "user" and action.get("user"):
        found.extend(user_model.objects.filter(pk=int(action["user"]), is_active=True))
    unique = list({u.pk: u for u in found if u.is_active}.values())[:MAX_RECIPIENTS]
    if not unique:
        raise ActionSkipped(_g("nobody to address (%s)") % dict(RECIPIENTS).get(who, who))
    return unique


def _managers(user) -> list:
    """The managers of the user's team, else of the nearest parent team that has one (never
    the user themself)."""
    team = user.team
    seen = set()
    while team is not None and team.pk not in seen:
        seen.add(team.pk)
        managers = [m for m in team.managers.filter(is_active=True).order_by("pk")
                    if m.pk != user.pk]
        if managers:
            return managers
        team = team.parent
    return []


def _names(users) -> str:
    return ", ".join(u.display_name or u.username for u in users)


# Performers -----------------------------------------------------------------------------------


def _follow_up(ctx, action, index) -> str:
    from kehu.interactions.services import follow_up_create

    due = timezone.localdate() + dt.timedelta(days=int(action.get("due_days", 1)))
    title = render(action.get("title", ""), ctx)[:200] or ctx.rule.name
    users = recipients(ctx, action)
    for user in users:
        follow_up_create(actor=ctx.actor, customer=ctx.customer, title=title, due_date=due,
                         assignee=user)
    return _g("task “%(title)s” due %(due)s for %(who)s") % {
        "title": title, "due": due.isoformat(), "who": _names(users)}


def _notify(ctx, action, index) -> str:
    from kehu.notifications.services import notification_send

    users = recipients(ctx, action)
    title = render(action.get("title", ""), ctx)[:200] or ctx.rule.name
    notification_send(actor=ctx.actor, recipients=users, kind="rule", title=title,
                      body=render(action.get("body", ""), ctx),
                      link=card_url(ctx.customer.pk), customer_id=ctx.customer.pk,
                      dedupe_key=f"rule-run:{ctx.run.pk}:{index}")
    return _g("notified %s") % _names(users)


def _language(customer) -> str:
    language = (customer.custom or {}).get("language") or settings.LANGUAGE_CODE
    return "en" if str(language).lower().startswith("en") else "zh-hans"


def _variants(action, key) -> Any:
    """A per-language template ({"zh-hans": …, "en": …}) when an English variant is given."""
    if action.get(f"{key}_en"):
        return {"zh-hans": action.get(key, ""), "en": action[f"{key}_en"]}
    return action.get(key, "")


def _with_unsubscribe(ctx, text: str, channel: str, purpose: str) -> str:
    """Every marketing message ends with its withdrawal link (PIPL art. 24; 退订), made by the
    privacy app: one click withdraws this purpose on this channel."""
    if purpose != MARKETING:
        return text
    from django.conf import settings

    from kehu.privacy.services import consent_unsubscribe_footer

    footer = consent_unsubscribe_footer(actor=ctx.actor, customer_id=ctx.customer.pk,
                                        channel=channel, purpose=purpose,
                                        base_url=settings.KEHU_BASE_URL)
    return f"{text}\n\n{footer}"


def _email_customer(ctx, action, index) -> str:
    from kehu.notifications.channels import email_send, message_render

    customer = ctx.customer
    purpose = action.get("purpose", MARKETING)
    if not may_contact(customer, "email", purpose):
        ctx.consent_skipped += 1
        raise ActionSkipped(_g("not sent: no email address or no consent for email"))
    subject, text = message_render(subject=_variants(action, "subject"),
                                   body=_variants(action, "body"),
                                   context=template_context(ctx), language=_language(customer))
    text = _with_unsubscribe(ctx, text, "email", purpose)
    email_send(to=[customer.primary_email], subject=subject, text=text, purpose=purpose,
               customer_id=customer.pk, dedupe_key=f"rule-run:{ctx.run.pk}:{index}")
    return _g("email “%s” sent to the customer") % subject


def _sms_customer(ctx, action, index) -> str:
    from kehu.notifications.channels import message_render, sms_send

    customer = ctx.customer
    purpose = action.get("purpose", MARKETING)
    if not may_contact(customer, "sms", purpose):
        ctx.consent_skipped += 1
        raise ActionSkipped(_g("not sent: no mobile number or no consent for SMS"))
    _subject, text = message_render(subject="", body=_variants(action, "text"),
                                    context=template_context(ctx),
                                    language=_language(customer))
    text = _with_unsubscribe(ctx, text, "sms", purpose)
    sms_send(to=customer.primary_mobile, text=text, purpose=purpose, customer_id=customer.pk,
             dedupe_key=f"rule-run:{ctx.run.pk}:{index}")
    return _g("SMS sent to the customer")


def _email_users(ctx, action, index) -> str:
    from kehu.notifications.channels import email_send

    users = [u for u in recipients(ctx, action) if u.email]
    if not users:
        raise ActionSkipped(_g("none of the recipients has an email address"))
    subject = render(action.get("subject", ""), ctx)[:200] or ctx.rule.name
    email_send(to=[u.email for u in users], subject=subject,
               text=render(action.get("body", ""), ctx), purpose=SERVICE,
               customer_id=ctx.customer.pk, dedupe_key=f"rule-run:{ctx.run.pk}:{index}")
    return _g("email “%(subject)s” sent to %(who)s") % {"subject": subject,
                                                        "who": _names(users)}


def _set_field(ctx, action, index) -> str:
    from kehu.customers.services import customer_update

    key, value = action["field"], render(str(action.get("value", "")), ctx)
    changes = {"custom": {key[len("custom."):]: value}} if key.startswith("custom.") else {
        key: value}
    customer_update(actor=ctx.actor, customer=ctx.customer, expected_version=None,
                    changes=changes)
    return _g("%(field)s set to “%(value)s”") % {"field": key, "value": value}


def _add_tag(ctx, action, index) -> str:
    from kehu.customers.services import tag_add

    tag_add(actor=ctx.actor, customer=ctx.customer, name=action["tag"])
    return _g("tagged “%s”") % action["tag"]


def _remove_tag(ctx, action, index) -> str:
    from django.apps import apps

    from kehu.customers.services import tag_remove

    tag = apps.get_model("customers", "Tag").objects.filter(name__iexact=action["tag"]).first()
    if tag is None:
        raise ActionSkipped(_g("no tag named “%s”") % action["tag"])
    tag_remove(actor=ctx.actor, customer=ctx.customer, tag=tag)
    return _g("untagged “%s”") % action["tag"]


def _assign_owner(ctx, action, index) -> str:
    owner = ctx.customer.owner
    if owner is not None and action.get("when", "unowned") == "unowned":
        # The assignment app's own new-customer hook may have assigned them already.
        raise ActionSkipped(_g("already owned by %s") % (owner.display_name or owner.username))
    from kehu.assignment.services import assignment_apply

    rule_id = int(action["assignment_rule"]) if action.get("assignment_rule") else None
    decisions = assignment_apply(actor=ctx.actor, customer_ids=[ctx.customer.pk],
                                 rule_id=rule_id)
    return "; ".join(str(getattr(d, "explanation", d)) for d in decisions) or _g(
        "no assignment rule matched")


def _call_webhook(ctx, action, index) -> str:
    from kehu.integration.services import webhook_call_from_rule

    webhook_call_from_rule(actor=ctx.actor, endpoint_id=int(action["webhook"]),
                           rule={"id": ctx.rule.pk, "name": ctx.rule.name}, run_id=ctx.run.pk,
                           customer_id=ctx.customer.pk, customer_name=ctx.customer.name)
    return _g("webhook #%s called") % action["webhook"]


def _webhooks():
    from django.apps import apps

    return [(str(e.pk), str(e)) for e in apps.get_model("integration", "WebhookEndpoint")
            .objects.filter(is_active=True).order_by("pk")[:200]]


def _start_rule(ctx, action, index) -> str:
    from kehu.automation.engine import chain_start

    return chain_start(ctx, int(action["rule"]))


def _rules():
    from django.apps import apps

    return [(str(r.pk), r.name) for r in apps.get_model("automation", "Rule").objects.order_by(
        "name")]


def _assignment_rules():
    try:
        from django.apps import apps

        model = apps.get_model("assignment", "AssignmentRule")
    except LookupError:
        return []
    return [(str(r.pk), str(r)) for r in model.objects.all()[:200]]


_TEXT = "textarea"
CATALOGUE: list[ActionSpec] = [
    ActionSpec("follow_up", _("Create a follow-up task"), (
        *_WHO, Param("title", _("Task"), "text", True),
        Param("due_days", _("Due in N days"), "int", True, default=1)), _follow_up),
    ActionSpec("notify", _("Send an in-app notification"), (
        *_WHO, Param("title", _("Title"), "text", True), Param("body", _("Message"), _TEXT)),
        _notify),
    ActionSpec("email_users", _("Email colleagues"), (
        *_WHO, Param("subject", _("Subject"), "text", True), Param("body", _("Message"), _TEXT)),
        _email_users),
    ActionSpec("email_customer", _("Email the customer"), (
        Param("subject", _("Subject"), "text", True), Param("body", _("Message"), _TEXT, True),
        Param("subject_en", _("Subject (English)")),
        Param("body_en", _("Message (English)"), _TEXT),
        Param("purpose", _("Purpose"), "choice", False, lambda: [
            (MARKETING, _g("Marketing")), (SERVICE, _g("Service"))], MARKETING)),
        _email_customer),
    ActionSpec("sms_customer", _("Text the customer (SMS)"), (
        Param("text", _("Message"), _TEXT, True), Param("text_en", _("Message (English)"), _TEXT),
        Param("purpose", _("Purpose"), "choice", False, lambda: [
            (MARKETING, _g("Marketing")), (SERVICE, _g("Service"))], MARKETING)),
        _sms_customer),
    ActionSpec("set_field", _("Set a field"), (
        Param("field", _("Field"), "choice", True, settable_fields),
        Param("value", _("Value"), "text", True)), _set_field),
    ActionSpec("add_tag", _("Add a tag"), (Param("tag", _("Tag"), "tag", True),), _add_tag),
    ActionSpec("remove_tag", _("Remove a tag"), (Param("tag", _("Tag"), "tag", True),),
               _remove_tag),
    ActionSpec("assign_owner", _("Assign the owner by an assignment rule"), (
        Param("assignment_rule", _("Assignment rule (optional: the first that matches)"),
              "choice", False, _assignment_rules),
        Param("when", _("Customers"), "choice", False, lambda: [
            ("unowned", _g("only those without an owner")),
            ("always", _g("also reassign those with an owner"))], "unowned")), _assign_owner),
    ActionSpec("start_rule", _("Start another rule"), (
        Param("rule", _("Rule"), "choice", True, _rules),), _start_rule),
    ActionSpec("call_webhook", _("Call a webhook"), (
        Param("webhook", _("Webhook"), "choice", True, _webhooks),), _call_webhook),
]
SPECS = {spec.key: spec for spec in CATALOGUE}
TEMPLATED = {"title", "body", "subject", "text", "subject_en", "body_en", "text_en", "value"}


def validate_actions(actions: Any) -> list[dict[str, Any]]:
    """The cleaned action list or ValidationFailed naming `actions[i].<param>`."""
    if not isinstance(actions, list) or not actions:
        raise ValidationFailed(details={"actions": [_g("Add at least one action.")]})
    if len(actions) > MAX_ACTIONS:
        raise ValidationFailed(details={"actions": [_g("At most %d actions.") % MAX_ACTIONS]})
    errors: dict[str, list[str]] = {}
    out = []
    for i, action in enumerate(actions):
        base = f"actions[{i}]"
        if not isinstance(action, dict) or action.get("kind") not in SPECS:
            errors[f"{base}.kind"] = [_g("Choose an action; one of: %s.") % ", ".join(SPECS)]
            continue
        spec = SPECS[action["kind"]]
        clean: dict[str, Any] = {"kind": spec.key}
        known = {p.name for p in spec.params} | {"kind"}
        for key in action:
            if key not in known:
                errors[f"{base}.{key}"] = [_g("Unknown setting “%s” for this action.") % key]
        for param in spec.params:
            raw = action.get(param.name, "")
            raw = "" if raw is None else raw
            path = f"{base}.{param.name}"
            if raw == "":
                if param.required:
                    errors[path] = [_g("Required.")]
                continue
            if param.kind == "int":
                try:
                    value = int(str(raw).strip())
                except ValueError:
                    errors[path] = [_g("Enter a whole number.")]
                    continue
                if not 0 <= value <= 3650:
                    errors[path] = [_g("Between 0 and 3650.")]
                    continue
                clean[param.name] = value
                continue
            if param.kind == "choice" and param.choices is not None:
                allowed = {k for k, _label in param.choices()}
                if str(raw) not in allowed:
                    errors[path] = [_g("“%(value)s” is not a choice; use one of: %(choices)s.")
                                    % {"value": raw, "choices": ", ".join(sorted(allowed))}]
                    continue
                clean[param.name] = str(raw)
                continue
            text = str(raw).strip()
            if len(text) > MAX_TEXT:
                errors[path] = [_g("At most %d characters.") % MAX_TEXT]
                continue
            if param.name in TEMPLATED:
                try:
                    check_template(text, path)
                except ValidationFailed as exc:
                    errors.update(exc.details)
                    continue
            clean[param.name] = text
        who = clean.get("to")
        if who == "role" and not clean.get("role"):
            errors[f"{base}.role"] = [_g("Choose the role.")]
        if who == "user" and not clean.get("user"):
            errors[f"{base}.user"] = [_g("Choose the user.")]
        out.append(clean)
    if errors:
        raise ValidationFailed(details=errors)
    return out


def describe(action: dict[str, Any]) -> str:
    spec = SPECS.get(action.get("kind"))
    if spec is None:
        return str(action.get("kind", ""))
    bits = []
    for param in spec.params:
        if param.name in action and param.kind != _TEXT:
            value = action[param.name]
            if param.kind == "choice" and param.choices is not None:
                value = dict(param.choices()).get(str(value), value)
            bits.append(f"{value}")
    return f"{spec.label}" + (f": {', '.join(bits)}" if bits else "")
