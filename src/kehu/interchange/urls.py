from django.urls import path

from kehu.interchange import views

app_name = "interchange"

urlpatterns = [
    path("customers/export/", views.customer_export, name="customers_export"),
]
