from django.urls import path

from kehu.identity import views

app_name = "identity"

urlpatterns = [
    path("duplicates/", views.queue, name="queue"),
    path("duplicates/scan/", views.scan_start, name="scan"),
    path("duplicates/<int:candidate_id>/", views.candidate, name="candidate"),
    path("duplicates/<int:candidate_id>/dismiss/", views.candidate_dismiss, name="dismiss"),
    path("compare/", views.compare, name="compare"),
    path("merge/", views.merge, name="merge"),
    path("merges/", views.merges, name="merges"),
    path("merges/<int:merge_id>/undo/", views.undo, name="undo"),
    path("survivorship/", views.survivorship, name="survivorship"),
]
