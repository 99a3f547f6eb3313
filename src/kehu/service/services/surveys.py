"""Satisfaction surveys: a signed, single-use, expiring link per resolved ticket, sent by email
or SMS (or copied by the agent), answered on a public mobile page; the answer lands on the
ticket (and so on the card) as the customer's own. An agent may still record what a customer
said on the phone, marked as entered by the agent.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import record_change
from kehu.notifications.channels import email_send, sms_send
from kehu.service.models import SatisfactionSurvey
from kehu.transactions.models import Ticket
from kehu.transactions.ticket_services import TICKET_DONE, ticket_rate

SALT = "kehu.service.survey"


def survey_days() -> int:
    return max(1, int(getattr(settings, "KEHU_SURVEY_DAYS", 14)))


def survey_token(survey: SatisfactionSurvey) -> str:
    """The signed token of a survey's public link: its random nonce and an HMAC of it with the
    secret key (the expiry and the single use are kept on the survey row)."""
    return signing.Signer(salt=SALT).sign(survey.nonce)


def survey_url(survey: SatisfactionSurvey, *, absolute: bool = True) -> str:
    path = reverse("service:survey_public", args=[survey_token(survey)])
    return f"{settings.KEHU_BASE_URL}{path}" if absolute else path


class SurveyUnavailable(ValidationFailed):
    """The link is forged, expired or already used; `code` says which."""

    status = 410


def survey_from_token(token: str) -> SatisfactionSurvey:
    """The survey a public link names, or SurveyUnavailable (code `survey_invalid`,
    `survey_expired` or `survey_answered`). Reads only."""
    try:
        nonce = signing.Signer(salt=SALT).unsign(str(token or ""))
    except signing.BadSignature as exc:
        raise SurveyUnavailable(_("This survey link is not valid."),
                                code="survey_invalid") from exc
    survey = SatisfactionSurvey.objects.select_related("ticket", "ticket__customer").filter(
        nonce=nonce).first()
    if survey is None:
        raise SurveyUnavailable(_("This survey link is not valid."), code="survey_invalid")
    if survey.answered_at is not None:
        raise SurveyUnavailable(_("This survey was already answered. Thank you!"),
                                code="survey_answered")
    if survey.expires_at <= timezone.now():
        raise SurveyUnavailable(_("This survey link has expired."), code="survey_expired")
    return survey


def _message(ticket: Ticket, url: str) -> tuple[str, str]:
    """The invitation in kehu's language (the customer's, not the agent's page language)."""
    with translation.override(settings.LANGUAGE_CODE):
        return _invitation(ticket, url)


def _invitation(ticket: Ticket, url: str) -> tuple[str, str]:
    subject = _("How did we do? Ticket %s") % ticket.number
    text = _("Dear %(name)s, your request “%(subject)s” (%(number)s) was resolved. Please rate "
             "our service (takes a minute): %(url)s") % {
        "name": ticket.customer.name, "subject": ticket.subject, "number": ticket.number,
        "url": url}
    return subject, text


def survey_send(*, actor: Actor, ticket: Ticket, channel: str) -> SatisfactionSurvey:
    """Create a survey for a resolved ticket and send its link by `channel`: "email" or "sms"
    to the customer's primary address, or "link" for the agent to share. Earlier unanswered
    surveys of the ticket stop working (one live link per ticket)."""
    if actor.via != "system":
        actor.require("ticket.manage")
    if channel not in {"email", "sms", "link"}:
        raise ValidationFailed(details={"channel": [_("“%s” is not a valid choice.") % channel]})
    with transaction.atomic():
        current = Ticket.objects.select_for_update().select_related("customer").filter(
            pk=ticket.pk).first()
        if current is None:
            raise NotFound()
        errors: dict[str, list[str]] = {}
        if current.status not in TICKET_DONE:
            errors["ticket"] = [_("Send the survey once the ticket is resolved.")]
        elif current.merged_into_id:
            errors["ticket"] = [_("This ticket was merged into another; survey that one.")]
        elif current.satisfaction_source == "survey":
            errors["ticket"] = [_("The customer already answered a survey for this ticket.")]
        address = {"email": current.customer.primary_email,
                   "sms": current.customer.primary_mobile}.get(channel, "-")
        if not address:
            errors["channel"] = [_("The customer has no email address.") if channel == "email"
                                 else _("The customer has no mobile number.")]
        if errors:
            raise ValidationFailed(details=errors)
        now = timezone.now()
        SatisfactionSurvey.objects.filter(ticket=current, answered_at__isnull=True,
                                          expires_at__gt=now).update(expires_at=now)
        survey = SatisfactionSurvey.objects.create(
            ticket=current, nonce=secrets.token_hex(16), channel=channel, sent_at=now,
            expires_at=now + dt.timedelta(days=survey_days()),
            sent_by=actor.user if actor.user is not None else None)
        subject, text = _message(current, survey_url(survey))
        if channel == "email":
            email_send(to=[address], subject=subject, text=text, purpose="service",
                       customer_id=current.customer_id, dedupe_key=f"survey:{survey.pk}")
        elif channel == "sms":
            sms_send(to=address, text=text, purpose="service", customer_id=current.customer_id,
                     dedupe_key=f"survey:{survey.pk}")
        record_change(actor=actor, action="survey.send", event="survey.sent",
                      customer_id=current.customer_id, object_type="survey",
                      object_id=survey.pk, object_repr=current.number,
                      changes={"ticket": current.pk, "channel": channel,
                               "expires_at": survey.expires_at})
    return survey


def survey_auto_send(*, ticket_id: int) -> SatisfactionSurvey | None:
    """On resolution: by email when the customer has an address, else by SMS, else a link
    the agent shares from the ticket page. Never twice for a ticket the customer answered."""
    ticket = Ticket.objects.select_related("customer").filter(pk=ticket_id).first()
    if ticket is None or ticket.satisfaction_source == "survey" or ticket.merged_into_id:
        return None
    channels = [c for c, present in (("email", ticket.customer.primary_email),
                                      ("sms", ticket.customer.primary_mobile)) if present]
    for channel in [*channels, "link"]:
        try:
            with transaction.atomic():
                return survey_send(actor=Actor.system(via="system"), ticket=ticket,
                                   channel=channel)
        except ValidationFailed:
            continue  # an address the channel refuses: try the next way
    return None


def _answer_fields(rating: Any, nps: Any, comment: str) -> tuple[int, int | None, str]:
    errors: dict[str, list[str]] = {}
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        errors["rating"] = [_("Choose from 1 to 5 stars.")]
    if nps is not None and (isinstance(nps, bool) or not isinstance(nps, int)
                            or not 0 <= nps <= 10):
        errors["nps"] = [_("Choose from 0 to 10.")]
    comment = (comment or "").strip()
    if len(comment) > 2000:
        errors["comment"] = [_("At most 2,000 characters.")]
    if errors:
        raise ValidationFailed(details=errors)
    return rating, nps, comment


def _record_answer(survey: SatisfactionSurvey, *, rating: int, nps: int | None, comment: str,
                   by_agent: bool, actor: Actor, rate_actor: Actor) -> SatisfactionSurvey:
    survey.answered_at, survey.rating, survey.nps = timezone.now(), rating, nps
    survey.comment, survey.by_agent = comment, by_agent
    survey.save(update_fields=["answered_at", "rating", "nps", "comment", "by_agent"])
    ticket_rate(actor=rate_actor, ticket=survey.ticket, satisfaction=rating,
                source="agent_phone" if by_agent else "survey")
    record_change(actor=actor, action="survey.answer", event="survey.answered",
                  customer_id=survey.ticket.customer_id, object_type="survey",
                  object_id=survey.pk, object_repr=survey.ticket.number,
                  changes={"ticket": survey.ticket_id, "rating": rating, "nps": nps,
                           "comment": comment, "by_agent": by_agent})
    return survey


def survey_answer(*, token: str, rating: int, nps: int | None = None,
                  comment: str = "") -> SatisfactionSurvey:
    """The customer's answer from the public page: valid once, before the link expires."""
    rating, nps, comment = _answer_fields(rating, nps, comment)
    found = survey_from_token(token)
    with transaction.atomic():
        survey = SatisfactionSurvey.objects.select_for_update().select_related(
            "ticket").get(pk=found.pk)
        if survey.answered_at is not None:
            raise SurveyUnavailable(_("This survey was already answered. Thank you!"),
                                    code="survey_answered")
        if survey.expires_at <= timezone.now():
            raise SurveyUnavailable(_("This survey link has expired."), code="survey_expired")
        actor = Actor.system(via="system")
        return _record_answer(survey, rating=rating, nps=nps, comment=comment, by_agent=False,
                              actor=actor, rate_actor=actor)


def survey_record_by_agent(*, actor: Actor, ticket: Ticket, rating: int, nps: int | None = None,
                           comment: str = "") -> SatisfactionSurvey:
    """What the customer said on the phone, typed by the agent: kept as a survey answer
    marked "entered by an agent on the phone", never as the customer's own."""
    actor.require("ticket.manage")
    rating, nps, comment = _answer_fields(rating, nps, comment)
    with transaction.atomic():
        current = Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
        if current is None:
            raise NotFound()
        if current.satisfaction_source == "survey":
            raise ValidationFailed(details={"rating": [
                _("The customer already answered the survey; their answer stands.")]})
        now = timezone.now()
        SatisfactionSurvey.objects.filter(ticket=current, answered_at__isnull=True,
                                          expires_at__gt=now).update(expires_at=now)
        survey = SatisfactionSurvey.objects.create(
            ticket=current, nonce=secrets.token_hex(16), channel="phone", sent_at=now,
            expires_at=now, sent_by=actor.user)
        survey.ticket = current
        return _record_answer(survey, rating=rating, nps=nps, comment=comment, by_agent=True,
                              actor=actor, rate_actor=actor)
