"""The claims judges: each verdict follows from the numbers, and the evidence quotes them."""

from __future__ import annotations

from rnnlab.studies.claims import HELD, IN_PART, NOT_HELD, clearly_less, gradient_claim, gru_claim, length_claim, memory_claim

LENGTHS = [10, 30, 100, 300, 1000]


def test_memory_claim_verdicts():
    assert memory_claim({"RNN": 30, "LSTM": 1000, "GRU": 1000}, LENGTHS).verdict == HELD
    claim = memory_claim({"RNN": 30, "LSTM": 300, "GRU": 100}, LENGTHS)
    assert claim.verdict == IN_PART
    assert "up to T = 30" in claim.evidence and "up to T = 300" in claim.evidence
    assert "did not beat it at T = 1000" in claim.evidence
    assert memory_claim({"RNN": 300, "LSTM": None}, LENGTHS).verdict == NOT_HELD
    assert "no length" in memory_claim({"RNN": None, "LSTM": None}, LENGTHS).evidence


def test_gradient_claim_verdicts():
    growth = {"RNN": 0.8, "LSTM": 0.99}
    assert gradient_claim({"RNN": 9.0, "LSTM": 1.2}, growth, 300).verdict == HELD
    claim = gradient_claim({"RNN": 9.0, "LSTM": 4.0}, growth, 300, note=", the longest the LSTM learned")
    assert claim.verdict == IN_PART and "9.0 orders" in claim.evidence and "×0.800" in claim.evidence
    assert "T = 300 on the adding problem, the longest the LSTM learned" in claim.evidence
    # an exploding LSTM is no steadier than a vanishing RNN at the same distance from 1
    assert gradient_claim({"RNN": 3.0, "LSTM": 4.0}, {"RNN": 0.8, "LSTM": 1.25}, 300).verdict == NOT_HELD


def _row(metric, parameters, epoch_seconds, saved, spread=0.0):
    return {"metric": metric, "metric_spread": spread, "parameters": parameters, "epoch_seconds": epoch_seconds,
            "epoch_seconds_spread": 0.001, "saved_bytes": saved}


HEADLINE = {"metric_name": "accuracy", "higher_is_better": True}


def test_gru_claim_needs_every_part_on_every_task():
    good = {"GRU": _row(0.75, 750, 0.10, 3000), "LSTM": _row(0.755, 1000, 0.20, 4000), "_headline": HEADLINE}
    assert gru_claim({"text": good}).verdict == HELD
    slower = {"GRU": _row(0.75, 750, 0.30, 3000), "LSTM": _row(0.75, 1000, 0.20, 4000), "_headline": HEADLINE}
    claim = gru_claim({"text": good, "forecast": slower})
    assert claim.verdict == IN_PART and "faster epochs: no" in claim.evidence and "fewer parameters: yes" in claim.evidence
    worse = {"GRU": _row(0.60, 1200, 0.30, 5000), "LSTM": _row(0.75, 1000, 0.20, 4000), "_headline": HEADLINE}
    assert gru_claim({"text": worse}).verdict == NOT_HELD


def test_a_gap_within_the_seed_spread_is_comparable_and_not_clearly_less():
    assert not clearly_less(0.10, 0.02, 0.12, 0.02)
    assert clearly_less(0.01, 0.001, 0.12, 0.02)
    noisy = {"GRU": _row(0.70, 750, 0.1, 3000, spread=0.05), "LSTM": _row(0.76, 1000, 0.2, 4000, spread=0.05),
             "_headline": HEADLINE}
    assert "comparable accuracy: yes" in gru_claim({"text": noisy}).evidence


def test_length_claim_verdicts():
    short_gru_better = {"GRU": (0.001, 0.0005), "LSTM": (0.02, 0.002)}
    long_lstm_better = {"GRU": (0.16, 0.005), "LSTM": (0.05, 0.01)}
    assert length_claim(short_gru_better, long_lstm_better, 10, 300).verdict == HELD
    same = {"GRU": (0.1, 0.05), "LSTM": (0.1, 0.05)}
    claim = length_claim(short_gru_better, same, 10, 300)
    assert claim.verdict == IN_PART and "T = 300" in claim.evidence
    assert length_claim(same, same, 10, 300).verdict == NOT_HELD
