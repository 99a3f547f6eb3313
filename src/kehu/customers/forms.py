"""Forms for the customer pages. They only collect input: every rule (normalisation,
uniqueness, custom-field validation) is applied by the services, whose field errors
`show_errors` puts back on these fields."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core import labels
from kehu.customers import fields as catalogue
from kehu.customers.models import Customer, CustomFieldDefinition

PERSON_FIELDS = ("gender", "birthday", "title", "company", "id_number")
ORGANISATION_FIELDS = ("uscc", "industry", "company_size", "revenue_band", "website")
# Form field -> the role field setting that decides whether it may be edited (the catalogue's).
SENSITIVE = catalogue.sensitive_inputs()


def custom_field_name(key: str) -> str:
    """Form field name of a custom field: the same key the services report errors under."""
    return f"custom.{key}"


def _custom_form_field(definition: CustomFieldDefinition) -> forms.Field:
    common = {"label": definition.label, "required": False, "help_text": definition.help_text}
    choices = [(str(c), str(c)) for c in definition.choices or []]
    kind = definition.field_type
    if kind == "choice":
        return forms.ChoiceField(choices=[("", "—"), *choices], **common)
    if kind == "multi_choice":
        return forms.MultipleChoiceField(choices=choices, widget=forms.CheckboxSelectMultiple,
                                         **common)
    if kind == "boolean":
        return forms.ChoiceField(choices=[("", "—"), ("true", _("Yes")), ("false", _("No"))],
                                 **common)
    widget = {
        "number": forms.TextInput(attrs={"inputmode": "decimal"}),
        "date": forms.DateInput(attrs={"type": "date"}),
        "url": forms.URLInput(),
        "text": forms.TextInput(),
        "user": forms.TextInput(attrs={"placeholder": _("username")}),
    }.get(kind, forms.TextInput())
    return forms.CharField(widget=widget, **common)


class CustomerForm(forms.Form):
    """Create or edit a person or an organisation, with the custom fields that apply."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    name = forms.CharField(label=_("Name"), max_length=200)
    gender = forms.ChoiceField(label=_("Gender"), required=False,
                               choices=[("", "—"), *Customer.GENDERS])
    birthday = forms.CharField(label=_("Birthday"), required=False,
                               help_text=_("e.g. 1990-01-02 or 1990年1月2日"))
    title = forms.CharField(label=_("Title"), required=False, max_length=100)
    company = forms.CharField(label=_("Company"), required=False, max_length=200)
    id_number = forms.CharField(label=_("ID number"), required=False, max_length=30,
                                widget=forms.TextInput(attrs={"autocomplete": "off"}))
    uscc = forms.CharField(label=_("Unified social credit code"), required=False, max_length=30)
    industry = forms.CharField(label=_("Industry"), required=False, max_length=100)
    company_size = forms.CharField(label=_("Company size"), required=False, max_length=30)
    revenue_band = forms.CharField(label=_("Revenue band"), required=False, max_length=30)
    website = forms.CharField(label=_("Website"), required=False, max_length=200)
    mobile = forms.CharField(label=_("Mobile"), required=False, max_length=40,
                             widget=forms.TextInput(attrs={"inputmode": "tel"}))
    email = forms.CharField(label=_("Email"), required=False, max_length=254)
    wechat = forms.CharField(label=_("WeChat ID"), required=False, max_length=64)
    address = forms.CharField(label=_("Address"), required=False, max_length=300,
                              help_text=_("Written as usual, e.g. 浙江省杭州市西湖区文三路90号"))
    lifecycle_stage = forms.ChoiceField(label=_("Lifecycle stage"),
                                        choices=Customer.LIFECYCLE_STAGES)
    source = forms.CharField(label=_("Source channel"), required=False, max_length=60)
    preferred_channel = forms.ChoiceField(label=_("Preferred channel"), required=False,
                                          choices=[("", "—"), *Customer.CHANNELS])
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=None, required=False)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(
        attrs={"rows": 3}))

    def __init__(self, *args, kind: str, access, definitions, users=None, editing=False,
                 layout=None, state=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.layout, self.state = layout, state
        self.kind = kind
        drop = ORGANISATION_FIELDS if kind == Customer.KIND_PERSON else PERSON_FIELDS
        for name in drop:
            self.fields.pop(name, None)
        for name, sensitive in SENSITIVE.items():
            if name in self.fields and not access.can_edit_field(sensitive):
                self.fields.pop(name)  # never offer (or accept) what the role may not change
        if users is None or not access.can("customer.assign"):
            self.fields.pop("owner")
        else:
            self.fields["owner"].queryset = users
        if editing:
            self.fields.pop("address", None)  # addresses are edited on the card, one by one
        self.custom_keys = []
        for definition in definitions:
            if definition.applies_to in ("both", kind):
                name = custom_field_name(definition.key)
                self.fields[name] = _custom_form_field(definition)
                self.custom_keys.append(definition.key)
        if state is not None:  # the form designer's field behaviour for this viewer
            for name in state.hidden:
                self.fields.pop(name, None)  # not shown, and not written
            for name in state.readonly:
                if name in self.fields:
                    self.fields[name].disabled = True  # shown; its stored value is kept
            for name in state.required:
                if name in self.fields:
                    self.fields[name].widget.attrs["aria-required"] = "true"
                    self.fields[name].marked_required = True
        self.custom_keys = [key for key in self.custom_keys
                            if custom_field_name(key) in self.fields]

    def changes(self) -> dict:
        """cleaned_data in the services' vocabulary (custom values gathered under "custom")."""
        data = dict(self.cleaned_data)
        data.pop("version", None)
        data["custom"] = {key: data.pop(custom_field_name(key), None) for key in self.custom_keys}
        return data

    def basic_fields(self):
        return [self[name] for name in self.fields if not name.startswith("custom.")
                and name != "version"]

    def custom_fields(self):
        return [self[custom_field_name(key)] for key in self.custom_keys]

    def sections(self) -> list[dict]:
        """The fields in the designer's layout for this viewer (kehu.customers.layouts):
        [{"title", "fields": [(bound field, width)]}], empty sections left out. Without a
        layout, today's form: the basic fields, then the custom ones."""
        if not self.layout:
            out = [{"title": "", "fields": [(f, "half") for f in self.basic_fields()]}]
            if self.custom_keys:
                out.append({"title": _("Custom fields"),
                            "fields": [(f, "half") for f in self.custom_fields()]})
            return out
        out = []
        for section in self.layout:
            placed = [(self[item["field"]], item.get("width", "half"))
                      for item in section.get("fields", []) if item["field"] in self.fields]
            if placed:
                out.append({"title": section.get("title", ""), "fields": placed})
        return out


class CustomFieldForm(forms.Form):
    key = forms.SlugField(label=_("Key"), max_length=40,
                          help_text=_("Letters, digits, - and _; fixed once created."))
    label = forms.CharField(label=_("Label"), max_length=60)
    field_type = forms.ChoiceField(label=_("Type"), choices=CustomFieldDefinition.TYPES)
    applies_to = forms.ChoiceField(label=_("Applies to"), choices=CustomFieldDefinition.APPLIES)
    required = forms.BooleanField(label=_("Required"), required=False)
    choices = forms.CharField(label=_("Choices"), required=False,
                              widget=forms.Textarea(attrs={"rows": 3}),
                              help_text=_("One per line, for choice fields."))
    help_text = forms.CharField(label=_("Help text"), required=False, max_length=200)
    min = forms.CharField(label=_("Minimum"), required=False, max_length=20)
    max = forms.CharField(label=_("Maximum"), required=False, max_length=20)
    max_length = forms.IntegerField(label=_("Maximum length"), required=False, min_value=1)
    pattern = forms.CharField(label=_("Pattern (regular expression)"), required=False,
                              max_length=200)
    position = forms.IntegerField(label=_("Position"), required=False, min_value=0, initial=0)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            self.fields.pop("key")
            self.fields.pop("field_type")

    def definition_data(self) -> dict:
        data = self.cleaned_data
        return {
            "label": data["label"], "applies_to": data["applies_to"],
            "required": data["required"], "help_text": data["help_text"],
            "choices": [line.strip() for line in data["choices"].splitlines() if line.strip()],
            "validation": {k: data[k] for k in ("min", "max", "max_length", "pattern")
                           if data.get(k) not in (None, "")},
            "position": data.get("position") or 0,
        }


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=[("assign", _("Assign owner")), ("tag", _("Add tag"))])
    ids = forms.TypedMultipleChoiceField(coerce=int, choices=[], required=True)
    owner = forms.IntegerField(required=False)
    tag = forms.CharField(required=False, max_length=60)
    next = forms.CharField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Ids are checked by the service against the user's scope, not listed here.
        self.fields["ids"].valid_value = lambda value: str(value).isdigit()


class SavedViewForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60)
    shared = forms.BooleanField(label=_("Share with everyone"), required=False)
    params = forms.CharField(widget=forms.HiddenInput, required=False)


def customer_form_initial(customer, *, wechat: str = "") -> dict:
    """A CustomerForm's initial values for editing `customer` (its stored values, custom
    fields in the form's vocabulary). `wechat` is the clear value the editor may see."""
    initial = {name: getattr(customer, name) for name in (
        "name", "gender", "title", "company", "uscc", "industry", "company_size", "revenue_band",
        "website", "lifecycle_stage", "source", "preferred_channel", "notes")}
    initial.update(version=customer.version, owner=customer.owner_id,
                   birthday=customer.birthday.isoformat() if customer.birthday else "",
                   mobile=customer.primary_mobile, email=customer.primary_email,
                   wechat=wechat or "")
    for key, value in (customer.custom or {}).items():
        initial[custom_field_name(key)] = (value if isinstance(value, list)
                                           else "true" if value is True
                                           else "false" if value is False else value)
    return initial


def conflict_rows(details: dict, form: forms.Form) -> list[dict]:
    """For an edit that lost a race (a Conflict from customer_update): each field someone
    else changed, by its label, with their value now and what this form holds, both as
    people read them (labels for codes, names for people)."""
    current = details.get("current", {}) or {}
    rows = []
    for field in details.get("fields", []):
        custom = field.startswith("custom.")
        name = field.removeprefix("custom.")
        form_name = custom_field_name(name) if custom else field
        form_field = form.fields.get(form_name)
        label = form_field.label if form_field is not None and form_field.label else (
            labels.field_label("customer", field))
        theirs = current.get(field, (current.get("custom") or {}).get(name))
        if isinstance(theirs, dict):
            theirs = theirs.get("name") or theirs.get("username") or ""
        yours = form.data.get(form_name, "") if hasattr(form.data, "get") else ""
        choices = dict(getattr(form_field, "choices", None) or ())
        rows.append({"field": field, "label": str(label),
                     "theirs": labels.field_value("customer", field, theirs),
                     "yours": choices.get(yours, yours) if yours not in (None, "") else ""})
    return rows
