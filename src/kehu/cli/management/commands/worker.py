from django.core.management import call_command
from django.core.management.base import BaseCommand

from kehu.core.health import Heartbeat
from kehu.core.jobs import jobs_reap_dead


class Command(BaseCommand):
    help = "Run the Huey background worker with periodic tasks (`kehu serve` starts one itself)."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=2)

    def handle(self, *args, workers, **options):
        heartbeat = Heartbeat().start()
        jobs_reap_dead()  # jobs of a worker that died before this one started
        try:
            call_command("run_huey", workers=max(1, min(workers, 32)), worker_type="thread",
                         periodic=True)
        finally:
            heartbeat.stop()
