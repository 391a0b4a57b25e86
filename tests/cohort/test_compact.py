"""Compact number columns (explorer.cohort.compact): level codes that read back as the same float64 values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.cohort.compact import (
    MAX_LEVELS,
    NumberLevels,
    as_floats,
    compact_number,
    is_number_levels,
    number_levels,
    widened,
)

# clinical boundaries and their nearest neighbours as reported (HbA1c 7.0 / 6.95, eGFR 45 / 44.99, whole ages)
BOUNDARIES = np.array([7.0, 6.95, 6.9, 7.05, 45.0, 44.99, 45.01, 18.0, 17.0, 65.0, 0.1, 0.3, 1e-4, 0.0, 2.0 / 3.0])


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal as float64 bit patterns (NaN where NaN): no rounding anywhere."""
    return a.dtype == b.dtype == np.float64 and np.array_equal(a.view(np.int64), b.view(np.int64))


def test_a_column_reads_back_bit_for_bit_with_unknowns_kept():
    values = np.concatenate([BOUNDARIES, [np.nan], BOUNDARIES[::-1], [np.nan]])
    compact = compact_number(values)
    assert isinstance(compact, pd.Categorical) and compact.codes.dtype == np.int8
    back = as_floats(*number_levels(pd.Series(compact)))
    assert same_bits(back, np.where(np.isnan(values), np.nan, values))
    assert list(compact.categories) == sorted(set(BOUNDARIES.tolist()))  # levels in numeric order


def test_chunks_give_the_codes_of_the_whole_column():
    rng = np.random.default_rng(1)
    values = np.round(rng.normal(8, 2, 10_000), 1)
    values[rng.random(10_000) < 0.2] = np.nan
    chunked = NumberLevels(len(values))
    for start in range(0, len(values), 777):  # later chunks bring levels the earlier ones lacked
        chunked.add(start, values[start:start + 777])
    whole = compact_number(values)
    assert chunked.unknown().tolist() == np.isnan(values).tolist()
    result = chunked.finish()
    assert result.equals(whole)
    assert same_bits(np.asarray(result, dtype=float), values)


def test_a_continuous_column_stays_float64_even_when_it_turns_late():
    rng = np.random.default_rng(2)
    few = np.round(rng.normal(8, 2, 5_000), 1)
    many = rng.random(MAX_LEVELS + 10)
    levels = NumberLevels(len(few) + len(many))
    levels.add(0, few)
    levels.add(len(few), many)
    result = levels.finish()
    assert isinstance(result, np.ndarray) and same_bits(result, np.concatenate([few, many]))


def test_minus_zero_and_zero_share_a_level_and_compare_the_same():
    compact = compact_number(np.array([-0.0, 0.0, 1.0]))
    assert len(compact.categories) == 2
    assert (as_floats(*number_levels(pd.Series(compact))) >= 0).all()


def test_widened_gives_float64_numbers_and_leaves_other_columns_alone():
    frame = pd.DataFrame({"hba1c": compact_number(np.array([6.95, np.nan, 7.0])),
                          "sex": pd.array(["female", None, "male"], dtype="string")})
    wide = widened(frame)
    assert is_number_levels(frame["hba1c"].dtype) and wide["hba1c"].dtype == np.float64
    assert same_bits(wide["hba1c"].to_numpy(), np.array([6.95, np.nan, 7.0]))
    assert wide["sex"].dtype == frame["sex"].dtype


@pytest.mark.parametrize("empty", [np.array([]), np.array([np.nan, np.nan])])
def test_a_column_without_known_values(empty):
    compact = compact_number(empty)
    assert len(compact.categories) == 0 and np.isnan(as_floats(*number_levels(pd.Series(compact)))).all()


def test_the_generator_gives_float64_numbers_by_default_and_the_same_values_compact():
    """Analysis code does arithmetic on a generated cohort's numbers; only `compact=True` (what an opened
    data source holds) keeps them as level codes, and both are the same float64 values."""
    from explorer.cohort.synthetic import generate_screening

    plain = generate_screening("t1d", 500, seed=4, missing_reasons=False)
    compact = generate_screening("t1d", 500, seed=4, missing_reasons=False, compact=True)
    numbers = [c for c in compact.features.columns if is_number_levels(compact.features[c].dtype)]
    assert numbers and not any(is_number_levels(plain.features[c].dtype) for c in plain.features.columns)
    assert plain.features["hba1c"].dtype == np.float64
    assert (plain.features["hba1c"] >= 7.5).sum() > 0  # comparisons and means work as on any float column
    pd.testing.assert_frame_equal(widened(compact.features), plain.features)


def test_an_opened_synthetic_source_holds_compact_numbers():
    from explorer.sources import DataSource, open_source

    opened = open_source(DataSource(kind="synthetic", population="t1d", n=300, seed=1))
    assert is_number_levels(opened.screening.features["hba1c"].dtype)


def test_float_values_reads_every_form_of_a_number_column_as_the_same_float64():
    from explorer.cohort.compact import float_values
    raw = np.array([7.0, 6.95, np.nan, -0.0, 1e-300, 7.0])
    wide = pd.Series(raw)
    assert np.shares_memory(float_values(wide), wide.to_numpy())  # float64 is used as it is, not copied
    np.testing.assert_array_equal(float_values(wide), raw)
    compact = pd.Series(compact_number(raw))
    assert is_number_levels(compact.dtype)  # the form the statistics were slow on
    got = float_values(compact)
    np.testing.assert_array_equal(got, raw)
    assert got.dtype == np.float64
    text = pd.Series(["7", "6.95", None, "-0", "1e-300", "seven"], dtype=object)
    np.testing.assert_array_equal(float_values(text), np.array([7.0, 6.95, np.nan, -0.0, 1e-300, np.nan]))
