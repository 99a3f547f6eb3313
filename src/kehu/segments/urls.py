from django.urls import path

from kehu.segments import views

app_name = "segments"

urlpatterns = [
    path("", views.segment_list, name="list"),
    path("builder/", views.segment_builder, name="builder"),
    path("preview/", views.segment_preview, name="preview"),
    path("save/", views.segment_save, name="save"),
    path("<int:segment_id>/", views.segment_detail, name="detail"),
    path("<int:segment_id>/refresh/", views.segment_refresh, name="refresh"),
    path("<int:segment_id>/delete/", views.segment_delete, name="delete"),
]
