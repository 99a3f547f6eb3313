from django.urls import path

from kehu.insights import views

app_name = "insights"

urlpatterns = [
    path("churn/", views.churn, name="churn"),
    path("churn/fit/", views.fit_now, name="fit"),
    path("churn/<int:customer_id>/task/", views.churn_task, name="churn_task"),
    path("settings/", views.settings_page, name="settings"),
    path("customers/<int:customer_id>/", views.card_panel, name="card"),
    path("customers/<int:customer_id>/actions/<slug:code>/task/", views.action_task,
         name="action_task"),
    path("products/<int:product_id>/also-bought/", views.also_bought, name="also_bought"),
]
