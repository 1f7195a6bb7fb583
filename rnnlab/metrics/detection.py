"""How well anomaly scores and flags match 0/1 labels: point-wise, point-adjusted, ranking, and the UCR check.

    precision = TP / (TP + FP),  recall = TP / (TP + FN),  F1 = 2 P R / (P + R)   (0 when undefined)

counted over points: a point is a true positive when it is flagged and labelled anomalous.

Point-adjusted (Xu et al. 2018, "Donut"; the `pa_` metrics): if any point of a labelled segment
(a maximal run of 1s) is flagged, every point of that segment counts as flagged; flags outside
segments are unchanged. It rewards finding an event at all; it is reported beside, never instead
of, the point-wise numbers, because it inflates them.

Average precision ranks all points by score (no threshold): AP = Σ_k (R_k − R_{k−1}) P_k over the
distinct scores, P_k and R_k the precision and recall of flagging every point scored at least the
k-th; tied points are one threshold (scikit-learn's `average_precision_score`). Without ties it is
Σ_k P@k · label_k / #anomalies.

Range-based precision and recall (Tatbul et al. 2018, "Precision and recall for time series";
the `range_` metrics) score segments, not points. With the labelled segments R_1..R_m and the
flagged ones P_1..P_n (maximal runs of flags):

    recall_T    = (1/m) Σ_i [α·1(R_i meets some P_j) + (1 − α)·γ(R_i)·Σ_j |R_i ∩ P_j| / |R_i|]
    precision_T = (1/n) Σ_j γ(P_j)·Σ_i |P_j ∩ R_i| / |P_j|

with flat positional bias and the reciprocal cardinality γ(S) = 1/(number of segments of the other
side that S meets), 1 when it meets at most one; α = 0 (no reward for mere existence) in both,
as aeon's `range_precision` and `range_recall` at their defaults. A detector that flags one
long run across several short anomalies, or many short runs inside one, is marked down, which
point-wise and point-adjusted counts do not do; they are 0 when nothing is flagged (precision)
or nothing is labelled (recall).

The UCR check (Wu & Keogh 2021, the KDD-21 UCR anomaly archive): the single highest-scoring point
is a hit when it lies within a labelled segment [b, e] widened by max(100, e − b + 1) points on each
side.
"""

from __future__ import annotations

import numpy as np

UCR_TOLERANCE = 100  # the archive's minimum slack, in points, on each side of the anomaly
# The metrics shown in tables (all of them are in the JSON), in this order.
METRIC_NAMES = ("precision", "recall", "f1", "pa_f1", "range_f1", "average_precision", "flagged", "ucr_hit",
                "top_index")


def _check(name: str, values: np.ndarray, length: int | None = None) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1 or (length is not None and len(values) != length):
        expected = "(N,)" if length is None else f"({length},)"
        raise ValueError(f"{name} must have shape {expected}; received {values.shape}")
    return values


def _labels(labels: np.ndarray, length: int) -> np.ndarray:
    labels = _check("labels", labels, length)
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1; received values {sorted(set(np.unique(labels).tolist()))[:5]}")
    return labels.astype(bool)


def segments(labels: np.ndarray) -> list[tuple[int, int]]:
    """The labelled segments: (begin, end) of each maximal run of 1s, both inclusive, in order."""
    labels = np.asarray(labels).astype(bool)
    edges = np.diff(np.concatenate([[0], labels.astype(np.int8), [0]]))
    begins, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(int(b), int(e)) for b, e in zip(begins, ends)]


def precision_recall_f1(flags: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Point-wise precision, recall and F1 of 0/1 `flags` against 0/1 `labels`, both (N,)."""
    flags = _check("flags", flags).astype(bool)
    labels = _labels(labels, len(flags))
    tp = int(np.sum(flags & labels))
    precision = tp / int(flags.sum()) if flags.any() else 0.0
    recall = tp / int(labels.sum()) if labels.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def point_adjust(flags: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """`flags` with every labelled segment that holds a flag flagged whole (bool, (N,))."""
    adjusted = _check("flags", flags).astype(bool).copy()
    labels = _labels(labels, len(adjusted))
    for begin, end in segments(labels):
        if adjusted[begin : end + 1].any():
            adjusted[begin : end + 1] = True
    return adjusted


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """AP of the ranking by `scores` (higher: more anomalous); 0 without anomalies.

        AP = Σ_k (R_k − R_{k−1}) P_k     over the distinct scores, highest first

    where P_k and R_k are the precision and recall of flagging every point scored at least the
    k-th distinct score: tied points are one threshold, flagged together (as scikit-learn's
    `average_precision_score`), so the order of tied points in time does not matter.
    """
    scores = _check("scores", scores)
    labels = _labels(labels, len(scores))
    if not labels.any():
        return 0.0
    order = np.argsort(-scores, kind="stable")
    ranked, ranked_scores = labels[order], scores[order]
    true_positives = np.cumsum(ranked)
    ends = np.r_[np.flatnonzero(np.diff(ranked_scores) != 0), len(ranked) - 1]  # the last point of each tie
    precision = true_positives[ends] / (ends + 1)
    recall = true_positives[ends] / true_positives[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def range_precision_recall(flags: np.ndarray, labels: np.ndarray, *, alpha: float = 0.0) -> dict[str, float]:
    """Range-based precision, recall and F1 of 0/1 `flags` against 0/1 `labels`, both (N,) (see above).

    Args:
        alpha: the recall's existence reward α in [0, 1] (precision has none).

    Returns:
        {"range_precision", "range_recall", "range_f1"}.
    """
    flags = _check("flags", flags).astype(bool)
    labels = _labels(labels, len(flags))
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1]; received {alpha!r}")
    real, predicted = segments(labels), segments(flags)
    precision = _range_mean(predicted, real, 0.0)
    recall = _range_mean(real, predicted, alpha)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"range_precision": precision, "range_recall": recall, "range_f1": f1}


def _range_mean(ranges: list[tuple[int, int]], others: list[tuple[int, int]], alpha: float) -> float:
    """(1/|ranges|) Σ_S [α·1(S meets others) + (1 − α)·γ(S)·Σ_o |S ∩ o| / |S|]; 0 without ranges."""
    if not ranges or not others:
        return 0.0
    begins = np.array([b for b, _ in others])
    ends = np.array([e for _, e in others])
    total = 0.0
    for begin, end in ranges:
        overlaps = np.minimum(ends, end) - np.maximum(begins, begin) + 1   # |S ∩ o| for every o (≤ 0: apart)
        overlaps = overlaps[overlaps > 0]
        if overlaps.size == 0:
            continue
        gamma = 1.0 / overlaps.size
        total += alpha + (1.0 - alpha) * gamma * overlaps.sum() / (end - begin + 1)
    return total / len(ranges)


def ucr_check(scores: np.ndarray, labels: np.ndarray, *, offset: int = 0) -> dict:
    """Whether the top-scoring point falls in a labelled segment, widened by the UCR tolerance.

    Args:
        scores: (N,) scores.
        labels: (N,) 0/1 labels.
        offset: added to the reported positions (the index of scores[0] in the whole series).

    Returns:
        {"top_index": position of the maximum score, "ucr_hit": bool, "anomaly": [begin, end] of
        the labelled segment nearest the top point (None without one)}.
    """
    scores = _check("scores", scores)
    if len(scores) == 0:
        raise ValueError("scores must hold at least one point; received none")
    labels = _labels(labels, len(scores))
    top = int(np.argmax(scores))
    found = segments(labels)
    if not found:
        return {"top_index": top + offset, "ucr_hit": False, "anomaly": None}
    begin, end = min(found, key=lambda seg: max(seg[0] - top, top - seg[1], 0))
    slack = max(UCR_TOLERANCE, end - begin + 1)
    return {"top_index": top + offset, "ucr_hit": bool(begin - slack <= top <= end + slack),
            "anomaly": [begin + offset, end + offset]}


def detection_metrics(scores: np.ndarray, flags: np.ndarray, labels: np.ndarray | None, *, offset: int = 0) -> dict:
    """Every metric above for one detector on one span, as a JSON-ready dict.

    Without labels only what needs none is reported: the number of flagged points and the top
    point's position.
    """
    scores, flags = _check("scores", scores), _check("flags", flags, len(scores)).astype(bool)
    if labels is None:
        return {"flagged": int(flags.sum()), "top_index": int(np.argmax(scores)) + offset}
    point = precision_recall_f1(flags, labels)
    adjusted = precision_recall_f1(point_adjust(flags, labels), labels)
    return {**point, **{f"pa_{name}": value for name, value in adjusted.items()},
            **range_precision_recall(flags, labels), "average_precision": average_precision(scores, labels),
            "flagged": int(flags.sum()),
            **ucr_check(scores, labels, offset=offset)}


def format_metrics(metrics: dict[str, dict]) -> list[str]:
    """Text table rows: a header of `METRIC_NAMES` (those present), then one row per detector."""
    names = [name for name in METRIC_NAMES if name in next(iter(metrics.values()))]
    widths = [max(len(name), 9) + 1 for name in names]
    rows = [f"{'':8}" + "".join(f"{name:>{width}}" for name, width in zip(names, widths))]
    for detector, values in metrics.items():
        cells = [str(values[n]) if isinstance(values[n], (bool, int)) else f"{values[n]:.4g}" for n in names]
        rows.append(f"{detector:8}" + "".join(f"{cell:>{width}}" for cell, width in zip(cells, widths)))
    return rows


__all__ = ["UCR_TOLERANCE", "METRIC_NAMES", "format_metrics", "segments", "precision_recall_f1", "point_adjust",
           "average_precision", "range_precision_recall", "ucr_check", "detection_metrics"]
