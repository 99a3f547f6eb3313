from django.urls import path

from kehu.transactions import views

app_name = "transactions"

urlpatterns = [
    path("products/", views.products, name="products"),
    path("products/new/", views.product_edit, name="product_create"),
    path("products/<int:product_id>/", views.product_edit, name="product_edit"),
    path("orders/", views.orders, name="orders"),
    path("orders/new/", views.order_create, name="order_create"),
    path("orders/<int:order_id>/", views.order_detail, name="order"),
    path("tickets/", views.tickets, name="tickets"),
    path("tickets/new/", views.ticket_create, name="ticket_create"),
    path("tickets/<int:ticket_id>/", views.ticket_detail, name="ticket"),
]
