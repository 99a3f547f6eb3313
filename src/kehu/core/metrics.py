"""Prometheus metrics at /metrics: requests, latency, queue depth, and what apps register.

Under `kehu serve` several processes answer requests, so counters live in
PROMETHEUS_MULTIPROC_DIR (set by the `kehu` command before anything imports the client) and
a scrape sums them. Figures that are cheap to read when asked (queue depth, job counts,
subscriber lag) are computed at scrape time by functions apps register here, so core need
not know the apps above it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

REQUESTS = Counter("kehu_http_requests_total", "HTTP requests answered", ["method", "status"])
LATENCY = Histogram("kehu_http_request_duration_seconds", "Time to answer an HTTP request", ["method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

# name -> (help, function returning [(labels dict, value)])
_GAUGES: dict[str, tuple[str, Callable[[], Iterable[tuple[dict[str, str], float]]]]] = {}


def register_gauge(name: str, help_text: str,
                   read: Callable[[], Iterable[tuple[dict[str, str], float]]]) -> None:
    """Expose `name` at /metrics, computed by `read()` at each scrape."""
    _GAUGES[name] = (help_text, read)


class _ScrapeTimeCollector:
    def collect(self):
        for name, (help_text, read) in sorted(_GAUGES.items()):
            try:
                rows = list(read())
            except Exception:  # one failing reader must not hide the others
                logger.warning("metric %s could not be read", name, exc_info=True)
                continue
            labels = sorted({key for row_labels, _ in rows for key in row_labels})
            family = GaugeMetricFamily(name, help_text, labels=labels)
            for row_labels, value in rows:
                family.add_metric([row_labels.get(key, "") for key in labels], value)
            yield family


def _queue_depth():
    from huey.contrib.djhuey import HUEY

    return [({}, HUEY.pending_count())]


def _jobs_by_kind_and_status():
    from django.db.models import Count

    from kehu.core.models import Job

    return [({"kind": row["kind"], "status": row["status"]}, row["n"])
            for row in Job.objects.values("kind", "status").annotate(n=Count("id")).order_by()]


def _subscriber_lag():
    from kehu.core.selectors import subscriber_lag

    rows = []
    for lag in subscriber_lag():
        rows.append(({"subscriber": lag.name, "state": "behind"}, lag.behind))
        rows.append(({"subscriber": lag.name, "state": "dead"}, lag.dead))
    return rows


register_gauge("kehu_event_subscriber_lag", "Domain events each subscriber has yet to handle, "
               "and its dead letters", _subscriber_lag)
register_gauge("kehu_queue_pending_tasks", "Background tasks waiting in the queue", _queue_depth)
register_gauge("kehu_jobs", "Long jobs by kind and status", _jobs_by_kind_and_status)


def render() -> tuple[bytes, str]:
    """The exposition text of every process's metrics and the scrape-time gauges."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    scrape = CollectorRegistry()
    scrape.register(_ScrapeTimeCollector())
    return generate_latest(registry) + generate_latest(scrape), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"} else "other"
        REQUESTS.labels(method, f"{response.status_code // 100}xx").inc()
        LATENCY.labels(method).observe(time.perf_counter() - started)
        return response
