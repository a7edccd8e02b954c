"""The statistics against published values and independent implementations (scipy, brute force).

Published values: Wilson intervals from Newcombe (1998a, Stat Med 17:857, Table I); Newcombe's
paired interval for the Cavo et al. (2012) table from Fagerland, Lydersen & Laake, *Statistical
Analysis of Contingency Tables* (2017, ch. 8); McNemar exact p for 10/2 discordant pairs. The
bootstrap is checked against scipy's and against exact enumeration of every resample.
"""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import pytest

from pytest_localcode import stats

scipy_stats = pytest.importorskip("scipy.stats", reason="the test extra: bin/setup --tests")


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
])
def test_wilson_published(k: int, n: int, low: float, high: float) -> None:
    got = stats.wilson(k, n)
    assert got == (pytest.approx(low, abs=5e-5), pytest.approx(high, abs=5e-5))


@pytest.mark.parametrize("n", [26, 49])
def test_wilson_at_one_half_matches_scipy(n: int) -> None:
    """The issue's scale figures: a rate near 50 % on 26 (C++) and 49 (JavaScript) exercises."""
    for k in range(n + 1):
        ci = scipy_stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert stats.wilson(k, n) == (pytest.approx(ci.low, abs=1e-12), pytest.approx(ci.high, abs=1e-12)), k
    half_width = (stats.wilson(n / 2, n)[1] - stats.wilson(n / 2, n)[0]) / 2
    # p = 1/2 exactly: z * sqrt(1/(4n) + z^2/(4n^2)) / (1 + z^2/n)
    z = 1.959963984540054
    assert half_width == pytest.approx(z * math.sqrt(0.25 / n + z * z / (4 * n * n)) / (1 + z * z / n), rel=1e-12)
    assert round(100 * half_width, 1) == {26: 17.9, 49: 13.5}[n]  # not the ±19.2 / ±14.0 of the normal approximation


def test_wilson_stays_inside_and_touches_the_boundary() -> None:
    assert stats.wilson(0, 5)[0] == 0.0 and stats.wilson(5, 5)[1] == 1.0
    assert stats.wilson(0, 0) == (0.0, 1.0)
    for n in (1, 2, 7, 26):
        for k in range(n + 1):
            low, high = stats.wilson(k, n)
            assert 0.0 <= low <= k / n <= high <= 1.0


@pytest.mark.parametrize(("b", "c", "p"), [(10, 2, 0.03857421875), (3, 3, 1.0), (2, 10, 0.03857421875), (0, 0, 1.0),
                                           (0, 6, 0.03125), (25, 10, None)])
def test_mcnemar_exact(b: int, c: int, p: float | None) -> None:
    expected = scipy_stats.binomtest(min(b, c), b + c, 0.5).pvalue if b + c else 1.0
    assert stats.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)
    if p is not None:
        assert stats.mcnemar_exact(b, c) == pytest.approx(p, rel=1e-12)  # 10/2: 2 * 79 / 4096


def test_newcombe_paired_published() -> None:
    """Cavo et al. (2012): table [[59, 6], [16, 80]] (rows: before, columns: after). The book gives
    the difference of the first margins, before - after: -0.0621 (95% CI -0.1186 to -0.0046)."""
    # Our function gives B - A with A the row margin: both=59, only A=6, only B=16, neither=80 gives
    # after - before for the success margins (59+6 vs 59+16); the book's estimate is the negative.
    d, low, high = stats.newcombe_paired(59, 16, 6, 80)  # A = after-margin, B = before-margin
    assert (round(d, 4), round(low, 4), round(high, 4)) == (-0.0621, -0.1186, -0.0046)


def test_newcombe_paired_is_mirror_symmetric_and_bounded() -> None:
    for both, only_a, only_b, neither in [(5, 0, 7, 14), (0, 0, 0, 26), (26, 0, 0, 0), (3, 9, 1, 13)]:
        d, low, high = stats.newcombe_paired(both, only_a, only_b, neither)
        md, mlow, mhigh = stats.newcombe_paired(both, only_b, only_a, neither)
        assert (md, mlow, mhigh) == pytest.approx((-d, -high, -low))
        assert -1.0 <= low <= d <= high <= 1.0


@pytest.mark.parametrize(("n", "c", "k"),
                         [(3, 1, 1), (3, 1, 2), (3, 2, 2), (5, 0, 3), (5, 5, 1), (10, 3, 4), (3, 3, 3)])
def test_pass_at_k_and_pass_hat_k_match_the_combinatorial_forms(n: int, c: int, k: int) -> None:
    assert stats.pass_at_k(n, c, k) == pytest.approx(float(1 - Fraction(math.comb(n - c, k), math.comb(n, k))),
                                                     abs=1e-15)
    assert stats.pass_hat_k(n, c, k) == pytest.approx(float(Fraction(math.comb(c, k), math.comb(n, k))), abs=1e-15)


def test_pass_at_k_by_enumeration() -> None:
    """pass@k is the share of k-subsets of the n samples with at least one success."""
    samples = [True, False, True, False, False]
    for k in range(1, 6):
        subsets = list(itertools.combinations(samples, k))
        assert stats.pass_at_k(5, 2, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))
        assert stats.pass_hat_k(5, 2, k) == pytest.approx(sum(all(s) for s in subsets) / len(subsets))
    with pytest.raises(ValueError):
        stats.pass_at_k(3, 1, 4)


def exact_bootstrap(strata: list[list[Fraction]], q: float) -> Fraction:
    """Quantile of the exact stratified bootstrap distribution of the pooled mean (every resample)."""
    n = sum(len(s) for s in strata)
    pooled: dict[Fraction, Fraction] = {Fraction(0): Fraction(1)}
    for stratum in strata:
        weight = Fraction(1, len(stratum) ** len(stratum))
        own: dict[Fraction, Fraction] = {}
        for draw in itertools.product(stratum, repeat=len(stratum)):
            own[sum(draw)] = own.get(sum(draw), Fraction(0)) + weight
        pooled = {total: sum((p * own[total - a] for a, p in pooled.items() if total - a in own), Fraction(0))
                  for total in {a + b for a in pooled for b in own}}
    cumulative = Fraction(0)
    for total in sorted(pooled):
        cumulative += pooled[total]
        if cumulative >= q:
            return total / n
    raise AssertionError("quantile beyond 1")


def test_stratified_bootstrap_against_exact_enumeration() -> None:
    a = [Fraction(0), Fraction(1), Fraction(1, 3)]
    b = [Fraction(1), Fraction(0), Fraction(0), Fraction(2, 3)]
    reps = stats.stratified_replicates({"a": [[float(v)] for v in a], "b": [[float(v)] for v in b]}, resamples=40_000)
    pooled = sorted((reps["a"][i][0] + reps["b"][i][0]) / 7 for i in range(40_000))
    for q in (0.025, 0.5, 0.975):
        exact = float(exact_bootstrap([a, b], q))
        assert abs(stats.quantile(pooled, q) - exact) <= 1 / 21 + 1e-9, q  # within one step of the lattice


def test_stratified_bootstrap_matches_scipy_percentile() -> None:
    rng = random.Random(7)
    python = [rng.choice([0, 1 / 3, 2 / 3, 1]) for _ in range(34)]
    go = [rng.choice([0, 1 / 3, 2 / 3, 1]) for _ in range(20)]
    reps = stats.stratified_replicates({"go": [[v] for v in go], "python": [[v] for v in python]})
    n = len(python) + len(go)
    ours = sorted((reps["go"][b][0] + reps["python"][b][0]) / n for b in range(stats.RESAMPLES))
    theirs = scipy_stats.bootstrap((python, go), lambda x, y, axis=-1: (x.sum(axis) + y.sum(axis)) / n,
                                   n_resamples=20_000, method="percentile", vectorized=True, random_state=1,
                                   confidence_level=0.95).confidence_interval
    assert stats.quantile(ours, 0.025) == pytest.approx(theirs.low, abs=0.012)
    assert stats.quantile(ours, 0.975) == pytest.approx(theirs.high, abs=0.012)
    again = stats.stratified_replicates({"go": [[v] for v in go], "python": [[v] for v in python]})
    assert again == reps  # fixed seed: the same figures every time


def test_bootstrap_interval_never_collapses_at_the_boundary() -> None:
    """Every exercise solved in every epoch: the percentile interval is [1, 1]; the reported one is
    the Wilson interval at the number of independent runs."""
    series = [1.0] * 1000
    interval = stats.bootstrap_interval(1.0, series, n_items=12, n_trials=36, resamples=1000)
    assert interval.high == 1.0 and interval.low == pytest.approx(stats.wilson(36, 36)[0])
    assert dict(interval.detail)["percentile"] == [1.0, 1.0]


def test_sign_flip_equals_mcnemar_for_single_epochs() -> None:
    for b, c in [(10, 2), (3, 3), (0, 5), (7, 1)]:
        diffs = [Fraction(1)] * c + [Fraction(-1)] * b + [Fraction(0)] * 9
        assert stats.sign_flip_pvalue(diffs)[0] == pytest.approx(stats.mcnemar_exact(b, c), rel=1e-12)


def test_sign_flip_against_enumeration() -> None:
    diffs = [Fraction(1, 3), Fraction(2, 3), Fraction(-1, 3), Fraction(1), Fraction(1, 3), Fraction(0), Fraction(2, 3)]
    observed = abs(sum(diffs))
    nonzero = [d for d in diffs if d]
    hits = sum(abs(sum(s * d for s, d in zip(signs, nonzero))) >= observed
               for signs in itertools.product((1, -1), repeat=len(nonzero)))
    p, method = stats.sign_flip_pvalue(diffs)
    assert p == pytest.approx(hits / 2 ** len(nonzero), rel=1e-12) and method == "sign-flip exact"
    assert stats.sign_flip_pvalue([Fraction(0)] * 4) == (1.0, "sign-flip exact")


def test_holm() -> None:
    adjusted = stats.holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005})
    assert adjusted == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06, "d": 0.02})
    assert stats.holm({"x": 0.6, "y": 0.7}) == {"x": 1.0, "y": 1.0}


def test_mover_with_wilson_limits_is_newcombes_interval() -> None:
    both, only_a, only_b, neither = 59, 16, 6, 80
    n = both + only_a + only_b + neither
    a, b = both + only_a, both + only_b
    cross = both * neither - only_a * only_b
    phi = (cross - n / 2) / math.sqrt(a * (n - a) * b * (n - b))
    low, high = stats.mover_difference(a / n, stats.wilson(a, n), b / n, stats.wilson(b, n), phi)
    assert (low, high) == pytest.approx(stats.newcombe_paired(both, only_a, only_b, neither)[1:], abs=1e-12)
    assert stats.correlation([1.0, 0.0, 0.5], [1.0, 0.0, 0.5]) == pytest.approx(1.0)
    assert stats.correlation([1.0], [0.0]) == 0.0 and stats.correlation([1.0, 1.0], [0.0, 1.0]) == 0.0
