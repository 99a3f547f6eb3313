from django.urls import path

from kehu.integration import views

app_name = "integration"

urlpatterns = [
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/<int:endpoint_id>/", views.webhook, name="webhook"),
    path("webhooks/<int:endpoint_id>/toggle/", views.webhook_toggle, name="webhook_toggle"),
    path("webhooks/<int:endpoint_id>/rotate/", views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:endpoint_id>/delete/", views.webhook_remove, name="webhook_delete"),
    path("deliveries/<int:delivery_id>/replay/", views.delivery_replay,
         name="delivery_replay"),
    path("stitches/", views.stitches, name="stitches"),
    path("stitches/<int:stitch_id>/undo/", views.stitch_undo, name="stitch_undo"),
]
