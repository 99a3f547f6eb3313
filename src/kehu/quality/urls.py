from django.urls import path

from kehu.quality import views

app_name = "quality"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("rules/", views.rules, name="rules"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("settings/", views.settings_page, name="settings"),
    path("recompute/", views.recompute, name="recompute"),
]
