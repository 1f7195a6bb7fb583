"""The course claims about RNN, LSTM and GRU, each judged against numbers measured in one study.

Every judge takes the measurements (plain numbers, so it can be tested on made-up ones) and returns
a `Claim`: the statement as courses make it, the verdict ("held", "held in part", "did not hold")
and the evidence, a sentence quoting the numbers it was decided on. A difference counts only when it
is larger than the noise between seeds: `clearly_less` asks for a gap wider than twice the combined
standard deviation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HELD, IN_PART, NOT_HELD = "held", "held in part", "did not hold"


@dataclass(frozen=True)
class Claim:
    statement: str
    verdict: str
    evidence: str


def verdict(parts: list[bool]) -> str:
    """held when every part held, did not hold when none did, held in part otherwise."""
    return HELD if all(parts) else NOT_HELD if not any(parts) else IN_PART


def clearly_less(a: float, a_std: float, b: float, b_std: float) -> bool:
    """a < b by more than twice the combined standard deviation of the two means."""
    return b - a > 2 * math.hypot(a_std, b_std)


def _length(value: int | None) -> str:
    return "no length" if value is None else f"T = {value}"


def memory_claim(longest: dict[str, int | None], lengths: list[int]) -> Claim:
    """"Plain RNNs struggle beyond about 10 steps, while LSTMs handle 1000 or more."

    Args:
        longest: architecture ("RNN", "LSTM", ...) -> the longest adding-problem length at which it
            beat the mean-predicting baseline, None if at none.
        lengths: the lengths tried.
    """
    rnn, lstm = longest.get("RNN"), longest.get("LSTM")
    rnn_struggles = rnn is None or rnn < 100
    lstm_long = lstm is not None and lstm >= 1000
    evidence = (f"On the adding problem (lengths {', '.join(map(str, lengths))}), the RNN beat the baseline up to "
                f"{_length(rnn)} and the LSTM up to {_length(lstm)}"
                + (f"; the GRU up to {_length(longest['GRU'])}" if "GRU" in longest else "") + ". "
                + ("The RNN stopped beating it before T = 100. " if rnn_struggles else
                   "The RNN still beat it at T = 100 or more. ")
                + ("The LSTM beat it at T = 1000 or more." if lstm_long else
                   "The LSTM did not beat it at T = 1000 within this budget."))
    return Claim("Plain RNNs struggle beyond about 10 steps, while LSTMs handle 1000 or more.",
                 verdict([rnn_struggles, lstm_long]), evidence)


def gradient_claim(orders: dict[str, float], growth: dict[str, float], length: int, note: str = "") -> Claim:
    """"LSTMs avoid vanishing and exploding gradients."

    Two parts: the LSTM's growth per step is nearer 1 than the RNN's (|log growth| smaller, so it
    neither vanishes nor explodes as fast), and over the whole sequence its ‖∂L/∂h_t‖ spans less
    than two orders of magnitude (the first step still gets at least a hundredth of the last's).

    Args:
        orders: architecture -> orders of magnitude ‖∂L/∂h_t‖ spans over the sequence.
        growth: architecture -> growth per step of ‖∂L/∂h_t‖ going back in time.
        length: the sequence length they were measured at.
        note: why that length, for the evidence.
    """
    rnn, lstm = orders["RNN"], orders["LSTM"]
    steadier = abs(math.log(growth["LSTM"])) < abs(math.log(growth["RNN"]))
    near_flat = lstm < 2
    evidence = (f"At T = {length} on the adding problem{note}, ‖∂L/∂h_t‖ of the trained models spans {rnn:.1f} orders "
                f"of magnitude for the RNN (×{growth['RNN']:.3f} per step back) and {lstm:.1f} for the LSTM "
                f"(×{growth['LSTM']:.3f} per step)"
                + (f"; {orders['GRU']:.1f} for the GRU (×{growth['GRU']:.3f})" if "GRU" in orders else "") + ". "
                + ("The LSTM's rate is nearer 1 than the RNN's. " if steadier else
                   "The LSTM's rate is no nearer 1 than the RNN's. ")
                + ("Its gradient reaches the first step within a hundredfold." if near_flat else
                   "Its gradient still fades by more than a hundredfold over the sequence."))
    return Claim("LSTMs avoid vanishing and exploding gradients.", verdict([steadier, near_flat]), evidence)


def gru_claim(tasks: dict[str, dict[str, dict]]) -> Claim:
    """"GRUs have fewer parameters, train faster and use less memory, with comparable accuracy."

    Args:
        tasks: task name -> architecture -> a row of `rnnlab.studies.compare.aggregate` (metric and
            its spread, parameters, epoch_seconds and its spread, saved_bytes) plus
            "higher_is_better" and "metric_name" under the key "_headline".
    """
    fewer, faster, smaller, comparable, notes = [], [], [], [], []
    for task, rows in tasks.items():
        gru, lstm, headline = rows["GRU"], rows["LSTM"], rows["_headline"]
        fewer.append(gru["parameters"] < lstm["parameters"])
        faster.append(clearly_less(gru["epoch_seconds"], gru["epoch_seconds_spread"],
                                   lstm["epoch_seconds"], lstm["epoch_seconds_spread"]))
        smaller.append(gru["saved_bytes"] < lstm["saved_bytes"])
        gap = abs(gru["metric"] - lstm["metric"])
        comparable.append(gap <= max(2 * math.hypot(gru["metric_spread"], lstm["metric_spread"]),
                                     0.02 * abs(lstm["metric"])))
        notes.append(f"{task}: {headline['metric_name']} GRU {gru['metric']:.4g} vs LSTM {lstm['metric']:.4g}, "
                     f"parameters {gru['parameters']} vs {lstm['parameters']}, seconds per epoch "
                     f"{gru['epoch_seconds']:.3g} vs {lstm['epoch_seconds']:.3g}, saved for backward "
                     f"{gru['saved_bytes'] / 1024:.0f} vs {lstm['saved_bytes'] / 1024:.0f} KiB")
    parts = {"fewer parameters": all(fewer), "faster epochs": all(faster), "less memory": all(smaller),
             "comparable accuracy": all(comparable)}
    evidence = "; ".join(notes) + ". " + ", ".join(f"{name}: {'yes' if ok else 'no'}" for name, ok in parts.items()) + "."
    return Claim("GRUs have fewer parameters, train faster and use less memory, with comparable accuracy.",
                 verdict(list(parts.values())), evidence)


def length_claim(short: dict[str, tuple[float, float]], long: dict[str, tuple[float, float]],
                 short_length: int, long_length: int) -> Claim:
    """"LSTMs are better on long sequences and GRUs on short ones."

    Args:
        short, long: architecture -> (mean test MSE, its standard deviation over seeds) on the
            adding problem at `short_length` and at `long_length`; lower is better.
    """
    gru_short = clearly_less(*short["GRU"], *short["LSTM"])
    lstm_long = clearly_less(*long["LSTM"], *long["GRU"])
    evidence = (f"Adding-problem test MSE at T = {short_length}: GRU {short['GRU'][0]:.4f} ± {short['GRU'][1]:.4f}, "
                f"LSTM {short['LSTM'][0]:.4f} ± {short['LSTM'][1]:.4f}; at T = {long_length}: GRU "
                f"{long['GRU'][0]:.4f} ± {long['GRU'][1]:.4f}, LSTM {long['LSTM'][0]:.4f} ± {long['LSTM'][1]:.4f}. "
                f"GRU clearly better on the short: {'yes' if gru_short else 'no'}; LSTM clearly better on the long: "
                f"{'yes' if lstm_long else 'no'} (clearly: by more than twice the spread between seeds).")
    return Claim("LSTMs are better on long sequences and GRUs on short ones.", verdict([gru_short, lstm_long]),
                 evidence)
