"""The adding-length study: at which sequence length does each architecture stop beating the mean?

Every (cell, length, seed) is one adding-problem run (`rnnlab.AddingProblem`), saved under
`out/T{length}/{cell}-seed{seed}`. At a given length every cell gets the same budget: the same
number of updates, batch size, learning rate and hidden size; only the LSTM's forget-gate bias is
an LSTM setting (see `rnnlab.tasks.memory.MemoryModel`). The number of updates may differ between
lengths (an update at T = 1000 costs a hundred at T = 10). Runs are deterministic on the CPU, so
the same arguments give the same numbers, whether the runs go one at a time or in parallel (`jobs`).

`longest_beaten` turns the runs into the verdict per cell: the longest length at which it beats
the mean predictor, and the first at which it does not.
"""

from __future__ import annotations

import multiprocessing
import statistics
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import NamedTuple

import torch

from rnnlab.report.atomic import write_json
from rnnlab.tasks.memory import AddingProblem
from rnnlab.tasks.parts import ENCODERS
from rnnlab.tasks.pipeline import num_parameters

LENGTHS = (10, 30, 100, 300, 1000)
BEATS_RATIO = 0.9
# The demo's settings, measured in benchmarks/results/memory.md. STUDY: 530–590 CPU-seconds, about
# 4.5 minutes on 2 idle cores with jobs=2. An update at T = 1000 costs a hundred at T = 10, so the
# short lengths get twice the updates for a tenth of the time: enough for the LSTM to learn T = 100.
# QUICK_STUDY: about 115 CPU-seconds, about a minute with jobs=2.
STUDY = {"lengths": LENGTHS, "seeds": (0, 1), "updates": {10: 1600, 30: 1600, 100: 1600, 300: 800, 1000: 800}}
QUICK_STUDY = {"lengths": (10, 30, 100, 1000), "seeds": (0,), "updates": 400}


class Run(NamedTuple):
    """One run of the study: its settings (an `AddingProblem`'s) and its directory."""

    settings: dict
    run_dir: Path


def study_runs(out: str | Path, *, cells: Iterable[str], lengths: Iterable[int], seeds: Iterable[int],
               updates: int | Mapping[int, int], evaluations: int, base: dict) -> list[Run]:
    """One run per (length, cell, seed), in that order, each with its own run directory under `out`.

    A length's `updates` (one number for all, or one per length) are split into `evaluations`
    epochs of ⌈updates / evaluations⌉ batches each, validated at every epoch's end.
    """
    runs = []
    for length in lengths:
        budget = updates.get(length) if isinstance(updates, Mapping) else updates
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < evaluations:
            raise ValueError(f"updates must be an integer ≥ evaluations ({evaluations}) for every length; received "
                             f"{budget!r} for length {length}")
        per_epoch = -(-budget // evaluations)
        for cell in cells:
            for seed in seeds:
                settings = {**base, "model": cell, "length": length, "seed": seed, "epochs": evaluations,
                            "train_sequences": per_epoch * base["batch_size"]}
                runs.append(Run(settings, Path(out) / f"T{length}" / f"{cell}-seed{seed}"))
    return runs


def _train(run: Run) -> dict:
    """Fits and saves one run; its summary (what `_row` needs)."""
    problem = AddingProblem(**run.settings).fit()
    problem.save(run.run_dir)
    return {"metrics": problem.test_metrics_, "parameters": num_parameters(problem.network_),
            "updates": problem.history_[-1]["steps"], "seconds": problem.training_seconds_,
            "run_dir": str(run.run_dir)}


def _train_in_worker(run: Run) -> dict:
    torch.set_num_threads(1)  # a worker of a parallel study: one core each
    return _train(run)


def adding_study(out: str | Path, *, cells: Iterable[str] = ("rnn", "lstm", "gru"), lengths: Iterable[int] = LENGTHS,
                 seeds: Iterable[int] = (0, 1), updates: int | Mapping[int, int] = 800, batch_size: int = 32,
                 hidden_size: int = 32, learning_rate: float = 1e-2, forget_bias: float | None = 1.0,
                 evaluations: int = 10, test_sequences: int = 1000, jobs: int = 1,
                 log: Callable[[str], None] | None = None) -> list[dict]:
    """Trains every (cell, length, seed) on the adding problem with the same budget per length.

    The demo's settings are `STUDY` and `QUICK_STUDY`: `adding_study(out, jobs=2, **STUDY)`.

    Args:
        out: the study's directory; each run goes to `out/T{length}/{cell}-seed{seed}` (which must
            not exist), and the rows to `out/study.json`.
        cells, lengths, seeds: what to train.
        updates: optimizer steps per run, one number for every length or {length: steps}.
        batch_size, hidden_size, learning_rate: the same for every cell and length.
        forget_bias: the LSTM's initial forget-gate bias; None keeps torch's initialisation.
        evaluations: validation passes per run (the best one's weights are kept and tested).
        test_sequences: test sequences per run.
        jobs: runs trained at once, each in its own (spawned) process on one thread; 1 trains
            here. The runs are small, so one process per core beats threads within a run. As with
            any multiprocessing, a script calling this with jobs > 1 must guard its entry point
            with `if __name__ == "__main__":`.
        log: called with one line as each run finishes ("run k of N: ..."), e.g. `print`.

    Returns:
        One row per run, in (length, cell, seed) order: cell, length, seed, mse (test), baseline_mse
        (the mean predictor's on the same sequences), within_0.04, parameters, updates, seconds
        (training time), run_dir.
    """
    cells = tuple(cells)
    for cell in cells:  # checked before the first run, not when its turn comes
        if cell not in ENCODERS:
            raise ValueError(f"cells must name cells among {sorted(ENCODERS)}; received {cell!r}")
    base = dict(hidden_size=hidden_size, batch_size=batch_size, learning_rate=learning_rate,
                forget_bias=forget_bias, test_sequences=test_sequences, patience=0)
    runs = study_runs(out, cells=cells, lengths=tuple(lengths), seeds=tuple(seeds), updates=updates,
                      evaluations=evaluations, base=base)
    if not runs:
        raise ValueError("cells, lengths and seeds must each name at least one; received an empty study")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer; received {jobs!r}")
    for run in runs:  # every run's settings, checked before the first is trained
        AddingProblem(**run.settings).config()
    rows = [_row(run, summary) for run, summary in zip(runs, _train_all(runs, jobs, log))]
    write_json(Path(out) / "study.json", rows)
    return rows


def _cost(run: Run) -> float:
    """A run's relative cost: updates × steps, tripled for the GRU (torch's CPU GRU is ~3× slower a step)."""
    settings = run.settings
    return settings["epochs"] * settings["train_sequences"] * settings["length"] * (
        3.0 if settings["model"] == "gru" else 1.0)


def _train_all(runs: list[Run], jobs: int, log) -> list[dict]:
    """The summary of every run, in the order of `runs`; logged as each finishes."""
    summaries: list[dict] = [{}] * len(runs)
    finished = 0

    def done(index: int, summary: dict) -> None:
        nonlocal finished
        summaries[index], finished = summary, finished + 1
        if log is not None:
            settings, metrics = runs[index].settings, summary["metrics"]
            log(f"run {finished} of {len(runs)}: T={settings['length']:<5} {settings['model'].upper():4} seed "
                f"{settings['seed']}: test MSE {metrics['model']['mse']:.4f} (mean predictor "
                f"{metrics['mean']['mse']:.4f}), {summary['seconds']:.1f} s")

    if jobs == 1:
        for index, run in enumerate(runs):
            done(index, _train(run))
        return summaries
    # the costliest runs first, so that the last ones are short and no core waits idle at the end;
    # spawn: a fresh interpreter per worker, whatever threads torch has started in this one
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {pool.submit(_train_in_worker, runs[index]): index
                   for index in sorted(range(len(runs)), key=lambda index: -_cost(runs[index]))}
        for future in as_completed(futures):
            done(futures[future], future.result())
    finally:
        pool.shutdown(cancel_futures=True)  # after a failure, start no more runs
    return summaries


def _row(run: Run, summary: dict) -> dict:
    model, baseline, settings = summary["metrics"]["model"], summary["metrics"]["mean"], run.settings
    return {"cell": settings["model"], "length": settings["length"], "seed": settings["seed"], "mse": model["mse"],
            "baseline_mse": baseline["mse"], "within_0.04": model["within_0.04"], "parameters": summary["parameters"],
            "updates": summary["updates"], "seconds": summary["seconds"], "run_dir": summary["run_dir"]}


def length_table(rows: Iterable[dict], *, ratio: float = BEATS_RATIO) -> list[dict]:
    """One entry per (cell, length): the mean and standard deviation over seeds of the test MSE, the
    baseline's mean, their ratio, how many seeds beat `ratio` times their own baseline, and the mean
    training seconds."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["cell"], row["length"]), []).append(row)
    table = []
    for (cell, length), mine in groups.items():
        mse = [row["mse"] for row in mine]
        baseline = statistics.fmean(row["baseline_mse"] for row in mine)
        table.append({"cell": cell, "length": length, "seeds": len(mine), "mse": statistics.fmean(mse),
                      "mse_spread": statistics.stdev(mse) if len(mse) > 1 else 0.0, "baseline_mse": baseline,
                      "ratio": statistics.fmean(mse) / baseline,
                      "seeds_beating": sum(row["mse"] < ratio * row["baseline_mse"] for row in mine),
                      "seconds": statistics.fmean(row["seconds"] for row in mine)})
    return table


def longest_beaten(rows: Iterable[dict], *, ratio: float = BEATS_RATIO) -> dict[str, dict]:
    """Per cell, the longest length at which it beats the mean predictor, and the first at which it does not.

    A cell beats the baseline at a length when its test MSE, averaged over the seeds, is below
    `ratio` times the mean predictor's on the same test sequences (averaged likewise). With the
    default 0.9 the model must explain at least a tenth of the target's variance (R² ≥ 0.1).
    A model that remembers nothing cannot get there by chance: the best it can do is a constant,
    whose MSE is the mean predictor's or more on any test set, so the margin is not eaten by test-set
    noise, while remembering either marked value alone already halves the error (1/12 vs 1/6).

    Returns:
        {cell: {"longest": the longest length beaten, or None; "stops": the shortest length not
         beaten, or None if it beats every length; "beaten": the lengths beaten, ascending}}.
    """
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio must be in (0, 1]; received {ratio!r}")
    result: dict[str, dict] = {}
    for entry in sorted(length_table(rows, ratio=ratio), key=lambda entry: entry["length"]):
        mine = result.setdefault(entry["cell"], {"longest": None, "stops": None, "beaten": []})
        if entry["mse"] < ratio * entry["baseline_mse"]:
            mine["beaten"].append(entry["length"])
            mine["longest"] = entry["length"]
        elif mine["stops"] is None:
            mine["stops"] = entry["length"]
    return result


def table_text(rows: Iterable[dict], *, ratio: float = BEATS_RATIO) -> str:
    """The study as a terminal table: per length and cell, the test MSE (mean ± std over seeds) and how
    many seeds beat `ratio` times the mean predictor; then each cell's verdict."""
    rows = list(rows)
    table = length_table(rows, ratio=ratio)
    cells = list(dict.fromkeys(entry["cell"] for entry in table))
    where = {(entry["cell"], entry["length"]): entry for entry in table}
    updates = {row["length"]: row["updates"] for row in rows}
    lines = [f"{'T':>6}{'updates':>9}" + "".join(f"{cell.upper():>22}" for cell in cells) + f"{'mean predictor':>16}"]
    for length in sorted({entry["length"] for entry in table}):
        line = f"{length:>6}{updates[length]:>9}"
        for cell in cells:
            entry = where.get((cell, length))
            line += f"{'':>22}" if entry is None else \
                f"{entry['mse']:>10.4f} ± {entry['mse_spread']:.3f} {entry['seeds_beating']}/{entry['seeds']}"
        baseline = statistics.fmean(entry["baseline_mse"] for entry in table if entry["length"] == length)
        lines.append(line + f"{baseline:>16.4f}")
    lines.append(f"(k/n: seeds whose test MSE is below {ratio:g}× the mean predictor's)")
    for cell, verdict in longest_beaten(rows, ratio=ratio).items():
        if verdict["longest"] is None:
            lines.append(f"{cell.upper()} beats {ratio:g}× the mean predictor at no length")
            continue
        lines.append(f"{cell.upper()} beats {ratio:g}× the mean predictor up to T = {verdict['longest']}"
                     + (f"; not at T = {verdict['stops']}" if verdict["stops"] is not None else " (every length)"))
    return "\n".join(lines)
