"""Classification metrics on small cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.metrics.classification import (
    accuracy,
    balanced_accuracy,
    classification_metrics,
    confusion_matrix,
    f1_score,
    macro_f1,
    majority_baseline,
    majority_class,
    metrics_table,
    per_class_scores,
)

# Three classes. By hand: the confusion matrix (rows true a, b, c; columns predicted) is
# [[2, 1, 0], [0, 1, 1], [0, 0, 1]]; 4 of 6 are right.
ACTUAL = ["a", "a", "a", "b", "b", "c"]
PREDICTED = ["a", "b", "a", "b", "c", "c"]


def test_accuracy_and_confusion_matrix_by_hand():
    assert accuracy(ACTUAL, PREDICTED) == pytest.approx(4 / 6)
    matrix = confusion_matrix(ACTUAL, PREDICTED, ["a", "b", "c"])
    np.testing.assert_array_equal(matrix, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
    assert matrix.dtype == np.int64


def test_confusion_matrix_follows_the_given_label_order_and_keeps_absent_classes():
    matrix = confusion_matrix(ACTUAL, PREDICTED, ["c", "b", "a", "d"])
    np.testing.assert_array_equal(matrix, [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 2, 0], [0, 0, 0, 0]])


def test_per_class_precision_recall_f1_by_hand():
    scores = per_class_scores(ACTUAL, PREDICTED)
    assert list(scores) == ["a", "b", "c"]
    # a: tp 2, 2 predicted, 3 true. b: tp 1, 2 predicted, 2 true. c: tp 1, 2 predicted, 1 true.
    expected = {"a": (1.0, 2 / 3, 0.8, 3), "b": (0.5, 0.5, 0.5, 2), "c": (0.5, 1.0, 2 / 3, 1)}
    for label, (precision, recall, f1, support) in expected.items():
        assert scores[label]["precision"] == pytest.approx(precision)
        assert scores[label]["recall"] == pytest.approx(recall)
        assert scores[label]["f1"] == pytest.approx(f1)
        assert scores[label]["support"] == support


def test_macro_f1_binary_f1_and_balanced_accuracy_by_hand():
    assert macro_f1(ACTUAL, PREDICTED) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert f1_score(ACTUAL, PREDICTED, positive="a") == pytest.approx(0.8)
    assert f1_score(ACTUAL, PREDICTED, positive="c") == pytest.approx(2 / 3)
    assert balanced_accuracy(ACTUAL, PREDICTED) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)


def test_a_class_never_predicted_scores_zero_not_nan():
    actual, predicted = ["pos", "pos", "neg"], ["neg", "neg", "neg"]
    scores = per_class_scores(actual, predicted)
    assert scores["pos"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert scores["neg"]["f1"] == pytest.approx(2 * 1 / (1 + 3))
    assert f1_score(actual, predicted, positive="absent") == 0.0
    assert balanced_accuracy(actual, predicted) == pytest.approx(0.5)  # a constant guess among 2 classes


def test_integer_labels_work_as_strings_do():
    assert accuracy(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2])) == pytest.approx(0.75)
    np.testing.assert_array_equal(confusion_matrix([1, 0], [0, 0], [0, 1]), [[1, 0], [1, 0]])


def test_majority_class_and_its_baseline():
    assert majority_class(["x", "y", "y", "z"]) == "y"
    assert majority_class(["b", "a", "b", "a"]) == "a"  # a tie goes to the label that sorts first
    baseline = majority_baseline(["x", "y", "y"], 4)
    assert baseline.tolist() == ["y"] * 4
    assert accuracy(["y", "x", "y", "y"], baseline) == pytest.approx(0.75)
    assert majority_baseline(["x"], 0).shape == (0,)


def test_classification_metrics_is_json_ready_and_consistent():
    import json

    result = classification_metrics(ACTUAL, PREDICTED, ["a", "b", "c"])
    assert json.loads(json.dumps(result)) == result
    assert result["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["macro_f1"] == pytest.approx(macro_f1(ACTUAL, PREDICTED))
    assert result["per_class"]["a"]["f1"] == pytest.approx(0.8)


def test_metrics_table_has_a_row_per_classifier_and_a_column_per_class():
    metrics = {"model": classification_metrics(ACTUAL, PREDICTED, ["a", "b", "c"]),
               "majority": classification_metrics(ACTUAL, ["a"] * 6, ["a", "b", "c"])}
    header, model, majority = metrics_table(metrics, ["a", "b", "c"]).splitlines()
    assert header.split() == ["accuracy", "balanced", "macro", "F1", "F1", "a", "F1", "b", "F1", "c"]
    assert model.split() == ["model", "0.6667", "0.7222", "0.6556", "0.8000", "0.5000", "0.6667"]
    assert majority.split()[:2] == ["majority", "0.5000"]


@pytest.mark.parametrize("call, message", [
    (lambda: accuracy(["a"], ["a", "b"]), "same length"),
    (lambda: accuracy([], []), "must not be empty"),
    (lambda: confusion_matrix(["a", "q"], ["a", "a"], ["a", "b"]), "['q']"),
    (lambda: confusion_matrix(["a"], ["a"], ["a", "a"]), "without repeats"),
    (lambda: majority_class([]), "must not be empty"),
    (lambda: majority_baseline(["a"], -1), "non-negative"),
])
def test_bad_arguments_name_the_problem(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value)
