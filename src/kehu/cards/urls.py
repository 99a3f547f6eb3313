from django.urls import path

from kehu.cards import views

app_name = "cards"

urlpatterns = [
    path("<int:customer_id>/", views.card, name="card"),
    path("<int:customer_id>/timeline/", views.card_timeline, name="timeline"),
    path("<int:customer_id>/identity/", views.identity, name="identity"),
    path("<int:customer_id>/identity/edit/", views.identity_edit, name="identity_edit"),
]
