from django.urls import path

from kehu.cards import views

app_name = "cards"

urlpatterns = [
    path("<int:customer_id>/", views.card, name="card"),
    path("<int:customer_id>/timeline/", views.card_timeline, name="timeline"),
    path("<int:customer_id>/follow-ups/", views.card_follow_ups, name="follow_ups"),
    path("<int:customer_id>/identity/", views.identity, name="identity"),
    path("<int:customer_id>/identity/edit/", views.identity_edit, name="identity_edit"),
    path("<int:customer_id>/identifiers/add/", views.identifier_add, name="identifier_add"),
    path("<int:customer_id>/identifiers/<int:identifier_id>/remove/", views.identifier_remove,
         name="identifier_remove"),
    path("<int:customer_id>/addresses/add/", views.address_add, name="address_add"),
    path("<int:customer_id>/addresses/<int:address_id>/remove/", views.address_remove,
         name="address_remove"),
    path("<int:customer_id>/contacts/add/", views.contact_add, name="contact_add"),
    path("<int:customer_id>/contacts/<int:link_id>/remove/", views.contact_remove,
         name="contact_remove"),
]
