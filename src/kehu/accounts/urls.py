from django.urls import path

from kehu.accounts import views

app_name = "accounts"

urlpatterns = [
    path("users/", views.user_list, name="users"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:user_id>/", views.user_edit, name="user_edit"),
    path("users/<int:user_id>/unlock/", views.user_unlock, name="user_unlock"),
    path("teams/", views.team_list, name="teams"),
    path("teams/new/", views.team_edit, name="team_create"),
    path("teams/<int:team_id>/", views.team_edit, name="team_edit"),
    path("roles/", views.role_list, name="roles"),
    path("roles/new/", views.role_edit, name="role_create"),
    path("roles/<int:role_id>/", views.role_edit, name="role_edit"),
    path("api-keys/", views.apikey_list, name="apikeys"),
    path("api-keys/<int:key_id>/revoke/", views.apikey_revoke, name="apikey_revoke"),
    path("password/", views.password_change, name="password"),
    path("security/", views.security, name="security"),
    path("2fa/verify/", views.two_factor_verify, name="2fa_verify"),
]
