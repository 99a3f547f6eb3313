from django.apps import AppConfig


class CliConfig(AppConfig):
    name = "kehu.cli"
    label = "kehu_cli"
    verbose_name = "kehu command line"
