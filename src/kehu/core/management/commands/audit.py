"""`kehu audit verify [--against CHECKPOINT]` and `kehu audit checkpoint`.

    kehu audit checkpoint                  # prints one signed line: store it outside kehu
    kehu audit verify                      # walks the chain; exit 1 naming the first bad entry
    kehu audit verify --against FILE|LINE  # also: the chain still holds that checkpoint's head
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from kehu.core.audit import Checkpoint, audit_checkpoint, audit_verify


def _read_checkpoint(value: str) -> Checkpoint:
    """A checkpoint from a file path, `-` (standard input) or the printed line itself."""
    text = value
    if value == "-":
        text = sys.stdin.read(64 * 1024)
    else:
        try:
            path = Path(value)
            if len(value) < 4096 and path.is_file():
                with path.open(encoding="utf-8", errors="replace") as handle:
                    text = handle.read(64 * 1024)
        except OSError:
            text = value
    try:
        return Checkpoint.parse(text)
    except ValueError:
        raise CommandError(
            "--against: no checkpoint found (expected a file or the line printed by "
            "`kehu audit checkpoint`: kehu-audit-checkpoint v1 seq=… hash=… at=… sig=…)"
        ) from None


class Command(BaseCommand):
    help = ("Audit log tools: `audit verify` walks the keyed hash chain and fails on the first "
            "bad entry; `audit checkpoint` prints a signed head to keep outside kehu.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="verify the tamper-evident hash chain")
        verify.add_argument("--against", metavar="CHECKPOINT",
                            help="a checkpoint file, '-' for standard input, or the printed "
                                 "line: fail unless the chain still holds that head")
        sub.add_parser("checkpoint", help="print a signed head of the chain (seq, hash, time, "
                                          "HMAC signature) to store elsewhere")

    def handle(self, *args, action, **options):
        if action == "checkpoint":
            try:
                checkpoint = audit_checkpoint()
            except ValueError as exc:
                self.stderr.write(self.style.ERROR(str(exc)))
                sys.exit(1)
            self.stdout.write(checkpoint.text())
            return
        against = _read_checkpoint(options["against"]) if options.get("against") else None
        report = audit_verify(against=against)
        if report.ok:
            suffix = (f"; holds checkpoint #{against.seq} of {against.at}"
                      if against is not None else "")
            self.stdout.write(self.style.SUCCESS(
                f"audit chain OK: {report.checked} entries verified{suffix}"))
            return
        where = f" at entry #{report.bad_seq}" if report.bad_seq is not None else ""
        self.stderr.write(self.style.ERROR(
            f"audit chain BROKEN{where}: {report.reason} "
            f"({report.checked} entries before it verified)"
        ))
        sys.exit(1)
