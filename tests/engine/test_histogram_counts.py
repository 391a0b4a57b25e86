"""The histogram's weighted counts (bit planes of the counts, patterns in ascending-count order) against a
plain per-pattern computation, for counts from 1 to 10^12 (a cohort of any size comes back as such rows)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from explorer.engine.matrix import CriterionInfo
from explorer.engine.patterns import (
    PatternHistogram,
    final_counts,
    funnel_counts,
    impact_counts,
    resolve,
    select,
)
from explorer.engine.status import FAIL, PASS, UNKNOWN

POLICIES = ("unknown", "pass", "fail")


def histogram(seed: int, m: int, k: int, largest: int) -> tuple[PatternHistogram, list[CriterionInfo]]:
    rng = np.random.default_rng(seed)
    patterns = rng.integers(0, 3, size=(m, k)).astype(np.int8)
    patterns[:, k - 1] = 3  # one criterion no data decides (ASSUMED), as in the bundled trials
    patterns = np.unique(patterns, axis=0)
    # heavy-tailed counts, as real cohorts give: most patterns rare, a few very common
    counts = np.minimum(np.floor(np.exp(rng.uniform(0, np.log(largest), len(patterns)))), largest).astype(np.int64)
    criteria = [CriterionInfo(f"C{j}", "inclusion" if j % 2 else "exclusion",
                              expression=None if j == k - 1 else f"x{j} > 0") for j in range(k)]
    return PatternHistogram(patterns, counts, np.zeros(0, np.int64)), criteria


def reference_funnel(h: PatternHistogram, selection) -> tuple[int, list[int], list[int], list[int]]:
    resolved, counts = resolve(h.patterns, selection), [int(c) for c in h.counts]
    total = sum(counts)
    eligible, remaining, became = [total], [total], [0]
    for s in range(resolved.shape[1]):
        before = np.all(resolved[:, :s] == PASS, axis=1)
        became.append(sum(c for c, hit in zip(counts, before & (resolved[:, s] == UNKNOWN), strict=True) if hit))
        remaining.append(sum(c for c, hit in zip(counts, np.all(resolved[:, :s + 1] != FAIL, axis=1), strict=True) if hit))
        eligible.append(sum(c for c, hit in zip(counts, np.all(resolved[:, :s + 1] == PASS, axis=1), strict=True) if hit))
    return total, eligible, remaining, became


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), m=st.integers(1, 700), k=st.integers(2, 12),
       largest=st.sampled_from([1, 2, 3, 1000, 10 ** 6, 10 ** 12]), data=st.data())
def test_weighted_counts_equal_the_per_pattern_sums(seed, m, k, largest, data):
    h, criteria = histogram(seed, m, k, largest)
    ids = [c.id for c in criteria]
    order = data.draw(st.permutations(ids))
    enabled = data.draw(st.sets(st.sampled_from(ids)))
    policies = data.draw(st.dictionaries(st.sampled_from(ids[:-1]), st.sampled_from(POLICIES)))
    selection = select(criteria, order=order, enabled=enabled, policies=policies)
    assert funnel_counts(h, selection) == reference_funnel(h, selection)
    total, eligible, remaining = final_counts(h, selection)
    assert (total, eligible, remaining) == (reference_funnel(h, selection)[0], reference_funnel(h, selection)[1][-1],
                                            reference_funnel(h, selection)[2][-1])
    values, eligible_i, remaining_i, total_i = impact_counts(h, selection)
    assert (eligible_i, remaining_i, total_i) == (eligible, remaining, total)
    resolved, counts = resolve(h.patterns, selection), h.counts
    for s in range(len(selection.ids)):
        others = np.delete(resolved, s, axis=1)
        others_pass = np.all(others == PASS, axis=1)
        # failing, unknown, excluded alone, eligible if removed: sums over the patterns themselves
        assert values[s, 0] == counts[resolved[:, s] == FAIL].sum()
        assert values[s, 1] == counts[resolved[:, s] == UNKNOWN].sum()
        assert values[s, 3] == counts[(resolved[:, s] == FAIL) & others_pass].sum()
        assert values[s, 5] == counts[others_pass].sum()


def test_the_largest_count_alone_is_counted_once():
    """A cohort of 10^12 in one pattern and one subject elsewhere: every bit plane but the first is a
    one-word tail, and the counts still add up."""
    patterns = np.array([[1, 1], [0, 1]], dtype=np.int8)
    h = PatternHistogram(patterns, np.array([10 ** 12, 1], dtype=np.int64), np.zeros(0, np.int64))
    criteria = [CriterionInfo("A", "inclusion", expression="a"), CriterionInfo("B", "inclusion", expression="b")]
    assert funnel_counts(h, select(criteria)) == (10 ** 12 + 1, [10 ** 12 + 1, 10 ** 12, 10 ** 12],
                                                  [10 ** 12 + 1, 10 ** 12, 10 ** 12], [0, 0, 0])


def test_words_of_one_count_and_words_where_the_counts_change():
    """Runs of equal counts that fill whole 64-pattern words (each read once, weighted by its count), runs
    that end inside a word, and a last word with padding bits that a complemented set has switched on."""
    rng = np.random.default_rng(3)
    counts = np.array([1] * 128 + [2] * 70 + [7] * 5 + [3 * 10 ** 9] + [5] * 3, dtype=np.int64)
    patterns = np.unique(rng.integers(0, 3, size=(3 * len(counts), 10)).astype(np.int8), axis=0)[:len(counts)]
    h = PatternHistogram(patterns, counts[rng.permutation(len(counts))], np.zeros(0, np.int64))
    criteria = [CriterionInfo(f"C{j}", "inclusion", expression=f"x{j} > 0") for j in range(10)]
    index, _, weights = h.count_planes
    # words 0-2 hold one count each (1, 1, 2) and are read once; word 3 (2, 7, 5 and 3e9) by binary digits
    assert index[:3].tolist() == [0, 1, 2] and weights[:3].tolist() == [1, 1, 2] and set(index[3:]) == {3}
    for policy in POLICIES:
        selection = select(criteria, policies={c.id: policy for c in criteria})
        assert funnel_counts(h, selection) == reference_funnel(h, selection)
