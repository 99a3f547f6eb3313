import multiprocessing

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from gunicorn.app.base import BaseApplication

from kehu.cli.supervise import WorkerSupervisor


class _Gunicorn(BaseApplication):
    def __init__(self, app_path, options):
        self.app_path, self.options = app_path, options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from django.utils.module_loading import import_string

        return import_string(self.app_path)


# How each worker model treats a slow client (bench/slow_clients_bench.py):
# - "asgi" (default): one asyncio loop per process reads requests; a connection costs a
#   socket, not a thread, until its whole request has arrived, so slow clients cannot starve
#   the server. Django runs the (sync) views in threads.
# - "sync": one request at a time per process, blocking reads; six slow connections freeze
#   five workers. Only behind a buffering proxy (nginx).
WORKER_CLASSES = {"asgi": "asgi", "sync": "sync"}


class Command(BaseCommand):
    help = "Serve kehu (gunicorn; static files by WhiteNoise) and run the background worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int,
                            default=min(2 * multiprocessing.cpu_count() + 1, 8),
                            help="web server processes")
        parser.add_argument("--worker-class", choices=sorted(WORKER_CLASSES), default="asgi",
                            help="asgi (default: slow clients cost no worker) or sync "
                                 "(only behind a buffering proxy)")
        parser.add_argument("--connections", type=int, default=1000,
                            help="open connections per web process (asgi)")
        parser.add_argument("--no-worker", action="store_true",
                            help="do not start the background worker (run `kehu worker` separately)")
        parser.add_argument("--background-workers", type=int, default=2,
                            help="threads of the embedded background worker")

    def handle(self, *args, host, port, workers, worker_class, connections, no_worker,
               background_workers, **options):
        if not 1 <= workers <= 64:
            raise CommandError(_("--workers must be between 1 and 64"))
        if not 1 <= connections <= 100_000:
            raise CommandError(_("--connections must be between 1 and 100000"))
        supervisor = None if no_worker else WorkerSupervisor(threads=background_workers)
        worker_note = _("no background worker") if no_worker else _("with the background worker")
        self.stdout.write(f"kehu serving on http://{host}:{port}/ ({workers} × {worker_class}, "
                          f"{worker_note}; data in {settings.KEHU_HOME})")
        asgi = worker_class == "asgi"
        options = {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": WORKER_CLASSES[worker_class],
            "worker_connections": connections,
            # A request's head must arrive within this; the sync model also bounds a request.
            "timeout": 120,
            "keepalive": 5,
            "graceful_timeout": 10,
            "limit_request_line": 8190,
            "limit_request_fields": 100,
            "limit_request_field_size": 8190,
            "accesslog": "-" if settings.DEBUG else None,
            "preload_app": True,
            "control_socket_disable": True,  # two servers on one machine would share its path
            "asgi_lifespan": "off",  # Django's ASGI handler has no lifespan events
        }
        if supervisor:
            options["when_ready"] = lambda server: supervisor.start()
            options["on_exit"] = lambda server: supervisor.stop()
        app_path = "kehu.asgi.application" if asgi else "kehu.wsgi.application"
        try:
            _Gunicorn(app_path, options).run()
        finally:
            if supervisor:
                supervisor.stop()
