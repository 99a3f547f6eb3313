"""Forms for the administration pages. They validate shape only; services own the rules."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.accounts.models import ApiKey, Role, Team, User
from kehu.accounts.scopes import BROAD, resource_scopes
from kehu.accounts.services import RATE_LIMIT_MAX
from kehu.core.permissions import FIELD_MODES, PERMISSIONS, SCOPES, SENSITIVE_FIELDS


class RoleForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=40)
    name = forms.CharField(label=_("Name"), max_length=60)
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    record_scope = forms.ChoiceField(label=_("Record scope"), choices=list(SCOPES.items()))
    permissions = forms.MultipleChoiceField(
        label=_("Permissions"), choices=list(PERMISSIONS.items()), required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, role: Role | None = None, **kwargs):
        if role is not None and "initial" not in kwargs:
            kwargs["initial"] = {"code": role.code, "name": role.name,
                                 "description": role.description,
                                 "record_scope": role.record_scope,
                                 "permissions": role.permissions}
        super().__init__(*args, **kwargs)
        current = role.field_permissions if role else {}
        for name, label in SENSITIVE_FIELDS.items():
            self.fields[self.field_key(name)] = forms.ChoiceField(
                label=label, choices=list(FIELD_MODES.items()),
                initial=current.get(name, "masked"),
            )

    @staticmethod
    def field_key(name: str) -> str:
        return "field__" + name.replace(".", "__")

    def field_permission_fields(self):
        return [self[self.field_key(name)] for name in SENSITIVE_FIELDS]

    def field_permissions(self) -> dict[str, str]:
        return {name: self.cleaned_data[self.field_key(name)] for name in SENSITIVE_FIELDS}


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    parent = forms.ModelChoiceField(label=_("Parent team"), queryset=Team.objects.none(),
                                    required=False)
    region = forms.CharField(label=_("Region"), max_length=20, required=False)
    managers = forms.ModelMultipleChoiceField(label=_("Managers"), queryset=User.objects.none(),
                                              required=False)

    def __init__(self, *args, teams, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = teams
        self.fields["managers"].queryset = users


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    display_name = forms.CharField(label=_("Display name"), max_length=60, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.none(), required=False)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, roles, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = roles
        self.fields["team"].queryset = teams


class UserEditForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=60, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    role = forms.ModelChoiceField(label=_("Role"), queryset=Role.objects.none(), required=False)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.none(), required=False)
    is_active = forms.BooleanField(label=_("Active"), required=False)

    def __init__(self, *args, roles, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = roles
        self.fields["team"].queryset = teams


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    scopes = forms.MultipleChoiceField(label=_("All resources"), choices=BROAD,
                                       widget=forms.CheckboxSelectMultiple,
                                       initial=[ApiKey.SCOPE_READ], required=False)
    resource_scopes = forms.MultipleChoiceField(
        label=_("Or only these resources"), choices=resource_scopes, required=False,
        widget=forms.CheckboxSelectMultiple)
    rate_limit = forms.IntegerField(
        label=_("Requests per minute"), min_value=1, max_value=RATE_LIMIT_MAX, required=False,
        help_text=_("Empty: the default."))

    def clean(self):
        data = super().clean()
        chosen = [*data.get("scopes", []), *data.get("resource_scopes", [])]
        if not chosen:
            self.add_error("scopes", _("Choose at least one scope."))
        data["all_scopes"] = chosen
        return data


class PasswordForm(forms.Form):
    old_password = forms.CharField(label=_("Current password"), widget=forms.PasswordInput,
                                   strip=False)
    new_password = forms.CharField(label=_("New password"), widget=forms.PasswordInput,
                                   strip=False)
