from django.urls import path

from kehu.scoring import views

app_name = "scoring"

urlpatterns = [
    path("rfm/", views.rfm, name="rfm"),
    path("rfm/score/", views.score_now, name="score"),
    path("settings/", views.settings_page, name="settings"),
    path("customers/<int:customer_id>/lifecycle/", views.lifecycle, name="lifecycle"),
]
