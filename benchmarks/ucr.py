"""Series classification: rnnlab's RNN, LSTM and GRU against 1-NN-ED, 1-NN-DTW and MiniRocket on six sets.

Data, each read from a file shipped inside a package's wheel (nothing is downloaded; nothing is
copied into this repository):

    set                     file inside the package                               train/test  classes  length   channels
    ArrowHead               aeon: aeon/datasets/data/ArrowHead/ArrowHead_TRAIN.ts    36/175      3      251       1
    OSULeaf                 aeon: aeon/datasets/data/OSULeaf/OSULeaf_TRAIN.ts       200/242      6      427       1
    ACSF1                   aeon: aeon/datasets/data/ACSF1/ACSF1_TRAIN.ts           100/100     10      1460      1
    PickupGestureWiimoteZ   aeon: aeon/datasets/data/PickupGestureWiimoteZ/...       50/50      10      29–361    1
    PLAID                   sktime: sktime/datasets/data/PLAID/PLAID_TRAIN.ts       537/537     11      100–1344  1
    Watch                   seglearn: seglearn/data/watch_dataset.npy                98/42       7      947–2618  6

(each _TEST.ts beside its _TRAIN.ts). The first five are UCR archive sets (Dau et al. (2019), The
UCR time series archive, IEEE/CAA J. Autom. Sinica 6(6)) with the archive's own TRAIN/TEST split;
PickupGestureWiimoteZ is its variable-length file (aeon also ships `_eq`, padded to 361 steps,
which is not used). Watch is
seglearn's smartwatch recordings of shoulder-physiotherapy exercises (Burns et al. (2018),
arXiv:1802.01489): 140 recordings, 6 channels (accelerometer ax, ay, az; gyroscope wx, wy, wz) at
50 Hz, 7 exercises, 10 subjects with 2 recordings of each exercise each. It has no official
split; here it is split by subject, fixed: subjects 1–7 train (98), subjects 8–10 test (42), so
no subject is in both. The file is a pickled dict (`np.load(..., allow_pickle=True)`, as
seglearn's own `load_watch` reads it). The script checks the counts, classes, lengths and
channels above against the files and stops if any differ. Terms, as the packages state them
(written into the JSON, `TERMS`): aeon and sktime are BSD-3-Clause and their .ts files carry a
description and the data's references but no licence of their own (aeon points to
timeseriesclassification.com for each set's details; aeon 1.6.0 marks its shipped OSULeaf and
ACSF1 deprecated, to be removed in a later release, so aeon is pinned); seglearn is BSD and asks
that uses of its test data in a publication cite Burns et al. (2018).

Methods, each trained on the training part and scored (accuracy) on the test part:
- rnn, lstm, gru: `rnnlab.SeriesClassifier(model=cell, seed=s)` at its defaults otherwise
  (bidirectional, 64 units, max pooling, LSTM-FCN's convolutional branch, 100 epochs with early
  stopping, per-channel standardisation with the training statistics; --settings changes them,
  and says so in the JSON), fitted on the
  raw sequences (a list of (T_i, C) arrays, unequal lengths as they are) with the test part as
  `test_data`. The estimator carves its own stratified validation split (20% of each class, seeded)
  out of the training part, trains on the rest and keeps the weights of the epoch with the lowest
  validation loss; `history_` keeps only that loss per epoch, so validation accuracy is computed
  here from the fitted task's validation sequences (`task_.prepared.encoded["val"]`) with those
  kept weights. Test accuracy is `test_metrics_["model"]["accuracy"]`.
- rnnlab best: per seed, the cell (of those run) with the highest validation accuracy, ties broken
  by the lower best validation loss; its test accuracy is reported. Test data never choose.
- 1nn-ed, 1nn-dtw: rnnlab's `nearest_neighbour_ed` and `nearest_neighbour_dtw`
  (rnnlab.tasks.classify_series.baselines) called here, training part → test part, on sequences
  z-normalised one by one, each channel by its own mean and standard deviation (rnnlab's
  `znormalised`; the UCR archive's convention, as its published 1-NN figures are on z-normalised
  series), then resampled by linear interpolation to the longest training length L (rnnlab's
  convention for unequal lengths; a no-op on the equal-length sets). DTW is unconstrained (the
  archive's "DTW, w = 100%") unless --dtw-window sets a Sakoe–Chiba band, and dependent (one
  warping path for all channels) on Watch. They are not taken from `evaluate()`, whose baselines
  search the training and validation sequences after the per-channel standardisation, without the
  per-series z-normalisation unless znormalise=True: on a univariate set with znormalise=True that
  is the same neighbour search, but the default fit does not z-normalise; the fits' own baseline
  figures are kept in the JSON (`fit_baselines`) beside ours. 1-NN-DTW costs test × train × L²
  cells of its recurrence, about 8 ns each on one core here: PLAID's 537 × 537 × 1344² is about
  70 CPU-minutes (Watch ≈ 4, ACSF1 ≈ 3, OSULeaf ≈ 1, the others seconds); --jobs N spreads the
  test sequences over N processes, and --dtw-max-cells leaves out (as a miss, with its cost) a
  set above that many cells.
- minirocket: aeon's `MiniRocketClassifier(random_state=s)` (10,000 kernels, its ridge classifier
  with cross-validated alpha; defaults otherwise), fitted on the series as the files give them
  (not z-normalised); aeon's MiniRocket needs equal lengths, so on PickupGestureWiimoteZ, PLAID and
  Watch every series is resampled by linear interpolation to the longest training length L
  (rnnlab's `resample`, as for 1-NN). One untimed fit on random data first compiles its numba code.

Each method is timed per set: wall time and CPU time (this process and any joined workers). For
rnnlab, `fit` itself also scores the model's baselines on the test part (its 1-NN-DTW only up to
2e10 cells), so the fit's wall time includes that; `train_s` is the training loop alone. The
machines here are shared 2-core VMs, so wall times stretch with other work; CPU time is steadier.
With --seeds K, rnnlab and MiniRocket run with seeds 0 … K−1 and the accuracy is the mean over
seeds (each seed's in the JSON); the 1-NN methods are deterministic and run once.

Target (issue 17): rnnlab best at or above 1-NN-DTW on every set, and its mean accuracy over the
six within 3 points of MiniRocket's; each is printed as met or missed, never as a failure.

Environment: a separate virtualenv, .venv-ucr (gitignored), made from the repository root with
    python3 -m venv .venv-ucr
    .venv-ucr/bin/pip install torch==2.13.0                  # the CPU wheel on disk, never a bare `torch`
    .venv-ucr/bin/pip install -e . aeon==1.6.0               # aeon brings numba 0.63 (it needs numba < 0.64)
    .venv-ucr/bin/pip install --no-deps sktime==1.2.0 seglearn==1.2.5   # only their data files are read
Run (OMP_NUM_THREADS=1: one thread a process on these 2-core machines):
    OMP_NUM_THREADS=1 .venv-ucr/bin/python benchmarks/ucr.py                       # everything, seed 0
    OMP_NUM_THREADS=1 .venv-ucr/bin/python benchmarks/ucr.py --quick               # plumbing check
    OMP_NUM_THREADS=1 .venv-ucr/bin/python benchmarks/ucr.py --methods 1nn-ed,1nn-dtw,minirocket --jobs 2
--quick trains 2 epochs and keeps at most 3 series of each class in each part (--subsample N
does the latter alone): its figures are not comparable with anything and say so.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import hashlib
import json
import multiprocessing
import os
import platform
import resource
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from benchinfo import cpu_model, git_revision

try:
    import rnnlab
except ImportError:  # run from a checkout without an install: benchmarks/ is sys.path[0], not the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import rnnlab

from rnnlab.tasks.classify_series.baselines import nearest_neighbour_dtw, nearest_neighbour_ed, resample

from m3 import parse_list, parse_settings  # the benchmarks' one reading of list and key=value options

TORCH_THREADS = torch.get_num_threads()  # as OMP_NUM_THREADS set it, before aeon's numba runs

CELLS = ("rnn", "lstm", "gru")
METHODS = (*CELLS, "1nn-ed", "1nn-dtw", "minirocket")
NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "best": "rnnlab best", "1nn-ed": "1-NN-ED",
         "1nn-dtw": "1-NN-DTW", "minirocket": "MiniRocket"}
DEFAULT_OUT = Path("benchmarks/results/ucr.json")
QUICK_OUT = Path("benchmarks/results/ucr_quick.json")
NS_PER_DTW_CELL = 8.0  # measured here (one core, rnnlab's dtw_distances): for the cost estimates only


@dataclass(frozen=True)
class Source:
    """Where a set lies and what the script expects of it."""

    package: str
    files: tuple[str, ...]        # inside the installed package (TRAIN, TEST) or the one .npy
    train: int
    test: int
    classes: int
    lengths: tuple[int, int]      # shortest and longest sequence over both parts
    channels: int


_AEON = "aeon/datasets/data"
SOURCES = {
    "ArrowHead": Source("aeon", (f"{_AEON}/ArrowHead/ArrowHead_TRAIN.ts", f"{_AEON}/ArrowHead/ArrowHead_TEST.ts"),
                        36, 175, 3, (251, 251), 1),
    "OSULeaf": Source("aeon", (f"{_AEON}/OSULeaf/OSULeaf_TRAIN.ts", f"{_AEON}/OSULeaf/OSULeaf_TEST.ts"),
                      200, 242, 6, (427, 427), 1),
    "ACSF1": Source("aeon", (f"{_AEON}/ACSF1/ACSF1_TRAIN.ts", f"{_AEON}/ACSF1/ACSF1_TEST.ts"),
                    100, 100, 10, (1460, 1460), 1),
    "PickupGestureWiimoteZ": Source("aeon", (f"{_AEON}/PickupGestureWiimoteZ/PickupGestureWiimoteZ_TRAIN.ts",
                                             f"{_AEON}/PickupGestureWiimoteZ/PickupGestureWiimoteZ_TEST.ts"),
                                    50, 50, 10, (29, 361), 1),
    "PLAID": Source("sktime", ("sktime/datasets/data/PLAID/PLAID_TRAIN.ts", "sktime/datasets/data/PLAID/PLAID_TEST.ts"),
                    537, 537, 11, (100, 1344), 1),
    "Watch": Source("seglearn", ("seglearn/data/watch_dataset.npy",), 98, 42, 7, (947, 2618), 6),
}
WATCH_TEST_SUBJECTS = (8, 9, 10)  # the rest (1–7) train

_UCR = ("BSD-3-Clause package; the .ts files carry the set's description and references, no licence of their own; "
        "a UCR archive set (Dau et al. 2019), details at timeseriesclassification.com (as aeon's loaders say)")
TERMS = {
    "ArrowHead": f"aeon: {_UCR}",
    "OSULeaf": f"aeon: {_UCR}; aeon 1.6.0 marks the shipped copy deprecated, to be removed",
    "ACSF1": f"aeon: {_UCR}; aeon 1.6.0 marks the shipped copy deprecated, to be removed",
    "PickupGestureWiimoteZ": f"aeon: {_UCR}",
    "PLAID": "sktime: BSD-3-Clause package; the .ts file carries the set's description and references (Gao et al. "
             "2014; Schäfer & Leser 2017), no licence of its own",
    "Watch": "seglearn: BSD package; its README asks that a publication using its test data cite Burns et al. (2018), "
             "Shoulder Physiotherapy Exercise Recognition: Machine Learning the Inertial Signals from a Smartwatch, "
             "arXiv:1802.01489",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """One set: training and test sequences, each (T_i, C) float64, with string labels."""

    name: str
    train: list[np.ndarray]
    train_labels: np.ndarray
    test: list[np.ndarray]
    test_labels: np.ndarray
    channels: list[str]
    files: list[str]

    @property
    def length(self) -> int:
        """L, the longest training sequence: what the 1-NN methods and MiniRocket resample to."""
        return max(len(x) for x in self.train)

    @property
    def equal_length(self) -> bool:
        return len({len(x) for x in self.train + self.test}) == 1

    def describe(self) -> dict:
        digest = hashlib.sha256()
        for part, labels in ((self.train, self.train_labels), (self.test, self.test_labels)):
            for values, label in zip(part, labels):
                digest.update(np.ascontiguousarray(values).tobytes() + b"\0" + str(label).encode() + b"\0")
            digest.update(b"|")
        lengths = [len(x) for x in self.train + self.test]
        return {"files": self.files, "train": len(self.train), "test": len(self.test),
                "classes": sorted(set(self.train_labels.tolist())), "channels": self.channels,
                "lengths": [min(lengths), max(lengths)], "resample_length": self.length,
                "sha256": digest.hexdigest(), "terms": TERMS[self.name]}


def package_file(package: str, relative: str) -> Path:
    """A file inside an installed distribution, found without importing it (sktime's own deps are absent)."""
    try:
        path = Path(metadata.distribution(package).locate_file(relative))
    except metadata.PackageNotFoundError as error:
        raise FileNotFoundError(f"{package} is not installed in this environment (see the docstring)") from error
    if not path.is_file():
        raise FileNotFoundError(f"{package} {metadata.version(package)} has no {relative}")
    return path


def read_ts(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    from aeon.datasets import load_from_ts_file

    values, labels = load_from_ts_file(str(path))
    return [np.asarray(x, dtype=np.float64).T for x in values], np.asarray(labels).astype(str)  # (C, T) → (T, C)


def load_set(name: str) -> Split:
    source = SOURCES[name]
    paths = [package_file(source.package, f) for f in source.files]
    files = [f"{source.package} {metadata.version(source.package)}: {f}" for f in source.files]
    if name == "Watch":
        data = np.load(paths[0], allow_pickle=True).item()  # a pickled dict, as seglearn.datasets.load_watch reads it
        series = [np.asarray(x, dtype=np.float64) for x in data["X"]]
        labels = np.asarray(data["y_labels"])[np.asarray(data["y"])].astype(str)
        test = np.isin(np.asarray(data["subject"]), WATCH_TEST_SUBJECTS)
        split = Split(name, [x for x, t in zip(series, test) if not t], labels[~test],
                      [x for x, t in zip(series, test) if t], labels[test], [str(c) for c in data["X_labels"]], files)
    else:
        train, train_labels = read_ts(paths[0])
        test, test_labels = read_ts(paths[1])
        split = Split(name, train, train_labels, test, test_labels, [f"dim_{c}" for c in range(train[0].shape[1])],
                      files)
    check_set(split, source)
    return split


def check_set(split: Split, source: Source) -> None:
    lengths = [len(x) for x in split.train + split.test]
    found = (len(split.train), len(split.test), len(set(split.train_labels.tolist())),
             (min(lengths), max(lengths)), {x.shape[1] for x in split.train + split.test})
    expected = (source.train, source.test, source.classes, source.lengths, {source.channels})
    if found != expected:
        raise SystemExit(f"{split.name}: expected (train, test, classes, lengths, channels) {expected}; the files "
                         f"give {found}")
    if set(split.test_labels.tolist()) - set(split.train_labels.tolist()):
        raise SystemExit(f"{split.name}: test labels the training part lacks")
    if not all(np.isfinite(x).all() for x in split.train + split.test):
        raise SystemExit(f"{split.name}: a missing or non-finite value")


def subsample(split: Split, per_class: int) -> Split:
    """SMOKE RUNS ONLY: the first `per_class` sequences of each class in each part (file order)."""
    def keep(labels):
        seen: dict[str, int] = {}
        rows = []
        for row, label in enumerate(labels.tolist()):
            seen[label] = seen.get(label, 0) + 1
            if seen[label] <= per_class:
                rows.append(row)
        return rows

    train, test = keep(split.train_labels), keep(split.test_labels)
    return Split(split.name, [split.train[i] for i in train], split.train_labels[train], [split.test[i] for i in test],
                 split.test_labels[test], split.channels, split.files)


def znormalised_each(series: list[np.ndarray]) -> list[np.ndarray]:
    """Each sequence, each channel less its own mean over its own standard deviation (rnnlab's `znormalised`)."""
    from rnnlab.tasks.classify_series.task import znormalised

    return [znormalised(x) for x in series]


# -- methods ------------------------------------------------------------------------------------


def cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # joined DTW workers
    return time.process_time() + children.ru_utime + children.ru_stime


def accuracy(actual: np.ndarray, predicted) -> float:
    return float(np.mean(np.asarray(actual).astype(str) == np.asarray(predicted).astype(str)))


def fit_cell(split: Split, cell: str, seed: int, settings: dict) -> dict:
    """One rnnlab cell at its defaults (plus `settings`): validation and test accuracy, times, epochs."""
    from rnnlab.tasks.classify_series.model import predict_probabilities

    # numba's threading layer (MiniRocket) raises torch's thread count to the cores: set it back
    torch.set_num_threads(TORCH_THREADS)
    wall, cpu = time.perf_counter(), cpu_seconds()
    clf = rnnlab.SeriesClassifier(model=cell, seed=seed, **settings)
    clf.fit(split.train, split.train_labels.tolist(), test_data=(split.test, split.test_labels.tolist()))
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    sequences, targets = clf.task_.prepared.encoded["val"]  # the split the kept weights were chosen on
    val_accuracy = float(np.mean(predict_probabilities(clf.network_, sequences).argmax(axis=1) == targets))
    scored = [r["val_loss"] for r in clf.history_ if r.get("val_loss") is not None]
    best_epoch = min(clf.history_, key=lambda r: r["val_loss"])["epoch"] if scored else None
    metrics = clf.test_metrics_
    return {"test_accuracy": metrics["model"]["accuracy"], "val_accuracy": val_accuracy,
            "best_val_loss": min(scored) if scored else None, "best_epoch": best_epoch,
            "epochs_run": len(clf.history_), "val_sequences": int(len(targets)),
            "fit_baselines": {k: v["accuracy"] for k, v in metrics.items() if k != "model"},
            "device": str(next(clf.network_.parameters()).device), "torch_threads": torch.get_num_threads(),
            "wall_s": wall, "cpu_s": cpu, "train_s": clf.training_seconds_}


def best_cell(cells: dict[str, dict]) -> str:
    """The cell with the highest validation accuracy; ties: the lower best validation loss, then CELLS order."""
    def key(cell):
        run = cells[cell]
        loss = run["best_val_loss"] if run["best_val_loss"] is not None else float("inf")
        return (-run["val_accuracy"], loss, CELLS.index(cell))
    return min(cells, key=key)


def _dtw_chunk(arguments):
    train, labels, queries, length, window = arguments
    return nearest_neighbour_dtw(train, labels, queries, length, window)


def nearest_neighbours(split: Split, distance: str, window: float | None, jobs: int) -> np.ndarray:
    """1-NN labels of the z-normalised test sequences among the z-normalised training ones, at length L."""
    train, test, length = znormalised_each(split.train), znormalised_each(split.test), split.length
    labels = split.train_labels
    if distance == "ed":
        return nearest_neighbour_ed(train, labels, test, length)
    if jobs == 1 or len(test) < 2:
        return nearest_neighbour_dtw(train, labels, test, length, window)
    chunks = [rows for rows in np.array_split(np.arange(len(test)), min(len(test), 4 * jobs)) if len(rows)]
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        parts = pool.map(_dtw_chunk, [(train, labels, [test[i] for i in rows], length, window) for rows in chunks])
        return np.concatenate(list(parts))


def dtw_cells(split: Split, window: float | None) -> float:
    """Recurrence cells of 1-NN-DTW on `split` (the band keeps about 2·window of them)."""
    share = 1.0 if window is None else min(1.0, 2 * window + 1 / split.length)
    return len(split.test) * len(split.train) * split.length ** 2 * share


def equal_length_array(series: list[np.ndarray], length: int) -> np.ndarray:
    """(N, C, L) for aeon: each (T_i, C) sequence resampled to L (unchanged where T_i = L)."""
    return np.stack([(x if len(x) == length else resample(x, length)).T for x in series])


_WARMED: set[bool] = set()


def warm_minirocket(channels: int) -> None:
    """One untimed fit on random data: numba compiles MiniRocket's univariate and its multivariate
    code on their first use (about 23 s and 10 s here, then cached on disk)."""
    from aeon.classification.convolution_based import MiniRocketClassifier

    if (channels > 1) not in _WARMED:
        noise = np.random.default_rng(0).normal(size=(6, channels, 64))
        MiniRocketClassifier(random_state=0).fit(noise, np.array(["a", "b"] * 3)).predict(noise)
        _WARMED.add(channels > 1)


def minirocket(split: Split, seed: int) -> np.ndarray:
    from aeon.classification.convolution_based import MiniRocketClassifier

    # aeon's MiniRocket takes equal lengths only: unequal ones are resampled to L (see the docstring)
    train = equal_length_array(split.train, split.length)
    test = equal_length_array(split.test, split.length)
    model = MiniRocketClassifier(random_state=seed).fit(train, split.train_labels)
    return model.predict(test)


def run_set(split: Split, args) -> dict:
    """Every requested method on one set; a method that fails is recorded as such and the rest go on."""
    results: dict[str, dict] = {}
    cells_by_seed: list[dict[str, dict]] = [{} for _ in range(args.seeds)]
    for method in args.methods:
        try:
            if method in CELLS:
                runs = []
                for seed in range(args.seeds):
                    run = fit_cell(split, method, seed, args.settings)
                    cells_by_seed[seed][method] = run
                    runs.append(run)
                    log(f"{split.name:>22} {method:>10} seed {seed}: test {run['test_accuracy']:.3f}, validation "
                        f"{run['val_accuracy']:.3f} ({run['epochs_run']} epochs, best {run['best_epoch']}; "
                        f"{run['wall_s']:.0f} s wall, {run['cpu_s']:.0f} s CPU)")
                results[method] = summarise(runs)
            elif method == "minirocket":
                warm_minirocket(len(split.channels))
                runs = []
                for seed in range(args.seeds):
                    wall, cpu = time.perf_counter(), cpu_seconds()
                    predicted = minirocket(split, seed)
                    runs.append({"test_accuracy": accuracy(split.test_labels, predicted),
                                 "wall_s": time.perf_counter() - wall, "cpu_s": cpu_seconds() - cpu})
                results[method] = summarise(runs)
                log(f"{split.name:>22} {method:>10}: test {results[method]['test_accuracy']:.3f} "
                    f"({results[method]['wall_s']:.0f} s wall)")
            else:
                cells = dtw_cells(split, args.dtw_window) if method == "1nn-dtw" else None
                if cells is not None and args.dtw_max_cells and cells > args.dtw_max_cells:
                    minutes = cells * NS_PER_DTW_CELL / 6e10
                    results[method] = {"skipped": f"{cells:.2e} cells of DTW (about {minutes:.0f} CPU-minutes) "
                                                  f"exceed --dtw-max-cells {args.dtw_max_cells:.2e}"}
                    log(f"{split.name:>22} {method:>10}: skipped, {results[method]['skipped']}")
                    continue
                if cells is not None:
                    log(f"{split.name:>22} {method:>10}: {cells:.2e} cells, about "
                        f"{cells * NS_PER_DTW_CELL / 1e9 / args.jobs:.0f} s on {args.jobs} process(es)")
                wall, cpu = time.perf_counter(), cpu_seconds()
                predicted = nearest_neighbours(split, "ed" if method == "1nn-ed" else "dtw", args.dtw_window,
                                               args.jobs)
                results[method] = {"test_accuracy": accuracy(split.test_labels, predicted),
                                   "wall_s": time.perf_counter() - wall, "cpu_s": cpu_seconds() - cpu}
                if cells is not None:
                    results[method]["dtw_cells"] = cells
                log(f"{split.name:>22} {method:>10}: test {results[method]['test_accuracy']:.3f} "
                    f"({results[method]['wall_s']:.0f} s wall, {results[method]['cpu_s']:.0f} s CPU)")
        except Exception as error:  # noqa: BLE001 — a failing method is a reported miss, not the end of the suite
            results[method] = {"error": f"{type(error).__name__}: {error}"}
            log(f"{split.name:>22} {method:>10}: FAILED, {results[method]['error']}")
    if any(cells_by_seed[0]):
        choices = [best_cell(cells) for cells in cells_by_seed if len(cells) == len(cells_by_seed[0])]
        runs = [{"test_accuracy": cells[cell]["test_accuracy"], "val_accuracy": cells[cell]["val_accuracy"],
                 "wall_s": sum(r["wall_s"] for r in cells.values()), "cpu_s": sum(r["cpu_s"] for r in cells.values())}
                for cells, cell in zip(cells_by_seed, choices)]
        results["best"] = {**summarise(runs), "cells": choices, "candidates": sorted(cells_by_seed[0], key=CELLS.index),
                           "note": "times are those of all candidate cells together"}
    return results


def summarise(runs: list[dict]) -> dict:
    """The mean over seeds of each number, with each seed's run kept."""
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    mean = {k: float(np.mean([r[k] for r in runs if r[k] is not None])) if any(r[k] is not None for r in runs)
            else None for k in keys}
    return {**mean, "per_seed": runs}


# -- report -------------------------------------------------------------------------------------


def columns(args) -> list[str]:
    cells = [m for m in args.methods if m in CELLS]
    return cells + (["best"] if cells else []) + [m for m in args.methods if m not in CELLS]


def cell_text(result: dict | None, key: str = "test_accuracy") -> str:
    if result is None:
        return ""
    if "error" in result:
        return "failed"
    if "skipped" in result:
        return "skipped"
    return f"{result[key]:.3f}"


def means(sets: dict[str, dict], names: list[str]) -> dict[str, float | None]:
    """Mean test accuracy of each method over the sets where it has a figure (None when it has none)."""
    found = {}
    for name in names:
        values = [r[name]["test_accuracy"] for r in sets.values() if "test_accuracy" in r.get(name, {})]
        found[name] = float(np.mean(values)) if values else None
    return found


def accuracy_table(report: dict, names: list[str]) -> str:
    header = ["set", "train/test"] + [NAMES[n] for n in names]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for set_name, results in report["sets"].items():
        data = report["data"][set_name]
        row = [set_name, f"{data['train']}/{data['test']}"]
        for name in names:
            text = cell_text(results.get(name))
            if name == "best" and "cells" in results.get("best", {}):
                text += " (" + ",".join(results["best"]["cells"]) + ")"
            row.append(text)
        lines.append("| " + " | ".join(row) + " |")
    complete = [n for n in names if all("test_accuracy" in r.get(n, {}) for r in report["sets"].values())]
    average = means(report["sets"], names)
    lines.append("| mean | | " + " | ".join(
        (f"{average[n]:.3f}" + ("" if n in complete else "*")) if average[n] is not None else "" for n in names) + " |")
    note = "\n* over the sets where the method has a figure, not all of them\n" if set(names) - set(complete) else ""
    return "\n".join(lines) + "\n" + note


def time_table(report: dict, names: list[str]) -> str:
    header = ["set"] + [NAMES[n] for n in names]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for set_name, results in report["sets"].items():
        row = [set_name]
        for name in names:
            result = results.get(name, {})
            row.append(f"{result['wall_s']:.0f} / {result['cpu_s']:.0f}" if "wall_s" in result else cell_text(
                result or None))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def target_lines(report: dict) -> list[str]:
    """Issue 17's target, set by set: met, missed, or not measured."""
    lines, sets = [], report["sets"]
    for set_name, results in sets.items():
        best, dtw = results.get("best", {}), results.get("1nn-dtw", {})
        if "test_accuracy" in best and "test_accuracy" in dtw:
            verdict = "met" if best["test_accuracy"] >= dtw["test_accuracy"] else "miss"
            lines.append(f"- {verdict}: {set_name} rnnlab best {best['test_accuracy']:.3f} vs 1-NN-DTW "
                         f"{dtw['test_accuracy']:.3f} (target: at or above)")
        else:
            lines.append(f"- not measured: {set_name} rnnlab best ≥ 1-NN-DTW ("
                         + ", ".join(f"{NAMES[n]} {cell_text(results.get(n)) or 'not run'}"
                                     for n in ("best", "1nn-dtw"))
                         + ")")
    both = [r for r in sets.values() if "test_accuracy" in r.get("best", {}) and
            "test_accuracy" in r.get("minirocket", {})]
    if both and len(both) == len(sets):
        gap = 100 * (np.mean([r["minirocket"]["test_accuracy"] for r in both])
                     - np.mean([r["best"]["test_accuracy"] for r in both]))
        lines.append(f"- {'met' if gap <= 3 else 'miss'}: mean accuracy, rnnlab best {gap:.1f} points below "
                     f"MiniRocket over {len(both)} sets (target: within 3)")
    else:
        lines.append(f"- not measured: mean accuracy within 3 points of MiniRocket (both on {len(both)} of "
                     f"{len(sets)} sets)")
    return lines


def run_lines(report: dict) -> list[str]:
    box, found = report["machine"], report["versions"]
    load = " / ".join(f"{x:.2f}" for x in box["load_average_at_start"] or [])
    load_end = " / ".join(f"{x:.2f}" for x in box["load_average_at_end"] or [])
    lines = [
        f"- machine: {box['cpu']}, {box['cores']} cores (os.cpu_count()); torch threads: {box['torch_threads']}; "
        f"DTW processes: {report['jobs']}",
        f"- torch {found['torch']}, aeon {found['aeon']}, numba {found['numba']}, numpy {found['numpy']}, "
        f"scikit-learn {found['scikit-learn']}, sktime {found['sktime']} and seglearn {found['seglearn']} (data "
        f"files only), Python {box['python']}, rnnlab {found['rnnlab']} at {found['revision']}",
        f"- date: {report['date']}; duration {report['duration_s']:.0f} s; load average (1/5/15 min) at start: "
        f"{load}, at end: {load_end}",
        f"- seeds: {report['seeds']} (rnnlab and MiniRocket: mean over seeds); rnnlab settings: "
        f"{report['rnnlab_settings'] or 'defaults'}; 1-NN: z-normalised per series and channel, resampled to the "
        f"longest training length; DTW window: {report['dtw_window'] if report['dtw_window'] is not None else 'none'}",
        "- accuracy on the test part; rnnlab best = the cell with the best validation accuracy (its own stratified "
        "20% of the training part), ties to the lower validation loss; Watch split by subject (1–7 train, "
        "8–10 test)",
    ]
    if report["subsample"]:
        lines.append(f"- SMOKE RUN: at most {report['subsample']} series per class in each part, rnnlab epochs "
                     f"{report['rnnlab_settings'].get('epochs', 'default')}: not comparable with any published figure")
    return lines + [""]


def load_average() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine(load_at_start) -> dict:
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "torch_threads": TORCH_THREADS,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "load_average_at_start": load_at_start,
            "load_average_at_end": load_average(), "platform": platform.platform(), "python": platform.python_version()}


def versions(packages=("numpy", "torch", "aeon", "numba", "scikit-learn", "sktime", "seglearn")) -> dict:
    found = {"rnnlab": rnnlab.__version__, "revision": git_revision()}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def parse_cell_settings(text: str) -> dict:
    """m3.py's --settings, without the two that --methods and --seeds give."""
    settings = parse_settings(text)
    if "model" in settings or "seed" in settings:
        raise SystemExit("--settings: the cell and the seed come from --methods and --seeds")
    return settings


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Six series-classification sets: test accuracy of rnnlab's RNN, "
                                                 "LSTM and GRU, 1-NN-ED, 1-NN-DTW and aeon's MiniRocket.")
    parser.add_argument("--datasets", default=",".join(SOURCES), help=f"comma-separated: {', '.join(SOURCES)}")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated: {', '.join(METHODS)} "
                                                                     "(rnnlab best is formed from the cells run)")
    parser.add_argument("--seeds", type=int, default=1, help="rnnlab and MiniRocket: seeds 0..K-1, mean accuracy")
    parser.add_argument("--settings", default="", help="rnnlab: SeriesClassifier settings other than the defaults, "
                                                         "'key=value,...' (e.g. znormalise=true)")
    parser.add_argument("--dtw-window", type=float, default=None,
                        help="1-NN-DTW's Sakoe-Chiba band as a fraction of L (default: none, unconstrained)")
    parser.add_argument("--dtw-max-cells", type=float, default=0,
                        help="leave 1-NN-DTW out (reported as skipped) on a set above this many cells; 0: never")
    parser.add_argument("--jobs", type=int, default=1, help="processes for 1-NN-DTW (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: rnnlab 2 epochs and at most 3 series per class in each part")
    parser.add_argument("--subsample", type=int, default=None, help="at most N series per class in each part "
                                                                    "(smoke runs)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"JSON with every figure (default {DEFAULT_OUT}; with --quick {QUICK_OUT})")
    args = parser.parse_args(argv)
    args.datasets = parse_list(args.datasets, tuple(SOURCES), "--datasets")
    args.methods = parse_list(args.methods, METHODS, "--methods")
    args.settings = parse_cell_settings(args.settings)
    if args.seeds < 1 or args.jobs < 1 or (args.subsample is not None and args.subsample < 1):
        parser.error("--seeds, --jobs and --subsample must be >= 1")
    if args.dtw_window is not None and not 0.0 <= args.dtw_window <= 1.0:
        parser.error("--dtw-window must be in [0, 1]")
    if args.quick:
        args.settings.setdefault("epochs", 2)
        args.subsample = args.subsample or 3
    if args.out is None:
        args.out = QUICK_OUT if args.quick else DEFAULT_OUT
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    command = " ".join(["benchmarks/ucr.py", *(sys.argv[1:] if argv is None else argv)])
    started, clock, load_at_start = datetime.datetime.now(datetime.timezone.utc), time.perf_counter(), load_average()
    data, sets, failures = {}, {}, {}
    for name in args.datasets:
        try:
            split = load_set(name)
        except (OSError, ValueError, KeyError) as error:
            failures[name] = f"{type(error).__name__}: {error}"
            log(f"{name}: not loaded, {failures[name]}")
            continue
        if args.subsample:
            split = subsample(split, args.subsample)
        data[name] = split.describe()
        log(f"{name}: {len(split.train)} train, {len(split.test)} test, {len(data[name]['classes'])} classes, "
            f"lengths {data[name]['lengths'][0]}–{data[name]['lengths'][1]}, {len(split.channels)} channel(s)")
        sets[name] = run_set(split, args)
    report = {
        "benchmark": "series classification: UCR sets (official split), PLAID, seglearn's watch (split by subject)",
        "date": started.strftime("%Y-%m-%d %H:%M UTC"), "duration_s": time.perf_counter() - clock,
        "command": command, "seeds": args.seeds, "rnnlab_settings": args.settings, "dtw_window": args.dtw_window,
        "dtw_max_cells": args.dtw_max_cells or None, "jobs": args.jobs, "subsample": args.subsample,
        "protocol": {
            "rnnlab": "SeriesClassifier(model=cell, seed=s) at defaults (plus rnnlab_settings), fitted on the raw "
                      "training sequences with the test part as test_data; val_accuracy on its own stratified "
                      "validation split with the kept (lowest validation loss) weights",
            "best": "per seed the cell with the highest val_accuracy, ties to the lower best_val_loss; its test "
                    "accuracy",
            "1nn": "rnnlab's nearest_neighbour_ed / nearest_neighbour_dtw, training part → test part, each sequence "
                   "z-normalised per channel, resampled to the longest training length",
            "minirocket": "aeon MiniRocketClassifier(random_state=s), defaults; raw series, resampled to the longest "
                          "training length where lengths differ",
            "watch_split": f"test subjects {list(WATCH_TEST_SUBJECTS)}, the rest train"},
        "machine": machine(load_at_start), "versions": versions(), "data": data, "not_loaded": failures,
        "sets": sets,
    }
    names = columns(args)
    report["means"] = means(sets, names)
    report["targets"] = target_lines(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    log(f"written to {args.out}")
    print("\n".join(run_lines(report)))
    print("Test accuracy:\n")
    print(accuracy_table(report, names))
    print("Time, wall s / CPU s (rnnlab: each fit, its own test scoring included; rnnlab best: its candidates "
          "together):\n")
    print(time_table(report, names))
    print("Target:\n")
    print("\n".join(report["targets"] + [f"- not loaded: {n} ({why})" for n, why in failures.items()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
