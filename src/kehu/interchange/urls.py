from django.urls import path

from kehu.interchange import views

app_name = "interchange"

urlpatterns = [
    path("customers/export/", views.customer_export, name="customers_export"),
    path("segments/<int:segment_id>/export/", views.segment_export, name="segment_export"),
    path("deals/export/", views.deals_export, name="deals_export"),
    path("payments/export/", views.payments_export, name="payments_export"),
    path("imports/", views.imports, name="imports"),
    path("imports/<int:job_id>/mapping/", views.import_mapping, name="import_mapping"),
    path("imports/<int:job_id>/sheet/", views.import_sheet, name="import_sheet"),
    path("imports/<int:job_id>/", views.import_job, name="import_job"),
    path("imports/<int:job_id>/report/", views.import_report, name="import_report"),
]
