from django.urls import path

from kehu.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("bell/", views.bell_count, name="bell_count"),
    path("bell/menu/", views.bell_menu, name="bell_menu"),
    path("read/", views.mark_read, name="mark_read"),
    path("<int:notification_id>/open/", views.open_notification, name="open"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<int:message_id>/retry/", views.outbox_retry, name="outbox_retry"),
]
