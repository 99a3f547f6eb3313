"""A whole fit as the CLI and the scoring run use it: the transaction model (BG/NBD or
Pareto/NBD), Gamma-Gamma, the holdout validation and plain-JSON figures of each. Pure: no
Django."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from kehu.prediction import btyd

EPOCH = date(1970, 1, 1)


def iso(day_number: int) -> str:
    return (EPOCH + timedelta(days=int(day_number))).isoformat()


@dataclass
class FitReport:
    summary: btyd.Summary
    model: btyd.Model
    gamma_gamma: btyd.GammaGamma | None
    gamma_gamma_error: str
    holdout: btyd.Holdout | None
    seconds: float

    def model_json(self) -> dict:
        return {**{k: float(v) for k, v in self.model.params().items()},
                "log_likelihood": float(self.model.log_likelihood)}

    def gamma_gamma_json(self) -> dict | None:
        if self.gamma_gamma is None:
            return None
        return {k: float(v) for k, v in self.gamma_gamma.params().items()}

    def holdout_json(self) -> dict | None:
        if self.holdout is None:
            return None
        return {"correlation": _num(self.holdout.correlation),
                "predicted_total": float(self.holdout.predicted_total),
                "actual_total": float(self.holdout.actual_total)}

    def contract(self) -> dict:
        """The JSON line of `kehu clv fit --json`."""
        out: dict = {self.model.name: self.model_json()}
        out["gamma_gamma"] = self.gamma_gamma_json()
        holdout = self.holdout_json()
        if holdout is not None:
            out["holdout"] = holdout
        return out


def _num(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def fit_transactions(customer_ids, days, amounts, *, calibration_end: int, model: str = "bgnbd",
                     holdout_end: int | None = None, unit_days: float = 7.0,
                     tracking_days: np.ndarray | None = None) -> FitReport:
    """Summarise, fit the model and Gamma-Gamma, and validate on the holdout when the data
    goes past the calibration end."""
    started = time.perf_counter()
    summary = btyd.summarize(customer_ids, days, amounts, calibration_end=calibration_end,
                             holdout_end=holdout_end, unit_days=unit_days)
    fitted = btyd.fit_model(model, summary)
    gg, gg_error = None, ""
    try:
        gg = btyd.fit_gamma_gamma(summary.x, summary.monetary)
    except btyd.FitError as exc:
        gg_error = str(exc)
    holdout = btyd.holdout_validate(fitted, summary)
    if holdout is not None and tracking_days is None:
        tracking_days = btyd.repeat_days_of(customer_ids, days, last_day=summary.holdout_end,
                                             first_until=summary.calibration_end)
    if holdout is not None:
        holdout.tracking["actual"] = btyd.tracking_actual(summary, tracking_days,
                                                          holdout.tracking["edges"])
    return FitReport(summary, fitted, gg, gg_error, holdout, time.perf_counter() - started)


def validation_json(report: FitReport) -> dict:
    """The validation figures stored on a fit and drawn on the validation page."""
    h = report.holdout
    if h is None:
        return {}
    tracking = h.tracking
    edges = tracking["edges"]
    return {
        "calibration_end": iso(report.summary.calibration_end),
        "holdout_end": iso(report.summary.holdout_end),
        "holdout_weeks": round(h.length * report.summary.unit_days / 7, 1),
        "model": report.model.name, "params": report.model_json(),
        "customers": len(report.summary),
        "correlation": _num(h.correlation), "predicted_total": h.predicted_total,
        "actual_total": h.actual_total, "aggregate_error": _num(h.aggregate_error),
        "mean_absolute_error": h.mean_absolute_error,
        "buckets": h.buckets,
        "tracking": {"dates": [iso(e - 1) for e in edges],
                     "expected": [round(v, 2) for v in tracking["expected"]],
                     "actual": tracking.get("actual", []),
                     "calibration_end": iso(tracking["calibration_end"])},
    }
