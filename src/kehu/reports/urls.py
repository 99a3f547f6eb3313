from django.urls import path

from kehu.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.builder, name="new"),
    path("preview/", views.preview, name="preview"),
    path("save/", views.save, name="save"),
    path("drill/", views.drill, name="drill"),
    path("<int:report_id>/", views.report, name="report"),
    path("<int:report_id>/edit/", views.builder, name="edit"),
    path("<int:report_id>/save/", views.save, name="resave"),
    path("<int:report_id>/delete/", views.report_delete, name="delete"),
    path("<int:report_id>/xlsx/", views.report_xlsx, name="xlsx"),
    path("<int:report_id>/add/", views.report_add_to_dashboard, name="add_to_dashboard"),
    path("dashboards/new/", views.dashboard_create, name="dashboard_create"),
    path("dashboards/<int:dashboard_id>/", views.dashboard, name="dashboard"),
    path("dashboards/<int:dashboard_id>/add/", views.dashboard_add, name="dashboard_add"),
    path("dashboards/<int:dashboard_id>/remove/<int:report_id>/", views.dashboard_remove,
         name="dashboard_remove"),
    path("dashboards/<int:dashboard_id>/subscribe/", views.dashboard_subscribe,
         name="dashboard_subscribe"),
]
