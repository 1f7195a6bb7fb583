"""Dynamic int8 inference on the CPU, one thread: held-out accuracy and speed, float against int8.

The task: `classify-series` on the bundled japanese_vowels set (270 training and 370 test
recordings of 12 channels, 7–29 steps, 9 speakers) at its defaults, once with each cell asked for
(a bidirectional GRU by default, and an LSTM): the cheapest bundled task whose model is an rnnlab
LSTM/GRU with a linear head, trained in about a minute each. Each run is trained into --runs (or
reused when already there), loaded as `rnnlab evaluate` loads it, and copied with
`rnnlab.interop.quantize.quantize_dynamic`.

Reported per cell:
- test accuracy of the float model and of its int8 copy, the predictions that changed, and the
  largest change of a class probability;
- time per forward pass of three models on identical inputs: the float model as it runs by default
  (backend "auto": torch's fused kernels), the float model on the reference backend (the time loop
  the int8 copy runs on, so that float-reference / int8 shows the int8 arithmetic's own effect),
  and the int8 copy; for the whole test set as one zero-padded batch, and for single sequences
  (B = 1, each unpadded, averaged over the first --single sequences);
- the speed-up: time(float) / time(int8), median of the per-repeat ratios (above 1: int8 is faster).

A second table times single layers at the task's sizes and one larger, against torch's own fused
int8 kernels (`torch.ao.quantization.quantize_dynamic` on `rnnlab.to_torch(layer)`; deprecated in
torch 2.13 and refused by `quantize_dynamic`, shown here only as what a fused int8 kernel gives).

Method (benchmarks/README.md): warm-up, then --repeats rounds in which every model is timed back to
back, in reversed order every other round; one timing is the median of n calls, n chosen so that it
lasts about --min-time-ms; reported are medians over rounds. Timings on a shared machine are noisy;
a row whose timings of one model spread more than 1.5x (max/min) is flagged.

Run from the repository root:
    PYTHONPATH=. python benchmarks/int8_cpu.py                      # trains both runs, ~5 minutes
    PYTHONPATH=. python benchmarks/int8_cpu.py --runs /tmp/int8-runs --cells gru
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

try:
    import rnnlab
except ImportError:  # run from a checkout without an install: benchmarks/ is sys.path[0], not the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import rnnlab

from benchinfo import cpu_model, git_revision
from rnnlab.interop.quantize import Int8Weight, quantize_dynamic
from rnnlab.report.atomic import write_text
from rnnlab.tasks import SeriesClassifier
from rnnlab.tasks.classify_series.model import pad_series, predict_probabilities

NOISY_SPREAD = 1.5
# (B, T, F, H, bidirectional): the task's encoder on its test set, alone, and a larger layer
LAYER_CONFIGS = [(370, 29, 12, 64, True), (1, 29, 12, 64, True), (64, 100, 128, 256, False)]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the task --------------------------------------------------------------------------------------


def trained_run(cell: str, runs: Path) -> Path:
    """The run directory of `cell` under `runs`, trained at the task's defaults unless already there."""
    out = runs / cell
    if not (out / "model.safetensors").is_file():
        log(f"training classify-series with model={cell} into {out} ...")
        SeriesClassifier(model=cell, device="cpu").fit("japanese_vowels").save(out)
    return out


def load_model(run_dir: Path) -> torch.nn.Module:
    """The run's network, in eval mode on the CPU."""
    return SeriesClassifier.load(run_dir).network_.cpu()


def test_set(run_dir: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """The run's test sequences, standardised with its scaler, and their class ids."""
    task = SeriesClassifier.load(run_dir).task_
    prepared = task.own_data()
    rows = prepared.rows[2]
    return task.standardised(prepared.test, rows), task.targets(prepared.test, rows)


def weight_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's parameters, int8 weights counted as their values plus their float scales."""
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    for module in model.modules():
        for value in vars(module).values():
            if isinstance(value, Int8Weight):
                total += value.values_t.numel() * value.values_t.element_size()  # 1 byte each
                total += value.scale.numel() * value.scale.element_size()
    return total


# -- timing ----------------------------------------------------------------------------------------


def calls_per_timing(call, min_time: float) -> int:
    """Warms `call` up and returns n: enough calls for one timing to last about min_time (≥ 3)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return max(3, min(2000, math.ceil(min_time / max(min(times[1:]), 1e-7))))


def measure(calls: dict, repeats: int, min_time: float) -> dict[str, list[float]]:
    """{name: seconds per call, one per round}; the calls interleaved, their order reversed every other round."""
    names = list(calls)
    n = {name: calls_per_timing(calls[name], min_time) for name in names}
    timings = {name: [] for name in names}
    for round_ in range(repeats):
        for name in names if round_ % 2 == 0 else reversed(names):
            samples = []
            for _ in range(n[name]):
                start = time.perf_counter()
                calls[name]()
                samples.append(time.perf_counter() - start)
            timings[name].append(statistics.median(samples))
    return timings


def ratio(timings: dict, numerator: str, denominator: str) -> float:
    """Median over rounds of time(numerator) / time(denominator)."""
    return statistics.median(a / b for a, b in zip(timings[numerator], timings[denominator]))


def noisy(timings: dict) -> bool:
    return any(max(values) / min(values) > NOISY_SPREAD for values in timings.values())


# -- the two tables --------------------------------------------------------------------------------


@torch.no_grad()
def task_rows(cell: str, run_dir: Path, args) -> tuple[list[str], list[str]]:
    """One accuracy row and two speed rows (batch, B = 1) for the run of `cell`."""
    model = load_model(run_dir)
    quantized = quantize_dynamic(model)
    on_reference = load_model(run_dir)
    on_reference.encoder.backend = "reference"
    sequences, targets = test_set(run_dir)

    p_float, p_int8 = predict_probabilities(model, sequences), predict_probabilities(quantized, sequences)
    guess_float, guess_int8 = p_float.argmax(1), p_int8.argmax(1)
    accuracy = [float((guess == targets).mean()) for guess in (guess_float, guess_int8)]
    changed = int((guess_float != guess_int8).sum())
    name = f"{cell.upper()} ({'bidirectional, ' if model.num_directions == 2 else ''}H={model.encoder.hidden_size})"
    accuracy_row = (f"| {name} | {len(targets)} | {accuracy[0]:.4f} | {accuracy[1]:.4f} | "
                    f"{accuracy[1] - accuracy[0]:+.4f} | {changed} | {np.abs(p_int8 - p_float).max():.4f} | "
                    f"{weight_bytes(model) / 1024:.1f} → {weight_bytes(quantized) / 1024:.1f} |")

    models = {"float": model, "float, reference": on_reference, "int8": quantized}
    values, lengths = pad_series(sequences)  # (B, T, C), (B,)
    singles = [pad_series([s]) for s in sequences[: args.single]]
    speed_rows = []
    for label, batches in ((f"batch of {len(sequences)}", [(values, lengths)]), (f"B = 1 (×{len(singles)})", singles)):
        calls = {key: (lambda m=m: [m(v, n) for v, n in batches]) for key, m in models.items()}
        log(f"timing {cell} {label} ...")
        timings = measure(calls, args.repeats, args.min_time_ms / 1000)
        per_call = {key: statistics.median(t) / len(batches) * 1000 for key, t in timings.items()}  # ms
        speed_rows.append(f"| {name} | {label} | {per_call['float']:.3f} | {per_call['float, reference']:.3f} | "
                          f"{per_call['int8']:.3f} | {ratio(timings, 'float', 'int8'):.2f} | "
                          f"{ratio(timings, 'float, reference', 'int8'):.2f} |"
                          + (" noisy |" if noisy(timings) else " |"))
    return [accuracy_row], speed_rows


def torch_ao_int8(layer):
    """torch's fused dynamic int8 layer for `layer`, or None where torch no longer offers it."""
    try:
        from torch.ao.quantization import quantize_dynamic as ao_quantize_dynamic
    except ImportError:
        return None
    module = rnnlab.to_torch(layer)
    with warnings.catch_warnings():  # deprecated in torch 2.13: it is shown as a comparison only
        warnings.simplefilter("ignore")
        return ao_quantize_dynamic(torch.nn.Sequential(module), {type(module)}, dtype=torch.qint8)[0]


@torch.no_grad()
def layer_rows(cell: str, args) -> list[str]:
    rows = []
    for batch, steps, features, hidden, bidirectional in LAYER_CONFIGS:
        torch.manual_seed(0)
        layer = getattr(rnnlab, cell.upper())(features, hidden, batch_first=True, bidirectional=bidirectional).eval()
        xs = torch.randn(batch, steps, features)
        models = {"float": layer, "int8": quantize_dynamic(layer)}
        theirs = torch_ao_int8(layer)
        if theirs is not None:
            models["torch.ao int8"] = theirs
        log(f"timing {cell} layer {(batch, steps, features, hidden, bidirectional)} ...")
        calls = {key: (lambda m=m: m(xs)) for key, m in models.items()}
        timings = measure(calls, args.repeats, args.min_time_ms / 1000)
        ms = {key: statistics.median(t) * 1000 for key, t in timings.items()}
        ao = (f"{ms['torch.ao int8']:.3f} | {ratio(timings, 'float', 'torch.ao int8'):.2f}"
              if "torch.ao int8" in ms else "n/a | n/a")
        rows.append(f"| {cell.upper()} | ({batch}, {steps}, {features}, {hidden}){' bi' if bidirectional else ''} | "
                    f"{ms['float']:.3f} | {ms['int8']:.3f} | {ratio(timings, 'float', 'int8'):.2f} | {ao} |"
                    + (" noisy |" if noisy(timings) else " |"))
    return rows


# -- report ----------------------------------------------------------------------------------------


def report(args, accuracy: list[str], speed: list[str], layers: list[str], started: datetime.datetime) -> str:
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    lines = [
        "# Dynamic int8 inference on the CPU (`benchmarks/int8_cpu.py`)",
        "",
        f"{started:%Y-%m-%d %H:%M} · {cpu_model()}, {os.cpu_count()} cores (torch threads: "
        f"{torch.get_num_threads()}) · torch {torch.__version__} · rnnlab {git_revision()} · load average "
        f"{load} · a shared machine: timings are noisy, ratios taken side by side are the figures to read",
        "",
        "## Accuracy: classify-series, japanese_vowels, defaults (held-out TEST file)",
        "",
        "| model | test sequences | float accuracy | int8 accuracy | change | predictions changed | max \\|Δp\\| "
        "| weights, KiB: float → int8 |",
        "|---|---|---|---|---|---|---|---|",
        *accuracy,
        "",
        "## Speed: the same models, time per forward pass (ms), one thread",
        "",
        "float runs on the default backend (torch's fused kernels); float, reference is the float model on the",
        "time loop the int8 copy runs on. Speed-up = time(float) / time(int8); above 1 means int8 is faster.",
        "",
        "| model | input | float | float, reference | int8 | speed-up vs float | vs float, reference | |",
        "|---|---|---|---|---|---|---|---|",
        *speed,
        "",
        "## Single layers (ms per forward pass), against torch's fused int8 kernels",
        "",
        "(B, T, F, H); torch.ao int8 is `torch.ao.quantization.quantize_dynamic` on `rnnlab.to_torch(layer)`,",
        "deprecated in torch 2.13 and shown only for comparison. Speed-ups are time(float) / time(int8).",
        "",
        "| cell | (B, T, F, H) | float | int8 (rnnlab) | speed-up | torch.ao int8 | speed-up | |",
        "|---|---|---|---|---|---|---|---|",
        *layers,
        "",
        f"Settings: --repeats {args.repeats}, --min-time-ms {args.min_time_ms}, --single {args.single}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=None, help="directory of the runs (default: a temporary one)")
    parser.add_argument("--cells", default="gru,lstm", help="comma-separated: gru, lstm")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--min-time-ms", type=float, default=200.0)
    parser.add_argument("--single", type=int, default=64, help="sequences timed one at a time")
    parser.add_argument("--no-layers", action="store_true", help="skip the single-layer table")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "int8.md")
    args = parser.parse_args()
    cells = [cell.strip() for cell in args.cells.split(",") if cell.strip()]
    if not cells or set(cells) - {"gru", "lstm"}:
        parser.error(f"--cells must name gru and/or lstm; received {args.cells!r}")
    torch.set_num_threads(1)
    started = datetime.datetime.now()
    with tempfile.TemporaryDirectory(prefix="rnnlab-int8-") as temporary:
        runs = args.runs or Path(temporary)
        runs.mkdir(parents=True, exist_ok=True)
        accuracy, speed = [], []
        for cell in cells:
            rows = task_rows(cell, trained_run(cell, runs), args)
            accuracy += rows[0]
            speed += rows[1]
    layers = [] if args.no_layers else [row for cell in cells for row in layer_rows(cell, args)]
    text = report(args, accuracy, speed, layers, started)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text(args.out, text)
    log(f"written to {args.out}")


if __name__ == "__main__":
    main()
