"""Forms of the import page: the upload, and the column mapping of a job."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.interchange.models import ImportJob

IGNORE = ""


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("Each row is"), choices=ImportJob.KINDS,
                             initial="customers", required=False)
    file = forms.FileField(label=_("File"), help_text=_("CSV, TSV, xlsx, xls or ods."))
    sheet = forms.CharField(label=_("Sheet"), required=False, max_length=100,
                            help_text=_("Leave empty for the first sheet."))


class ImportMappingForm(forms.Form):
    """One drop-down per file column (`col_<index>`), a field or "ignore"; the options of
    the job's kind; and a name to save the mapping under as a template."""

    skip_invalid_fields = forms.BooleanField(
        label=_("Import a row without its invalid cells instead of rejecting it"),
        required=False)
    create_products = forms.BooleanField(
        label=_("Add products with unknown SKUs to the catalogue instead of rejecting their "
                "rows"), required=False)
    on_name_conflict = forms.ChoiceField(
        label=_("When a row matches a customer by phone, email, ID number or external id but "
                "names someone else"),
        choices=[("review", _("Keep the customer's name, report the row and queue both for "
                              "duplicate review")),
                 ("reject", _("Reject the row")),
                 ("update", _("Update the customer with the row's name"))],
        initial="review", required=False)
    template_name = forms.CharField(label=_("Template name"), required=False, max_length=100)

    def __init__(self, *args, headers: list[str], mapping: dict[int, str | None],
                 choices: list[tuple[str, str]], kind: str = "customers", **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        if kind != "orders":
            del self.fields["create_products"]
        if kind != "customers":
            del self.fields["on_name_conflict"]
        options = [(IGNORE, _("— ignore —")), *choices]
        self.columns = []
        for index, header in enumerate(headers):
            name = f"col_{index}"
            self.fields[name] = forms.ChoiceField(label=header or _("(no header)"),
                                                  choices=options, required=False,
                                                  initial=mapping.get(index) or IGNORE)
            self.columns.append((index, header, name))

    def bound_columns(self):
        return [(index, header, self[name]) for index, header, name in self.columns]

    def chosen_mapping(self) -> dict[int, str | None]:
        return {index: self.cleaned_data.get(name) or None for index, _h, name in self.columns}
