"""Non-interpolated average precision with tied scores: the expected value over all orders of each tie.

The one AP function of the package: GAP, mAP and the per-class report all call
:func:`expected_average_precision`. Definitions and the derivation are in ``docs/metrics.md``.

Google's ``average_precision_calculator.ap_at_n`` ranks a list by score and sums, over the positives in the
first n ranks, ``(positives at or above) / rank``, divided by ``min(total_positives, n)``. Entries with equal
scores are ordered by a seeded shuffle, so on ties its value depends on the order in which the data arrived.
Here each group of tied entries is ordered uniformly at random and the *expected* sum is taken
(McSherry & Najork, "Computing information retrieval performance measures efficiently in the presence of
tied scores", ECIR 2008). For a tie group of ``t`` entries, ``r`` of them positive, that starts after ``i``
entries of which ``c`` are positive, and of which the first ``m = min(t, n - i)`` ranks are inside the
cut-off, the expected sum of precisions at its positives is

    sum_{j=1..m} (r / t) * (c + 1 + (j - 1) * (r - 1) / (t - 1)) / (i + j)        [(r-1)/(t-1) := 0 if t = 1]

(slot j holds a positive with probability r/t; given that, each of the j - 1 slots before it holds one of
the other r - 1 positives with probability (r - 1)/(t - 1)). It equals the deterministic sum when the group
is all positive or all negative, so the result equals ``ap_at_n`` whenever that is independent of the order
of ties, and it depends only on the multiset of (group, score, hit) entries: not on their order, chunking
or the number of processes that gathered them.
"""
from __future__ import annotations

import numpy as np

__all__ = ["expected_average_precision"]


def expected_average_precision(scores: np.ndarray, hits: np.ndarray,
                               total_positives: float | np.ndarray,
                               groups: np.ndarray | None = None, num_groups: int = 1,
                               n: int | None = None, score_order: np.ndarray | None = None) -> np.ndarray:
    """Average precision of one or several ranked lists, expected over all orders of tied scores.

    Args:
        scores: float [M] scores of the entries, any order (compared as float32, the metric state's dtype).
        hits: [M] bool or 0/1 labels; a value > 0 is a positive.
        total_positives: normaliser (Google's ``num_positives``): a number for one list, or float/int [G],
            one per group. Positives outside the list count here (e.g. labels that never reach a top-k).
        groups: optional int [M] in ``[0, num_groups)``: the list (class) of each entry. None: one list.
        num_groups: G, the number of lists.
        n: optional cut-off: only the first n ranks of each list count and the normaliser becomes
            ``min(total_positives, n)`` (Google's ``ap_at_n(..., n)``). None: the whole list.
        score_order: ``np.argsort(-scores, kind="stable")`` if the caller already has it (GAP and mAP share
            one sort); it is not checked.

    Returns:
        float64 [G]: the expected AP of each list; 0.0 for a list whose normaliser is 0.

    Raises:
        ValueError: ``scores`` and ``hits`` (or ``groups``) differ in size, ``total_positives`` has neither
            one nor G values or is negative, a group id is outside ``[0, num_groups)``, or ``n < 1``.

    Source: ``average_precision_calculator.ap_at_n`` (google/youtube-8m) with the tie rule of McSherry &
    Najork (ECIR 2008); formula and edge cases in ``docs/metrics.md``.
    """
    s = np.asarray(scores, dtype=np.float32).reshape(-1)
    h = np.asarray(hits).reshape(-1)
    h = h if h.dtype == np.bool_ else h > 0
    if s.size != h.size:
        raise ValueError(f"scores and hits must have one size, got {s.size} and {h.size}")
    if n is not None and (int(n) != n or n < 1):
        raise ValueError(f"the cut-off n must be None or a positive integer, got {n}")
    num_groups = int(num_groups) if groups is not None else 1
    if num_groups < 1:
        raise ValueError(f"num_groups must be >= 1, got {num_groups}")
    pos_total = np.asarray(total_positives, dtype=np.float64).reshape(-1)
    if pos_total.size not in (1, num_groups):
        raise ValueError(f"total_positives must have 1 or {num_groups} values, got {pos_total.size}")
    pos_total = np.broadcast_to(pos_total, (num_groups,))
    if np.any(pos_total < 0):
        raise ValueError("total_positives must not be negative")
    g = None
    if groups is not None:
        g = np.asarray(groups).reshape(-1)
        if g.size != s.size:
            raise ValueError(f"groups and scores must have one size, got {g.size} and {s.size}")
        if g.size and (g.min() < 0 or g.max() >= num_groups):
            raise ValueError(f"group ids must lie in [0, {num_groups}), got {g.min()}..{g.max()}")
    sums = _expected_precision_sums(s, h, g, num_groups, n, score_order)
    denom = pos_total if n is None else np.minimum(pos_total, float(n))
    return np.divide(sums, denom, out=np.zeros(num_groups), where=denom > 0)


def _expected_precision_sums(s: np.ndarray, h: np.ndarray, g: np.ndarray | None, num_groups: int,
                             n: int | None, score_order: np.ndarray | None) -> np.ndarray:
    """Per group, the expected sum over its positives within the cut-off of (positives so far) / rank.

    Sorts by (group, descending score) with one stable argsort by score and, for groups, a stable argsort
    by an int16 group key (a radix sort); only the tie runs that hold a positive are expanded.
    """
    size = s.size
    if size == 0 or not h.any():
        return np.zeros(num_groups, dtype=np.float64)
    order = np.argsort(-s, kind="stable") if score_order is None else score_order
    if g is not None and num_groups > 1:
        key = g[order].astype(np.int16 if num_groups < 2 ** 15 else np.int64)
        order = order[np.argsort(key, kind="stable")]
        del key
        g = g[order]
    else:
        g = None
    s, h = s[order], h[order]
    del order
    pos = np.flatnonzero(h)                              # positives, in ranked order
    del h
    new_run = np.empty(size, dtype=bool)                 # a tie run: one group, one score
    new_run[0] = True
    np.not_equal(s[1:], s[:-1], out=new_run[1:])
    del s
    if g is not None:
        new_run[1:] |= g[1:] != g[:-1]
    run_starts = np.flatnonzero(new_run)
    del new_run
    run_of_pos = np.searchsorted(run_starts, pos, side="right") - 1
    first = np.ones(run_of_pos.size, dtype=bool)
    np.not_equal(run_of_pos[1:], run_of_pos[:-1], out=first[1:])
    runs = run_of_pos[first]                             # runs with at least one positive
    r = np.diff(np.append(np.flatnonzero(first), run_of_pos.size)).astype(np.float64)   # positives per run
    start = run_starts[runs]
    end = np.where(runs + 1 < run_starts.size, run_starts[np.minimum(runs + 1, run_starts.size - 1)], size)
    del run_starts, run_of_pos, first
    if g is not None:
        group = g[start].astype(np.int64)
        group_start = np.searchsorted(g, np.arange(num_groups))[group]
    else:
        group = np.zeros(start.size, dtype=np.int64)
        group_start = np.zeros(start.size, dtype=np.int64)
    i = start - group_start                              # entries of the list ranked above the run
    c = (np.searchsorted(pos, start) - np.searchsorted(pos, group_start)).astype(np.float64)  # positives above
    t = end - start                                      # run size
    m = t if n is None else np.clip(int(n) - i, 0, t)    # ranks of the run inside the cut-off
    sums = np.zeros(num_groups, dtype=np.float64)
    single = (t == 1) & (m == 1)                         # untied positive: (c + 1) / (i + 1)
    sums += np.bincount(group[single], weights=(c[single] + 1.0) / (i[single] + 1.0), minlength=num_groups)
    multi = np.flatnonzero((t > 1) & (m > 0))
    if multi.size:
        mm = m[multi]
        run = np.repeat(np.arange(multi.size), mm)       # one row per rank j of every multi-entry run
        j = np.arange(run.size) - np.repeat(np.cumsum(mm) - mm, mm) + 1
        rr, tt = r[multi], t[multi].astype(np.float64)
        q = np.where(rr > 1, (rr - 1) / np.maximum(tt - 1, 1), 0.0)
        term = (rr / tt)[run] * (c[multi][run] + 1.0 + (j - 1) * q[run]) / (i[multi][run] + j)
        sums += np.bincount(group[multi][run], weights=term, minlength=num_groups)
    return sums
