from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "kehu.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from kehu.accounts.models import ApiKey, Role, Team, User
        from kehu.accounts.scopes import all_scopes
        from kehu.core import labels

        labels.register_model("user", User)
        labels.register_model("team", Team)
        labels.register_model("role", Role)
        labels.register_model("apikey", ApiKey)
        labels.register_choices("apikey.scope", all_scopes())
