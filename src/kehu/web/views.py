"""The shell's own pages: home and health. Thin: selectors in, template out."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from kehu.core.health import readiness
from kehu.core.metrics import render as render_metrics
from kehu.core.models import Job
from kehu.core.selectors import job_list
from kehu.web.selectors import AGENDA_ROWS, home_page


@login_required
def home(request):
    """The role's start page: follow-ups due, recently changed customers, figures, links."""
    return render(request, "web/home.html", {
        "home": home_page(user=request.user), "policy": request.user.access,
        "agenda_rows": AGENDA_ROWS})


@login_required
@require_GET
def jobs(request):
    """Every long job the user may see (imports, scans, scoring …) with its progress."""
    status = request.GET.get("status") or None
    if status not in dict(Job.STATUSES):
        status = None
    _total, rows = job_list(user=request.user, status=status, limit=100)
    context = {"jobs": rows, "status": status, "statuses": Job.STATUSES,
               "running": any(row["status"] in (Job.QUEUED, Job.RUNNING) for row in rows)}
    return render(request, "web/jobs.html", context)


@require_GET
def healthz(request):
    """Liveness: the process answers and reaches its database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_GET
def metrics(request):
    """Prometheus metrics, for a scraper with KEHU_METRICS_TOKEN or a signed-in admin."""
    token = settings.KEHU_METRICS_TOKEN
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    scraper = bool(token) and hmac.compare_digest(presented.encode(), token.encode())
    user = request.user
    admin = user.is_authenticated and user.is_active and user.access.can("user.manage")
    if not (scraper or admin):
        return HttpResponse(_("Metrics need the metrics token or an administrator's sign-in."),
                            status=403, content_type="text/plain; charset=utf-8")
    body, content_type = render_metrics()
    return HttpResponse(body, content_type=content_type)


@require_GET
def readyz(request):
    """Readiness: database, queue and a live background worker; 503 naming what is not ready."""
    result = readiness()
    return JsonResponse({"status": "ok" if result.ok else "unavailable", "checks": result.checks},
                        status=200 if result.ok else 503)
