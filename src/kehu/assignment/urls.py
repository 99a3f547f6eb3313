from django.urls import path

from kehu.assignment import views

app_name = "assignment"

urlpatterns = [
    path("", views.rule_list, name="rules"),
    path("rules/new/", views.rule_edit, name="rule_new"),
    path("rules/reorder/", views.rule_reorder, name="rule_reorder"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/dry-run/", views.rule_dry_run, name="rule_dry_run"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("members/<int:user_id>/leave/", views.leave_set, name="leave_set"),
    path("transfer/", views.transfer, name="transfer"),
]
