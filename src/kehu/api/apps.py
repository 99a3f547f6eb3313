from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "kehu.api"
    label = "kehu_api"
    verbose_name = "API"
