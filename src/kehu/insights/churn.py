"""The churn model: features per customer as of a moment, labels (no purchase within the
window after a cut-off), the supervised fit with its backtest against the RFM baseline, and
per-customer attributions.

Logistic regression: risk = σ(b + Σ cⱼ·zⱼ) on standardised (log-scaled counts) features zⱼ;
a factor's weight is cⱼ·zⱼ, its push above or below an average customer.
Gradient boosting: a factor's weight is p(x) − p(x with feature j set to the training
median), how much the risk falls if that one feature were typical (documented in
docs/insights.md). Only factors that raise the risk are shown, the three largest.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.utils import timezone

from kehu.insights.behaviour import Book

# (feature, factor code, log-scale?) — the order of the model's columns
FEATURES: tuple[tuple[str, str, bool], ...] = (
    ("recency_days", "recency", True),
    ("purchase_days_365", "low_frequency", True),
    ("spend_365", "low_spend", True),
    ("tenure_days", "short_tenure", True),
    ("contacts_90", "few_contacts", True),
    ("days_since_contact", "no_contact", True),
    ("complaints_30", "complaints", True),
    ("tickets_90", "tickets", True),
    ("visits_30", "low_visits", True),
    ("visit_change", "visit_drop", False),
    ("after_sales_views_30", "after_sales_views", True),
    ("pricing_views_30", "pricing_views", True),
)
NAMES = [f[0] for f in FEATURES]
NEVER = 3650.0  # "days since" when it never happened
MIN_AUC_ROWS = 10


def _days(a: dt.datetime | dt.date, b: dt.datetime | dt.date) -> float:
    return (a - b).total_seconds() / 86400 if isinstance(a, dt.datetime) else float((a - b).days)


def features_of(book: Book, pk: int, as_of: dt.datetime) -> dict[str, float] | None:
    """The customer's features using only what happened up to `as_of`; None when they had
    not bought by then (churn is about customers)."""
    day = timezone.localtime(as_of).date()
    purchases = [(d, m) for d, m in book.purchases.get(pk, ()) if d <= day]
    if not purchases:
        return None
    last, first = purchases[-1][0], purchases[0][0]
    year = day - dt.timedelta(days=365)
    in_year = [(d, m) for d, m in purchases if d > year]
    contacts = [t for t in book.contacts.get(pk, ()) if t <= as_of]
    tickets = [t for t in book.tickets.get(pk, ()) if t[0] <= as_of]
    events = [e for e in book.events.get(pk, ()) if e[0] <= as_of]

    def within(rows, days, key=lambda r: r):
        since = as_of - dt.timedelta(days=days)
        return [r for r in rows if key(r) > since]
    visits_30 = sum(1 for e in within(events, 30, lambda e: e[0]) if e[1] != "cart")
    visits_prev = sum(1 for e in within(events, 60, lambda e: e[0])
                      if e[1] != "cart" and e[0] <= as_of - dt.timedelta(days=30))
    change = 0.0 if visits_prev == 0 else (visits_30 - visits_prev) / visits_prev
    created = book.created.get(pk)
    start = min(first, created.date()) if created is not None else first
    return {
        "recency_days": float((day - last).days),
        "purchase_days_365": float(len(in_year)),
        "spend_365": float(sum(m for _d, m in in_year)),
        "tenure_days": float((day - start).days),
        "contacts_90": float(len(within(contacts, 90))),
        "days_since_contact": _days(as_of, contacts[-1]) if contacts else NEVER,
        "complaints_30": float(sum(1 for t in within(tickets, 30, lambda t: t[0])
                                   if t[1] == "complaint")),
        "tickets_90": float(len(within(tickets, 90, lambda t: t[0]))),
        "visits_30": float(visits_30),
        "visit_change": max(-1.0, min(3.0, change)),
        "after_sales_views_30": float(sum(1 for e in within(events, 30, lambda e: e[0])
                                          if e[1] == "after_sales")),
        "pricing_views_30": float(sum(1 for e in within(events, 30, lambda e: e[0])
                                      if e[1] == "pricing")),
    }


def churned_after(book: Book, pk: int, cutoff: dt.date, window_days: int) -> bool:
    """The label: no purchase in (cutoff, cutoff + window]."""
    end = cutoff + dt.timedelta(days=window_days)
    return not any(cutoff < d <= end for d, _m in book.purchases.get(pk, ()))


def matrix(rows: list[dict[str, float]]) -> np.ndarray:
    """Rows as the model's matrix: counts and spans log-scaled."""
    x = np.array([[row[name] for name in NAMES] for row in rows], dtype=float).reshape(
        len(rows), len(NAMES))
    for j, (_name, _code, log) in enumerate(FEATURES):
        if log:
            x[:, j] = np.log1p(np.maximum(x[:, j], 0.0))
    return x


# The RFM baseline -----------------------------------------------------------------------

def rfm_baseline(rows: list[dict[str, float]]) -> np.ndarray:
    """Risk by the classic RFM scores at the cut-off: 15 − (R + F + M) from quintiles of
    recency, purchases and spend (kehu.scoring's quintile rule), scaled to 0–1."""
    from kehu.scoring.rfm import quintile_scores

    if not rows:
        return np.zeros(0)
    r, _rb = quintile_scores([-row["recency_days"] for row in rows])
    f, _fb = quintile_scores([row["purchase_days_365"] for row in rows])
    m, _mb = quintile_scores([row["spend_365"] for row in rows])
    return np.array([(15 - (a + b + c)) / 12 for a, b, c in zip(r, f, m, strict=True)])


# Metrics ---------------------------------------------------------------------------------

def auc(y: np.ndarray, score: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    if len(y) < MIN_AUC_ROWS or len(set(y.tolist())) < 2:
        return None
    return float(roc_auc_score(y, score))


def precision_top_decile(y: np.ndarray, score: np.ndarray) -> float | None:
    """Share of churners among the 10% scored riskiest (at least one customer)."""
    if len(y) == 0:
        return None
    k = max(1, int(math.ceil(len(y) * 0.1)))
    top = np.argsort(-score, kind="stable")[:k]
    return float(y[top].mean())


# Fitting -----------------------------------------------------------------------------------

@dataclass
class Fitted:
    kind: str
    params: dict[str, Any]
    estimator: Any = None  # the live GBM (not stored; a score run refits it)

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "logistic":
            z = (x - np.array(self.params["mean"])) / np.array(self.params["scale"])
            logit = z @ np.array(self.params["coef"]) + self.params["intercept"]
            return 1 / (1 + np.exp(-np.clip(logit, -50, 50)))
        return self.estimator.predict_proba(x)[:, 1]

    def attributions(self, x: np.ndarray) -> np.ndarray:
        """Per row and feature, how much that feature pushes the risk up (see module doc)."""
        if self.kind == "logistic":
            z = (x - np.array(self.params["mean"])) / np.array(self.params["scale"])
            return z * np.array(self.params["coef"])
        base = self.predict(x)
        median = np.array(self.params["median"])
        out = np.zeros_like(x)
        for j in range(x.shape[1]):
            typical = x.copy()
            typical[:, j] = median[j]
            out[:, j] = base - self.predict(typical)
        return out


def fit(kind: str, x: np.ndarray, y: np.ndarray) -> Fitted:
    """Fit the chosen model (deterministic)."""
    if kind == "gbm":
        from sklearn.ensemble import GradientBoostingClassifier

        model = GradientBoostingClassifier(n_estimators=120, max_depth=3, learning_rate=0.08,
                                           subsample=0.9, random_state=0).fit(x, y)
        importances = model.feature_importances_.tolist()
        return Fitted("gbm", {"median": np.median(x, axis=0).tolist(),
                              "importance": importances}, model)
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    # A feature that does not vary (no one was ever contacted) carries no weight.
    flat = scale < 1e-9 * np.maximum(1.0, np.abs(mean))
    scale[flat] = 1.0
    model = LogisticRegression(C=1.0, max_iter=2000).fit((x - mean) / scale, y)
    coef = model.coef_[0]
    coef[flat] = 0.0
    return Fitted("logistic", {"mean": mean.tolist(), "scale": scale.tolist(),
                               "coef": coef.tolist(),
                               "intercept": float(model.intercept_[0])})


def backtest(kind: str, x: np.ndarray, y: np.ndarray, baseline: np.ndarray) -> dict[str, Any]:
    """Hold out 30% (stratified, fixed seed), fit on the rest, and compare the model with
    the RFM baseline on the held-out customers."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    train, test = train_test_split(index, test_size=0.3, random_state=0, stratify=y)
    model = fit(kind, x[train], y[train])
    predicted = model.predict(x[test])
    return {
        "test_size": int(len(test)), "test_churned": int(y[test].sum()),
        "auc": auc(y[test], predicted),
        "precision_top_decile": precision_top_decile(y[test], predicted),
        "baseline_auc": auc(y[test], baseline[test]),
        "baseline_precision_top_decile": precision_top_decile(y[test], baseline[test]),
        "churn_rate": float(y[test].mean()),
    }


def top_factors(row: dict[str, float], weights: np.ndarray, limit: int = 3) -> list[dict]:
    """The (up to) three features pushing the risk up most, as stored factors."""
    order = np.argsort(-weights, kind="stable")
    out = []
    for j in order[:limit]:
        if weights[j] <= 1e-6:
            break
        name, code, _log = FEATURES[j]
        value = row[name]
        out.append({"code": code, "value": None if (name == "days_since_contact"
                                                     and value >= NEVER) else round(value, 4),
                    "weight": round(float(weights[j]), 4)})
    return out


# Without a model ---------------------------------------------------------------------------

def recency_risk(recency_days: float, window_days: int) -> float:
    """Risk when there is too little data for a model and no P(alive): half-life at half the
    churn window (0 today, 0.5 at window/2, 0.75 at the window)."""
    return float(1 - 0.5 ** (max(recency_days, 0) / (window_days / 2)))


def heuristic_factors(row: dict[str, float], *, window_days: int,
                      p_alive: float | None = None) -> list[dict]:
    """The notable facts behind a P(alive) or recency score, strongest first."""
    found = []
    if p_alive is not None and p_alive < 0.5:
        found.append({"code": "p_alive", "value": round(p_alive, 4), "weight": 1 - p_alive})
    if row["complaints_30"] > 0:
        found.append({"code": "complaints", "value": row["complaints_30"],
                      "weight": 0.4 + 0.2 * row["complaints_30"]})
    if row["visit_change"] <= -0.3:
        found.append({"code": "visit_drop", "value": round(row["visit_change"], 4),
                      "weight": -row["visit_change"]})
    if row["recency_days"] >= window_days / 2:
        found.append({"code": "recency", "value": row["recency_days"],
                      "weight": min(1.0, row["recency_days"] / window_days)})
    if row["after_sales_views_30"] > 0:
        found.append({"code": "after_sales_views", "value": row["after_sales_views_30"],
                      "weight": 0.3})
    if row["tickets_90"] >= 2:
        found.append({"code": "tickets", "value": row["tickets_90"], "weight": 0.25})
    if row["days_since_contact"] >= 90:
        found.append({"code": "no_contact", "value": None if row["days_since_contact"] >= NEVER
                      else row["days_since_contact"], "weight": 0.2})
    found.sort(key=lambda f: -f["weight"])
    return [{**f, "weight": round(float(f["weight"]), 4)} for f in found[:3]]
