"""Point-wise, point-adjusted and ranking metrics of anomaly flags, and the UCR archive's check."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.metrics.detection import (average_precision, detection_metrics, format_metrics, point_adjust,
                                          precision_recall_f1, range_precision_recall, segments, ucr_check)


def test_segments_are_maximal_runs_of_ones():
    assert segments(np.array([1, 1, 0, 0, 1, 0, 1, 1, 1])) == [(0, 1), (4, 4), (6, 8)]
    assert segments(np.zeros(5)) == []


def test_precision_recall_f1_count_points():
    labels = np.array([0, 0, 1, 1, 1, 1, 0, 0])
    flags = np.array([1, 0, 1, 1, 0, 0, 0, 0])                      # 2 TP, 1 FP, 2 FN
    result = precision_recall_f1(flags, labels)
    assert result["precision"] == pytest.approx(2 / 3) and result["recall"] == pytest.approx(0.5)
    assert result["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert precision_recall_f1(np.zeros(8), labels) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        precision_recall_f1(flags, labels * 2)


def test_point_adjust_completes_found_segments_only():
    labels = np.array([0, 1, 1, 1, 0, 1, 1, 0])
    flags = np.array([1, 0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(point_adjust(flags, labels), [1, 1, 1, 1, 0, 0, 0, 0])


def test_range_metrics_share_credit_by_overlap_and_penalise_fragmentation():
    labels = np.array([0, 1, 1, 1, 1, 0, 0, 1, 1, 0])            # R1 = [1, 4], R2 = [7, 8]
    # one flagged run [3, 8] covering half of R1 and all of R2: it meets two segments (γ = 1/2)
    flags = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 0])
    result = range_precision_recall(flags, labels)
    assert result["range_precision"] == pytest.approx(0.5 * (2 + 2) / 6)            # γ (|∩R1| + |∩R2|) / |P|
    assert result["range_recall"] == pytest.approx((2 / 4 + 2 / 2) / 2)             # each R meets one P
    # R1 found as two fragments [1, 1] and [3, 4]: recall of R1 is γ = 1/2 of the 3/4 covered
    fragments = np.array([0, 1, 0, 1, 1, 0, 0, 0, 0, 0])
    split = range_precision_recall(fragments, labels)
    assert split["range_recall"] == pytest.approx((0.5 * 3 / 4 + 0.0) / 2)
    assert split["range_precision"] == pytest.approx(1.0)                           # both fragments inside R1
    existence = range_precision_recall(fragments, labels, alpha=1.0)                 # existence alone: R1 met
    assert existence["range_recall"] == pytest.approx(0.5)
    assert range_precision_recall(np.zeros(10), labels) == {"range_precision": 0.0, "range_recall": 0.0,
                                                               "range_f1": 0.0}
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]; received 2"):
        range_precision_recall(flags, labels, alpha=2)


def test_range_metrics_equal_aeon_on_random_flags():
    metrics = pytest.importorskip("aeon.benchmarking.metrics.anomaly_detection")
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(5, 50))
        labels = (rng.random(n) < rng.uniform(0.1, 0.5)).astype(int)
        flags = (rng.random(n) < rng.uniform(0.1, 0.5)).astype(int)
        if not labels.any() or not flags.any():
            continue
        alpha = float(rng.choice([0.0, 0.5]))
        ours = range_precision_recall(flags, labels, alpha=alpha)
        assert ours["range_precision"] == pytest.approx(metrics.range_precision(labels, flags))
        assert ours["range_recall"] == pytest.approx(metrics.range_recall(labels, flags, alpha=alpha))


def test_average_precision_rewards_ranking_anomalies_first():
    labels = np.array([0, 1, 0, 1])
    assert average_precision(np.array([0.1, 0.9, 0.2, 0.8]), labels) == pytest.approx(1.0)
    # ranks: 0.9 (0), 0.8 (1), 0.7 (1) -> precisions 1/2 and 2/3 at the hits
    assert average_precision(np.array([0.9, 0.8, 0.1, 0.7]), labels) == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert average_precision(np.ones(4), np.zeros(4)) == 0.0


def test_tied_scores_are_one_threshold_whatever_their_order_in_time():
    # all four tied: one threshold flags everything, precision 2/4 at recall 1
    assert average_precision(np.ones(4), np.array([1, 0, 0, 1])) == pytest.approx(0.5)
    assert average_precision(np.ones(4), np.array([0, 1, 1, 0])) == pytest.approx(0.5)
    # 0.9 (hit), then 0.5 tied over a hit and a miss: (1/2)·1 + (1/2)·(2/3)
    labels = np.array([1, 0, 1, 0])
    for scores in ([0.9, 0.5, 0.5, 0.1], [0.9, 0.1, 0.5, 0.5]):  # the miss before or after the hit in time
        assert average_precision(np.array(scores), labels) == pytest.approx(0.5 * 1 + 0.5 * (2 / 3))


def test_average_precision_equals_scikit_learn_with_and_without_ties():
    metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn is the oracle here: pip install scikit-learn")
    generator = np.random.default_rng(0)
    for trial in range(50):
        labels = (generator.random(40) < 0.2).astype(int)
        labels[trial % 40] = 1
        scores = generator.integers(0, 4 if trial % 2 else 1000, size=40).astype(float)  # odd trials: many ties
        assert average_precision(scores, labels) == pytest.approx(metrics.average_precision_score(labels, scores))


@pytest.mark.parametrize("top, hit", [(500, True), (400, True), (399, False), (611, True), (612, False)])
def test_ucr_check_widens_the_anomaly_by_100_points(top, hit):
    labels = np.zeros(1000, dtype=int)
    labels[500:512] = 1                                              # 12 points: slack max(100, 12) = 100
    scores = np.zeros(1000)
    scores[top] = 1.0
    assert ucr_check(scores, labels) == {"top_index": top, "ucr_hit": hit, "anomaly": [500, 511]}


def test_ucr_check_slack_grows_with_a_long_anomaly_and_positions_take_the_offset():
    labels = np.zeros(1000, dtype=int)
    labels[300:450] = 1                                              # 150 points: slack 150
    scores = np.zeros(1000)
    scores[599] = 1.0
    assert ucr_check(scores, labels, offset=1000) == {"top_index": 1599, "ucr_hit": True, "anomaly": [1300, 1449]}
    scores[599], scores[601] = 0.0, 1.0
    assert not ucr_check(scores, labels)["ucr_hit"]


def test_detection_metrics_with_and_without_labels():
    labels = np.array([0, 0, 1, 1, 0])
    scores = np.array([0.1, 0.2, 3.0, 0.5, 0.1])
    flags = scores > 1.0
    result = detection_metrics(scores, flags, labels, offset=10)
    assert result["precision"] == 1.0 and result["recall"] == 0.5 and result["pa_recall"] == 1.0
    assert result["top_index"] == 12 and result["ucr_hit"] and result["flagged"] == 1
    assert result["range_precision"] == 1.0 and result["range_recall"] == 0.5     # one run, half the segment
    assert detection_metrics(scores, flags, None) == {"flagged": 1, "top_index": 2}
    lines = format_metrics({"model": result, "naive": result})
    assert lines[0].split() == ["precision", "recall", "f1", "pa_f1", "range_f1", "average_precision", "flagged",
                                "ucr_hit", "top_index"]
    assert lines[1].split()[0] == "model" and lines[1].split()[-2:] == ["True", "12"]
