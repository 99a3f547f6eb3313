from django.urls import path

from kehu.service import views, views_config

app_name = "service"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("tickets/quick/", views.ticket_quick, name="ticket_quick"),
    path("tickets/<int:ticket_id>/", views.ticket, name="ticket"),
    path("complaints/", views.complaint_list, name="complaints"),
    path("complaints/new/", views.complaint_new, name="complaint_new"),
    path("policies/", views_config.policies, name="policies"),
    path("policies/new/", views_config.policy_edit, name="policy_create"),
    path("policies/<int:policy_id>/", views_config.policy_edit, name="policy_edit"),
    path("policies/<int:policy_id>/delete/", views_config.policy_delete, name="policy_delete"),
    path("calendars/", views_config.calendars, name="calendars"),
    path("calendars/<int:calendar_id>/", views_config.calendar_detail, name="calendar"),
    path("survey/<str:token>/", views.survey_public, name="survey_public"),
]
