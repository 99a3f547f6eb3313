"""Turn domain errors escaping a page view into the matching HTTP responses."""

from __future__ import annotations

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
