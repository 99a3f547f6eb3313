app_name = "prediction"

urlpatterns: list = []
