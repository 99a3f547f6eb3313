"""`kehu notifications digest|send-queued|test-email`: the channels' jobs on demand."""

from __future__ import annotations

import datetime as dt
import json
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _

from kehu.core.errors import DomainError
from kehu.notifications.email_url import EmailUrlError, parse_email_url


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(_("Give the date as YYYY-MM-DD, not %r.") % text) from None


class Command(BaseCommand):
    help = ("Notifications and outgoing messages. `kehu notifications digest [--date D] "
            "[--user NAME] [--json]` sends today's (or D's) daily digest email to every user "
            "with an email address, at most once per user and day; `kehu notifications "
            "send-queued [--json]` sends the queued emails and SMS that are due now (as the "
            "worker does every minute); `kehu notifications test-email ADDRESS` sends a test "
            "email through KEHU_EMAIL_URL now and says how it went.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        digest = sub.add_parser("digest", help="send the daily digest emails")
        digest.add_argument("--date", help="the day (YYYY-MM-DD; default today)")
        digest.add_argument("--user", action="append", default=[],
                            help="only this user (repeat for more)")
        digest.add_argument("--json", action="store_true", help="print the result as JSON")
        queued = sub.add_parser("send-queued", help="send the queued messages that are due")
        queued.add_argument("--json", action="store_true", help="print the result as JSON")
        test = sub.add_parser("test-email", help="send a test email now")
        test.add_argument("address")

    def handle(self, *args, **options):
        with translation.override(settings.LANGUAGE_CODE):
            try:
                getattr(self, "_" + options["action"].replace("-", "_"))(options)
            except DomainError as exc:
                raise CommandError(f"{exc.message} {exc.details or ''}".strip()) from None

    def _out(self, options, data: dict, text: str) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False) if options.get("json") else text)

    def _digest(self, options):
        from kehu.notifications.digest import digest_send

        day = _day(options["date"]) if options["date"] else None
        user_ids = None
        if options["user"]:
            users = dict(get_user_model().objects.filter(username__in=options["user"])
                         .values_list("username", "pk"))
            missing = [name for name in options["user"] if name not in users]
            if missing:
                raise CommandError(_("No user “%s”.") % ", ".join(missing))
            user_ids = list(users.values())
        result = digest_send(day=day, user_ids=user_ids)
        data = {"day": result.day.isoformat(), "sent": result.sent,
                "already_sent": result.already_sent, "nothing_to_say": result.nothing_to_say,
                "no_email": result.no_email}
        self._out(options, data, _(
            "Digest for %(day)s: %(sent)d sent, %(already_sent)d already sent today, "
            "%(nothing_to_say)d with nothing to say, %(no_email)d without an email "
            "address.") % data)

    def _send_queued(self, options):
        from kehu.notifications.channels import outbound_sweep
        from kehu.notifications.models import OutboundMessage

        tried = outbound_sweep()
        counts = {status: OutboundMessage.objects.filter(status=status).count()
                  for status, _label in OutboundMessage.STATUSES}
        data = {"tried": tried, **counts}
        self._out(options, data, _("%(tried)d messages tried; now %(queued)d queued, "
                                   "%(sent)d sent, %(failed)d failed.") % data)

    def _test_email(self, options):
        from kehu.notifications.channels import email_send, outbound_deliver

        try:
            config = parse_email_url(settings.KEHU_EMAIL_URL)
        except EmailUrlError as exc:
            raise CommandError(str(exc)) from None
        message = email_send(to=[options["address"]], subject=_("kehu test email"),
                             text=_("If you can read this, kehu can send email."))
        # Sent here and now (a running worker may take it first: then wait for its answer).
        outbound_deliver(message_id=message.pk)
        deadline = time.monotonic() + config.timeout + 30
        message.refresh_from_db()
        while message.status == "queued" and message.locked_until is not None \
                and time.monotonic() < deadline:
            time.sleep(0.5)
            message.refresh_from_db()
        where = config.host or config.directory or _("the outbox directory")
        if message.status == "sent":
            self.stdout.write(_("Sent to %(to)s through %(where)s.") % {
                "to": options["address"], "where": where})
        else:
            raise CommandError(_("Not sent (%(status)s): %(error)s") % {
                "status": message.get_status_display(), "error": message.last_error})
