from django.urls import path

from kehu.core import views

app_name = "core"

urlpatterns = [
    path("", views.audit_list, name="audit"),
    path("export/", views.audit_export, name="audit_export"),
]
