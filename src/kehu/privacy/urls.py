from django.urls import path

from kehu.privacy import views

app_name = "privacy"

urlpatterns = [
    path("", views.request_queue, name="requests"),
    path("requests/<int:request_id>/", views.request_detail, name="request"),
    path("consent/", views.consent_bulk, name="consent_bulk"),
    path("retention/", views.retention_page, name="retention"),
    path("assessments/", views.assessments, name="assessments"),
    path("access/", views.access_report, name="access"),
    path("customers/<int:customer_id>/", views.card_section, name="card_section"),
    path("customers/<int:customer_id>/consent/", views.card_consent, name="card_consent"),
    path("customers/<int:customer_id>/hold/", views.card_hold, name="card_hold"),
    path("customers/<int:customer_id>/erase/", views.card_erase, name="card_erase"),
    path("customers/<int:customer_id>/archive/", views.archive_download, name="archive"),
    path("customers/<int:customer_id>/request/", views.card_request, name="card_request"),
    path("customers/<int:customer_id>/link/", views.card_link, name="card_link"),
    path("link/<str:token>/", views.consent_link, name="link"),
    path("request/", views.public_request, name="public_request"),
]
