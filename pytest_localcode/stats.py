"""The statistics behind every rate and comparison the reports show (pure functions, stdlib only).

Benchmarks here are small: 26 C++ exercises, 49 JavaScript ones. So nothing below uses the normal
approximation where it fails (few items, rates near 0 or 1):

* one epoch: the Wilson score interval for a pass rate, Newcombe's square-and-add interval for a
  paired difference and the exact McNemar test (binomial on the discordant pairs);
* several epochs: per-exercise solve rates, a bootstrap over exercises stratified by language
  (fixed seed: the same files give the same figures, on any machine), a paired bootstrap and an
  exact sign-flip test for differences. Epochs of one exercise are not independent trials, so the
  rate's interval is never narrower than the Wilson interval at the design's effective sample size
  (Korn & Graubard 1998), which keeps it honest when every exercise scores 0 or 1;
* the unbiased pass@k estimator in the product form of the Codex paper (Chen et al. 2021) and
  pass^k (solved in all k of k epochs), and Holm's step-down correction across languages.

Rates are fractions in [0, 1] here; the reports scale them to percent.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from statistics import NormalDist
from typing import Any

CONFIDENCE = 0.95
RESAMPLES = 10_000
SEED = 0
SIGN_FLIP_EXACT_LIMIT = 2_000_000  # DP cells (items x reachable sums) before Monte Carlo is used
SIGN_FLIP_DRAWS = 200_000


def z_value(confidence: float = CONFIDENCE) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval. ``method`` names how the interval was computed; ``n`` is
    the number of exercises (or of pairs) it rests on, ``trials`` the exercise runs."""

    estimate: float
    low: float
    high: float
    method: str
    n: int
    trials: int = 0
    confidence: float = CONFIDENCE
    detail: tuple[tuple[str, Any], ...] = ()

    def to_json(self, scale: float = 100.0) -> dict[str, Any]:
        """Machine-readable, in percent (``scale``) unless told otherwise; never rounded."""
        data: dict[str, Any] = {"estimate": self.estimate * scale, "low": self.low * scale, "high": self.high * scale,
                                "method": self.method, "confidence": self.confidence, "n": self.n}
        if self.trials:
            data["trials"] = self.trials
        for key, value in self.detail:
            data[key] = [v * scale for v in value] if key == "percentile" else value
        return data


# -- one proportion ------------------------------------------------------------------------------


def wilson(successes: float, n: float, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for ``successes`` of ``n`` (``n`` may be an effective, non-integer size)."""
    if n <= 0:
        return 0.0, 1.0
    z = z_value(confidence)
    p = min(1.0, max(0.0, successes / n))
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At p = 0 or 1 one limit is exactly the boundary; rounding must not move it inside.
    low = 0.0 if p == 0 else max(0.0, centre - half)
    high = 1.0 if p == 1 else min(1.0, centre + half)
    return low, high


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> Interval:
    low, high = wilson(successes, n, confidence)
    return Interval(successes / n if n else 0.0, low, high, "wilson", n, n, confidence)


# -- repeated epochs -----------------------------------------------------------------------------


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples with ``c`` correct: 1 - C(n-c, k) / C(n, k), in the
    numerically stable product form of the Codex paper."""
    if not 0 < k <= n or not 0 <= c <= n:
        raise ValueError(f"pass@k needs 0 < k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k: the chance that k of the n samples, drawn without replacement, are all correct,
    C(c, k) / C(n, k) (unbiased for p^k)."""
    if not 0 < k <= n or not 0 <= c <= n:
        raise ValueError(f"pass^k needs 0 < k <= n and 0 <= c <= n (n={n}, c={c}, k={k})")
    product = 1.0
    for j in range(k):
        product *= (c - j) / (n - j)
    return max(0.0, product)


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default)."""
    position = q * (len(sorted_values) - 1)
    below = math.floor(position)
    above = min(below + 1, len(sorted_values) - 1)
    fraction = position - below
    return sorted_values[below] + (sorted_values[above] - sorted_values[below]) * fraction


def stratified_replicates(
    strata: Mapping[str, Sequence[Sequence[float]]], resamples: int = RESAMPLES, seed: int = SEED
) -> dict[str, list[list[float]]]:
    """Bootstrap replicates of per-stratum sums of several statistics at once.

    ``strata`` maps a stratum (a language) to its items, each item a vector of values (one per
    statistic). Each replicate resamples every stratum's items with replacement, keeping its size,
    and records the sums of each statistic per stratum: ``{stratum: [[sum_0, sum_1, ...] per
    replicate]}``. Strata are visited in sorted order, so a given input always draws the same
    numbers."""
    rng = random.Random(seed)
    out: dict[str, list[list[float]]] = {name: [] for name in strata}
    ordered = sorted(strata)
    for _ in range(resamples):
        for name in ordered:
            items = strata[name]
            if not items:
                out[name].append([])
                continue
            drawn = rng.choices(items, k=len(items))
            out[name].append([sum(column) for column in zip(*drawn)])
    return out


def effective_wilson(estimate: float, variance: float, n_items: int, n_trials: int,
                     confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Wilson interval at the effective sample size p(1-p)/variance (Korn & Graubard), bounded by
    the number of items below and of independent trials above; returns (low, high, n_eff)."""
    n_trials = max(n_trials, n_items)
    if variance <= 0 or estimate <= 0 or estimate >= 1:
        n_eff = float(n_trials)
    else:
        n_eff = min(float(n_trials), max(float(n_items), estimate * (1 - estimate) / variance))
    low, high = wilson(estimate * n_eff, n_eff, confidence)
    return low, high, n_eff


def bootstrap_interval(estimate: float, replicates: Sequence[float], n_items: int, n_trials: int,
                       resamples: int = RESAMPLES, seed: int = SEED, confidence: float = CONFIDENCE) -> Interval:
    """Percentile interval of bootstrap replicates of a mean of per-exercise values in [0, 1],
    widened where needed to the Wilson interval at the effective sample size."""
    ordered = sorted(replicates)
    tail = (1 - confidence) / 2
    p_low, p_high = quantile(ordered, tail), quantile(ordered, 1 - tail)
    mean = math.fsum(ordered) / len(ordered)
    variance = math.fsum((x - mean) ** 2 for x in ordered) / max(1, len(ordered) - 1)
    w_low, w_high, n_eff = effective_wilson(estimate, variance, n_items, n_trials, confidence)
    return Interval(estimate, max(0.0, min(p_low, w_low)), min(1.0, max(p_high, w_high)), "bootstrap", n_items,
                    n_trials, confidence,
                    (("percentile", [p_low, p_high]), ("n_eff", n_eff), ("resamples", resamples),
                     ("seed", seed)))


# -- paired comparisons --------------------------------------------------------------------------


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs ``b`` and ``c``: twice the
    binomial(b + c, 1/2) tail at the smaller count, at most 1."""
    m = b + c
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(min(b, c) + 1))
    return min(1.0, float(Fraction(2 * tail, 2**m)))


def mover_difference(p_a: float, limits_a: tuple[float, float], p_b: float, limits_b: tuple[float, float],
                     phi: float = 0.0) -> tuple[float, float]:
    """Interval for p_B - p_A from an interval for each and their correlation (MOVER, Newcombe's
    square-and-add: recovers the variance of each estimate from its own interval's limits)."""
    (l_a, u_a), (l_b, u_b) = limits_a, limits_b
    d = p_b - p_a
    low = d - math.sqrt(max(0.0, (p_b - l_b) ** 2 + (u_a - p_a) ** 2 - 2 * phi * (p_b - l_b) * (u_a - p_a)))
    high = d + math.sqrt(max(0.0, (u_b - p_b) ** 2 + (p_a - l_a) ** 2 - 2 * phi * (u_b - p_b) * (p_a - l_a)))
    return max(-1.0, low), min(1.0, high)


def correlation(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Pearson's r, 0 where it is undefined (fewer than two items, or a constant series)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx, syy = sum((x - mx) ** 2 for x in xs), sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0


def newcombe_paired(both: int, only_a: int, only_b: int, neither: int,
                    confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Newcombe's square-and-add interval (his method 10, 1998) for the paired difference
    p_B - p_A, from the paired 2x2 table; returns (difference, low, high)."""
    n = both + only_a + only_b + neither
    if n == 0:
        return 0.0, -1.0, 1.0
    a_yes, b_yes = both + only_a, both + only_b
    p_a, p_b = a_yes / n, b_yes / n
    l_a, u_a = wilson(a_yes, n, confidence)
    l_b, u_b = wilson(b_yes, n, confidence)
    margins = a_yes * (n - a_yes) * b_yes * (n - b_yes)
    phi = 0.0
    if margins:
        cross = both * neither - only_a * only_b
        if cross > n / 2:
            phi = (cross - n / 2) / math.sqrt(margins)
        elif cross < 0:
            phi = cross / math.sqrt(margins)
    low, high = mover_difference(p_a, (l_a, u_a), p_b, (l_b, u_b), phi)
    return p_b - p_a, low, high


def sign_flip_pvalue(differences: Sequence[Fraction], draws: int = SIGN_FLIP_DRAWS,
                     seed: int = SEED) -> tuple[float, str]:
    """Two-sided paired permutation test of mean difference 0: every per-exercise difference keeps
    its size and takes either sign with probability 1/2. Exact (the distribution of the sum, on a
    common denominator) unless that is too large; then Monte Carlo with a fixed seed. Returns
    (p, method). With differences in {-1, 0, 1} it equals the exact McNemar test."""
    nonzero = [d for d in differences if d != 0]
    if not nonzero:
        return 1.0, "sign-flip exact"
    scale = math.lcm(*(d.denominator for d in nonzero))
    steps = [abs(int(d * scale)) for d in nonzero]
    observed = abs(sum(int(d * scale) for d in nonzero))
    total = sum(steps)
    if len(steps) * (2 * total + 1) <= SIGN_FLIP_EXACT_LIMIT:
        probs = [0.0] * (2 * total + 1)  # index s + total
        probs[total] = 1.0
        reach = 0
        for step in steps:
            new = [0.0] * (2 * total + 1)
            for s in range(total - reach, total + reach + 1):
                p = probs[s]
                if p:
                    new[s - step] += p / 2
                    new[s + step] += p / 2
            probs, reach = new, reach + step
        p_value = math.fsum(p for s, p in enumerate(probs) if abs(s - total) >= observed)
        return min(1.0, p_value), "sign-flip exact"
    rng = random.Random(seed)
    hits = 0
    for _ in range(draws):
        s = sum(step if rng.random() < 0.5 else -step for step in steps)
        hits += abs(s) >= observed
    return (hits + 1) / (draws + 1), f"sign-flip Monte Carlo ({draws} draws, seed {seed})"


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values (family-wise error across the given tests)."""
    ordered = sorted(p_values.items(), key=lambda kv: (kv[1], kv[0]))
    m = len(ordered)
    adjusted: dict[str, float] = {}
    running = 0.0
    for rank, (name, p) in enumerate(ordered):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[name] = running
    return adjusted
