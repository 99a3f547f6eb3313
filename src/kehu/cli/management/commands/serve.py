import multiprocessing

from django.conf import settings
from django.core.management.base import BaseCommand
from gunicorn.app.base import BaseApplication

from kehu.wsgi import application


class _Gunicorn(BaseApplication):
    def __init__(self, app, options):
        self.app, self.options = app, options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.app


class Command(BaseCommand):
    help = "Serve kehu with gunicorn (static files by WhiteNoise)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int,
                            default=min(2 * multiprocessing.cpu_count() + 1, 8))
        # Sync workers (one thread) measured fastest for kehu's CPU-bound requests on 2 cores
        # (bench/card_bench.py); threads help only when requests wait on a remote database.
        parser.add_argument("--threads", type=int, default=1)

    def handle(self, *args, host, port, workers, threads, **options):
        self.stdout.write(f"kehu serving on http://{host}:{port}/ "
                          f"({workers} workers x {threads} threads, data in {settings.KEHU_HOME})")
        _Gunicorn(application, {
            "bind": f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread" if threads > 1 else "sync",
            "timeout": 120,
            "accesslog": "-" if settings.DEBUG else None,
            "preload_app": True,
        }).run()
