"""Reference average precision written from the definitions, shared by the metric and report tests.

* :func:`google_ap_at_n`: a loop port of ``average_precision_calculator.ap_at_n`` (google/youtube-8m): shuffle
  with seed 0, stable sort by descending score, sum (positives so far) / rank over the positives of the first
  n ranks, divide by ``min(total_positives, n)``.
* :func:`brute_force_ap`: the mean of that sum over *every* order of every tie group (all permutations
  enumerated), i.e. the expected AP the package defines (docs/metrics.md), computed without its formula.
"""
from __future__ import annotations

import itertools
import random


def ap_of_ranking(hits_in_rank_order, total_positives, n=None):
    """Google's AP sum over one fixed ranking (the loop inside ``ap_at_n``)."""
    if total_positives == 0:
        return 0.0
    numpos = total_positives if n is None else min(total_positives, n)
    ranks = len(hits_in_rank_order) if n is None else min(len(hits_in_rank_order), n)
    ap, poscount = 0.0, 0
    for i in range(ranks):
        if hits_in_rank_order[i] > 0:
            poscount += 1
            ap += poscount / (i + 1) / numpos
    return ap


def google_ap_at_n(predictions, actuals, n=None, total_num_positives=None):
    """``ap_at_n`` step by step: seeded shuffle, stable descending sort, then the AP loop."""
    shuffled = random.Random(0).sample(range(len(predictions)), len(predictions))
    predictions = [predictions[i] for i in shuffled]
    actuals = [actuals[i] for i in shuffled]
    sortidx = sorted(range(len(predictions)), key=lambda k: predictions[k], reverse=True)
    numpos = sum(1 for a in actuals if a > 0) if total_num_positives is None else total_num_positives
    return ap_of_ranking([actuals[i] for i in sortidx], numpos, n)


def brute_force_ap(scores, hits, total_positives, n=None):
    """Mean of ``ap_of_ranking`` over all orders of all tie groups (scores distinct across groups)."""
    groups = [[h for s, h in zip(scores, hits) if s == v] for v in sorted(set(scores), reverse=True)]
    total, count = 0.0, 0
    for combo in itertools.product(*[list(itertools.permutations(g)) for g in groups]):
        total += ap_of_ranking([h for g in combo for h in g], total_positives, n)
        count += 1
    return total / count
