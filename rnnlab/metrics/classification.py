"""Classification metrics and the majority-class baseline: label arrays in, floats out.

`actual` and `predicted` are 1-D arrays (or lists) of the same length holding class labels of any
hashable kind (strings, integers). Where a metric is computed over a list of classes, `labels`
gives that list and its order (the rows and columns of the confusion matrix, the per-class
entries); by default it is the sorted union of the labels that occur.

With n_k the number of examples whose true class is k, p_k the number predicted as k, and tp_k the
number that are both:

    precision_k = tp_k / p_k        recall_k = tp_k / n_k
    F1_k        = 2 · precision_k · recall_k / (precision_k + recall_k) = 2 tp_k / (n_k + p_k)
    macro F1    = mean over the K classes of F1_k
    balanced accuracy = mean over the classes that occur in `actual` of recall_k

A ratio whose denominator is 0 (a class never predicted, never present) is 0, as scikit-learn's
`zero_division=0`: a class the classifier never predicts earns no precision, and a score is never nan.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np


def _pair(actual, predicted) -> tuple[np.ndarray, np.ndarray]:
    """Both label arrays as 1-D numpy arrays, checked to be non-empty and of the same length."""
    actual, predicted = np.asarray(actual), np.asarray(predicted)
    if actual.ndim != 1 or predicted.ndim != 1 or actual.shape != predicted.shape:
        raise ValueError(f"actual and predicted must be 1-D of the same length; received shapes {actual.shape} "
                         f"and {predicted.shape}")
    if actual.size == 0:
        raise ValueError("actual must not be empty; received 0 labels")
    return actual, predicted


def _labels(actual: np.ndarray, predicted: np.ndarray, labels: Sequence | None) -> list:
    """`labels` as a list (checked to have no repeats), or the sorted labels that occur."""
    if labels is None:
        return sorted(set(actual.tolist()) | set(predicted.tolist()))
    labels = list(labels)
    if not labels or len(set(labels)) != len(labels):
        raise ValueError(f"labels must be a non-empty list without repeats; received {labels!r}")
    return labels


def accuracy(actual, predicted) -> float:
    """The share of examples whose predicted label equals the actual one, in [0, 1]."""
    actual, predicted = _pair(actual, predicted)
    return float(np.mean(actual == predicted))


def confusion_matrix(actual, predicted, labels: Sequence | None = None) -> np.ndarray:
    """Counts of (actual, predicted) pairs: row i is the true class labels[i], column j the predicted labels[j].

    Args:
        actual, predicted: (N,) labels.
        labels: the classes, in the order of the rows and columns (default: the sorted labels
            that occur).

    Returns:
        (K, K) int64 array; its sum is N and its diagonal holds the correct predictions.

    Raises:
        ValueError: if a label in `actual` or `predicted` is not in `labels` (naming it).
    """
    actual, predicted = _pair(actual, predicted)
    labels = _labels(actual, predicted, labels)
    position = {label: index for index, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for name, values in (("actual", actual), ("predicted", predicted)):
        unknown = sorted({str(v) for v in values.tolist() if v not in position})
        if unknown:
            raise ValueError(f"{name} holds labels {unknown} that are not in labels {labels!r}")
    for true, guess in zip(actual.tolist(), predicted.tolist()):
        matrix[position[true], position[guess]] += 1
    return matrix


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def per_class_scores(actual, predicted, labels: Sequence | None = None) -> dict:
    """Precision, recall, F1 and support (n_k) of each class.

    Args:
        actual, predicted: (N,) labels.
        labels: the classes to score, in order (default: the sorted labels that occur).

    Returns:
        {label: {"precision": float, "recall": float, "f1": float, "support": int}}, in the order
        of `labels`.
    """
    actual, predicted = _pair(actual, predicted)
    labels = _labels(actual, predicted, labels)
    matrix = confusion_matrix(actual, predicted, labels)  # (K, K)
    scores = {}
    for k, label in enumerate(labels):
        tp, n_k, p_k = matrix[k, k], matrix[k].sum(), matrix[:, k].sum()
        scores[label] = {"precision": _ratio(tp, p_k), "recall": _ratio(tp, n_k),
                         "f1": _ratio(2 * tp, n_k + p_k), "support": int(n_k)}
    return scores


def f1_score(actual, predicted, positive) -> float:
    """Binary F1 of the class `positive`: 2 tp / (n_positive + p_positive), 0 if neither occurs."""
    actual, predicted = _pair(actual, predicted)
    tp = np.sum((actual == positive) & (predicted == positive))
    return _ratio(2 * tp, np.sum(actual == positive) + np.sum(predicted == positive))


def macro_f1(actual, predicted, labels: Sequence | None = None) -> float:
    """The unweighted mean of the per-class F1 over `labels` (default: the labels that occur)."""
    scores = per_class_scores(actual, predicted, labels)
    return float(np.mean([score["f1"] for score in scores.values()]))


def balanced_accuracy(actual, predicted) -> float:
    """The mean recall over the classes present in `actual`: 1/K for a constant guess among K classes."""
    actual, predicted = _pair(actual, predicted)
    present = sorted(set(actual.tolist()))
    return float(np.mean([np.mean(predicted[actual == label] == label) for label in present]))


def majority_class(train_labels):
    """The most frequent label of `train_labels`; ties go to the label that sorts first.

    Raises:
        ValueError: if `train_labels` is empty.
    """
    counts = Counter(np.asarray(train_labels).tolist())
    if not counts:
        raise ValueError("train_labels must not be empty; received 0 labels")
    top = max(counts.values())
    return min(label for label, count in counts.items() if count == top)


def majority_baseline(train_labels, size: int) -> np.ndarray:
    """The majority-class baseline's predictions for `size` examples: `majority_class(train_labels)` each.

    Returns:
        (size,) array of that label.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
        raise ValueError(f"size must be a non-negative integer; received {size!r}")
    return np.asarray([majority_class(train_labels)] * int(size))


def classification_metrics(actual, predicted, labels: Sequence) -> dict:
    """The JSON-ready summary a classification run reports.

    Args:
        actual, predicted: (N,) labels, all of them in `labels`.
        labels: the classes, in the order of the confusion matrix and the per-class entries.

    Returns:
        {"accuracy", "balanced_accuracy", "macro_f1": floats, "per_class": `per_class_scores`
        keyed by str(label), "confusion_matrix": K lists of K ints (rows actual, columns predicted)}.
    """
    labels = list(labels)
    matrix = confusion_matrix(actual, predicted, labels)
    scores = per_class_scores(actual, predicted, labels)
    return {"accuracy": accuracy(actual, predicted), "balanced_accuracy": balanced_accuracy(actual, predicted),
            "macro_f1": float(np.mean([s["f1"] for s in scores.values()])),
            "per_class": {str(label): score for label, score in scores.items()},
            "confusion_matrix": matrix.tolist()}


def metrics_table(metrics: dict, labels: Sequence) -> str:
    """Plain text, one row per classifier: accuracy, balanced accuracy, macro F1 and the F1 of each class.

    Args:
        metrics: {classifier name: `classification_metrics` result}.
        labels: the classes whose F1 to show, in order.
    """
    names = ["accuracy", "balanced", "macro F1", *(f"F1 {label}" for label in labels)]
    widths = [max(10, len(name) + 2) for name in names]
    lines = [f"{'':12}" + "".join(f"{name:>{width}}" for name, width in zip(names, widths))]
    for classifier, values in metrics.items():
        numbers = [values["accuracy"], values["balanced_accuracy"], values["macro_f1"],
                   *(values["per_class"][str(label)]["f1"] for label in labels)]
        lines.append(f"{classifier:12}" + "".join(f"{v:>{width}.4f}" for v, width in zip(numbers, widths)))
    return "\n".join(lines)
