"""Middleware: domain errors escaping page views become HTTP responses; API responses report server time."""

from __future__ import annotations

import itertools
import time

from asgiref.sync import sync_to_async
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.handlers.asgi import ASGIRequest
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


class AsyncStreamingMiddleware:
    """Under ASGI, stream a sync streaming response (exports, downloads, static files) chunk by
    chunk from the request's own thread, instead of Django's fallback that first reads the whole
    iterator into memory. Under WSGI it does nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.streaming and not response.is_async and isinstance(request, ASGIRequest):
            response.streaming_content = _chunks_from_thread(response.streaming_content)
        return response


async def _chunks_from_thread(iterator, batch: int = 32):
    """Pull `batch` chunks at a time in the request's thread (the thread that holds its
    database connection), yielding them to the event loop."""
    iterator = iter(iterator)

    def pull():
        return list(itertools.islice(iterator, batch))

    try:
        while chunk := await sync_to_async(pull, thread_sensitive=True)():
            for part in chunk:
                yield part
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            await sync_to_async(close, thread_sensitive=True)()
