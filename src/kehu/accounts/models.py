"""Users, nested teams, roles as data, and API keys."""

from __future__ import annotations

from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from kehu.core.permissions import FIELD_MODES, SCOPE_OWN, SCOPES


class Team(models.Model):
    """A department; teams nest, and a manager sees the team and every sub-team."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    region = models.CharField(_("region"), max_length=20, blank=True)
    managers = models.ManyToManyField(
        "accounts.User", verbose_name=_("managers"), blank=True, related_name="managed_teams"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class Role(models.Model):
    """What a group of users may do: object permissions, record scope, field visibility."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    description = models.CharField(_("description"), max_length=200, blank=True)
    permissions = models.JSONField(_("permissions"), default=list, blank=True)
    record_scope = models.CharField(
        _("record scope"), max_length=10, choices=list(SCOPES.items()), default=SCOPE_OWN
    )
    # {"customer.id_number": "masked", ...}; a sensitive field not listed is masked.
    field_permissions = models.JSONField(_("field permissions"), default=dict, blank=True)
    is_system = models.BooleanField(_("built in"), default=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self) -> str:
        return str(_(self.name))

    @staticmethod
    def field_mode_choices():
        return list(FIELD_MODES.items())


class User(AbstractUser):
    """A kehu user: one role, one home team."""

    display_name = models.CharField(_("display name"), max_length=60, blank=True)
    role = models.ForeignKey(
        Role, verbose_name=_("role"), null=True, blank=True, on_delete=models.PROTECT
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    # On leave from..until (inclusive; either end may be open): lead assignment skips them.
    leave_from = models.DateField(_("on leave from"), null=True, blank=True)
    leave_until = models.DateField(_("on leave until"), null=True, blank=True)

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    def on_leave(self, day) -> bool:
        """Whether the user is on leave on `day` (a date range with open ends allowed)."""
        if self.leave_from is None and self.leave_until is None:
            return False
        return ((self.leave_from is None or self.leave_from <= day)
                and (self.leave_until is None or day <= self.leave_until))

    @cached_property
    def access(self):
        """This user's AccessPolicy: the one place scope and field rules are applied."""
        from kehu.accounts.access import AccessPolicy

        return AccessPolicy.for_user(self)


class ApiKey(models.Model):
    """A bearer token acting as its user, limited to scopes. Only a hash is stored."""

    SCOPE_READ = "read"
    SCOPE_WRITE = "write"
    SCOPE_INGEST = "ingest"  # only the event ingestion calls (/api/v1/track, batch …)
    SCOPES = [(SCOPE_READ, _("read")), (SCOPE_WRITE, _("write")),
              (SCOPE_INGEST, _("ingest events"))]  # and per resource: kehu.accounts.scopes

    user = models.ForeignKey(
        User, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    rate_limit = models.PositiveIntegerField(
        _("requests per minute"), null=True, blank=True,
        help_text=_("Empty: the default (KEHU_API_KEY_RATE_LIMIT)."))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class ApiKeyUsage(models.Model):
    """Requests made with a key, per day (counted in the cache, written at most once a
    minute per key and process)."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField(_("day"))
    requests = models.PositiveIntegerField(_("requests"), default=0)

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["key", "day"], name="apikey_usage_day")]

    def __str__(self) -> str:
        return f"{self.key_id} {self.day}: {self.requests}"
