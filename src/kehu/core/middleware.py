"""Middleware: domain errors escaping page views become HTTP responses; API responses report server time."""

from __future__ import annotations

import time

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404

from kehu.core.errors import NotFound, PermissionDenied


class DomainErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        # Re-raised as Django's own exceptions so its 403/404 handlers and templates apply.
        if isinstance(exception, PermissionDenied):
            raise DjangoPermissionDenied(str(exception.message)) from exception
        if isinstance(exception, NotFound):
            raise Http404(str(exception.message)) from exception
        return None


class ServerTimingMiddleware:
    """Report the server's own time on API responses (`Server-Timing: app;dur=12.3`), so
    clients and bench/ can tell server time from network and client time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        if request.path.startswith("/api/"):
            elapsed = (time.perf_counter() - started) * 1000
            response["Server-Timing"] = f"app;dur={elapsed:.1f}"
        return response
