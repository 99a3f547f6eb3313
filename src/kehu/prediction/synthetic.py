"""Purchases drawn from the BG/NBD process, for the bench and the tests: each customer buys
at a Poisson rate (gamma-distributed across customers) until, after some purchase, they drop
out (beta-distributed probability); spend per purchase is gamma around a gamma-distributed
mean (the Gamma-Gamma model). Pure numpy, seeded."""

from __future__ import annotations

import numpy as np


def bgnbd_purchases(customers: int, *, days: int = 540, cohort_days: int = 90,
                    r: float = 0.25, alpha: float = 4.0, a: float = 0.8, b: float = 2.4,
                    p: float = 6.0, q: float = 3.7, v: float = 15.0, seed: int = 1,
                    max_per_customer: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer index 0..n-1, day 0..days-1, amount) of every purchase, sorted by customer.

    First purchases fall in the first `cohort_days`; rates are per week (as the paper's)."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(r, 1.0 / alpha, customers) / 7.0        # purchases per day
    drop = rng.beta(a, b, customers)
    first = rng.integers(0, cohort_days, customers)
    nu = rng.gamma(q, 1.0 / v, customers)                    # value scale per customer
    ids, day_list = [np.arange(customers)], [first.astype(np.float64)]
    alive = np.ones(customers, dtype=bool)
    current = first.astype(np.float64)
    for _ in range(max_per_customer):
        # After each purchase the customer may drop out, then waits an exponential time.
        alive &= rng.random(customers) >= drop
        wait = rng.exponential(1.0, customers) / np.maximum(lam, 1e-12)
        current = current + wait
        alive &= current < days
        if not alive.any():
            break
        idx = np.flatnonzero(alive)
        ids.append(idx)
        day_list.append(current[idx])
    cid = np.concatenate(ids)
    day = np.floor(np.concatenate(day_list)).astype(np.int64)
    amount = np.round(rng.gamma(p, 1.0 / nu[cid]), 2) + 0.01
    order = np.argsort(cid, kind="stable")
    return cid[order], day[order], amount[order]
