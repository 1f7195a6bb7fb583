"""Whole-training-run time and test quality of the same LSTM forecaster, rnnlab against Keras 3.

Issue 3, item 5: train the same model with rnnlab and with Keras 3 on its torch backend, on the
bundled airline series, and report the wall-time ratio and both test MASEs. Target: rnnlab at
least 5x faster than Keras with equal or better MASE.

"The same" here means:
- data: exactly the windows rnnlab's forecasting pipeline makes for `--data` (default airline;
  a CSV needs `--target`, and `--columns` picks its inputs as in `rnnlab forecast`):
  `ForecastConfig(target=..., columns=..., hidden_size=32, window=12, horizon=1, batch_size=32,
  learning_rate=3e-3, patience=0)`, `ForecastTask(config).prepare(data)`, whose windows are those
  of train, val and test.
  Both frameworks get the identical float32 arrays (target transform and scaling included);
- model: one LSTM layer of 32 units reading the (12, C) window, its final hidden state into a
  Dense/Linear layer to 1 output (rnnlab: `ForecastTask.build_model()`; Keras:
  `Sequential([Input((12, C)), LSTM(32), Dense(1)])`);
- training: MSE loss, Adam at 3e-3, batch 32, shuffled every epoch, E epochs, no gradient clipping
  (Keras' default; rnnlab's `grad_clip_norm=0`), no early stopping, the validation loss evaluated
  after every epoch on both sides. rnnlab's Trainer restores the weights of the epoch with the
  lowest validation loss at the end; so that the MASEs compare like with like, the Keras fit carries
  a small callback doing the same (its cost, a copy of 5 small arrays when val_loss improves, is
  part of Keras' time, as the matching copy is part of rnnlab's). Keras' MASE with its last-epoch
  weights (what `fit` returns by default) is reported too.

Method (BENCHMARKS.md: ratios side by side in one run, interleaved, medians):
- one warm-up fit of each (1 epoch), untimed, to exclude imports, first-call and compile costs;
- R repeats with seeds 0..R-1, the order alternating (rnnlab, keras; keras, rnnlab; ...); each
  timing is the wall time (time.perf_counter) of the whole fit call, model construction excluded;
- reported: the median over repeats of each fit time, the median of the per-repeat speed-up
  time(keras) / time(rnnlab), and the median test MASE of each (test windows of the pipeline,
  forecasts turned back into levels with the pipeline's own inverse, MASE scaled by the
  seasonal-naive error of the training span). Seasonal naive's test MASE is given for reference.
Both run in the same process on the same torch, hence the same intra-op threads (shown in the
header). A target missed is reported, never an error: the script exits 0 whatever the numbers.

Run from the repository root:
    PYTHONPATH=. python benchmarks/train_vs_keras.py            # 100 epochs, 9 repeats
    PYTHONPATH=. python benchmarks/train_vs_keras.py --quick    # 20 epochs, 1 repeat
    PYTHONPATH=. python benchmarks/train_vs_keras.py --data series.csv --target value   # a CSV (date,value)
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported anywhere

import numpy as np
import torch

from benchinfo import cpu_model, emit, git_revision

try:
    import rnnlab
except ImportError:  # run from a checkout without an install: benchmarks/ is sys.path[0], not the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import rnnlab

import keras

from rnnlab.data.windows import batches
from rnnlab.tasks.forecast import ForecastConfig, ForecastTask, transforms
from rnnlab.tasks.forecast.baselines import seasonal_naive_forecast
from rnnlab.metrics.regression import mase
from rnnlab.train import Trainer, TrainerOptions

SPEEDUP_TARGET = 5.0
HIDDEN, WINDOW, BATCH, LEARNING_RATE = 32, 12, 32, 3e-3


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- data ---------------------------------------------------------------------------------------


def prepare(data: str, epochs: int, target: str | None = None, columns: str | None = None):
    """The pipeline's config, prepared series and (X, Y, starts) of each span, X/Y float32.

    `target` and `columns` are ForecastConfig's: None means a bundled set's default target (a CSV
    needs one) and every numeric column as input.
    """
    config = ForecastConfig(data=data, target=target, columns=columns, hidden_size=HIDDEN, epochs=epochs,
                            batch_size=BATCH, window=WINDOW, horizon=1, learning_rate=LEARNING_RATE, patience=0)
    task = ForecastTask(config)
    series = task.prepare(data)
    spans = {}
    for span in ("train", "val", "test"):
        xs, ys, starts = series.windows[span]
        spans[span] = (np.ascontiguousarray(xs, dtype=np.float32), np.ascontiguousarray(ys, dtype=np.float32), starts)
    # what the two fits read of the prepared series: its levels and split, and what the task fitted on it
    prepared = SimpleNamespace(task=task, y=series.y, bounds=series.bounds, scaler=task.scaler,
                               transform=task.transform, season=task.season)
    return config, prepared, spans


def test_mase(prepared, scaled_forecasts: np.ndarray, starts: np.ndarray) -> float:
    """MASE on the test windows of forecasts in the model's scaled units (M, 1)."""
    z = prepared.scaler.inverse_transform_target(np.asarray(scaled_forecasts, dtype=np.float64))
    levels = transforms.invert(prepared.transform, z, prepared.y, starts)
    return levels_mase(prepared, levels, starts)


def levels_mase(prepared, levels: np.ndarray, starts: np.ndarray) -> float:
    actual = prepared.y[starts[:, None]]  # (M, 1), horizon 1
    return mase(actual, levels, train=prepared.y[: prepared.bounds[0]], season=prepared.season)


# -- the two fits -------------------------------------------------------------------------------


def fit_rnnlab(config, prepared, spans, epochs: int, seed: int) -> tuple[float, float]:
    """(seconds of Trainer.fit, test MASE) of one rnnlab run."""
    (xt, yt, _), (xv, yv, _), (xs, _, starts) = spans["train"], spans["val"], spans["test"]
    torch.manual_seed(seed)
    model = prepared.task.build_model()
    options = TrainerOptions(optimizer="adam", learning_rate=LEARNING_RATE, epochs=epochs, grad_clip_norm=0.0,
                             early_stopping_patience=0, seed=seed)
    trainer = Trainer(model, torch.nn.functional.mse_loss, options, run_dir=None, quiet=True)
    started = time.perf_counter()
    trainer.fit(lambda epoch, generator: batches(xt, yt, BATCH, shuffle=True, generator=generator),
                lambda: batches(xv, yv, BATCH, shuffle=False, generator=None))
    seconds = time.perf_counter() - started
    return seconds, levels_mase(prepared, prepared.task.levels(model, xs, prepared.y, starts), starts)


class KeepBest(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the lowest val_loss (what rnnlab's Trainer restores)."""

    def on_train_begin(self, logs=None):
        self.best, self.weights = float("inf"), None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("val_loss")
        if value is not None and value < self.best:
            self.best, self.weights = value, self.model.get_weights()


def fit_keras(prepared, spans, epochs: int, seed: int) -> tuple[float, float, float]:
    """(seconds of model.fit, test MASE with the best-val weights, test MASE with the last weights)."""
    (xt, yt, _), (xv, yv, _), (xs, _, starts) = spans["train"], spans["val"], spans["test"]
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((xt.shape[1], xt.shape[2])), keras.layers.LSTM(HIDDEN), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="mse")
    keep = KeepBest()
    started = time.perf_counter()
    model.fit(xt, yt, batch_size=BATCH, epochs=epochs, shuffle=True, validation_data=(xv, yv), verbose=0,
              callbacks=[keep])
    seconds = time.perf_counter() - started
    last = test_mase(prepared, model.predict(xs, batch_size=len(xs), verbose=0), starts)
    if keep.weights is not None:
        model.set_weights(keep.weights)
    best = test_mase(prepared, model.predict(xs, batch_size=len(xs), verbose=0), starts)
    return seconds, best, last


# -- report -------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Training time and test MASE of the same LSTM, rnnlab vs Keras 3 "
                                                 "(torch backend), interleaved, medians.")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per fit (default 100; 20 with --quick)")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats (default 9; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 epochs, 1 repeat")
    parser.add_argument("--data", default="airline", help="bundled data set or CSV (default airline)")
    parser.add_argument("--target", default=None, help="column to forecast (required for a CSV; default: the "
                                                      "bundled set's)")
    parser.add_argument("--columns", default=None, help="comma-separated input columns (default: all numeric)")
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown report to this file")
    args = parser.parse_args(argv)
    args.epochs = args.epochs if args.epochs is not None else (20 if args.quick else 100)
    args.repeats = args.repeats if args.repeats is not None else (1 if args.quick else 9)
    if args.epochs < 1 or args.repeats < 1:
        parser.error("--epochs and --repeats must be >= 1")

    started = datetime.datetime.now(datetime.timezone.utc)
    clock = time.perf_counter()
    config, prepared, spans = prepare(args.data, args.epochs, args.target, args.columns)
    xt, xv, xs = spans["train"][0], spans["val"][0], spans["test"][0]
    test_starts = spans["test"][2]
    naive_mase = levels_mase(prepared, seasonal_naive_forecast(prepared.y, test_starts, 1, prepared.season),
                             test_starts)

    log("warm-up: one 1-epoch fit of each")
    fit_rnnlab(config, prepared, spans, 1, seed=1000)
    fit_keras(prepared, spans, 1, seed=1000)

    runs = {"rnnlab": [], "keras": []}
    for repeat in range(args.repeats):
        order = ("rnnlab", "keras") if repeat % 2 == 0 else ("keras", "rnnlab")
        for name in order:
            result = fit_rnnlab(config, prepared, spans, args.epochs, repeat) if name == "rnnlab" else fit_keras(prepared, spans, args.epochs, repeat)
            runs[name].append(result)
            log(f"[{time.perf_counter() - clock:6.1f} s] repeat {repeat + 1}/{args.repeats} {name}: fit {result[0]:.2f} s, "
                f"test MASE {result[1]:.3f}" + (f" (last-epoch weights {result[2]:.3f})" if name == "keras" else ""))

    t_ours = statistics.median(r[0] for r in runs["rnnlab"])
    t_keras = statistics.median(r[0] for r in runs["keras"])
    speedup = statistics.median(k[0] / o[0] for k, o in zip(runs["keras"], runs["rnnlab"]))
    speedups = [k[0] / o[0] for k, o in zip(runs["keras"], runs["rnnlab"])]
    m_ours = statistics.median(r[1] for r in runs["rnnlab"])
    m_keras = statistics.median(r[1] for r in runs["keras"])
    m_keras_last = statistics.median(r[2] for r in runs["keras"])
    elapsed = time.perf_counter() - clock
    steps = -(-len(xt) // BATCH)

    load_avg = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    lines = [
        "# Training run: rnnlab vs Keras 3 (torch backend), CPU",
        "",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores (os.cpu_count()); torch threads: "
        f"{torch.get_num_threads()}, shared by both (Keras runs on the same torch, in the same process)",
        f"- torch {torch.__version__}, keras {keras.__version__} (backend {keras.backend.backend()}), "
        f"Python {platform.python_version()}, rnnlab {rnnlab.__version__} at {git_revision()}",
        f"- date: {started.strftime('%Y-%m-%d %H:%M UTC')}; duration {elapsed:.0f} s; load average at end: {load_avg}",
        f"- data: {args.data!r}, target {prepared.task.target!r}, the pipeline's windows (transform "
        f"{prepared.transform}, standardised): train {len(xt)}, val {len(xv)}, test {len(xs)} windows of "
        f"({xt.shape[1]}, {xt.shape[2]}); season {prepared.season}",
        f"- model: LSTM({HIDDEN}) -> final hidden state -> Linear/Dense(1); MSE, Adam lr {LEARNING_RATE:g}, batch "
        f"{BATCH} ({steps} steps/epoch), shuffled, {args.epochs} epochs, no clipping, no early stopping, val loss "
        "every epoch, best-val weights kept at the end (both)",
        f"- method: 1 warm-up fit (1 epoch) of each, then {args.repeats} repeat(s), seeds 0..{args.repeats - 1}, "
        "interleaved (order alternating); wall time of the whole fit call; medians over repeats; speed-up = median "
        "of per-repeat time(keras) / time(rnnlab)" + (" (--quick)" if args.quick else ""),
        "",
        "| framework | median fit s | per epoch | speed-up vs Keras | median test MASE |",
        "|---|---|---|---|---|",
        f"| rnnlab (Trainer + ForecastNetwork) | {t_ours:.2f} | {t_ours / args.epochs * 1e3:.1f} ms | "
        f"{speedup:.2f}x | {m_ours:.3f} |",
        f"| Keras 3, torch backend | {t_keras:.2f} | {t_keras / args.epochs * 1e3:.1f} ms | 1.00x | {m_keras:.3f} "
        f"(last-epoch weights: {m_keras_last:.3f}) |",
        f"| seasonal naive (reference) | | | | {naive_mase:.3f} |",
        "",
        "Per-repeat speed-ups: " + ", ".join(f"{s:.2f}x" for s in speedups)
        + "; per-repeat MASE rnnlab: " + ", ".join(f"{r[1]:.3f}" for r in runs["rnnlab"])
        + "; Keras: " + ", ".join(f"{r[1]:.3f}" for r in runs["keras"]) + ".",
        "",
    ]
    fast, good = speedup >= SPEEDUP_TARGET, m_ours <= m_keras
    verdict = "met" if fast and good else "MISSED"
    lines.append(f"Target (rnnlab >= {SPEEDUP_TARGET:g}x faster than Keras, with equal or better test MASE): {verdict}: "
                 f"speed-up {speedup:.2f}x ({'>=' if fast else '<'} {SPEEDUP_TARGET:g}x), MASE {m_ours:.3f} vs "
                 f"Keras {m_keras:.3f} ({'equal or better' if good else 'worse'}).")
    text = "\n".join(lines) + "\n"
    emit(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
