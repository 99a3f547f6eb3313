from django.urls import include, path

from kehu.api.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("audit/", include("kehu.core.urls")),
    path("admin/", include("kehu.accounts.urls")),
    path("interactions/", include("kehu.interactions.urls")),
    path("transactions/", include("kehu.transactions.urls")),
    path("customers/", include("kehu.customers.urls")),
    path("customers/", include("kehu.cards.urls")),
    path("interchange/", include("kehu.interchange.urls")),
    path("segments/", include("kehu.segments.urls")),
    path("value/", include("kehu.scoring.urls")),
    path("quality/", include("kehu.quality.urls")),
    path("identity/", include("kehu.identity.urls")),
    path("notifications/", include("kehu.notifications.urls")),
    path("pipeline/", include("kehu.pipeline.urls")),
    path("service/", include("kehu.service.urls")),
    path("prediction/", include("kehu.prediction.urls")),
    path("insights/", include("kehu.insights.urls")),
    path("automation/", include("kehu.automation.urls")),
    path("assignment/", include("kehu.assignment.urls")),
    path("privacy/", include("kehu.privacy.urls")),
    path("integration/", include("kehu.integration.urls")),
    path("dashboard/", include("kehu.dashboards.urls")),
    path("reports/", include("kehu.reports.urls")),
    path("", include("kehu.web.urls")),
]
