#!/usr/bin/env python3
"""Import benchmark: N generated customer rows through the real `kehu import` path.

1. Generates N rows of realistic Chinese customer data as a UTF-8 CSV (names, mobiles and
   landlines in mixed formats, emails, birthdays in the forms people type, resident ID
   numbers that agree with them, addresses, companies, sources, notes), with ~1% invalid
   rows and ~2% rows repeating an earlier row's mobile (in-file duplicates).
2. Imports it into a fresh KEHU_HOME (SQLite) or the EMPTY PostgreSQL database given by
   --database-url, through `import_job_create` + `import_job_run`, the code path of
   `kehu import FILE` (chunked jobs, bulk writes, audit chain), timed end to end.
3. In the same process, times a bare `sqlite3` executemany of the same already-normalised
   rows (read back from the imported customers) into an equivalent flat table with the
   same PRAGMAs and lookup indexes (the issue's baseline), and on SQLite the schema floor:
   a bare executemany of exactly the rows the import stored (customers, identifiers,
   addresses, then also the audit entries) into a fresh copy of kehu's real schema.
4. With --export, times the CSV export of every customer (customers_export, as a superuser,
   fully consumed) and prints its rows/s.

Prints rows, seconds, rows/s and the ratio to the bare insert, then `kehu audit verify`'s
verdict on the chain the import wrote. Exits 0 either way: these are figures, not a test.

    .venv/bin/python bench/import_bench.py                      # 100,000 rows, SQLite
    .venv/bin/python bench/import_bench.py --rows 1000000 --export
    .venv/bin/python bench/import_bench.py --database-url postgres://postgres@127.0.0.1/kehu_b
"""

from __future__ import annotations

import argparse
import csv
import random
import sqlite3
import sys
import time
from pathlib import Path

from _kehu_home import fresh_home, print_machine

GOAL_SECONDS_PER_MILLION = 30.0
GOAL_RATIO = 3.0

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
            "叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史")
GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华玉兰志强文斌晓明海燕"
         "婷欣怡子涵浩然宇轩梓萱思远嘉怡俊杰雨萱博文天佑佳琪一鸣心怡")
AREAS = (("110105", "北京市朝阳区建国路"), ("310104", "上海市徐汇区漕溪北路"),
         ("330106", "浙江省杭州市西湖区文三路"), ("440305", "广东省深圳市南山区科技园路"),
         ("510104", "四川省成都市锦江区春熙路"), ("320102", "江苏省南京市玄武区中山路"),
         ("420106", "湖北省武汉市武昌区中南路"), ("370102", "山东省济南市历下区泉城路"))
COMPANIES = ("华为技术有限公司", "阿里巴巴（中国）有限公司", "深圳市腾讯计算机系统有限公司",
             "小米科技有限责任公司", "京东集团", "美的集团股份有限公司", "比亚迪股份有限公司", "")
SOURCES = ("展会", "官网", "转介绍", "电话营销", "微信", "线下门店", "")
DOMAINS = ("qq.com", "163.com", "126.com", "gmail.com", "outlook.com", "sina.com", "example.cn")
PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
            "155", "157", "158", "159", "166", "176", "177", "180", "181", "186", "187", "188",
            "189", "198", "199")
HEADER = ["客户名称", "手机", "邮箱", "性别", "生日", "身份证号", "地址", "公司", "来源", "备注"]
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _id_number(area: str, year: int, month: int, day: int, seq: int) -> str:
    body = f"{area}{year:04d}{month:02d}{day:02d}{seq:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body[:17], _WEIGHTS, strict=True)) % 11]


def _phone(rng: random.Random, mobile: str) -> str:
    style = rng.random()
    if style < 0.45:
        return mobile
    if style < 0.6:
        return f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    if style < 0.7:
        return f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}"
    if style < 0.8:
        return f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}"
    if style < 0.9:
        return "+86" + mobile
    return "（+86）" + mobile


def generate(path: Path, rows: int, seed: int) -> dict[str, int]:
    """Write the CSV; returns how many rows of each planted kind it holds."""
    rng = random.Random(seed)
    planted = {"invalid": 0, "duplicate": 0}
    mobiles: list[str] = []
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN)
                                                              if rng.random() < 0.6 else "")
            if mobiles and rng.random() < 0.02:
                planted["duplicate"] += 1
                mobile = rng.choice(mobiles[-5000:])
                writer.writerow([name, _phone(rng, mobile), f"dup{i}@{rng.choice(DOMAINS)}",
                                 "", "", "", "", "", "", "再次导入"])
                continue
            mobile = f"{rng.choice(PREFIXES)}{i:08d}"[-11:]
            mobile = mobile[:3] + f"{(i * 7919 + 13) % 100_000_000:08d}"
            mobiles.append(mobile)
            year, month, day = rng.randint(1955, 2004), rng.randint(1, 12), rng.randint(1, 28)
            male = rng.random() < 0.5
            area, street = rng.choice(AREAS)
            seq = (i % 499) * 2 + (1 if male else 0)
            id_number = _id_number(area, year, month, day, seq) if rng.random() < 0.6 else ""
            birthday = rng.choice((f"{year}-{month:02d}-{day:02d}", f"{year}/{month}/{day}",
                                   f"{year}{month:02d}{day:02d}", f"{year}年{month}月{day}日"))
            gender = rng.choice(("男", "M", "male", "先生")) if male else rng.choice(
                ("女", "F", "female", "女士"))
            email = f"user{i}@{rng.choice(DOMAINS)}" if rng.random() < 0.7 else ""
            phone = _phone(rng, mobile) if rng.random() < 0.97 else (
                f"0{rng.choice(('10', '21', '571', '755'))}-{rng.randint(20000000, 89999999)}")
            row = [name, phone, email, gender, birthday if rng.random() < 0.8 else "",
                   id_number, f"{street}{rng.randint(1, 999)}号" if rng.random() < 0.8 else "",
                   rng.choice(COMPANIES), rng.choice(SOURCES),
                   "老客户" if rng.random() < 0.1 else ""]
            if rng.random() < 0.01:
                planted["invalid"] += 1
                bad = rng.randrange(3)
                if bad == 0:
                    row[1] = "12345"
                elif bad == 1:
                    row[2] = "not-an-email@"
                else:
                    row[4] = f"{year}-02-30"
                    row[5] = ""
            writer.writerow(row)
    return planted


def bare_insert(chunks, directory: Path) -> tuple[int, float]:
    """(rows, seconds) of sqlite3 executemany of the normalised rows (given in chunks, so a
    million need not sit in memory; only the inserts are timed) into an equivalent table,
    in one transaction."""
    path = directory / "bare.sqlite3"
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        "CREATE TABLE customer (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
        " name_pinyin TEXT, name_initials TEXT, gender TEXT, birthday DATE,"
        " primary_mobile TEXT, primary_email TEXT, id_number_index TEXT,"
        " id_number_masked TEXT, id_number_encrypted TEXT, province TEXT, city TEXT,"
        " region TEXT, source TEXT, notes TEXT);"
        "CREATE INDEX customer_mobile ON customer (primary_mobile);"
        "CREATE INDEX customer_email ON customer (primary_email);"
        "CREATE INDEX customer_id_number ON customer (id_number_index);"
        "CREATE INDEX customer_name ON customer (name);")
    elapsed, count = 0.0, 0
    db.execute("BEGIN IMMEDIATE")
    for rows in chunks:
        started = time.perf_counter()
        db.executemany("INSERT INTO customer (name, name_pinyin, name_initials, gender,"
                       " birthday, primary_mobile, primary_email, id_number_index,"
                       " id_number_masked, id_number_encrypted, province, city, region,"
                       " source, notes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        elapsed += time.perf_counter() - started
        count += len(rows)
    started = time.perf_counter()
    db.execute("COMMIT")
    elapsed += time.perf_counter() - started
    db.close()
    return count, elapsed


STORED_TABLES = ("customers_customer", "customers_identifier", "customers_address",
                 "core_auditentry")


def schema_floor(source: Path, directory: Path, *, with_audit: bool) -> tuple[int, float]:
    """(customers, seconds) of a bare sqlite3 executemany of exactly the rows the import
    stored (customers, identifiers, addresses and, with_audit, audit entries), read back
    from its database and written into a fresh copy of kehu's real schema (every index
    and constraint, same PRAGMAs, one transaction per 50,000 rows of a table): the floor
    under any import that keeps this data model, whatever its Python does."""
    path = directory / "floor.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     " PRAGMA cache_size=-262144;")
    for (sql,) in src.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"
                              " AND name NOT LIKE 'sqlite_%' ORDER BY type DESC"):
        db.execute(sql)  # tables first ('table' > 'index'), then their indexes
    tables = STORED_TABLES if with_audit else STORED_TABLES[:3]
    elapsed = 0.0
    for table in tables:
        width = len(src.execute(f"SELECT * FROM {table} LIMIT 0").description)  # noqa: S608
        insert = f"INSERT INTO {table} VALUES ({', '.join('?' * width)})"  # noqa: S608
        rows = src.execute(f"SELECT * FROM {table} ORDER BY rowid")  # noqa: S608
        while batch := rows.fetchmany(50_000):
            started = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.executemany(insert, batch)
            db.execute("COMMIT")
            elapsed += time.perf_counter() - started
    customers = db.execute("SELECT count(*) FROM customers_customer").fetchone()[0]
    src.close()
    db.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return customers, elapsed


def _cpu() -> float:
    """CPU seconds used by this process and its finished children (the cleaning worker)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--database-url", default="",
                        help="an EMPTY PostgreSQL database to import into (default: SQLite)")
    parser.add_argument("--export", action="store_true", help="time the CSV export too")
    parser.add_argument("--on-name-conflict", choices=("review", "reject", "update"),
                        default="review",
                        help="the import's option (the in-file duplicates repeat a mobile "
                             "under another name: review creates and queues them)")
    parser.add_argument("--workers", type=int, default=None,
                        help="KEHU_IMPORT_WORKERS (processes cleaning ahead; 0: none)")
    parser.add_argument("--chunk", type=int, default=None, help="KEHU_IMPORT_CHUNK_ROWS")
    args = parser.parse_args()

    home = fresh_home("kehu-import-bench-", database_url=args.database_url, chunk=args.chunk,
                      workers=args.workers)

    source = home / "customers.csv"
    started = time.perf_counter()
    planted = generate(source, args.rows, args.seed)
    print(f"generated {args.rows:,} rows ({planted['invalid']:,} invalid, "
          f"{planted['duplicate']:,} in-file duplicates) in "
          f"{time.perf_counter() - started:.1f} s; {source.stat().st_size / 1e6:.0f} MB")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from kehu.accounts.models import User
    from kehu.core.actor import Actor
    from kehu.core.audit import audit_verify
    from kehu.interchange import bulk
    from kehu.interchange.services import import_job_create, import_job_run

    if User.objects.exists() or connection.vendor == "postgresql" and connection.cursor(
    ).execute("SELECT count(*) FROM customers_customer").fetchone()[0]:
        sys.exit("the database is not empty: give an empty one")
    admin = User.objects.create_superuser("bench", "bench@example.com", "bench-pass-1")
    actor = Actor(user=admin, via="cli")

    cpu_before = _cpu()
    started = time.perf_counter()
    job = import_job_create(actor=actor, file=source, filename=source.name,
                            options={"on_name_conflict": args.on_name_conflict})
    job = import_job_run(job_id=job.pk, actor=actor)
    seconds = time.perf_counter() - started
    cpu = _cpu() - cpu_before
    rate = job.rows_done / seconds
    print(f"import ({connection.vendor}, chunk {bulk.CHUNK_ROWS}, workers {bulk.WORKERS}): "
          f"{job.status}; {job.rows_done:,} rows: {job.created:,} created, "
          f"{job.updated:,} updated, {job.unchanged:,} unchanged, {job.rejected:,} rejected")

    from kehu.customers.models import Customer

    def normalised_chunks(size: int = 50_000):
        rows = Customer.objects.order_by("id").values_list(
            "name", "name_pinyin", "name_initials", "gender", "birthday", "primary_mobile",
            "primary_email", "id_number_index", "id_number_masked", "id_number_encrypted",
            "province", "city", "region", "source", "notes").iterator(chunk_size=size)
        chunk = []
        for r in rows:
            chunk.append((*r[:4], r[4].isoformat() if r[4] else None, *r[5:]))
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    bare_rows, bare = bare_insert(normalised_chunks(), home)
    bare_rate = bare_rows / bare
    check = audit_verify()
    floors = []
    if connection.vendor == "sqlite":
        from django.conf import settings

        stored = Path(settings.DATABASES["default"]["NAME"])
        for label, with_audit in (("real schema, bare (no audit)", False),
                                  ("real schema, bare (+ audit)", True)):
            floors.append((label, *schema_floor(stored, home, with_audit=with_audit)))

    print()
    print(f"{'':34}{'rows':>12}{'seconds':>10}{'rows/s':>12}")
    print(f"{'kehu import (real path)':34}{job.rows_done:>12,}{seconds:>10.1f}{rate:>12,.0f}")
    print(f"{'bare sqlite3 executemany':34}{bare_rows:>12,}{bare:>10.2f}"
          f"{bare_rate:>12,.0f}")
    for label, customers, floor in floors:
        print(f"{label:34}{customers:>12,}{floor:>10.2f}"
              f"{customers / floor:>12,.0f}")
    ratio = (seconds / job.rows_done) / (bare / bare_rows)
    per_million = seconds / job.rows_done * 1_000_000
    print(f"import CPU time: {cpu:.1f} s (this process and its cleaning worker) for "
          f"{seconds:.1f} s of wall time")
    print(f"ratio (per row, import / bare): {ratio:.1f}x   (goal <= {GOAL_RATIO:.0f}x: "
          f"{'met' if ratio <= GOAL_RATIO else 'missed'})")
    print(f"1M rows would take ~{per_million:.0f} s at this rate (goal <= "
          f"{GOAL_SECONDS_PER_MILLION:.0f} s: "
          f"{'met' if per_million <= GOAL_SECONDS_PER_MILLION else 'missed'})")
    for label, customers, floor in floors:
        print(f"floor of the {label}: {floor / customers * 1_000_000:.0f} s per 1M "
              f"customers, before any reading, cleaning or matching")
    print(f"audit chain: {'ok' if check.ok else 'BROKEN'}, {check.checked:,} entries")

    if args.export:
        from kehu.customers.selectors import CustomerFilters
        from kehu.interchange.export import customers_export

        started, cpu_before = time.perf_counter(), _cpu()
        result = customers_export(actor=actor, filters=CustomerFilters(), columns=[],
                                  fmt="csv")
        size = sum(len(piece) for piece in result.content)
        export_seconds = time.perf_counter() - started
        print(f"export csv: {result.rows:,} rows, {size / 1e6:.0f} MB in {export_seconds:.1f} s"
              f" = {result.rows / export_seconds:,.0f} rows/s (CPU {_cpu() - cpu_before:.1f} s)")
    print_machine(home)


if __name__ == "__main__":
    main()
