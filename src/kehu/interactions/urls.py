from django.urls import path

from kehu.interactions import views

app_name = "interactions"

urlpatterns = [
    path("follow-ups/", views.follow_ups, name="follow_ups"),
    path("follow-ups/<int:task_id>/complete/", views.follow_up_complete,
         name="follow_up_complete"),
    path("follow-ups/<int:task_id>/reschedule/", views.follow_up_reschedule,
         name="follow_up_reschedule"),
    path("follow-ups/<int:task_id>/snooze/", views.follow_up_snooze, name="follow_up_snooze"),
    path("follow-ups/<int:task_id>/reassign/", views.follow_up_reassign,
         name="follow_up_reassign"),
    path("customers/<int:customer_id>/log/", views.log, name="log"),
]
