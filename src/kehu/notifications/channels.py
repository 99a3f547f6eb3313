"""Email and SMS: the channels every app sends through (rules, digests, SLA escalations …).

`email_send` and `sms_send` validate, write an OutboundMessage (queued) in the caller's
transaction and, after commit, hand it to a Huey task that sends it: through Django's email
machinery with a connection built from KEHU_EMAIL_URL (default: .eml files in
KEHU_HOME/outbox/), or through the KEHU_SMS_PROVIDER class (default: KEHU_HOME/outbox/sms.log).
A failed attempt is retried with doubling backoff up to KEHU_MESSAGE_MAX_ATTEMPTS and then
marked failed; every attempt's error is kept on the row. A periodic sweep sends what a lost
hook or a dead worker left behind. Bodies never reach the application logs.

The outbox row is the record of a send: the service that decided to send (a rule's action,
the digest) audits its own decision.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections.abc import Mapping

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import make_msgid
from django.core.mail.utils import DNS_NAME
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.errors import ValidationFailed
from kehu.core.normalize import NormalizationError, normalize_email, normalize_phone
from kehu.notifications.backends import MESSAGE_ID_HEADER
from kehu.notifications.email_url import EmailUrlError, parse_email_url, redact
from kehu.notifications.models import OutboundMessage
from kehu.notifications.sms import PermanentSmsError, sms_provider
from kehu.notifications.templating import message_check, message_render, message_variant

__all__ = ["email_send", "sms_send", "message_render", "message_variant", "message_check",
           "outbound_deliver", "outbound_sweep", "email_connection", "OutboundMessage"]

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 100
MAX_TEXT_CHARS = 500_000
MAX_SMS_CHARS = 1_000
MAX_HEADERS = 20
LOCK = dt.timedelta(minutes=10)  # a send that takes longer is taken for dead and retried
PURPOSES = {code for code, _label in OutboundMessage.PURPOSES}


def _max_attempts() -> int:
    return max(1, int(getattr(settings, "KEHU_MESSAGE_MAX_ATTEMPTS", 5)))


def _backoff(attempts: int) -> dt.timedelta:
    base = int(getattr(settings, "KEHU_MESSAGE_RETRY_SECONDS", 60))
    return dt.timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 6 * 3600))


# Queueing ----------------------------------------------------------------------------------


def _check_purpose(purpose: str, errors: dict) -> None:
    if purpose not in PURPOSES:
        errors["purpose"] = [_("Unknown purpose %(purpose)s (one of: %(known)s).")
                             % {"purpose": purpose, "known": ", ".join(sorted(PURPOSES))}]


def _queue(message: OutboundMessage) -> OutboundMessage:
    """Save the queued message (once per dedupe key) and send it after commit."""
    message.next_attempt_at = timezone.now()
    if message.dedupe_key:
        existing = OutboundMessage.objects.filter(dedupe_key=message.dedupe_key).first()
        if existing is not None:
            return existing
        try:
            with transaction.atomic():
                message.save()
        except IntegrityError:  # sent concurrently under the same key
            return OutboundMessage.objects.get(dedupe_key=message.dedupe_key)
    else:
        message.save()
    message_id = message.pk
    transaction.on_commit(lambda: _deliver_soon(message_id))
    return message


def _deliver_soon(message_id: int, delay: float | None = None) -> None:
    try:
        from kehu.notifications.tasks import outbound_deliver_task

        if delay:
            outbound_deliver_task.schedule(args=(message_id,), delay=delay)
        else:
            outbound_deliver_task(message_id)
    except Exception:  # the periodic sweep sends what a lost hook leaves behind
        log.exception("could not schedule outbound message #%s", message_id)


def email_send(*, to: list[str], subject: str, text: str, html: str | None = None,
               reply_to: str | None = None, headers: dict | None = None,
               purpose: str = "service", customer_id: int | None = None,
               dedupe_key: str | None = None) -> OutboundMessage:
    """Queue an email to `to` (normalised addresses; ValidationFailed naming `to[i]` for a bad
    one), sent by the worker after the caller's transaction commits. `dedupe_key`: at most
    one message per key ever (a digest per user and day); the existing one is returned."""
    errors: dict[str, list[str]] = {}
    if isinstance(to, str):
        to = [to]
    addresses: list[str] = []
    if not to:
        errors["to"] = [_("Give at least one recipient.")]
    elif len(to) > MAX_RECIPIENTS:
        errors["to"] = [_("At most %d recipients per message.") % MAX_RECIPIENTS]
    else:
        for index, address in enumerate(to):
            try:
                addresses.append(normalize_email(str(address or "")))
            except (NormalizationError, ValueError) as exc:
                errors[f"to[{index}]"] = [str(exc) or _("Not an email address.")]
    subject = " ".join(str(subject or "").split())
    if not subject:
        errors["subject"] = [_("Give a subject.")]
    elif len(subject) > 300:
        errors["subject"] = [_("The subject is too long (at most 300 characters).")]
    text = str(text or "")
    if not text.strip() and not html:
        errors["text"] = [_("The message is empty.")]
    elif len(text) > MAX_TEXT_CHARS or len(html or "") > MAX_TEXT_CHARS:
        errors["text"] = [_("The message is too long.")]
    reply = ""
    if reply_to:
        try:
            reply = normalize_email(reply_to)
        except (NormalizationError, ValueError) as exc:
            errors["reply_to"] = [str(exc) or _("Not an email address.")]
    clean_headers: dict[str, str] = {}
    if headers:
        if not isinstance(headers, Mapping) or len(headers) > MAX_HEADERS:
            errors["headers"] = [_("At most %d headers, as name: value.") % MAX_HEADERS]
        else:
            for name, value in headers.items():
                name, value = str(name).strip(), str(value)
                if (not name or any(c in name for c in ":\r\n ") or "\r" in value
                        or "\n" in value or name.lower() == MESSAGE_ID_HEADER.lower()):
                    errors["headers"] = [_("Header %s is not allowed.") % name[:60]]
                    break
                clean_headers[name] = value[:1000]
    _check_purpose(purpose, errors)
    if errors:
        raise ValidationFailed(details=errors)
    return _queue(OutboundMessage(
        channel=OutboundMessage.EMAIL, to=addresses, subject=subject, text=text,
        html=html or "", reply_to=reply, headers=clean_headers, purpose=purpose,
        customer_id=customer_id, dedupe_key=dedupe_key or None))


def sms_send(*, to: str, text: str, purpose: str = "service", customer_id: int | None = None,
             dedupe_key: str | None = None) -> OutboundMessage:
    """Queue an SMS to one number (normalised to E.164; +86 by default), sent by the worker
    through the KEHU_SMS_PROVIDER after commit."""
    errors: dict[str, list[str]] = {}
    number = ""
    try:
        number = normalize_phone(str(to or "")).e164
    except (NormalizationError, ValueError) as exc:
        errors["to"] = [str(exc) or _("Not a phone number.")]
    text = str(text or "").strip()
    if not text:
        errors["text"] = [_("The message is empty.")]
    elif len(text) > MAX_SMS_CHARS:
        errors["text"] = [_("An SMS is at most %d characters.") % MAX_SMS_CHARS]
    _check_purpose(purpose, errors)
    if errors:
        raise ValidationFailed(details=errors)
    return _queue(OutboundMessage(channel=OutboundMessage.SMS, to=[number], text=text,
                                  purpose=purpose, customer_id=customer_id,
                                  dedupe_key=dedupe_key or None))


# Sending -----------------------------------------------------------------------------------


def email_connection():
    """A Django email connection for KEHU_EMAIL_URL as it is now (tests change it)."""
    config = parse_email_url(getattr(settings, "KEHU_EMAIL_URL", ""))
    return get_connection(config.backend, fail_silently=False, **config.connection_options())


def _from_email() -> str:
    try:
        config = parse_email_url(getattr(settings, "KEHU_EMAIL_URL", ""))
    except EmailUrlError:
        config = None
    return (config.from_email if config and config.from_email else settings.DEFAULT_FROM_EMAIL)


def _send_email(message: OutboundMessage) -> str:
    # Our own Message-ID, kept as the provider id (the same on every attempt).
    message_id = message.provider_id or make_msgid(domain=DNS_NAME)
    headers = {**(message.headers or {}), MESSAGE_ID_HEADER: str(message.pk),
               "Message-ID": message_id}
    email = EmailMultiAlternatives(subject=message.subject, body=message.text,
                                   from_email=_from_email(), to=list(message.to),
                                   reply_to=[message.reply_to] if message.reply_to else None,
                                   headers=headers, connection=email_connection())
    if message.html:
        email.attach_alternative(message.html, "text/html")
    email.send(fail_silently=False)
    return message_id[:200]


def _send_sms(message: OutboundMessage) -> str:
    return str(sms_provider().send(message.to[0], message.text) or "")[:200]


def _permanent(exc: BaseException) -> bool:
    """Failures no retry can mend: the server refused the recipients or the message (5xx)."""
    if isinstance(exc, PermanentSmsError):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError)
    return False


def _error_text(exc: BaseException) -> str:
    """The failure as kept on the row: the exception's class and message, never a body;
    URLs with their password hidden."""
    text = f"{type(exc).__name__}: {exc}"
    url = getattr(settings, "KEHU_EMAIL_URL", "")
    if url:
        config = None
        try:
            config = parse_email_url(url)
        except EmailUrlError:
            pass
        text = text.replace(url, redact(url))
        if config is not None and config.password:
            text = text.replace(config.password, "***")
    return text[:2000]


def outbound_deliver(*, message_id: int) -> OutboundMessage | None:
    """Send one queued message now if it is due and no other worker holds it; record the
    outcome (sent; or the error, the next attempt's time, or failed for good). Returns the
    message, or None when there was nothing to do."""
    now = timezone.now()
    claimed = (OutboundMessage.objects
               .filter(pk=message_id, status=OutboundMessage.QUEUED)
               .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
               .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
               .update(locked_until=now + LOCK, attempts=F("attempts") + 1))
    if not claimed:
        return None
    message = OutboundMessage.objects.get(pk=message_id)
    try:
        provider_id = _send_email(message) if message.channel == OutboundMessage.EMAIL \
            else _send_sms(message)
    except Exception as exc:
        done = timezone.now()
        message.last_error = _error_text(exc)
        message.locked_until = None
        if _permanent(exc) or message.attempts >= _max_attempts():
            message.status, message.next_attempt_at = OutboundMessage.FAILED, None
            log.warning("outbound %s #%s failed for good after %d attempts", message.channel,
                        message.pk, message.attempts)
        else:
            delay = _backoff(message.attempts)
            message.next_attempt_at = done + delay
            log.info("outbound %s #%s attempt %d failed; retry in %ss", message.channel,
                     message.pk, message.attempts, int(delay.total_seconds()))
        message.save(update_fields=["status", "last_error", "locked_until", "next_attempt_at"])
        if message.status == OutboundMessage.QUEUED:
            _deliver_soon(message.pk, delay=delay.total_seconds())
        return message
    message.status, message.sent_at = OutboundMessage.SENT, timezone.now()
    message.provider_id, message.locked_until, message.next_attempt_at = provider_id, None, None
    message.save(update_fields=["status", "sent_at", "provider_id", "locked_until",
                                "next_attempt_at"])
    log.info("outbound %s #%s sent (attempt %d)", message.channel, message.pk, message.attempts)
    return message


def outbound_sweep(*, limit: int = 500) -> int:
    """Send every queued message that is due (a lost after-commit hook, a retry whose
    scheduled task was lost, a worker that died mid-send); returns how many were tried."""
    now = timezone.now()
    ids = list(OutboundMessage.objects
               .filter(status=OutboundMessage.QUEUED)
               .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
               .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
               .order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
    for pk in ids:
        outbound_deliver(message_id=pk)
    return len(ids)

