"""The matching engine: is this record the same customer as that one? (docs/matching.md)

Works on plain dicts (MatchRecord) and imports kehu.core only, so every app above can use it.
"""

from kehu.matching.engine import (
    FieldEvidence,
    MatchPair,
    cluster,
    name_agreement,
    names_conflict,
    needs_training,
    predict_pairs,
    score_pair,
)
from kehu.matching.features import MatchRecord, candidate_keys, prepare_record

__all__ = [
    "FieldEvidence", "MatchPair", "MatchRecord", "candidate_keys", "cluster", "name_agreement", "names_conflict",
    "needs_training", "predict_pairs",
    "prepare_record", "score_pair",
]
