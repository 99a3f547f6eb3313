"""What keying (and sealing, for redaction) the audit chain costs the bulk path:
`audit_record_many` appending N entries (import-sized chunks) with the keyed HMAC-SHA256
chain over sealed values, against the same appends hashed with plain SHA-256 over the clear
values (the chain before keying), in the same process; then `audit_verify`.

    .venv/bin/python bench/audit_chain_bench.py --entries 200000

Prints seconds, entries per second and the keyed/plain ratio; exits 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _kehu_home import fresh_home, print_machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=2_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    entries, chunk = max(1, min(args.entries, 5_000_000)), max(1, min(args.chunk, 50_000))
    home = fresh_home("kehu-audit-bench-", database_url=args.database_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from kehu.core import audit
    from kehu.core.actor import Actor
    from kehu.core.models import AuditChainHead

    call_command("migrate", verbosity=0)
    actor = Actor(via="cli")

    def append(label: str) -> float:
        started = time.perf_counter()
        for start in range(0, entries, chunk):
            pending = [audit.PendingEntry(
                action="customer.create", object_type="customer", object_id=i,
                object_repr=f"客户{i}", changes={"name": {"before": None, "after": f"客户{i}"},
                                                 "mobile": {"before": None,
                                                            "after": f"+86138{i:08d}"}})
                for i in range(start, min(start + chunk, entries))]
            with transaction.atomic():
                audit.audit_record_many(actor=actor, entries=pending)
        elapsed = time.perf_counter() - started
        print(f"{label:<28} {entries:>9,} entries {elapsed:8.2f} s {entries / elapsed:>10,.0f}/s")
        return elapsed

    real = audit._hasher
    audit._hasher = lambda keyed: real(False)  # the chain as it was before keying (and sealing)
    audit.SEAL = False
    plain = append("plain SHA-256 (before)")
    audit._hasher, audit.SEAL = real, True
    # As the keying migration leaves an existing chain: keyed from the next entry on.
    AuditChainHead.objects.filter(id=1).update(keyed_from_seq=entries + 1,
                                               keyed_mark=audit.keyed_mark(entries + 1))
    keyed = append("keyed, sealed (now)")
    print(f"keyed / plain: {keyed / plain:.3f}")
    started = time.perf_counter()
    report = audit.audit_verify()
    print(f"audit_verify over {report.checked:,} entries (plain, then keyed): "
          f"{time.perf_counter() - started:.2f} s, ok={report.ok}")
    print_machine(home)


if __name__ == "__main__":
    main()
