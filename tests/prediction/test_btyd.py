"""The models against the published CDNOW figures (Fader, Hardie & Lee 2005), and the
summary rules on hand-made histories."""

from __future__ import annotations

import time

import numpy as np
import pytest

from kehu.prediction import btyd
from kehu.prediction.fitting import fit_transactions
from kehu.prediction.transactions_file import read_transactions

CAL_END = btyd.day_number("1997-09-30")
BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}
PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}


@pytest.fixture(scope="module")
def cdnow(request):
    from tests.prediction.conftest import CDNOW

    if CDNOW is None or not (CDNOW / "CDNOW_sample.txt").exists():
        pytest.skip("the CDNOW sample is not in ../shared/data/cdnow")
    data = read_transactions(CDNOW / "CDNOW_sample.txt")
    started = time.perf_counter()
    report = fit_transactions(data.customer_ids, data.days, data.amounts,
                              calibration_end=CAL_END)
    report.elapsed = time.perf_counter() - started
    return data, report


def test_cdnow_summary_matches_the_paper(cdnow):
    _data, report = cdnow
    s = report.summary
    assert len(s) == 2357
    assert int((s.x > 0).sum()) == 946
    assert s.holdout_length == pytest.approx(39.0)
    assert float(s.T.max()) == pytest.approx(272 / 7)  # 1997-01-01 .. 1997-09-30


def test_bgnbd_reproduces_every_published_parameter(cdnow):
    _data, report = cdnow
    fitted = report.model.params()
    for name, published in BGNBD.items():
        assert fitted[name] == pytest.approx(published, rel=0.005), name
    assert report.model.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_holdout_correlation_reproduces_the_paper(cdnow):
    _data, report = cdnow
    assert report.holdout.correlation == pytest.approx(0.626, abs=0.01)
    assert report.holdout.actual_total == report.summary.holdout_x.sum()
    # per-frequency buckets cover every customer
    assert sum(b["customers"] for b in report.holdout.buckets) == 2357


def test_gamma_gamma_reproduces_the_paper(cdnow):
    _data, report = cdnow
    gg = report.gamma_gamma
    assert gg.n == 946
    for name, published in GAMMA_GAMMA.items():
        assert gg.params()[name] == pytest.approx(published, rel=0.01), name


def test_pareto_nbd_reproduces_the_paper(cdnow):
    data, _report = cdnow
    report = fit_transactions(data.customer_ids, data.days, data.amounts,
                              calibration_end=CAL_END, model="pareto")
    for name, published in PARETO.items():
        assert report.model.params()[name] == pytest.approx(published, rel=0.01), name
    s = report.summary
    assert report.holdout.correlation == pytest.approx(0.63, abs=0.02)
    alive = btyd.p_alive(report.model, s.x, s.t_x, s.T)
    assert ((alive > 0) & (alive <= 1)).all()


def test_the_fit_is_fast(cdnow):
    # Not a timed assertion of the machine's speed: a guard against an accidental
    # non-vectorised path (the fit takes well under a second).
    _data, report = cdnow
    assert report.elapsed < 5


def test_pareto_branches_agree_around_alpha_equals_beta():
    x = np.array([0, 1, 3, 7])
    t_x = np.array([0.0, 5.0, 20.0, 30.0])
    T = np.array([10.0, 30.0, 30.0, 35.0])
    below = btyd.pareto_log_likelihood((0.5, 10.0 - 1e-7, 0.6, 10.0), x, t_x, T)
    above = btyd.pareto_log_likelihood((0.5, 10.0 + 1e-7, 0.6, 10.0), x, t_x, T)
    np.testing.assert_allclose(below, above, rtol=1e-6)


def test_pareto_likelihood_matches_numerical_integration():
    from scipy.integrate import quad

    r, alpha, s, beta = 0.55, 10.6, 0.6, 11.7
    x, t_x, T = 2, 12.0, 30.0
    # The likelihood given the rates, integrated over both gamma mixing distributions.
    from scipy.stats import gamma as gamma_dist

    def given_rates(lam, mu):
        alive = lam ** x * np.exp(-(lam + mu) * T)
        dead = (lam ** x * mu / (lam + mu)) * (np.exp(-(lam + mu) * t_x)
                                               - np.exp(-(lam + mu) * T))
        return alive + dead

    inner = lambda mu: quad(lambda lam: given_rates(lam, mu)  # noqa: E731
                            * gamma_dist.pdf(lam, r, scale=1 / alpha), 0, np.inf)[0]
    value = quad(lambda mu: inner(mu) * gamma_dist.pdf(mu, s, scale=1 / beta), 0, np.inf)[0]
    ours = btyd.pareto_log_likelihood((r, alpha, s, beta), np.array([x]), np.array([t_x]),
                                      np.array([T]))[0]
    assert ours == pytest.approx(np.log(value), abs=1e-5)


def test_bgnbd_gradient_matches_finite_differences():
    params = np.array([0.3, 4.0, 0.8, 2.5])
    x = np.array([0, 1, 2, 5, 10])
    t_x = np.array([0.0, 3.0, 10.0, 20.0, 35.0])
    T = np.array([5.0, 20.0, 30.0, 38.0, 38.0])
    _ll, grad = btyd.bgnbd_log_likelihood(params, x, t_x, T, gradient=True)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6
        numeric = (btyd.bgnbd_log_likelihood(params + step, x, t_x, T)
                   - btyd.bgnbd_log_likelihood(params - step, x, t_x, T)) / 2e-6
        np.testing.assert_allclose(grad[i], numeric, rtol=1e-5, atol=1e-7)


def test_summary_counts_same_day_orders_once_and_splits_the_holdout():
    day = btyd.day_number
    ids = ["a", "a", "a", "a", "b", "c", "c"]
    days = [day("2024-01-01"), day("2024-01-01"), day("2024-01-15"), day("2024-03-01"),
            day("2024-01-10"), day("2024-02-20"), day("2024-03-05")]
    amounts = [10, 5, 20, 40, 7, 9, 11]
    s = btyd.summarize(ids, days, amounts, calibration_end=day("2024-01-31"), unit_days=1)
    assert list(s.ids) == ["a", "b"]  # c first bought after the calibration end
    assert list(s.x) == [1, 0]         # a: 01-01 (two orders, one transaction) and 01-15
    assert list(s.t_x_days) == [14, 0]
    assert list(s.T_days) == [30, 21]
    assert list(s.monetary) == [20.0, 0.0]  # mean of repeat transactions only
    assert list(s.holdout_x) == [1, 0]      # a's 03-01 order; holdout runs to the last day
    assert s.holdout_end == day("2024-03-05")


def test_p_alive_and_expectations_behave():
    m = btyd.BGNBD(0.243, 4.414, 0.793, 2.426)
    # One-time buyers are "alive" under BG/NBD; a long silence after many purchases is not.
    alive = btyd.p_alive(m, np.array([0, 5, 5]), np.array([0.0, 30.0, 5.0]),
                         np.array([38.0, 38.0, 38.0]))
    assert alive[0] == 1.0 and alive[1] > 0.7 and alive[2] < 0.2
    more = btyd.expected_purchases(m, 39.0, np.array([5]), np.array([30.0]), np.array([38.0]))
    less = btyd.expected_purchases(m, 13.0, np.array([5]), np.array([30.0]), np.array([38.0]))
    assert more[0] > less[0] > 0


def test_clv_discounts_later_months():
    m = btyd.BGNBD(0.243, 4.414, 0.793, 2.426)
    gg = btyd.GammaGamma(6.25, 3.74, 15.44)
    args = (m, gg, np.array([3]), np.array([30.0]), np.array([38.0]), np.array([35.0]))
    plain = btyd.clv(*args, monthly_discount=0.0)[0]
    discounted = btyd.clv(*args, monthly_discount=0.01)[0]
    value = btyd.expected_average_value(gg, np.array([3]), np.array([35.0]))[0]
    expected_year = btyd.expected_purchases(m, 365.25 / 7, np.array([3]), np.array([30.0]),
                                            np.array([38.0]))[0]
    assert plain == pytest.approx(expected_year * value)
    assert 0.9 * plain < discounted < plain


def test_gamma_gamma_needs_repeat_buyers():
    with pytest.raises(btyd.FitError):
        btyd.fit_gamma_gamma(np.array([0, 0, 1]), np.array([0.0, 0.0, 10.0]))
