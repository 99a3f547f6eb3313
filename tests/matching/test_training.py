"""Training on the input (predict_pairs(train=...), kehu match --train) and the fields
Western data brings (surname and given name apart, postcode)."""

import random

import pytest

from kehu.matching import cluster, needs_training, predict_pairs, prepare_record
from kehu.matching.engine import TRAIN_FROM


def _latin(count):
    return [{"id": n, "surname": "smith", "given_name": "anna"} for n in range(count)]


def test_auto_training_needs_a_large_input_with_names_not_in_chinese():
    assert needs_training(_latin(TRAIN_FROM)) is True
    assert needs_training(_latin(TRAIN_FROM - 1)) is False
    assert needs_training([{"id": n, "name": "张伟"} for n in range(TRAIN_FROM)]) is False
    mixed = [{"id": n, "name": "张伟" if n % 3 else "Anna Smith"} for n in range(TRAIN_FROM)]
    assert needs_training(mixed) is False


def test_surname_and_given_name_fields():
    row = prepare_record({"id": 1, "surname": "Green", "given_name": "Mitchell", "postcode": " 2119 "})
    assert (row["name_key"], row["surname_pinyin"], row["given_pinyin"], row["postcode"]) == (
        "mitchellgreen", "green", "mitchell", "2119")
    row = prepare_record({"id": 2, "surname": "欧阳", "given_name": "娜娜"})
    assert (row["name_key"], row["surname_pinyin"], row["given_pinyin"]) == ("欧阳娜娜", "ou yang", "na na")
    with pytest.raises(ValueError, match="train must be"):
        predict_pairs(_latin(2), train="sometimes")


def _typo(text, rng):
    i = rng.randrange(len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def _people(seed=3):
    rng = random.Random(seed)
    surnames = ["green", "mccarthy", "dent", "white", "frahn", "royle", "dixon", "parr", "reid", "lowe",
                "siggins", "weller", "crouch", "bibb", "alderson", "camens", "pantazopoulos", "wilde"]
    given = ["mitchell", "harley", "rachael", "jasmine", "kyra", "ella", "joshua", "samuel", "kylie",
             "madison", "benjamin", "lauren", "finlay", "eboni", "chloe", "barnaby", "flynn", "peta"]
    records, truth = [], {}
    for person in range(700):
        base = {"surname": rng.choice(surnames), "given_name": rng.choice(given),
                "birthday": f"{rng.randint(1930, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}",
                "id_number": f"{rng.randrange(10**7):07d}", "address": f"{rng.randint(1, 99)} wattle street",
                "city": rng.choice(["kingston", "marsden", "milton"]), "postcode": str(rng.randint(2000, 2999))}
        records.append({**base, "id": f"p{person}"})
        truth[f"p{person}"] = person
        if person % 2 == 0:
            twin = {**base, "id": f"p{person}-dup", "surname": _typo(base["surname"], rng)}
            if person % 4 == 0:
                twin["postcode"] = ""
            records.append(twin)
            truth[twin["id"]] = person
    return records, truth


def test_training_on_the_input_finds_western_duplicates():
    records, truth = _people()
    assert needs_training(records)
    clusters = cluster(predict_pairs(records, train="auto"))
    found = {(a, b) for a in clusters for b in clusters if a < b and clusters[a] == clusters[b]}
    expected = {(a, b) for a in truth for b in truth if a < b and truth[a] == truth[b]}
    assert found <= expected  # no false match
    assert len(found) >= 0.95 * len(expected)
