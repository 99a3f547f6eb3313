"""Customer-base ("buy till you die") models in numpy/scipy: pure functions, no Django.

- a per-customer summary from transactions (same-day orders are one transaction; frequency is
  the number of repeat transactions, recency and age in the chosen time unit);
- BG/NBD (Fader, Hardie & Lee 2005) and Pareto/NBD (Schmittlein, Morrison & Colombo 1987)
  fitted by maximum likelihood, with P(alive) and the expected number of purchases in the
  next t;
- Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV") for the expected average value;
- CLV over the next months with a monthly discount rate;
- a calibration/holdout validation: predicted vs actual per customer, correlation, aggregate
  error, per-frequency buckets and a weekly tracking curve.

Log-likelihoods are vectorised and evaluated on distinct (x, t_x, T) rows with weights, so a
million customers cost as much as their distinct histories. BG/NBD and Gamma-Gamma have
analytic gradients; Pareto/NBD uses finite differences (four parameters). See
docs/prediction.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln, hyp2f1

DAYS_PER_MONTH = 365.25 / 12


class FitError(ValueError):
    """The data cannot support a fit (too few customers or repeat buyers, no history)."""


# Summary ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """One row per customer who bought in the calibration period (arrays aligned).

    `x` repeat transactions, `t_x` time of the last one and `T` time since the first
    (both from the first transaction, in `unit_days` days), `monetary` the mean value of
    the repeat transactions (0 without one). The integer day counts are kept so fits can
    group identical histories. `holdout_x` counts transactions after the calibration end up
    to `holdout_end` (None without holdout data)."""

    ids: np.ndarray
    x: np.ndarray
    t_x_days: np.ndarray
    T_days: np.ndarray
    monetary: np.ndarray
    first_day: np.ndarray           # day number (days since 1970-01-01) of the first purchase
    calibration_end: int            # day number, inclusive
    unit_days: float = 7.0
    holdout_x: np.ndarray | None = None
    holdout_end: int | None = None  # day number, inclusive
    holdout_days: np.ndarray | None = None  # purchase days in the holdout (sorted, per row)

    @property
    def t_x(self) -> np.ndarray:
        return self.t_x_days / self.unit_days

    @property
    def T(self) -> np.ndarray:  # noqa: N802 - the literature's name
        return self.T_days / self.unit_days

    @property
    def holdout_length(self) -> float:
        """Length of the holdout in model time units (0 without a holdout)."""
        if self.holdout_end is None:
            return 0.0
        return (self.holdout_end - self.calibration_end) / self.unit_days

    def __len__(self) -> int:
        return int(self.x.shape[0])


def day_number(value) -> int:
    """Days since 1970-01-01 of a date (or numpy datetime64)."""
    return int(np.datetime64(value, "D").astype(np.int64))


def summarize(customer_ids, days, amounts, *, calibration_end, holdout_end=None,
              unit_days: float = 7.0) -> Summary:
    """The customer summary of a list of transactions.

    `customer_ids` any hashable keys (array-like), `days` integer day numbers or datetime64,
    `amounts` numbers. Orders on the same day are one transaction (their amounts added).
    Customers whose first purchase is after `calibration_end` are left out. With
    `holdout_end` (inclusive; default: the last day in the data when it is after the
    calibration end) the transactions after the calibration end are counted per customer.
    """
    ids = np.asarray(customer_ids)
    day = np.asarray(days)
    if np.issubdtype(day.dtype, np.datetime64):
        day = day.astype("datetime64[D]").astype(np.int64)
    day = day.astype(np.int64)
    amount = np.asarray(amounts, dtype=np.float64)
    cal_end = calibration_end if isinstance(calibration_end, int | np.integer) else day_number(
        calibration_end)
    if holdout_end is not None and not isinstance(holdout_end, int | np.integer):
        holdout_end = day_number(holdout_end)
    if ids.shape[0] == 0:
        raise FitError("no transactions")
    keys, code = np.unique(ids, return_inverse=True)
    # One transaction per customer and day: sort by (customer, day), sum amounts per run.
    order = np.lexsort((day, code))
    code, day, amount = code[order], day[order], amount[order]
    new = np.ones(code.shape[0], dtype=bool)
    new[1:] = (code[1:] != code[:-1]) | (day[1:] != day[:-1])
    starts = np.flatnonzero(new)
    code, day = code[starts], day[starts]
    amount = np.add.reduceat(amount, starts)
    first = np.full(keys.shape[0], np.iinfo(np.int64).max)
    np.minimum.at(first, code, day)
    cal = day <= cal_end
    c_code, c_day, c_amount = code[cal], day[cal], amount[cal]
    n = np.bincount(c_code, minlength=keys.shape[0])
    last = np.full(keys.shape[0], -1, dtype=np.int64)
    np.maximum.at(last, c_code, c_day)
    is_first = c_day == first[c_code]
    repeat_spend = np.bincount(c_code[~is_first], weights=c_amount[~is_first],
                               minlength=keys.shape[0])
    keep = n > 0
    x = (n - 1)[keep]
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(x > 0, repeat_spend[keep] / np.maximum(x, 1), 0.0)
    holdout_x = holdout_days = None
    if holdout_end is None and day.shape[0] and day.max() > cal_end:
        holdout_end = int(day.max())
    if holdout_end is not None and holdout_end > cal_end:
        hold = (day > cal_end) & (day <= holdout_end)
        holdout_x = np.bincount(code[hold], minlength=keys.shape[0])[keep]
        remap = np.cumsum(keep) - 1
        h_code = code[hold]
        h_keep = keep[h_code]
        holdout_days = (remap[h_code[h_keep]], day[hold][h_keep])
    else:
        holdout_end = None
    return Summary(ids=keys[keep], x=x.astype(np.int64),
                   t_x_days=(last - first)[keep].astype(np.int64),
                   T_days=(cal_end - first)[keep].astype(np.int64), monetary=monetary,
                   first_day=first[keep], calibration_end=int(cal_end),
                   unit_days=float(unit_days), holdout_x=holdout_x, holdout_end=holdout_end,
                   holdout_days=holdout_days)


def _compress(x, t_x_days, T_days):
    """Distinct (x, t_x, T) rows and how many customers share each."""
    x = np.asarray(x, dtype=np.int64)
    tx = np.asarray(t_x_days, dtype=np.int64)
    tt = np.asarray(T_days, dtype=np.int64)
    span = int(max(tt.max(initial=0), tx.max(initial=0))) + 1
    key = (x * span + tx) * span + tt
    uniq, counts = np.unique(key, return_counts=True)
    return uniq // (span * span), (uniq // span) % span, uniq % span, counts.astype(np.float64)


# BG/NBD -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BGNBD:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = math.nan

    name = "bgnbd"

    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


def bgnbd_log_likelihood(params, x, t_x, T, *, gradient: bool = False):
    """Per-customer log-likelihood (and its gradient w.r.t. r, alpha, a, b)."""
    x = np.asarray(x)
    values, index = np.unique(x, return_inverse=True)
    return _bgnbd_ll(params, values.astype(np.float64), index.reshape(x.shape),
                     np.asarray(x, dtype=np.float64), t_x, T, gradient=gradient)


def _bgnbd_ll(params, xv, xi, x, t_x, T, *, gradient: bool):
    """The log-likelihood with the special functions evaluated once per distinct x (`xv`,
    indexed by `xi`): a million customers have only a few hundred distinct frequencies."""
    r, alpha, a, b = params
    la = np.log(alpha)
    head = (gammaln(r + xv) - gammaln(r) + r * la + gammaln(a + b) + gammaln(b + xv)
            - gammaln(b) - gammaln(a + b + xv))[xi]
    rx = r + x
    log_aT, log_atx = np.log(alpha + T), np.log(alpha + t_x)
    a3 = -rx * log_aT
    repeat = x > 0
    bx1 = np.where(repeat, b + x - 1, 1.0)
    a4 = np.where(repeat, np.log(a) - np.log(bx1) - rx * log_atx, -np.inf)
    lse = np.logaddexp(a3, a4)
    ll = head + lse
    if not gradient:
        return ll
    w3 = np.exp(a3 - lse)
    w4 = np.exp(a4 - lse)
    dig_ab = digamma(a + b)
    d_r = ((digamma(r + xv) - digamma(r))[xi] + la - w3 * log_aT - w4 * log_atx)
    d_alpha = r / alpha - w3 * rx / (alpha + T) - w4 * rx / (alpha + t_x)
    d_a = (dig_ab - digamma(a + b + xv))[xi] + w4 / a
    d_b = ((dig_ab + digamma(b + xv) - digamma(b) - digamma(a + b + xv))[xi]
           - np.where(repeat, w4 / bx1, 0.0))
    return ll, np.stack([d_r, d_alpha, d_a, d_b])


def _fit(nll_and_grad, start, *, bounds=(-12.0, 12.0), numeric: bool = False):
    """Minimise over log parameters; restarts from a second point when the first fails."""
    best = None
    for x0 in (start, np.zeros_like(start)):
        result = minimize(nll_and_grad, x0, jac=not numeric, method="L-BFGS-B",
                          bounds=[bounds] * len(start),
                          options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9})
        if best is None or result.fun < best.fun:
            best = result
        if result.success:
            break
    return best


def fit_bgnbd(x, t_x_days, T_days, *, unit_days: float = 7.0) -> BGNBD:
    """Maximum-likelihood BG/NBD on a summary (integer day counts, unit in days)."""
    ux, utx, uT, w = _compress(x, t_x_days, T_days)
    if w.sum() == 0:
        raise FitError("no customers")
    ftx, fT = utx / unit_days, uT / unit_days
    total = w.sum()

    xv, xi = np.unique(ux, return_inverse=True)
    xf = ux.astype(np.float64)

    def nll(theta):
        p = np.exp(theta)
        ll, g = _bgnbd_ll(p, xv.astype(np.float64), xi, xf, ftx, fT, gradient=True)
        return -(w @ ll) / total, -(g @ w) * p / total

    start = np.log([1.0, max(float(fT.mean()), 1e-3), 1.0, 1.0])
    result = _fit(nll, start)
    r, alpha, a, b = np.exp(result.x)
    return BGNBD(float(r), float(alpha), float(a), float(b),
                 float(-result.fun * total))


def bgnbd_p_alive(m: BGNBD, x, t_x, T) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_term = (np.log(m.a) - np.log(np.where(x > 0, m.b + x - 1, 1.0))
                    + (m.r + x) * (np.log(m.alpha + T) - np.log(m.alpha + t_x)))
    return np.where(x > 0, 1.0 / (1.0 + np.exp(log_term)), 1.0)


def bgnbd_expected(m: BGNBD, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected transactions in the next t (model units)."""
    x = np.asarray(x, dtype=np.float64)
    r, alpha, a, b = m.r, m.alpha, m.a, m.b
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    first = (a + b + x - 1) / (a - 1)
    second = 1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
    with np.errstate(divide="ignore"):
        log_term = (np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0))
                    + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
    denom = 1 + np.where(x > 0, np.exp(log_term), 0.0)
    return np.maximum(first * second / denom, 0.0)


def bgnbd_expected_unconditional(m: BGNBD, t) -> np.ndarray:
    """E[X(t)] for a customer who made the first purchase t ago (population curve)."""
    t = np.asarray(t, dtype=np.float64)
    r, alpha, a, b = m.r, m.alpha, m.a, m.b
    hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


# Pareto/NBD -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParetoNBD:
    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float = math.nan

    name = "pareto"

    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "s": self.s, "beta": self.beta}


def _pareto_log_a0(r, alpha, s, beta, x, t_x, T):
    """log A0 of Fader & Hardie's note, on whichever of the alpha>=beta / alpha<beta branches
    keeps the hypergeometric argument in [0, 1); -inf when t_x == T."""
    big = max(alpha, beta)
    diff = abs(alpha - beta)
    second = s + 1 if alpha >= beta else r + x
    rsx = r + s + x
    u = np.log(hyp2f1(rsx, second, rsx + 1, diff / (big + t_x))) - rsx * np.log(big + t_x)
    v = np.log(hyp2f1(rsx, second, rsx + 1, diff / (big + T))) - rsx * np.log(big + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = u + np.log1p(-np.exp(np.minimum(v - u, 0.0)))
    return np.where(T > t_x, out, -np.inf)


def pareto_log_likelihood(params, x, t_x, T) -> np.ndarray:
    r, alpha, s, beta = params
    x = np.asarray(x, dtype=np.float64)
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    dead = np.log(s) - np.log(r + s + x) + _pareto_log_a0(r, alpha, s, beta, x, t_x, T)
    return head + np.logaddexp(alive, dead)


def fit_pareto(x, t_x_days, T_days, *, unit_days: float = 7.0) -> ParetoNBD:
    """Maximum-likelihood Pareto/NBD (finite-difference gradients, then a simplex polish)."""
    ux, utx, uT, w = _compress(x, t_x_days, T_days)
    if w.sum() == 0:
        raise FitError("no customers")
    ftx, fT = utx / unit_days, uT / unit_days
    total = w.sum()

    def nll(theta):
        theta = np.clip(theta, -12, 12)
        ll = pareto_log_likelihood(np.exp(theta), ux, ftx, fT)
        value = -(w @ ll) / total
        return value if np.isfinite(value) else 1e10

    start = np.log([1.0, max(float(fT.mean()), 1e-3), 1.0, max(float(fT.mean()), 1e-3)])
    first = _fit(nll, start, numeric=True)
    polished = minimize(nll, first.x, method="Nelder-Mead",
                        options={"xatol": 1e-9, "fatol": 1e-13, "maxiter": 4000})
    best = polished if polished.fun <= first.fun else first
    r, alpha, s, beta = np.exp(np.clip(best.x, -12, 12))
    return ParetoNBD(float(r), float(alpha), float(s), float(beta), float(-best.fun * total))


def pareto_p_alive(m: ParetoNBD, x, t_x, T) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    alive = -(m.r + x) * np.log(m.alpha + T) - m.s * np.log(m.beta + T)
    dead = (np.log(m.s) - np.log(m.r + m.s + x)
            + _pareto_log_a0(m.r, m.alpha, m.s, m.beta, x, t_x, T))
    return np.exp(alive - np.logaddexp(alive, dead))


def pareto_expected(m: ParetoNBD, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T] under Pareto/NBD."""
    x = np.asarray(x, dtype=np.float64)
    lead = (m.r + x) * (m.beta + T) / (m.alpha + T)
    if abs(m.s - 1) < 1e-8:
        growth = np.log((m.beta + T + t) / (m.beta + T))
    else:
        growth = (1 - ((m.beta + T) / (m.beta + T + t)) ** (m.s - 1)) / (m.s - 1)
    return lead * growth * pareto_p_alive(m, x, t_x, T)


def pareto_expected_unconditional(m: ParetoNBD, t) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    if abs(m.s - 1) < 1e-8:
        return m.r * m.beta / m.alpha * np.log((m.beta + t) / m.beta)
    return (m.r * m.beta / (m.alpha * (m.s - 1))
            * (1 - (m.beta / (m.beta + t)) ** (m.s - 1)))


# Dispatch on the model --------------------------------------------------------------------

Model = BGNBD | ParetoNBD


def fit_model(name: str, summary: Summary) -> Model:
    fit = {"bgnbd": fit_bgnbd, "pareto": fit_pareto}[name]
    return fit(summary.x, summary.t_x_days, summary.T_days, unit_days=summary.unit_days)


def p_alive(m: Model, x, t_x, T) -> np.ndarray:
    return (bgnbd_p_alive if isinstance(m, BGNBD) else pareto_p_alive)(m, x, t_x, T)


def expected_purchases(m: Model, t, x, t_x, T) -> np.ndarray:
    return (bgnbd_expected if isinstance(m, BGNBD) else pareto_expected)(m, t, x, t_x, T)


def expected_unconditional(m: Model, t) -> np.ndarray:
    fn = bgnbd_expected_unconditional if isinstance(m, BGNBD) else pareto_expected_unconditional
    return fn(m, t)


def model_from(name: str, params: dict) -> Model:
    """A model from its stored parameters."""
    if name == "pareto":
        return ParetoNBD(params["r"], params["alpha"], params["s"], params["beta"],
                         params.get("log_likelihood", math.nan))
    return BGNBD(params["r"], params["alpha"], params["a"], params["b"],
                 params.get("log_likelihood", math.nan))


# Gamma-Gamma ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float  # the paper's gamma
    log_likelihood: float = math.nan
    n: int = 0  # repeat buyers it was fitted on

    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "v": self.v}


def gamma_gamma_log_likelihood(params, x, m, *, gradient: bool = False):
    x = np.asarray(x, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64)
    values, index = np.unique(x, return_inverse=True)
    return _gg_ll(params, values, index.reshape(x.shape), x, np.log(m), np.log(x), m,
                  gradient=gradient)


def _gg_ll(params, xv, xi, x, log_m, log_x, m, *, gradient: bool):
    """Gamma-Gamma log-likelihood, special functions once per distinct x."""
    p, q, v = params
    px = p * x
    pxv = p * xv
    log_vmx = np.log(v + m * x)
    ll = ((gammaln(pxv + q) - gammaln(pxv))[xi] - gammaln(q) + q * np.log(v)
          + (px - 1) * log_m + px * log_x - (px + q) * log_vmx)
    if not gradient:
        return ll
    dig = digamma(pxv + q)
    d_p = x * ((dig - digamma(pxv))[xi] + log_m + log_x - log_vmx)
    d_q = dig[xi] - digamma(q) + np.log(v) - log_vmx
    d_v = q / v - (px + q) / (v + m * x)
    return ll, np.stack([d_p, d_q, d_v])


def fit_gamma_gamma(x, monetary) -> GammaGamma:
    """Gamma-Gamma on the customers with at least one repeat transaction and positive mean."""
    x = np.asarray(x, dtype=np.float64)
    m = np.asarray(monetary, dtype=np.float64)
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    if x.shape[0] < 2:
        raise FitError("too few repeat buyers for Gamma-Gamma")
    n = x.shape[0]
    xv, xi = np.unique(x, return_inverse=True)
    log_m, log_x = np.log(m), np.log(x)

    def nll(theta):
        params = np.exp(theta)
        ll, g = _gg_ll(params, xv, xi, x, log_m, log_x, m, gradient=True)
        return -ll.sum() / n, -g.sum(axis=1) * params / n

    start = np.log([1.0, 2.0, max(float(m.mean()), 1e-3)])
    result = _fit(nll, start, bounds=(-12.0, 16.0))
    p, q, v = np.exp(result.x)
    return GammaGamma(float(p), float(q), float(v), float(-result.fun * n), int(n))


def expected_average_value(gg: GammaGamma, x, monetary) -> np.ndarray:
    """E[M | x, m_x]: the population mean shrunk towards the customer's own mean; customers
    without a repeat purchase get the population mean p*v/(q-1)."""
    x = np.asarray(x, dtype=np.float64)
    m = np.asarray(monetary, dtype=np.float64)
    population = gg.p * gg.v / (gg.q - 1) if gg.q > 1 else float(np.nan)
    own = (gg.p * (gg.v + x * m)) / (gg.p * x + gg.q - 1)
    return np.where((x > 0) & (m > 0), own, population)


# CLV --------------------------------------------------------------------------------------


def discounted_purchases(m: Model, x, t_x, T, *, months: int = 12,
                         monthly_discount: float = 0.01, unit_days: float = 7.0) -> np.ndarray:
    """Expected purchases in each of the next `months`, month i discounted by
    (1 + rate)^i, summed: CLV is this times the expected order value."""
    month = DAYS_PER_MONTH / unit_days
    total = np.zeros(np.shape(x), dtype=np.float64)
    previous = np.zeros_like(total)
    for i in range(1, months + 1):
        cumulative = expected_purchases(m, i * month, x, t_x, T)
        total += (cumulative - previous) / (1 + monthly_discount) ** i
        previous = cumulative
    return total


def clv(m: Model, gg: GammaGamma, x, t_x, T, monetary, *, months: int = 12,
        monthly_discount: float = 0.01, unit_days: float = 7.0) -> np.ndarray:
    """Discounted value of the next `months`: expected purchases per month times the expected
    average value, month i discounted by (1 + rate)^i."""
    return discounted_purchases(m, x, t_x, T, months=months, monthly_discount=monthly_discount,
                                unit_days=unit_days) * expected_average_value(gg, x, monetary)


def score(m: Model, gg: GammaGamma | None, s: Summary, *, horizon: float, months: int = 12,
          monthly_discount: float = 0.01) -> dict[str, np.ndarray]:
    """P(alive), expected purchases in `horizon` (model units), expected order value and CLV
    for every customer of a summary; the model is evaluated once per distinct history."""
    ux, utx, uT, _w = _compress(s.x, s.t_x_days, s.T_days)
    span = int(max(s.T_days.max(initial=0), s.t_x_days.max(initial=0))) + 1
    keys = (ux * span + utx) * span + uT
    index = np.searchsorted(keys, (s.x * span + s.t_x_days) * span + s.T_days)
    tx, tt = utx / s.unit_days, uT / s.unit_days
    alive = p_alive(m, ux, tx, tt)[index]
    expected = expected_purchases(m, horizon, ux, tx, tt)[index]
    if gg is None:
        nan = np.full(len(s), np.nan)
        return {"p_alive": alive, "expected": expected, "value": nan, "clv": nan}
    value = expected_average_value(gg, s.x, s.monetary)
    factor = discounted_purchases(m, ux, tx, tt, months=months,
                                  monthly_discount=monthly_discount,
                                  unit_days=s.unit_days)[index]
    return {"p_alive": alive, "expected": expected, "value": value, "clv": factor * value}


# Validation -------------------------------------------------------------------------------


@dataclass
class Holdout:
    """Predicted vs actual transactions in the holdout, per customer and in aggregate."""

    predicted: np.ndarray
    actual: np.ndarray
    correlation: float
    predicted_total: float
    actual_total: float
    aggregate_error: float          # (predicted - actual) / actual
    mean_absolute_error: float
    length: float                   # holdout length, model units
    buckets: list[dict] = field(default_factory=list)   # by calibration frequency
    tracking: dict = field(default_factory=dict)        # cumulative repeat transactions

    def figures(self) -> dict:
        data = asdict(self)
        data.pop("predicted")
        data.pop("actual")
        return data


def holdout_validate(m: Model, s: Summary, *, max_bucket: int = 7) -> Holdout | None:
    """Compare the calibrated model with the holdout (None without holdout data)."""
    if s.holdout_x is None or s.holdout_end is None:
        return None
    length = s.holdout_length
    predicted = expected_purchases(m, length, s.x, s.t_x, s.T)
    actual = s.holdout_x.astype(np.float64)
    if predicted.std() > 0 and actual.std() > 0:
        correlation = float(np.corrcoef(predicted, actual)[0, 1])
    else:
        correlation = float("nan")
    p_total, a_total = float(predicted.sum()), float(actual.sum())
    buckets = []
    capped = np.minimum(s.x, max_bucket)
    for k in range(max_bucket + 1):
        sel = capped == k
        if sel.any():
            buckets.append({"frequency": k, "plus": k == max_bucket, "customers": int(sel.sum()),
                            "predicted": float(predicted[sel].mean()),
                            "actual": float(actual[sel].mean())})
    return Holdout(predicted=predicted, actual=actual, correlation=correlation,
                   predicted_total=p_total, actual_total=a_total,
                   aggregate_error=(p_total - a_total) / a_total if a_total else float("nan"),
                   mean_absolute_error=float(np.abs(predicted - actual).mean()),
                   length=length, buckets=buckets, tracking=tracking(m, s))


def tracking(m: Model, s: Summary, *, step_days: int | None = None) -> dict:
    """Cumulative repeat transactions by week since the first cohort, actual vs the model's
    unconditional expectation summed over cohorts (the paper's tracking plot), through the
    holdout. Calibration repeat transactions come from the summary; holdout ones are split
    by day."""
    start = int(s.first_day.min())
    end = s.holdout_end if s.holdout_end is not None else s.calibration_end
    if step_days is None:  # weekly, or coarser to keep about 260 points
        step_days = 7 * max(1, math.ceil((end - start) / 7 / 260))
    edges = np.arange(start + step_days, end + step_days, step_days)
    edges[-1] = min(edges[-1], end + 1)  # exclusive ends of each period
    births, counts = np.unique(s.first_day, return_counts=True)
    expected = []
    for edge in edges:
        age = (edge - births) / s.unit_days
        expected.append(float(counts @ expected_unconditional(m, np.maximum(age, 0.0))))
    return {"edges": [int(e) for e in edges], "expected": expected,
            "calibration_end": s.calibration_end}


def tracking_actual(s: Summary, repeat_days: np.ndarray, edges) -> list[int]:
    """Cumulative actual repeat transactions at each edge (exclusive), from the days of
    every repeat transaction."""
    repeat_days = np.sort(np.asarray(repeat_days, dtype=np.int64))
    return [int(v) for v in np.searchsorted(repeat_days, np.asarray(edges), side="left")]


def repeat_days_of(customer_ids, days, *, last_day: int, first_until: int) -> np.ndarray:
    """Day numbers of every repeat transaction (same-day orders as one) up to last_day, of
    the customers whose first purchase is on or before first_until (the calibration end)."""
    ids = np.asarray(customer_ids)
    day = np.asarray(days)
    if np.issubdtype(day.dtype, np.datetime64):
        day = day.astype("datetime64[D]").astype(np.int64)
    _keys, code = np.unique(ids, return_inverse=True)
    day = day.astype(np.int64)
    low = int(day.min())
    span = int(day.max()) - low + 1
    pair = np.unique(code.astype(np.int64) * span + (day - low))
    code, day = pair // span, pair % span + low
    first = np.ones(code.shape[0], dtype=bool)
    first[1:] = code[1:] != code[:-1]
    born = day[first][np.cumsum(first) - 1]
    return day[~first & (day <= last_day) & (born <= first_until)]
