"""The shell's own pages: home and health. Thin: selectors in, template out."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kehu.web.selectors import AGENDA_ROWS, home_page


@login_required
def home(request):
    """The role's start page: follow-ups due, recently changed customers, figures, links."""
    return render(request, "web/home.html", {
        "home": home_page(user=request.user), "policy": request.user.access,
        "agenda_rows": AGENDA_ROWS})


@require_GET
def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
