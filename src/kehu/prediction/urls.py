from django.urls import path

from kehu.prediction import views

app_name = "prediction"

urlpatterns = [
    path("", views.validation, name="validation"),
    path("refit/", views.refit, name="refit"),
    path("customers/<int:customer_id>/", views.card_panel, name="card_panel"),
]
