from django.urls import path

from kehu.dashboards import views

app_name = "dashboards"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:key>/", views.board, name="board"),
]
