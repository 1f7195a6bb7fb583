"""Every task trained from its defaults on its bundled data: the held-out metric against the baseline.

This is the table issue 4 and 5 ask for ("each task trains on its bundled data in a few minutes on
2 CPU cores at default settings and beats its baseline"). Each task runs exactly as
`rnnlab train TASK --data <bundled>` would (its estimator at its defaults, fitted and saved), in a fresh temporary directory, one after another, so
the times are not disturbed by each other. The table lists, per task, its headline metric for the
model and for the task's own baseline, which side is better, the parameters and the training time.

    python benchmarks/tasks_cpu.py                      # all tasks
    python benchmarks/tasks_cpu.py --tasks generate tag # some
    python benchmarks/tasks_cpu.py --out benchmarks/results/tasks_cpu.md
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from benchinfo import cpu_model, emit, git_revision
from rnnlab.tasks.pipeline import num_parameters
from rnnlab.tasks.registry import get_estimator, get_task, task_names

# the tasks this benchmark trains (forecast has its own, benchmarks/train_vs_keras.py and the demo)
TASKS = ("classify-text", "generate", "tag", "translate", "classify-series", "anomaly")


def run_task(name: str, data: str | None, root: Path) -> dict:
    estimator_class = get_estimator(name)
    config = estimator_class.task.config_class()
    data = data or config.data  # the default, bundled, data set
    estimator = estimator_class()
    started = time.perf_counter()
    estimator.fit(data)
    estimator.save(root / name)
    wall = time.perf_counter() - started
    return {"task": name, "data": data, "model": estimator.model, "metrics": estimator.test_metrics_,
            "seconds": estimator.training_seconds_, "wall": wall,
            "parameters": num_parameters(estimator.network_)}


def row_text(result: dict) -> str:
    headline = get_task(result["task"]).headline
    metric, baseline = headline.metric, headline.baseline
    metrics = result["metrics"]
    ours = metrics["model"][metric]
    theirs = metrics[baseline][metric] if baseline in metrics else float("nan")
    beats = headline.better(ours, theirs)
    return (f"| {result['task']} | {result['data']} | {result['model']} | {metric} | {ours:.4g} | "
            f"{baseline} {theirs:.4g} | {'yes' if beats else '**no**'} | {result['parameters']} | "
            f"{result['seconds']:.0f} s | {result['wall']:.0f} s |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=[n for n in TASKS if n in task_names()])
    parser.add_argument("--data", nargs="*", default=None,
                        help="TASK=NAME pairs to train on other bundled data (e.g. classify-series=basic_motions)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    data = dict(pair.split("=", 1) for pair in args.data or [])
    lines = [f"CPU: {cpu_model()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
             f"rnnlab {git_revision()}\n\n",
             "| task | data | cell | metric | model | baseline | beats it | parameters | training | wall |\n",
             "|---|---|---|---|---|---|---|---|---|---|\n"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.tasks:
            result = run_task(name, data.get(name), Path(tmp))
            lines.append(row_text(result))
            print(lines[-1], end="", flush=True)
    emit("".join(lines), args.out)


if __name__ == "__main__":
    main()
