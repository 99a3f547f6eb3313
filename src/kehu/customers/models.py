"""The customer card's identity layer: customers, identifiers, addresses, contacts, tags,
custom fields and saved list views."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Customer(models.Model):
    """One customer: a person or an organisation. The card hangs off this row.

    `version` increases on every change; updates carry the version they read so
    concurrent edits conflict instead of silently overwriting each other.
    """

    KIND_PERSON = "person"
    KIND_ORGANISATION = "organisation"
    KINDS = [(KIND_PERSON, _("Person")), (KIND_ORGANISATION, _("Organisation"))]

    GENDERS = [("male", _("Male")), ("female", _("Female")), ("unknown", _("Unknown"))]

    STATUS_ACTIVE = "active"
    STATUS_MERGED = "merged"
    STATUS_DELETED = "deleted"
    STATUSES = [(STATUS_ACTIVE, pgettext_lazy("customer status", "Active")), (STATUS_MERGED, _("Merged")),
                (STATUS_DELETED, _("Deleted"))]

    LIFECYCLE_STAGES = [
        ("lead", _("Lead")),            # 潜在
        ("prospect", _("Prospect")),    # 意向
        ("customer", pgettext_lazy("lifecycle stage", "Customer")),    # 成交
        ("loyal", _("Loyal")),          # 忠诚
        ("churned", _("Churned")),      # 流失
    ]
    CHANNELS = [
        ("phone", _("Phone")), ("sms", _("SMS")), ("email", _("Email")),
        ("wechat", _("WeChat")), ("visit", _("Visit")), ("mail", _("Post")),
    ]

    kind = models.CharField(_("kind"), max_length=12, choices=KINDS, default=KIND_PERSON)
    name = models.CharField(_("name"), max_length=200)
    # Search keys kept beside the name: full pinyin ("zhangwei") and initials ("zw").
    name_pinyin = models.CharField(max_length=400, blank=True, db_index=True)
    name_initials = models.CharField(max_length=100, blank=True, db_index=True)

    # Person
    gender = models.CharField(_("gender"), max_length=8, choices=GENDERS, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    title = models.CharField(_("title"), max_length=100, blank=True)
    # The company a person works for, as typed (an import's 公司名称 column, the card).
    company = models.CharField(_("company"), max_length=200, blank=True, default="")
    # Resident ID number: AES-GCM ciphertext, an HMAC blind index for exact lookup,
    # and a masked form for display. The clear value is never stored.
    id_number_encrypted = models.TextField(blank=True)
    id_number_index = models.CharField(max_length=64, blank=True, db_index=True)
    id_number_masked = models.CharField(_("ID number"), max_length=24, blank=True)

    # Organisation
    uscc = models.CharField(_("unified social credit code"), max_length=18, blank=True,
                            db_index=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    company_size = models.CharField(_("company size"), max_length=30, blank=True)
    revenue_band = models.CharField(_("revenue band"), max_length=30, blank=True)
    website = models.URLField(_("website"), blank=True)

    # Ownership and classification
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="customers")
    team = models.ForeignKey("accounts.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="customers")
    source = models.CharField(_("source channel"), max_length=60, blank=True)
    lifecycle_stage = models.CharField(_("lifecycle stage"), max_length=12,
                                       choices=LIFECYCLE_STAGES, default="lead")
    preferred_channel = models.CharField(_("preferred channel"), max_length=12,
                                         choices=CHANNELS, blank=True)
    product_interests = models.JSONField(_("product interests"), default=list, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    # Denormalised from the primary address and identifiers, for filters and list columns.
    province = models.CharField(_("province"), max_length=30, blank=True)
    city = models.CharField(_("city"), max_length=30, blank=True)
    region = models.CharField(_("region"), max_length=10, blank=True)
    primary_mobile = models.CharField(_("mobile"), max_length=32, blank=True)
    primary_email = models.CharField(_("email"), max_length=254, blank=True)

    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    quality_score = models.PositiveSmallIntegerField(_("data quality"), null=True, blank=True)

    status = models.CharField(_("status"), max_length=10, choices=STATUSES,
                              default=STATUS_ACTIVE)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="merged_from")
    version = models.PositiveIntegerField(_("version"), default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["status", "-created_at", "-id"], name="cust_status_created"),
            models.Index(fields=["owner", "status", "-created_at"], name="cust_owner_created"),
            models.Index(fields=["team", "status", "-created_at"], name="cust_team_created"),
            # Filter + newest-first sort, the list's commonest shape, served by one index each.
            models.Index(fields=["status", "region", "-created_at", "-id"], name="cust_region"),
            models.Index(fields=["status", "lifecycle_stage", "-created_at", "-id"],
                         name="cust_lifecycle"),
            models.Index(fields=["name"], name="cust_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_person(self) -> bool:
        return self.kind == self.KIND_PERSON


class Identifier(models.Model):
    """A way to recognise a customer: phone, email, WeChat, ID number or an external id.

    Values are stored normalised (E.164 phones, lower-case emails; ID numbers only
    as their blind index). A value belongs to at most one live customer.
    """

    MOBILE, LANDLINE, EMAIL, WECHAT, ID_NUMBER, EXTERNAL = (
        "mobile", "landline", "email", "wechat", "id_number", "external")
    KINDS = [(MOBILE, _("Mobile")), (LANDLINE, _("Landline")), (EMAIL, _("Email")),
             (WECHAT, _("WeChat")), (ID_NUMBER, _("ID number")), (EXTERNAL, _("External id"))]

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identifiers")
    kind = models.CharField(_("kind"), max_length=12, choices=KINDS)
    system = models.CharField(_("source system"), max_length=40, blank=True,
                              help_text=_("For external ids: the system that issued it."))
    value = models.CharField(_("value"), max_length=254)
    # Last four digits of phone numbers, for "find by the last four".
    last4 = models.CharField(max_length=4, blank=True, db_index=True)
    source = models.CharField(_("source"), max_length=60, blank=True)
    verified = models.BooleanField(_("verified"), default=False)
    is_primary = models.BooleanField(_("primary"), default=False)
    # False once the customer is merged away or deleted: frees the value for others.
    is_live = models.BooleanField(default=True)
    first_seen = models.DateTimeField(_("first seen"), auto_now_add=True)
    last_seen = models.DateTimeField(_("last seen"), auto_now_add=True)

    class Meta:
        ordering = ["kind", "-is_primary", "id"]
        verbose_name = _("identifier")
        verbose_name_plural = _("identifiers")
        constraints = [
            models.UniqueConstraint(fields=["kind", "system", "value"], condition=Q(is_live=True),
                                    name="identifier_live_unique"),
        ]
        indexes = [models.Index(fields=["kind", "value"], name="ident_kind_value")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class Address(models.Model):
    """A postal address split the way Chinese addresses are written."""

    LABELS = [("home", pgettext_lazy("address", "Home")), ("work", _("Work")), ("billing", _("Billing")),
              ("shipping", _("Shipping")), ("registered", _("Registered office"))]

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    label = models.CharField(_("label"), max_length=12, choices=LABELS, default="home")
    province = models.CharField(_("province"), max_length=30, blank=True)
    city = models.CharField(_("city"), max_length=30, blank=True)
    district = models.CharField(_("district"), max_length=30, blank=True)
    detail = models.CharField(_("street address"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=10, blank=True)
    region = models.CharField(_("region"), max_length=10, blank=True)
    raw = models.CharField(_("as entered"), max_length=300, blank=True)
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        ordering = ["-is_primary", "id"]
        verbose_name = _("address")
        verbose_name_plural = _("addresses")

    def __str__(self) -> str:
        return f"{self.province}{self.city}{self.district}{self.detail}"


class ContactLink(models.Model):
    """A person's role at an organisation (the organisation's contacts; the person's employers)."""

    DECISION_ROLES = [("decision_maker", _("Decision maker")), ("influencer", _("Influencer")),
                      ("user", _("User")), ("gatekeeper", _("Gatekeeper"))]

    organisation = models.ForeignKey(Customer, on_delete=models.CASCADE,
                                     related_name="contact_links")
    person = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="employer_links")
    job_title = models.CharField(_("job title"), max_length=100, blank=True)
    decision_role = models.CharField(_("decision role"), max_length=16, choices=DECISION_ROLES,
                                     blank=True)
    is_primary = models.BooleanField(_("primary contact"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_primary", "id"]
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        constraints = [models.UniqueConstraint(fields=["organisation", "person"],
                                               name="contact_link_unique")]

    def __str__(self) -> str:
        return f"{self.person_id} @ {self.organisation_id}"


class TagGroup(models.Model):
    """A named, coloured group of tags ("行业", "兴趣"); its tags show in its colour."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    color = models.CharField(_("colour"), max_length=7, default="#2563eb")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag group")
        verbose_name_plural = _("tag groups")

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    """A label for grouping customers (marketing lists, segments, manual flags)."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    color = models.CharField(_("colour"), max_length=7, default="#64748b")
    group = models.ForeignKey(TagGroup, verbose_name=_("group"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="tags")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class CustomerTag(models.Model):
    """A tag on a customer, with who added it and when."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tag_links")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="customer_links")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "tag"],
                                               name="customer_tag_unique")]
        indexes = [models.Index(fields=["tag", "customer"], name="custtag_tag")]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.tag_id}"


class CustomFieldDefinition(models.Model):
    """An admin-defined field for persons, organisations or both; values live in Customer.custom."""

    TYPES = [("text", _("Text")), ("number", _("Number")), ("date", _("Date")),
             ("choice", _("Choice")), ("multi_choice", _("Multiple choice")),
             ("boolean", _("Yes/no")), ("url", _("URL")), ("user", _("User"))]
    APPLIES = [("person", _("Persons")), ("organisation", _("Organisations")),
               ("both", _("Both"))]

    key = models.SlugField(_("key"), max_length=40, unique=True)
    label = models.CharField(_("label"), max_length=60)
    field_type = models.CharField(_("type"), max_length=14, choices=TYPES)
    applies_to = models.CharField(_("applies to"), max_length=12, choices=APPLIES,
                                  default="both")
    required = models.BooleanField(_("required"), default=False)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    help_text = models.CharField(_("help text"), max_length=200, blank=True)
    # Optional rules: {"min": 0, "max": 100, "max_length": 50, "pattern": "^[A-Z]+$"}
    validation = models.JSONField(_("validation"), default=dict, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")

    def __str__(self) -> str:
        return self.label


class SavedView(models.Model):
    """A named customer-list setup (filters, columns, sort), private or shared."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="saved_views")
    name = models.CharField(_("name"), max_length=60)
    params = models.JSONField(default=dict)
    shared = models.BooleanField(_("shared with everyone"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_view_unique")]

    def __str__(self) -> str:
        return self.name


class FormLayout(models.Model):
    """How the customer form and the card's identity block are laid out for one role (no
    role: the default for everyone without one of their own): sections of fields, each with
    a width. docs/forms.md."""

    WIDTHS = [("full", _("Full width")), ("half", _("Half")), ("third", _("Third"))]

    key = models.CharField(max_length=40, unique=True)  # "default" or "role:<id>"
    role = models.ForeignKey("accounts.Role", verbose_name=_("role"), null=True, blank=True,
                             on_delete=models.CASCADE, related_name="+")
    # [{"title": "基本信息", "fields": [{"field": "name", "width": "full"}, ...]}, ...]
    sections = models.JSONField(_("sections"), default=list)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]
        verbose_name = _("form layout")
        verbose_name_plural = _("form layouts")

    def __str__(self) -> str:
        return self.key


class FieldBehaviour(models.Model):
    """A field becomes required, read-only or hidden (for some roles, or everyone) when a
    condition on the record's own fields holds; enforced by the one write path (planning)."""

    REQUIRED, READONLY, HIDDEN = "required", "readonly", "hidden"
    EFFECTS = [(REQUIRED, _("Required")), (READONLY, _("Read-only")), (HIDDEN, _("Hidden"))]

    field = models.CharField(_("field"), max_length=60)
    effect = models.CharField(_("effect"), max_length=10, choices=EFFECTS)
    # {"match": "all" | "any", "conditions": [{"field": "kind", "op": "eq", "value": "…"}]};
    # no conditions: always.
    condition = models.JSONField(_("condition"), default=dict, blank=True)
    roles = models.JSONField(_("roles"), default=list, blank=True)  # role codes; empty: all
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["field", "id"]
        verbose_name = _("field behaviour rule")
        verbose_name_plural = _("field behaviour rules")

    def __str__(self) -> str:
        return f"{self.field} {self.effect}"
