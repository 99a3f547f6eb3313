"""The API's request parser: ninja's, plus one refusal for query strings.

Django decodes a query string as UTF-8 with replacement, so the only character in it that a
database cannot store is NUL (PostgreSQL refuses it: a 500 before this). Bodies are checked by
the schemas' base (`kehu.core.schemas.Input`)."""

from __future__ import annotations

from ninja.parser import Parser

from kehu.core.errors import ValidationFailed
from kehu.core.schemas import unstorable_message, unstorable_text


class KehuParser(Parser):
    def parse_querydict(self, data, list_fields, request):
        result = super().parse_querydict(data, list_fields, request)
        for key, value in result.items():
            if unstorable_text(key) is not None or unstorable_text(value) is not None:
                raise ValidationFailed(details={key: [unstorable_message(key)]})
        return result
