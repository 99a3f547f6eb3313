from django.urls import path

from kehu.customers import designer_views, tag_views, views

app_name = "customers"

# "<id>/" itself is the customer card, served by the cards app.
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("lookup/", views.customer_lookup, name="lookup"),
    path("bulk/", views.customer_bulk, name="bulk"),
    path("views/", views.saved_view_save, name="view_save"),
    path("views/<int:view_id>/delete/", views.saved_view_delete, name="view_delete"),
    path("fields/", views.custom_fields, name="fields"),
    path("form-designer/", designer_views.designer, name="designer"),
    path("form-designer/save/", designer_views.designer_save, name="designer_save"),
    path("form-designer/reset/", designer_views.designer_reset, name="designer_reset"),
    path("form-designer/behaviour/", designer_views.behaviour_add, name="behaviour_add"),
    path("form-designer/behaviour/<int:rule_id>/delete/", designer_views.behaviour_delete,
         name="behaviour_delete"),
    path("tags/", tag_views.tags, name="tags"),
    path("tags/groups/<int:group_id>/", tag_views.tag_group_edit, name="tag_group_edit"),
    path("tags/<int:tag_id>/", tag_views.tag_edit, name="tag_edit"),
    path("fields/<int:field_id>/", views.custom_field_edit, name="field_edit"),
    path("<int:customer_id>/edit/", views.customer_edit, name="edit"),
    path("<int:customer_id>/reveal-id-number/", views.reveal_id_number, name="reveal_id_number"),
]
