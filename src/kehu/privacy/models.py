"""The consent ledger, data-subject requests, legal holds, erasures and retention policies.

PIPL (《个人信息保护法》) asks a processor to prove consent per purpose (Arts. 13–15, 23, 29,
39), to answer a person's requests within a deadline (Arts. 44–50) and to keep no more than
needed for no longer than needed (Arts. 6, 19). These rows are that proof.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

CHANNELS = [("sms", _("SMS")), ("email", _("Email")), ("phone", _("Phone")),
            ("wechat", _("WeChat")), ("push", _("App push")), ("post", _("Post")),
            ("any", _("Any channel"))]
CHANNEL_CODES = tuple(code for code, _label in CHANNELS)

# The purposes kehu starts with; ConsentPurpose rows afterwards (admins add their own).
DEFAULT_PURPOSES = [
    # (code, label, needs separate consent)
    ("marketing", _("Marketing"), False),
    ("service", _("Service notifications"), False),
    ("analytics", _("Analytics and profiling"), False),
    ("third_party", _("Sharing with third parties"), True),
    ("cross_border", _("Cross-border transfer"), True),
    ("sensitive", _("Sensitive information processing"), True),
]


class ConsentPurpose(models.Model):
    """A processing purpose consent is asked for (marketing, cross-border transfer …).
    `separate` purposes need their own consent, never bundled (PIPL Arts. 23, 29, 39)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=80)
    description = models.TextField(_("description"), blank=True)
    separate = models.BooleanField(_("separate consent required"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("consent purpose")
        verbose_name_plural = _("consent purposes")

    def __str__(self) -> str:
        return self.name


class ConsentRecord(models.Model):
    """One line of the consent ledger: a grant, withdrawal or expiry for one purpose and
    channel, with where it came from and the notice the person saw. Never changed."""

    GRANTED, WITHDRAWN, EXPIRED = "granted", "withdrawn", "expired"
    STATUSES = [(GRANTED, _("Granted")), (WITHDRAWN, _("Withdrawn")), (EXPIRED, _("Expired"))]
    SOURCES = [("form", _("Form")), ("import", _("Import column")), ("api", _("API")),
               ("verbal", _("Verbal, on a call")), ("double_opt_in", _("Double opt-in link")),
               ("link", _("Withdrawal link")), ("card", _("Customer card")),
               ("request", _("Data-subject request")), ("system", _("Expiry"))]

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="consent_records", verbose_name=_("customer"))
    purpose = models.CharField(_("purpose"), max_length=40)
    channel = models.CharField(_("channel"), max_length=10, choices=CHANNELS)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES)
    source = models.CharField(_("source"), max_length=16, choices=SOURCES)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    verbose_name=_("recorded by"))
    actor_label = models.CharField(_("recorded by"), max_length=200, blank=True)
    recorded_at = models.DateTimeField(_("time"), db_index=True)
    notice_text = models.TextField(_("notice shown"), blank=True)
    notice_version = models.CharField(_("notice version"), max_length=40, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    guardian_consent = models.BooleanField(_("guardian consent"), default=False)
    # Where the evidence is: an import job and file name, a call, a link id.
    reference = models.CharField(_("evidence"), max_length=200, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        indexes = [models.Index(fields=["customer", "purpose", "channel", "-recorded_at"],
                                name="consent_rec_customer")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.purpose}/{self.channel} {self.status}"


class ConsentState(models.Model):
    """The current consent of one customer for one purpose and channel: the latest ledger
    line, kept as a row so segments and exports filter set-based. `minor_until` is the day
    the person turns 14 when they were younger at the grant (PIPL Art. 31)."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="consent_states", verbose_name=_("customer"))
    purpose = models.CharField(_("purpose"), max_length=40)
    channel = models.CharField(_("channel"), max_length=10, choices=CHANNELS)
    status = models.CharField(_("status"), max_length=10, choices=ConsentRecord.STATUSES)
    record = models.ForeignKey(ConsentRecord, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    guardian_consent = models.BooleanField(_("guardian consent"), default=False)
    minor_until = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [models.UniqueConstraint(fields=["customer", "purpose", "channel"],
                                               name="consent_state_unique")]
        indexes = [models.Index(fields=["purpose", "channel", "status"],
                                name="consent_state_lookup")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.purpose}/{self.channel} {self.status}"


class ConsentLink(models.Model):
    """A signed, single-use link sent to a customer: confirm a grant (double opt-in) or
    withdraw. Only the token's hash is stored."""

    CONFIRM, WITHDRAW = "confirm", "withdraw"
    ACTIONS = [(CONFIRM, _("Confirm consent")), (WITHDRAW, _("Withdraw consent"))]

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="consent_links")
    purpose = models.CharField(_("purpose"), max_length=40)
    channel = models.CharField(_("channel"), max_length=10, choices=CHANNELS)
    action = models.CharField(_("action"), max_length=10, choices=ACTIONS)
    token_hash = models.CharField(max_length=64, unique=True)
    notice_text = models.TextField(_("notice shown"), blank=True)
    notice_version = models.CharField(_("notice version"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("created"))
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        verbose_name = _("consent link")
        verbose_name_plural = _("consent links")

    def __str__(self) -> str:
        return f"{self.action} {self.purpose}/{self.channel} #{self.pk}"


class LegalHold(models.Model):
    """Data that must be kept (litigation, tax, a regulator's order): blocks erasure of the
    customer until released; the reason is kept."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="legal_holds", verbose_name=_("customer"))
    reason = models.CharField(_("reason"), max_length=300)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    placed_at = models.DateTimeField(_("placed"))
    released_at = models.DateTimeField(_("released"), null=True, blank=True)

    class Meta:
        ordering = ["-placed_at"]
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")

    def __str__(self) -> str:
        return f"hold {self.customer_id}: {self.reason}"


class Erasure(models.Model):
    """That a customer was erased, when, by whom and why, and how many rows of each table
    were anonymised or removed (never the values)."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="erasures", verbose_name=_("customer"))
    reason = models.CharField(_("reason"), max_length=300)
    erased_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(_("erased by"), max_length=200, blank=True)
    erased_at = models.DateTimeField(_("erased"))
    counts = models.JSONField(_("rows"), default=dict)

    class Meta:
        ordering = ["-erased_at"]
        verbose_name = _("erasure")
        verbose_name_plural = _("erasures")

    def __str__(self) -> str:
        return f"erasure of {self.customer_id}"


class PrivacyRequest(models.Model):
    """A data subject's request (个人信息主体权利请求): what they asked, how their identity was
    verified, the deadline, and the outcome (a refusal keeps its reason, PIPL Art. 50)."""

    KINDS = [("access", _("Access / copy")), ("correction", _("Correction")),
             ("deletion", _("Deletion")), ("withdrawal", _("Withdrawal of consent")),
             ("portability", _("Portability")), ("restriction", _("Restriction of processing")),
             ("explanation", _("Explanation of automated decisions"))]
    OPEN, VERIFIED, COMPLETED, REFUSED = "open", "verified", "completed", "refused"
    STATUSES = [(OPEN, pgettext_lazy("request status", "Open")),
                (VERIFIED, _("Identity verified")), (COMPLETED, _("Completed")),
                (REFUSED, _("Refused"))]
    CLOSED = (COMPLETED, REFUSED)
    INTAKES = [("card", _("Customer card")), ("api", _("API")), ("form", _("Public form")),
               ("cli", _("Command line"))]

    kind = models.CharField(_("kind"), max_length=12, choices=KINDS)
    customer = models.ForeignKey("customers.Customer", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="privacy_requests",
                                 verbose_name=_("customer"))
    requester_name = models.CharField(_("requester"), max_length=100, blank=True)
    requester_contact = models.CharField(_("contact"), max_length=200, blank=True)
    details = models.TextField(_("details"), blank=True)
    intake = models.CharField(_("received via"), max_length=8, choices=INTAKES, default="card")
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=OPEN)
    opened_at = models.DateTimeField(_("opened"))
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    due_date = models.DateField(_("due"))
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    verification = models.CharField(_("verification"), max_length=200, blank=True)
    reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    outcome = models.TextField(_("outcome"), blank=True)
    refusal_reason = models.TextField(_("reason for refusal"), blank=True)

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("privacy request")
        verbose_name_plural = _("privacy requests")
        indexes = [models.Index(fields=["status", "due_date"], name="privacy_req_due")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class RetentionPolicy(models.Model):
    """How long one class of data is kept; `kehu privacy retention` (nightly) applies it."""

    DATA_CLASSES = [
        ("import_uploads", _("Import uploads (days after the job ends)")),
        ("import_reports", _("Import error reports")),
        ("exports", _("Access archives and exports")),
        ("events", _("Behaviour events")),
        ("domain_events", _("Delivered domain events")),
        ("inactive_customers", _("Inactive customers (flagged for review)")),
    ]
    DEFAULT_DAYS = {"import_uploads": 7, "import_reports": 30, "exports": 7, "events": 730,
                    "domain_events": 90, "inactive_customers": 365 * 3}

    data_class = models.CharField(_("data"), max_length=24, choices=DATA_CLASSES, unique=True)
    days = models.PositiveIntegerField(_("keep for (days)"))
    is_active = models.BooleanField(_("active"), default=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_result = models.JSONField(_("last result"), default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("retention policy")
        verbose_name_plural = _("retention policies")

    def __str__(self) -> str:
        return f"{self.data_class}: {self.days}d"


class Assessment(models.Model):
    """A personal-information protection impact assessment (个人信息保护影响评估) or a record of
    processing, kept as versions: editing writes a new version, old ones stay (≥ 3 years,
    PIPL Art. 56)."""

    KINDS = [("assessment", _("Impact assessment")), ("record", _("Record of processing"))]

    key = models.SlugField(_("key"), max_length=60)
    version = models.PositiveIntegerField(_("version"), default=1)
    kind = models.CharField(_("kind"), max_length=12, choices=KINDS, default="assessment")
    title = models.CharField(_("title"), max_length=200)
    purpose = models.CharField(_("purpose"), max_length=40, blank=True)
    body = models.TextField(_("content"))
    risk = models.CharField(_("risk"), max_length=10, choices=[
        ("low", _("Low")), ("medium", _("Medium")), ("high", _("High"))], default="low")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"))
    keep_until = models.DateField(_("keep until"))

    class Meta:
        ordering = ["key", "-version"]
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")
        constraints = [models.UniqueConstraint(fields=["key", "version"],
                                               name="assessment_version_unique")]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"
