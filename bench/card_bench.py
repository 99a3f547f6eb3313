#!/usr/bin/env python3
"""Card benchmark: caller lookup by phone and the first customer-list page, over HTTP.

Builds a demo book of N customers with their events in a fresh temporary KEHU_HOME (or
the PostgreSQL database given by --database-url), serves it with `kehu serve` (gunicorn)
on a free 127.0.0.1 port, and measures with a thread pool of keep-alive HTTP clients:

  (a) GET /api/v1/customers/lookup?phone=...   random existing mobiles, written in varied
      formats, at a fixed concurrency: p50/p95/p99 latency and requests per second;
  (b) GET /api/v1/customers?region=华东&sort=-created_at&limit=50   one client: the server
      time (the Server-Timing header when the app sends one, otherwise the client latency
      minus the median of a /healthz baseline measured in the same run).

Traffic goes to 127.0.0.1 only and every loop is bounded in requests and seconds. Prints
a table with the goals met or missed and exits 0 either way (figures, not a test).

    .venv/bin/python bench/card_bench.py                       # 100k customers, SQLite
    .venv/bin/python bench/card_bench.py --customers 1000000 --events-per-customer 20
    .venv/bin/python bench/card_bench.py --database-url postgres://postgres@127.0.0.1/kehu_bench
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import urllib3

ROOT = Path(__file__).resolve().parent.parent
GOAL_LOOKUP_P99_MS = 20.0
GOAL_LOOKUP_RPS = 500.0
GOAL_LIST_MS = 100.0
LIST_QUERY = {"region": "华东", "sort": "-created_at", "limit": "50"}


def kehu_executable() -> str:
    candidate = Path(sys.executable).with_name("kehu")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("kehu")
    if not found:
        sys.exit("the `kehu` command is not installed here: run `make install-dev` first")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def phone_formats(e164: str, rng: random.Random) -> str:
    """The ways callers' numbers arrive from a switchboard, a CRM plug-in or a person."""
    national = e164[3:] if e164.startswith("+86") else e164.lstrip("+")
    if len(national) != 11:
        return e164
    a, b, c = national[:3], national[3:7], national[7:]
    return rng.choice([
        e164, national, f"+86 {a} {b} {c}", f"{a}-{b}-{c}", f"0086{national}",
        f"{a} {b} {c}", f"(+86) {a}-{b}-{c}", f"86-{national}",
    ])


# Building the book ----------------------------------------------------------------------


def build(args, env: dict[str, str]) -> float:
    cmd = [kehu_executable(), "demo", "--customers", str(args.customers), "--seed",
           str(args.seed)]
    if args.events_per_customer is not None:
        cmd += ["--events-per-customer", str(args.events_per_customer)]
    print(f"$ {' '.join(cmd)}", flush=True)
    started = time.perf_counter()
    subprocess.run(cmd, env=env, check=True)  # noqa: S603 - our own kehu command
    return time.perf_counter() - started


def issue_key(env: dict[str, str], username: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own kehu command
        [kehu_executable(), "apikey", "create", username, "--scopes", "read", "--name",
         "card bench"], env=env, check=True, capture_output=True, text=True)
    return result.stdout.strip().splitlines()[-1]


def sample_phones(env: dict[str, str], count: int, seed: int) -> tuple[list[str], dict]:
    """Random live mobiles from the book and the book's size, read with kehu's own ORM."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()
    from django.db.models import Max, Min

    from kehu.customers.models import Customer, Identifier
    from kehu.interactions.models import Event

    bounds = Customer.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    rng = random.Random(seed)
    phones: list[str] = []
    attempts = 0
    while len(phones) < count and attempts < 50 and bounds["lo"] is not None:
        attempts += 1
        ids = [rng.randint(bounds["lo"], bounds["hi"]) for _ in range(count)]
        phones += list(Identifier.objects.filter(customer_id__in=ids, kind=Identifier.MOBILE,
                                                 is_live=True)
                       .values_list("value", flat=True)[: count - len(phones)])
    sizes = {"customers": Customer.objects.count(), "events": Event.objects.count(),
             "identifiers": Identifier.objects.count()}
    from django.db import connection

    sizes["database"] = connection.vendor
    connection.close()
    return phones, sizes


# Serving ------------------------------------------------------------------------------------


class Server:
    def __init__(self, env: dict[str, str], port: int, workers: int, log: Path):
        self.port = port
        self.log = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(  # noqa: S603 - our own kehu command
            [kehu_executable(), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 90.0) -> None:
        pool = urllib3.HTTPConnectionPool("127.0.0.1", self.port, maxsize=1, retries=False,
                                          timeout=2.0)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kehu serve exited with {self.proc.returncode}; "
                                   f"see {self.log.name}")
            try:
                if pool.request("GET", "/healthz").status == 200:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"kehu serve did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # gunicorn's arbiter and its workers
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


# Load generation ----------------------------------------------------------------------------


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)  # seconds
    server_ms: list[float] = field(default_factory=list)  # from Server-Timing, if sent
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    wall: float = 0.0

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def pct(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))  # nearest rank
    return ordered[rank]


def server_timing_ms(header: str | None) -> float | None:
    """The total of a Server-Timing header ("app;dur=12.3, db;dur=4"): `total` if named,
    else the largest duration."""
    if not header:
        return None
    durations = {}
    for metric in header.split(","):
        name, *params = [part.strip() for part in metric.split(";")]
        for param in params:
            if param.startswith("dur="):
                try:
                    durations[name] = float(param[4:])
                except ValueError:
                    pass
    if not durations:
        return None
    return durations.get("total", max(durations.values()))


def load(port: int, paths: list[str], *, headers: dict[str, str], concurrency: int,
         max_requests: int, max_seconds: float) -> Run:
    """`concurrency` threads, each with one keep-alive connection, take paths in turn until
    `max_requests` were sent or `max_seconds` passed."""
    run = Run()
    lock = threading.Lock()
    counter = iter(range(max_requests))
    deadline = time.perf_counter() + max_seconds

    def worker() -> None:
        pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, block=True,
                                          retries=False, timeout=10.0, headers=headers)
        latencies, server, statuses, errors = [], [], {}, 0
        while time.perf_counter() < deadline:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            path = paths[n % len(paths)]
            started = time.perf_counter()
            try:
                response = pool.request("GET", path)
            except urllib3.exceptions.HTTPError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)
            statuses[response.status] = statuses.get(response.status, 0) + 1
            timing = server_timing_ms(response.headers.get("Server-Timing"))
            if timing is not None:
                server.append(timing)
        pool.close()
        with lock:
            run.latencies.extend(latencies)
            run.server_ms.extend(server)
            run.errors += errors
            for status, count in statuses.items():
                run.statuses[status] = run.statuses.get(status, 0) + count

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.wall = time.perf_counter() - started
    return run


@dataclass
class WrkRun(Run):
    """wrk's own figures (it keeps a full latency histogram in C, so it barely loads the CPU
    that the server needs, unlike a Python client)."""

    percentiles: dict[float, float] = field(default_factory=dict)  # p -> ms
    count: int = 0
    non_2xx: int = 0

    @property
    def ok(self) -> int:
        return self.count - self.non_2xx

    def pct(self, p: float) -> float:
        return self.percentiles.get(p, float("nan"))


WRK_SCRIPT = """
local paths = {%(paths)s}
local auth = %(auth)s
local counter = 0
function init(args)
  counter = math.random(1, #paths)
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1],
                    {["Authorization"] = auth, ["Accept"] = "application/json"})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("KEHU_WRK %%d %%d %%d %%d %%f %%f %%f %%f\\n", summary.requests,
    summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def wrk_load(port: int, paths: list[str], *, token: str, concurrency: int,
             seconds: float) -> WrkRun | None:
    """Load with wrk (Debian package `wrk`) when it is installed; None otherwise."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lua_paths = ",".join('"' + p.replace('"', "") + '"' for p in paths)
    script.write_text(WRK_SCRIPT % {"paths": lua_paths, "auth": f'"Bearer {token}"'})
    try:
        out = subprocess.run(  # noqa: S603 - wrk from PATH, arguments built here
            [wrk, f"-t{min(2, concurrency)}", f"-c{concurrency}", f"-d{int(seconds)}s",
             "--timeout", "5s", "-s", str(script), f"http://127.0.0.1:{port}/"],
            capture_output=True, text=True, timeout=seconds + 60, check=False).stdout
    finally:
        script.unlink(missing_ok=True)
    line = next((ln for ln in out.splitlines() if ln.startswith("KEHU_WRK ")), None)
    if line is None:
        return None
    count, micros, non_2xx, errors, p50, p95, p99, pmax = line.split()[1:]
    run = WrkRun(count=int(count), non_2xx=int(non_2xx), errors=int(errors),
                 wall=int(micros) / 1e6,
                 percentiles={50: float(p50), 95: float(p95), 99: float(p99),
                              100: float(pmax)})
    run.statuses = {200: run.ok, **({0: run.non_2xx} if run.non_2xx else {})}
    return run


# Report -------------------------------------------------------------------------------------


def report(args, sizes: dict, build_seconds: float | None, lookup: Run, single: Run,
           baseline: Run, listing: Run) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 110)
    rps = lookup.ok / lookup.wall if lookup.wall else 0.0
    list_source = "Server-Timing" if listing.server_ms else "client − /healthz p50"
    if listing.server_ms:
        server = listing.server_ms
    else:
        base = baseline.pct(50)
        server = [max(0.0, v * 1000 - base) for v in listing.latencies]
    list_p50, list_p95 = percentile(server, 50), percentile(server, 95)

    def verdict(ok: bool) -> str:
        return "[green]met[/green]" if ok else "[red]missed[/red]"

    console.print(f"\n[bold]kehu card bench[/bold] — {sizes.get('customers', 0):,} customers, "
                  f"{sizes.get('events', 0):,} events, {sizes.get('identifiers', 0):,} "
                  f"identifiers on {sizes.get('database')}; {os.cpu_count()} cores, "
                  f"Python {platform.python_version()}, gunicorn --workers {args.workers}"
                  + (f"; built in {build_seconds:.0f} s" if build_seconds is not None
                     else "; book reused"))
    table = Table(show_lines=False)
    for name, justify in (("measure", "left"), ("figure", "right"), ("goal", "right"),
                          ("", "left")):
        table.add_column(name, justify=justify)
    table.add_row("lookup by phone: requests (200 / other / errors)",
                  f"{lookup.ok:,} / {sum(lookup.statuses.values()) - lookup.ok:,} / "
                  f"{lookup.errors:,}", "", "")
    generator = "wrk" if isinstance(lookup, WrkRun) else "Python client"
    table.add_row(f"lookup p50 at concurrency {args.concurrency} ({generator})", f"{lookup.pct(50):.1f} ms",
                  "", "")
    table.add_row("lookup p95", f"{lookup.pct(95):.1f} ms", "", "")
    table.add_row("lookup p99", f"{lookup.pct(99):.1f} ms", f"≤ {GOAL_LOOKUP_P99_MS:.0f} ms",
                  verdict(lookup.pct(99) <= GOAL_LOOKUP_P99_MS))
    table.add_row("lookup throughput", f"{rps:,.0f} req/s", f"≥ {GOAL_LOOKUP_RPS:.0f} req/s",
                  verdict(rps >= GOAL_LOOKUP_RPS))
    table.add_row("lookup p50 / p99 with one client (service time)",
                  f"{single.pct(50):.1f} / {single.pct(99):.1f} ms", "", "")
    table.add_row("baseline /healthz p50 (one client)", f"{baseline.pct(50):.2f} ms", "", "")
    table.add_row("list page: client latency p50 / p95",
                  f"{listing.pct(50):.1f} / {listing.pct(95):.1f} ms", "", "")
    table.add_row(f"list page: server time p50 ({list_source})", f"{list_p50:.1f} ms", "", "")
    table.add_row("list page: server time p95", f"{list_p95:.1f} ms",
                  f"≤ {GOAL_LIST_MS:.0f} ms", verdict(list_p95 <= GOAL_LIST_MS))
    table.add_row("list page vs /healthz (p50 ratio)",
                  f"{listing.pct(50) / baseline.pct(50):.1f}×" if baseline.latencies else "-",
                  "", "")
    console.print(table)
    console.print("list request: GET /api/v1/customers?" + "&".join(
        f"{k}={v}" for k, v in LIST_QUERY.items()))
    load_average = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    console.print(f"load average at the end: {load_average:.1f} (other work on the machine "
                  "skews every figure)")
    non_ok = {s: n for s, n in lookup.statuses.items() if s != 200}
    if non_ok or listing.ok != len(listing.latencies):
        console.print(f"[yellow]non-200 answers: lookup {non_ok}, list "
                      f"{ {s: n for s, n in listing.statuses.items() if s != 200} }[/yellow]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events-per-customer", type=int, default=20)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database-url", default="",
                        help="an empty PostgreSQL database (default: SQLite in KEHU_HOME)")
    parser.add_argument("--home", default="",
                        help="KEHU_HOME to use; an existing book there is reused, not rebuilt")
    parser.add_argument("--keep", action="store_true", help="keep the temporary KEHU_HOME")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="lookup connections in flight (a call centre's agents at once)")
    parser.add_argument("--python-client", action="store_true",
                        help="load with the built-in Python client even if wrk is installed")
    parser.add_argument("--requests", type=int, default=6000, help="lookup requests, at most")
    parser.add_argument("--seconds", type=float, default=30.0, help="lookup time limit")
    parser.add_argument("--list-requests", type=int, default=200)
    parser.add_argument("--list-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="kehu-bench-"))
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KEHU_HOME": str(home), "KEHU_LOG_LEVEL": "WARNING",
           "KEHU_DEMO_PASSWORD": "bench-" + os.urandom(6).hex()}
    env.pop("KEHU_DEBUG", None)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    else:
        env.pop("DATABASE_URL", None)
    server = None
    reused = bool(args.home) and not args.database_url and (home / "kehu.sqlite3").exists()
    try:
        build_seconds = build(args, env)
        if reused:
            build_seconds = None  # an existing book: `kehu demo` loaded nothing
        token = issue_key(env, "serviceagent1")
        phones, sizes = sample_phones(env, 2000, args.seed)
        if not phones:
            sys.exit("the book has no mobiles to look up")
        rng = random.Random(args.seed)
        lookup_paths = [f"/api/v1/customers/lookup?phone={quote(phone_formats(p, rng))}"
                        for p in phones]
        port = free_port()
        server = Server(env, port, args.workers, home / "bench-serve.log")
        server.wait_ready()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                   "Connection": "keep-alive"}
        print(f"serving on 127.0.0.1:{port}; warming up …", flush=True)
        load(port, lookup_paths, headers=headers, concurrency=args.concurrency,
             max_requests=min(400, args.requests), max_seconds=15)
        list_path = f"/api/v1/customers?{urlencode(LIST_QUERY)}"
        load(port, [list_path], headers=headers, concurrency=1, max_requests=5, max_seconds=15)
        print("measuring caller lookup …", flush=True)
        lookup = wrk_load(port, lookup_paths, token=token, concurrency=args.concurrency,
                          seconds=args.seconds) if not args.python_client else None
        if lookup is None:
            lookup = load(port, lookup_paths, headers=headers, concurrency=args.concurrency,
                          max_requests=args.requests, max_seconds=args.seconds)
        single = load(port, lookup_paths[::-1], headers=headers, concurrency=1,
                      max_requests=300, max_seconds=15)
        print("measuring the /healthz baseline and the list page …", flush=True)
        baseline = load(port, ["/healthz"], headers={}, concurrency=1, max_requests=300,
                        max_seconds=15)
        listing = load(port, [list_path], headers=headers, concurrency=1,
                       max_requests=args.list_requests, max_seconds=args.list_seconds)
        report(args, sizes, build_seconds, lookup, single, baseline, listing)
    finally:
        if server is not None:
            server.stop()
        if not args.keep and not args.home:
            shutil.rmtree(home, ignore_errors=True)
        elif args.keep:
            print(f"KEHU_HOME kept at {home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
