from django.urls import path

from kehu.automation import views

app_name = "automation"

urlpatterns = [
    path("rules/", views.rule_list, name="list"),
    path("rules/new/", views.rule_new, name="new"),
    path("rules/parts/", views.rule_parts, name="parts"),
    path("rules/dry-run/", views.rule_dry_run, name="dry_run"),
    path("rules/save/", views.rule_save, name="save"),
    path("rules/templates/<slug:key>/", views.rule_from_template, name="from_template"),
    path("rules/<int:rule_id>/", views.rule_edit, name="edit"),
    path("rules/<int:rule_id>/activate/", views.rule_activate, name="activate"),
    path("rules/<int:rule_id>/pause/", views.rule_pause, name="pause"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="delete"),
    path("rules/<int:rule_id>/runs/", views.rule_runs, name="runs"),
]
