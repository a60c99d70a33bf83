"""Significance code against values worked by hand (and published references)."""

from __future__ import annotations

import pytest

from journeyctl.stats import (
    benjamini_hochberg,
    compare_rates,
    fisher_exact,
    two_proportion_z,
    wilson_interval,
)


def test_wilson_interval_for_8_of_10() -> None:
    # Newcombe (1998), method 3: 8/10 → 0.4902 to 0.9433
    low, high = wilson_interval(8, 10) or (0, 0)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)


def test_wilson_interval_at_the_edges() -> None:
    assert wilson_interval(0, 0) is None
    low, high = wilson_interval(0, 20) or (1, 1)
    assert low == 0 and round(high, 4) == 0.1611


def test_pooled_z_test_by_hand() -> None:
    # 45/100 vs 30/100: pooled 0.375, se = sqrt(0.375 × 0.625 × 0.02) = 0.068465, z = 2.1909
    z, p = two_proportion_z(45, 100, 30, 100)
    assert z == pytest.approx(2.1909, abs=1e-4)
    assert p == pytest.approx(0.02846, abs=1e-5)


def test_z_test_without_variation_claims_nothing() -> None:
    assert two_proportion_z(0, 50, 0, 60) == (0.0, 1.0)


def test_fisher_lady_tasting_tea() -> None:
    # [[3, 1], [1, 3]]: P(a=k) = 1, 16, 36, 16, 1 (/70); two-sided p = 34/70
    assert fisher_exact(3, 1, 1, 3) == pytest.approx(34 / 70)
    assert fisher_exact(4, 0, 0, 4) == pytest.approx(2 / 70)


def test_small_expected_cells_use_fisher_and_small_groups_no_test() -> None:
    assert compare_rates(1, 40, 6, 40).test == "fisher"
    assert compare_rates(20, 40, 10, 40).test == "z"
    small = compare_rates(5, 29, 20, 100)
    assert (small.test, small.p_value) == (None, None)
    assert small.rate_a == 5 / 29


def test_benjamini_hochberg_by_hand() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4/rank 0.02, 0.02, 0.04, 0.04 (then monotone)
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([None, 0.5]) == [None, 0.5]
