"""Clustering and entity scores: pairwise and B-cubed P/R/F1, entity-level micro P/R/F1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, precision: float, recall: float) -> PRF:
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(round(precision, 4), round(recall, 4), round(f1, 4))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(gold: Mapping[str, Hashable], predicted: Mapping[str, Hashable]) -> PRF:
    """Precision/recall over item pairs put in one cluster (pairs of singletons: none).

    With no gold pair, recall is 1; with no predicted pair, precision is 1.
    """
    both = Counter((gold[i], predicted[i]) for i in gold)
    true_pairs = sum(_pairs(n) for n in both.values())
    gold_pairs = sum(_pairs(n) for n in Counter(gold.values()).values())
    predicted_pairs = sum(_pairs(n) for n in Counter(predicted[i] for i in gold).values())
    precision = true_pairs / predicted_pairs if predicted_pairs else 1.0
    recall = true_pairs / gold_pairs if gold_pairs else 1.0
    return PRF.of(precision, recall)


def bcubed(gold: Mapping[str, Hashable], predicted: Mapping[str, Hashable]) -> PRF:
    """B-cubed: per item, the share of its predicted cluster that is in its gold cluster
    (precision) and the share of its gold cluster found in its predicted cluster (recall)."""
    both = Counter((gold[i], predicted[i]) for i in gold)
    gold_size = Counter(gold.values())
    predicted_size = Counter(predicted[i] for i in gold)
    n = len(gold)
    if not n:
        return PRF.of(1.0, 1.0)
    precision = sum(both[(gold[i], predicted[i])] / predicted_size[predicted[i]] for i in gold)
    recall = sum(both[(gold[i], predicted[i])] / gold_size[gold[i]] for i in gold)
    return PRF.of(precision / n, recall / n)


Span = tuple[int, int, int, str]  # (document, start, end, label)


def entity_scores(gold: set[Span], predicted: set[Span], labels: tuple[str, ...]) -> dict:
    """Micro P/R/F1 over exact (span, label) matches, overall and per label."""
    result = {}
    for label in (*labels, "ALL"):
        g = {s for s in gold if label in ("ALL", s[3])}
        p = {s for s in predicted if label in ("ALL", s[3])}
        tp = len(g & p)
        prf = PRF.of(tp / len(p) if p else 1.0, tp / len(g) if g else 1.0)
        result[label] = {**prf.as_dict(), "gold": len(g), "predicted": len(p), "correct": tp}
    return result
