"""Accuracy and speed of the matching engine (kehu.matching), as `kehu match` runs it.

    .venv/bin/python bench/match_bench.py                     # dedup-dev, FEBRL3, score_pair, 20,000 generated
    .venv/bin/python bench/match_bench.py --generate 1000000  # the README figure

Prints pairwise precision, recall and F1 against the truth on ../shared/data/dedup-dev
(gold.csv) and FEBRL3 (the person number in rec_id), score_pair's time per pair, and the time
on N generated records.
A data set that is absent is skipped with a message.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("KEHU_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _setup() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()


def true_pairs(entity_of: dict[str, str]) -> set[tuple[str, str]]:
    members: dict[str, list[str]] = defaultdict(list)
    for record, entity in entity_of.items():
        members[entity].append(record)
    return {tuple(sorted(p)) for group in members.values() for p in itertools.combinations(group, 2)}


def report(label: str, path: Path, truth: dict[str, str], threshold: float) -> None:
    """Runs `kehu match` on the file exactly as a user would (--train auto: the engine
    decides whether to train on the input; it never sees the truth)."""
    import json
    import tempfile
    from io import StringIO

    from django.core.management import call_command

    with tempfile.TemporaryDirectory() as folder:
        out, stdout = Path(folder) / "clusters.csv", StringIO()
        started = time.perf_counter()
        call_command("match", str(path), "--id-column", "rec_id", "--threshold", str(threshold),
                     "--out", str(out), "--json", "--language", "en", stdout=stdout)
        seconds = time.perf_counter() - started
        summary = json.loads(stdout.getvalue().strip().splitlines()[-1])
        with open(out, encoding="utf-8-sig") as handle:
            clusters = {row["rec_id"]: row["cluster_id"] for row in csv.DictReader(handle)}
    expected, found = true_pairs(truth), true_pairs(clusters)
    hits = len(expected & found)
    precision = hits / len(found) if found else 0.0
    recall = hits / len(expected) if expected else 0.0
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    model = "trained on the input" if summary["trained"] else "shipped parameters"
    print(f"{label} (kehu match, {model}): {len(clusters)} records, {len(expected)} true pairs, "
          f"{len(found)} found; precision {precision:.4f} recall {recall:.4f} F1 {f1:.4f}; "
          f"{seconds:.1f} s")


def dedup_dev(threshold: float) -> None:
    folder = DATA / "dedup-dev"
    if not (folder / "records.csv").exists():
        print(f"dedup-dev: skipped, {folder}/records.csv is absent")
        return
    with open(folder / "gold.csv", encoding="utf-8") as handle:
        truth = {row["rec_id"]: row["entity_id"] for row in csv.DictReader(handle)}
    report("dedup-dev", folder / "records.csv", truth, threshold)


def febrl3(threshold: float) -> None:
    """FEBRL's columns map by their headers: given_name, surname, date_of_birth, soc_sec_id
    (an ID number), street_number + address_1 + address_2 (the address), suburb (city),
    postcode, state (province)."""
    path = DATA / "febrl" / "dataset3.csv"
    if not path.exists():
        print(f"FEBRL3: skipped, {path} is absent")
        return
    with open(path, encoding="utf-8") as handle:
        truth = {row["rec_id"].strip(): row["rec_id"].strip().split("-")[1]
                 for row in csv.DictReader(handle, skipinitialspace=True)}
    report("FEBRL3", path, truth, threshold)


def generated(count: int, threshold: float, seed: int = 7) -> None:
    from faker import Faker

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    # Distinct people drawn from pools of names, addresses and companies (Faker is too slow
    # to make a million whole people); one record in five is a reformatted duplicate.
    started = time.perf_counter()
    pool = min(count, 50_000)
    names = [fake.name() for _ in range(pool)]
    addresses = [fake.address()[:-7] for _ in range(pool)]
    companies = [fake.company() for _ in range(pool // 5)]
    records: list[dict] = []
    for number in range(count):
        if number and rng.random() < 0.2:
            twin = dict(records[rng.randrange(max(0, number - 1000), number)])
            twin["id"] = number
            twin["mobile"] = "+86 " + twin["mobile"]
            records.append(twin)
            continue
        records.append({
            "id": number, "name": rng.choice(names), "gender": rng.choice(["男", "女"]),
            "birthday": f"{rng.randint(1945, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "address": rng.choice(addresses), "company": rng.choice(companies),
            "mobile": f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
            "email": f"u{number}@example.com"})
    print(f"generated: {count} records made in {time.perf_counter() - started:.1f} s")
    from kehu.matching import cluster, predict_pairs

    started = time.perf_counter()
    pairs = predict_pairs(records, threshold=threshold)
    clusters = cluster(pairs, threshold=threshold)
    seconds = time.perf_counter() - started
    print(f"generated: {count} records matched in {seconds:.1f} s "
          f"({len(pairs)} pairs, {len(set(clusters.values()))} clusters)")


def score_speed(count: int = 2000, seed: int = 11) -> None:
    """score_pair (the at-entry check scores up to 20 candidates per save) after warm-up."""
    from kehu.matching import score_pair

    path = DATA / "dedup-dev" / "records.csv"
    if path.exists():
        with open(path, encoding="utf-8") as handle:
            records = [{**row, "id": row.pop("rec_id"), "mobile": row.pop("phone")}
                       for row in itertools.islice(csv.DictReader(handle), 5000)]
    else:
        records = [{"id": n, "name": f"张{n % 97}", "mobile": f"1381234{n:04d}", "birthday": "1990-01-02"}
                   for n in range(5000)]
    rng = random.Random(seed)
    pairs = [(rng.choice(records), rng.choice(records)) for _ in range(count)]
    for a, b in pairs[:200]:  # warm-up: normalisation caches, imports
        score_pair(a, b)
    pairs = [(rng.choice(records), rng.choice(records)) for _ in range(count)]  # mostly unseen
    started = time.perf_counter()
    for a, b in pairs:
        score_pair(a, b)
    each = (time.perf_counter() - started) / count * 1000
    print(f"score_pair: {count} pairs, {each:.2f} ms per pair after warm-up "
          f"({20 * each:.0f} ms for the at-entry check's 20 candidates)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generate", type=int, default=20_000, help="generated records (0: none)")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--only", choices=["dedup-dev", "febrl3", "score", "generated"])
    args = parser.parse_args()
    _setup()
    if args.only in (None, "dedup-dev"):
        dedup_dev(args.threshold)
    if args.only in (None, "febrl3"):
        febrl3(args.threshold)
    if args.only in (None, "score"):
        score_speed()
    if args.only in (None, "generated") and args.generate:
        generated(args.generate, args.threshold)


if __name__ == "__main__":
    main()
