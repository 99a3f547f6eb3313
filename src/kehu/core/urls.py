from django.urls import path

from kehu.core import views

app_name = "core"

urlpatterns = [
    path("", views.audit_list, name="audit"),
    path("export/", views.audit_export, name="audit_export"),
    path("events/", views.event_deliveries, name="events"),
    path("events/<int:delivery_id>/replay/", views.event_replay, name="event_replay"),
]
