import sys

from django.core.management.base import BaseCommand

from kehu.core.audit import audit_verify


class Command(BaseCommand):
    help = "Audit log tools: `audit verify` walks the hash chain and fails on the first bad entry."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="verify the tamper-evident hash chain")

    def handle(self, *args, action, **options):
        report = audit_verify()
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"audit chain OK: {report.checked} entries verified"))
            return
        self.stderr.write(self.style.ERROR(
            f"audit chain BROKEN at entry #{report.bad_seq}: {report.reason} "
            f"({report.checked} entries before it verified)"
        ))
        sys.exit(1)
