"""The password policy's own rule beside Django's validators: how many kinds of character
(lower case, upper case, digits, others) a password needs. The policy is set in the
environment (docs/privacy.md, "Accounts"): KEHU_PASSWORD_MIN_LENGTH (default 8) and
KEHU_PASSWORD_MIN_CLASSES (default 1, i.e. no extra rule)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import ngettext


class CharacterClassValidator:
    """At least `min_classes` of: lower-case letters, upper-case letters, digits, others."""

    def __init__(self, min_classes: int = 1):
        self.min_classes = max(1, min(int(min_classes), 4))

    @staticmethod
    def classes(password: str) -> int:
        return sum((any(c.islower() for c in password), any(c.isupper() for c in password),
                    any(c.isdigit() for c in password),
                    any(not c.isalnum() for c in password)))

    def validate(self, password: str, user=None) -> None:
        if self.classes(password) < self.min_classes:
            raise ValidationError(self.get_help_text(), code="password_too_simple")

    def get_help_text(self) -> str:
        return ngettext(
            "Use at least %(n)d kind of character (lower case, upper case, digits, others).",
            "Use at least %(n)d kinds of character: lower case, upper case, digits, others.",
            self.min_classes) % {"n": self.min_classes}



