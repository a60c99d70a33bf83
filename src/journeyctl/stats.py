"""Significance for rates: Wilson intervals, the pooled two-proportion z-test, Fisher's
exact test for small samples, and Benjamini–Hochberg across many comparisons."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

Z95 = 1.959963984540054  # two-sided 95% normal quantile
MIN_SAMPLE = 30


class RateComparison(BaseModel):
    """``rate_a`` against ``rate_b``; ``p_value`` is None when no test is claimed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate_a: float | None
    rate_b: float | None
    difference: float | None  # rate_a - rate_b
    test: Literal["z", "fisher"] | None  # None: a group is below the minimum sample
    p_value: float | None
    interval_a: tuple[float, float] | None  # 95% Wilson
    interval_b: tuple[float, float] | None


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval for ``successes / n``; None when ``n`` is 0."""
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """(z, two-sided p) of the pooled two-proportion z-test; (0, 1) when the pooled rate is
    0 or 1 (no variation, so no evidence of a difference)."""
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p of Fisher's exact test on [[a, b], [c, d]]: the total probability of the
    tables with the same margins that are no more likely than the observed one."""
    row1, col1, n = a + b, a + c, a + b + c + d

    def log_p(k: int) -> float:
        return _log_choose(col1, k) + _log_choose(n - col1, row1 - k) - _log_choose(n, row1)

    observed = log_p(a)
    low, high = max(0, row1 + col1 - n), min(row1, col1)
    total = sum(math.exp(log_p(k)) for k in range(low, high + 1) if log_p(k) <= observed + 1e-7)
    return min(1.0, total)


def compare_rates(x1: int, n1: int, x2: int, n2: int, *, min_sample: int = MIN_SAMPLE) -> RateComparison:
    """Group a (x1 of n1) against group b (x2 of n2). No test below ``min_sample`` in a
    group; Fisher's exact test when an expected cell count is below 5; else the z-test."""
    rate_a = x1 / n1 if n1 else None
    rate_b = x2 / n2 if n2 else None
    difference = rate_a - rate_b if rate_a is not None and rate_b is not None else None
    test: Literal["z", "fisher"] | None = None
    p_value = None
    if n1 >= min_sample and n2 >= min_sample:
        successes, failures, n = x1 + x2, n1 + n2 - x1 - x2, n1 + n2
        expected = [n1 * successes / n, n1 * failures / n, n2 * successes / n, n2 * failures / n]
        if min(expected) < 5:
            test, p_value = "fisher", fisher_exact(x1, n1 - x1, x2, n2 - x2)
        else:
            test, p_value = "z", two_proportion_z(x1, n1, x2, n2)[1]
    return RateComparison(
        rate_a=rate_a,
        rate_b=rate_b,
        difference=difference,
        test=test,
        p_value=p_value,
        interval_a=wilson_interval(x1, n1),
        interval_b=wilson_interval(x2, n2),
    )


def benjamini_hochberg(p_values: Sequence[float | None]) -> list[float | None]:
    """Benjamini–Hochberg adjusted p-values (q-values), in the input order; None stays None
    and does not count as a test."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(tested)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 1.0
    for rank in range(m, 0, -1):
        p, index = tested[rank - 1]
        running = min(running, p * m / rank)
        adjusted[index] = running
    return adjusted


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
