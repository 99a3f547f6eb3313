app_name = "assignment"

urlpatterns: list = []
