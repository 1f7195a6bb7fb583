"""rnnlab's metrics against the libraries people compare them with: sacrebleu and scikit-learn.

The hand-worked tests beside this file pin each definition on cases small enough to check by eye;
here the same functions meet an independent implementation on fixed edge cases and on seeded
random inputs, where a slip in clipping, the brevity penalty, an empty sentence, a reference too
short for an order, a class never predicted or tied scores would show as a different number.

    corpus_bleu          sacrebleu BLEU, tokenize="none" on the tokens joined by spaces (rnnlab
                         scores token lists, so no tokeniser of sacrebleu's may re-split them),
                         lowercase=False, effective_order=False, smooth_method "none" or
                         "add-k" with smooth_value=1 for smooth=True, max_ngram_order=max_order
    chrf                 sacrebleu CHRF, word_order=0 (chrF, not chrF++), whitespace=False,
                         eps_smoothing=False (the mean over the orders both sides have), char_order
                         and beta as given
    classification       scikit-learn with zero_division=0 (rnnlab's documented choice)
    detection            scikit-learn's binary precision/recall/F1 (pos_label=1) and average precision

Each library is imported with importorskip in the tests that need it, so without it they skip and
say why. Tolerance: 1e-9 on BLEU's and chrF's 0-100 scale, 1e-12 on the 0-1 scale of the others.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rnnlab.metrics.classification import (accuracy, balanced_accuracy, classification_metrics, confusion_matrix,
                                           f1_score, macro_f1, majority_baseline, majority_class, per_class_scores)
from rnnlab.metrics.detection import average_precision, detection_metrics, precision_recall_f1
from rnnlab.metrics.translation import chrf, corpus_bleu


def _sacrebleu():
    return pytest.importorskip("sacrebleu.metrics", reason="sacrebleu is the oracle here: pip install sacrebleu")


def _sklearn():
    return pytest.importorskip("sklearn.metrics", reason="scikit-learn is the oracle here: pip install scikit-learn")


# ---------------------------------------------------------------------------------------------- BLEU


def sacre_bleu(hypotheses, references, *, max_order=4, smooth=False):
    """sacrebleu's corpus BLEU of token lists under rnnlab's definition (see the module docstring)."""
    metrics = _sacrebleu()
    bleu = metrics.BLEU(tokenize="none", lowercase=False, effective_order=False, max_ngram_order=max_order,
                        smooth_method="add-k" if smooth else "none", smooth_value=1 if smooth else None)
    return bleu.corpus_score([" ".join(h) for h in hypotheses], [[" ".join(r) for r in references]]).score


CAT = "the cat sat on the mat".split()
REF = "the cat is on the mat".split()
BLEU_CASES = {
    "identical": ([CAT, REF], [CAT, REF]),
    "one_word_changed": ([CAT], [REF]),                                    # no 4-gram match: 0 unless smoothed
    "clipped_repeats": ([["the"] * 4, ["on"] * 7], [CAT, REF]),
    "shorter_than_reference": ([CAT[:4], REF[1:]], [CAT, REF]),           # brevity penalty e^(1 - 12/9)
    "longer_than_reference": ([CAT + ["again"], REF + ["now", "too"]], [CAT, REF]),
    "lengths_even_out_over_the_corpus": ([CAT[:3], REF + REF[:3]], [CAT, REF]),  # c = r: BP 1, per sentence not
    "empty_hypothesis": ([[], CAT], [REF, CAT]),
    "all_hypotheses_empty": ([[], []], [CAT, REF]),
    "no_shared_token": ([["x", "y", "z", "w"]], [CAT]),
    "shorter_than_the_order": ([["the"], ["cat", "is"]], [CAT, REF]),       # no 3-grams at all in the hypotheses
    "empty_reference": ([CAT, REF], [[], REF]),
    "punctuation_tokens": ([["¡", "hola", ",", "mundo", "!"]], [["¡", "hola", "mundo", "!"]]),
}


@pytest.mark.parametrize("smooth", [False, True], ids=["unsmoothed", "add_one"])
@pytest.mark.parametrize("max_order", [1, 2, 4])
@pytest.mark.parametrize("case", BLEU_CASES)
def test_bleu_equals_sacrebleu_on_fixed_cases(case, max_order, smooth):
    hypotheses, references = BLEU_CASES[case]
    expected = sacre_bleu(hypotheses, references, max_order=max_order, smooth=smooth)
    assert corpus_bleu(hypotheses, references, max_order=max_order, smooth=smooth) == pytest.approx(expected, abs=1e-9)


def draw(generator, items, most):
    """0 to `most` items drawn at random, with repeats."""
    return [items[i] for i in generator.integers(0, len(items), size=int(generator.integers(0, most + 1)))]


def random_token_corpus(generator, vocabulary):
    """1-6 (hypothesis, reference) pairs of 0-9 tokens: edits of the reference, so high orders match too."""
    hypotheses, references = [], []
    for _ in range(int(generator.integers(1, 7))):
        reference = draw(generator, vocabulary, 9)
        kind = generator.integers(0, 5)
        if kind == 0:    # unrelated tokens (often no match of some order)
            hypothesis = draw(generator, vocabulary, 9)
        elif kind == 1:  # a prefix: shorter than its reference
            hypothesis = reference[: int(generator.integers(0, len(reference) + 1))]
        elif kind == 2:  # a few tokens replaced
            hypothesis = [vocabulary[int(generator.integers(0, len(vocabulary)))] if generator.random() < 0.3 else token
                          for token in reference]
        elif kind == 3:  # a token repeated: clipping
            hypothesis = reference + reference[:1] * int(generator.integers(0, 4))
        else:
            hypothesis = []
        hypotheses.append(hypothesis)
        references.append(reference)
    return hypotheses, references


def test_bleu_equals_sacrebleu_on_random_corpora():
    generator = np.random.default_rng(15)
    vocabulary = ["a", "b", "c", "d", "e", "f", ",", "."]
    nonzero = 0
    for _ in range(60):
        hypotheses, references = random_token_corpus(generator, vocabulary)
        for max_order in (1, 2, 3, 4):
            for smooth in (False, True):
                ours = corpus_bleu(hypotheses, references, max_order=max_order, smooth=smooth)
                expected = sacre_bleu(hypotheses, references, max_order=max_order, smooth=smooth)
                assert ours == pytest.approx(expected, abs=1e-9), (hypotheses, references, max_order, smooth)
                nonzero += expected > 0
    assert nonzero > 240  # most of the 480 comparisons are of nonzero scores, not 0 == 0


# ---------------------------------------------------------------------------------------------- chrF


def sacre_chrf(hypotheses, references, *, max_order=6, beta=2.0):
    """sacrebleu's corpus chrF (not chrF++) under rnnlab's definition (see the module docstring)."""
    metrics = _sacrebleu()
    scorer = metrics.CHRF(char_order=max_order, word_order=0, beta=beta, lowercase=False, whitespace=False,
                          eps_smoothing=False)
    return scorer.corpus_score(list(hypotheses), [list(references)]).score


CHRF_CASES = {
    "identical": (["la casa", "el perro"], ["la casa", "el perro"]),
    "whitespace_ignored": (["la casa"], ["lacasa"]),
    "hypothesis_too_short_for_high_orders": (["ab"], ["abc"]),
    "disjoint": (["xyz"], ["abc"]),
    "empty_hypothesis": (["", "la casa"], ["el perro", "la casa"]),
    "all_hypotheses_empty": (["", " "], ["el perro", "la casa"]),
    "empty_reference": (["la casa", "el perro"], ["", "el perro"]),
    # a reference shorter than 6 characters has no 4- to 6-grams: the hypothesis's are not counted either
    "reference_too_short_for_high_orders": (["el perro grande", "sí señor"], ["el perro", "si"]),
    "short_reference_long_hypothesis": (["abcdefgh"], ["abc"]),
    "repeats_are_clipped": (["aaaa aaaa"], ["aa"]),
    "unicode": (["¿dónde está?", "añadir"], ["¿donde esta?", "añadió"]),
}


@pytest.mark.parametrize("max_order, beta", [(6, 2.0), (6, 1.0), (3, 3.0), (1, 2.0)])
@pytest.mark.parametrize("case", CHRF_CASES)
def test_chrf_equals_sacrebleu_on_fixed_cases(case, max_order, beta):
    hypotheses, references = CHRF_CASES[case]
    expected = sacre_chrf(hypotheses, references, max_order=max_order, beta=beta)
    assert chrf(hypotheses, references, max_order=max_order, beta=beta) == pytest.approx(expected, abs=1e-9)


def random_string_corpus(generator, alphabet):
    """1-6 (hypothesis, reference) pairs of 0-14 characters, spaces included; many references under 6 characters."""
    hypotheses, references = [], []
    for _ in range(int(generator.integers(1, 7))):
        reference = "".join(draw(generator, alphabet, 14))
        kind = generator.integers(0, 4)
        if kind == 0:    # unrelated characters
            hypothesis = "".join(draw(generator, alphabet, 14))
        elif kind == 1:  # a prefix, often shorter than 6 characters
            hypothesis = reference[: int(generator.integers(0, len(reference) + 1))]
        elif kind == 2:  # a few characters replaced
            hypothesis = "".join(alphabet[int(generator.integers(0, len(alphabet)))] if generator.random() < 0.25 else c
                                 for c in reference)
        else:            # characters repeated: clipping
            hypothesis = reference + reference[:2] * int(generator.integers(0, 3))
        hypotheses.append(hypothesis)
        references.append(reference)
    return hypotheses, references


def test_chrf_equals_sacrebleu_on_random_corpora():
    generator = np.random.default_rng(8)
    alphabet = "abcde ñ"
    for _ in range(60):
        hypotheses, references = random_string_corpus(generator, alphabet)
        for max_order, beta in ((6, 2.0), (4, 1.0), (2, 0.5)):
            ours = chrf(hypotheses, references, max_order=max_order, beta=beta)
            expected = sacre_chrf(hypotheses, references, max_order=max_order, beta=beta)
            assert ours == pytest.approx(expected, abs=1e-9), (hypotheses, references, max_order, beta)


# ------------------------------------------------------------------------------------ classification


def random_labels(generator, trial):
    """(actual, predicted, labels): 1-30 labels, ints or strings, some classes absent from one side or both."""
    size = int(generator.integers(1, 31))
    classes = list(range(int(generator.integers(1, 6))))
    # predictions from a subset of the classes (some never predicted), actual from another (some never true)
    true_classes = classes[: int(generator.integers(1, len(classes) + 1))]
    guessed_classes = classes[int(generator.integers(0, len(classes))):]
    actual = generator.choice(true_classes, size=size)
    right = 0.5 if trial % 3 else 0.0  # every third classifier guesses only among its classes
    predicted = np.where(generator.random(size) < right, actual, generator.choice(guessed_classes, size=size))
    labels = classes + [len(classes)]  # one class that occurs nowhere
    if trial % 2:  # strings: the default order is sorted strings
        names = np.array(["cat", "dog", "emu", "fox", "gnu", "yak"])
        return names[actual], names[predicted], [str(n) for n in names[labels]]
    return actual, predicted, labels


def test_classification_metrics_equal_scikit_learn_on_random_labels():
    metrics = _sklearn()
    generator = np.random.default_rng(7)
    single = never_predicted = never_true = 0
    for trial in range(30):
        actual, predicted, labels = random_labels(generator, trial)
        occurring = sorted(set(actual.tolist()) | set(predicted.tolist()))
        single += len(occurring) == 1
        never_predicted += bool(set(actual.tolist()) - set(predicted.tolist()))
        never_true += bool(set(predicted.tolist()) - set(actual.tolist()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ill-defined precision/recall: zero_division settles them
            assert accuracy(actual, predicted) == pytest.approx(metrics.accuracy_score(actual, predicted), abs=1e-12)
            assert balanced_accuracy(actual, predicted) == pytest.approx(
                metrics.balanced_accuracy_score(actual, predicted), abs=1e-12)
            for given in (None, labels, labels[::-1]):
                np.testing.assert_array_equal(confusion_matrix(actual, predicted, given),
                                              metrics.confusion_matrix(actual, predicted, labels=given))
                order = occurring if given is None else given
                precision, recall, f1, support = metrics.precision_recall_fscore_support(
                    actual, predicted, labels=order, average=None, zero_division=0)
                scores = per_class_scores(actual, predicted, given)
                assert list(scores) == list(order)
                np.testing.assert_allclose([s["precision"] for s in scores.values()], precision, rtol=0, atol=1e-12)
                np.testing.assert_allclose([s["recall"] for s in scores.values()], recall, rtol=0, atol=1e-12)
                np.testing.assert_allclose([s["f1"] for s in scores.values()], f1, rtol=0, atol=1e-12)
                assert [s["support"] for s in scores.values()] == support.tolist()
                assert macro_f1(actual, predicted, given) == pytest.approx(
                    metrics.f1_score(actual, predicted, labels=order, average="macro", zero_division=0), abs=1e-12)
            # binary F1 of each class as the positive one, the absent class included (0, as zero_division=0)
            expected = metrics.f1_score(actual, predicted, labels=labels, average=None, zero_division=0)
            np.testing.assert_allclose([f1_score(actual, predicted, positive) for positive in labels], expected,
                                       rtol=0, atol=1e-12)
    assert single >= 2 and never_predicted >= 3 and never_true >= 5  # the edges occur among the random cases


def test_classification_edge_cases_equal_scikit_learn():
    metrics = _sklearn()
    cases = {
        "single_class": (["a"] * 5, ["a"] * 5),
        "single_example": (["a"], ["b"]),
        "never_predicted": (["pos", "pos", "neg"], ["neg", "neg", "neg"]),
        "predicted_but_never_true": ([0, 0, 0, 1], [2, 2, 0, 1]),
        "all_wrong": ([0, 1, 0, 1], [1, 0, 1, 0]),
    }
    for name, (actual, predicted) in cases.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert accuracy(actual, predicted) == pytest.approx(metrics.accuracy_score(actual, predicted)), name
            assert balanced_accuracy(actual, predicted) == pytest.approx(
                metrics.balanced_accuracy_score(actual, predicted), abs=1e-12), name
            assert macro_f1(actual, predicted) == pytest.approx(
                metrics.f1_score(actual, predicted, average="macro", zero_division=0), abs=1e-12), name
            np.testing.assert_array_equal(confusion_matrix(actual, predicted),
                                          metrics.confusion_matrix(actual, predicted))


def test_classification_metrics_summary_equals_scikit_learn():
    metrics = _sklearn()
    generator = np.random.default_rng(3)
    for trial in range(20):
        actual, predicted, labels = random_labels(generator, trial)
        result = classification_metrics(actual, predicted, labels)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert result["accuracy"] == pytest.approx(metrics.accuracy_score(actual, predicted), abs=1e-12)
            assert result["balanced_accuracy"] == pytest.approx(metrics.balanced_accuracy_score(actual, predicted),
                                                                abs=1e-12)
            assert result["macro_f1"] == pytest.approx(
                metrics.f1_score(actual, predicted, labels=labels, average="macro", zero_division=0), abs=1e-12)
        assert result["confusion_matrix"] == metrics.confusion_matrix(actual, predicted, labels=labels).tolist()


def test_majority_baseline_equals_scikit_learns_most_frequent_dummy():
    """DummyClassifier(strategy="most_frequent") breaks ties towards the class that sorts first, as rnnlab does."""
    pytest.importorskip("sklearn", reason="scikit-learn is the oracle here: pip install scikit-learn")
    from sklearn.dummy import DummyClassifier

    generator = np.random.default_rng(11)
    tied = 0
    for trial in range(40):
        names = np.array(["b", "a", "d", "c"]) if trial % 2 else np.array([3, 1, 2, 0])
        # few labels over few classes: many ties for the top count
        train = names[generator.integers(0, 4, size=int(generator.integers(1, 9)))]
        counts = np.unique(train, return_counts=True)[1]
        tied += int(np.sum(counts == counts.max()) > 1)
        dummy = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(train), 1)), train)
        assert majority_class(train) == dummy.predict(np.zeros((1, 1)))[0]
        assert majority_baseline(train, 5).tolist() == dummy.predict(np.zeros((5, 1))).tolist()
    assert tied >= 10  # the tie rule is exercised, not only clear majorities


# ----------------------------------------------------------------------------------------- detection


def test_point_wise_precision_recall_f1_equal_scikit_learn():
    metrics = _sklearn()
    generator = np.random.default_rng(5)
    fixed = [(np.zeros(6), np.zeros(6)), (np.ones(6), np.zeros(6)), (np.zeros(6), np.ones(6)),
             (np.ones(6), np.ones(6)), (np.array([1]), np.array([0])), (np.array([0, 1, 0]), np.array([0, 1, 0]))]
    randoms = [((generator.random(n) < p_flag).astype(int), (generator.random(n) < p_label).astype(int))
               for n, p_flag, p_label in zip(generator.integers(1, 50, size=60), generator.random(60),
                                             generator.random(60) * 0.5)]
    for flags, labels in fixed + randoms:
        precision, recall, f1, _ = metrics.precision_recall_fscore_support(
            labels, flags, labels=[1], average="binary", pos_label=1, zero_division=0)
        ours = precision_recall_f1(flags, labels)
        assert ours["precision"] == pytest.approx(precision, abs=1e-12), (flags, labels)
        assert ours["recall"] == pytest.approx(recall, abs=1e-12), (flags, labels)
        assert ours["f1"] == pytest.approx(f1, abs=1e-12), (flags, labels)


def test_average_precision_equals_scikit_learn_at_the_edges():
    """The random cases are in test_detection.py; here the edges.

    One point, all or no anomalies, negative, tiny and huge scores, ties.
    """
    metrics = _sklearn()
    cases = [
        ([0.3], [1]),
        ([0.5, 0.5, 0.5], [1, 1, 1]),
        ([0.1, 0.9, 0.4], [1, 1, 1]),
        ([-2.0, -0.5, -0.5, 3.0, -2.0], [0, 1, 0, 0, 1]),
        ([1e-12, 0.0, 1e-12, 0.0], [0, 1, 1, 0]),
        ([5.0, 4.0, 3.0, 2.0, 1.0], [0, 0, 0, 0, 1]),      # the only anomaly ranked last
        ([1e300, 1.0, -1e300, 1.0], [1, 0, 0, 1]),
        ([0.1, 0.5, 0.2], [0, 0, 0]),                     # no anomaly: 0 (scikit-learn warns and gives 0 too)
    ]
    for scores, labels in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "No positive class found in y_true"
            expected = metrics.average_precision_score(labels, scores)
        assert average_precision(np.array(scores), np.array(labels)) == pytest.approx(expected, abs=1e-12), scores


def test_detection_metrics_summary_equals_scikit_learn():
    metrics = _sklearn()
    generator = np.random.default_rng(9)
    for _ in range(20):
        labels = (generator.random(60) < 0.15).astype(int)
        labels[int(generator.integers(0, 60))] = 1
        scores = np.round(generator.random(60) + labels * generator.random(), 2)  # rounded: ties
        flags = scores > np.quantile(scores, 0.8)
        result = detection_metrics(scores, flags, labels)
        precision, recall, f1, _ = metrics.precision_recall_fscore_support(labels, flags.astype(int), average="binary",
                                                                          zero_division=0)
        assert result["precision"] == pytest.approx(precision, abs=1e-12)
        assert result["recall"] == pytest.approx(recall, abs=1e-12)
        assert result["f1"] == pytest.approx(f1, abs=1e-12)
        assert result["average_precision"] == pytest.approx(metrics.average_precision_score(labels, scores), abs=1e-12)
