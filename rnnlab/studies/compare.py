"""RNN vs LSTM vs GRU on one task, measured: the comparison every course on recurrent networks ends with.

Every architecture (and, optionally, every value of one more setting) is trained on the same data
with the same budget and the same seeds by the task's own estimator, and each run saved in its own directory.
Then each is measured on one held-out batch (`Estimator.probe`):

- the task's headline metric against its baseline, as mean ± standard deviation over the seeds;
- parameters, training time (total, and the median seconds per epoch, which early stopping does
  not distort), inference time (median of repeated forward passes over the batch);
- memory: the bytes autograd saves for the backward pass of that batch, parameters excluded. On
  the CPU no allocator reports a peak per model, and this is the part of training memory that
  differs between architectures; on CUDA the allocator's peak over a forward and backward is added;
- the gradient flow through time and the gates of the first seed's model (`rnnlab.studies.diagnose`).

The comparison is built in `<out>.partial` and renamed to `<out>` when complete.
"""

from __future__ import annotations

import dataclasses
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from rnnlab.report.html import Section, Table, write_report
from rnnlab.report.diagnostic_plots import plot_comparison, plot_gradient_flow
from rnnlab.studies.diagnose import Inspection, flow_summary, flow_table, inspect, write_plots
from rnnlab.report.atomic import write_json
from rnnlab.tasks.api import Probe
from rnnlab.tasks.estimator import Estimator
from rnnlab.tasks.pipeline import num_parameters
from rnnlab.tasks.rundir import Stage

ARCHITECTURES = ("rnn", "lstm", "gru")


def saved_activation_bytes(model: torch.nn.Module, loss) -> int:
    """Bytes the forward pass of `loss()` saves for the backward pass, parameters excluded."""
    parameters = {p.data_ptr() for p in model.parameters()}
    seen, total = set(), 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        key = (tensor.data_ptr(), tensor.numel())
        if tensor.data_ptr() not in parameters and key not in seen:  # one storage counted once
            seen.add(key)
            total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss()
    return total


def inference_seconds(probe: Probe, repeats: int = 5) -> float:
    """Median seconds of one forward pass over the probe's batch, after one warm-up pass."""
    times = []
    with torch.inference_mode():
        for index in range(repeats + 1):
            started = time.perf_counter()
            probe.loss()
            if index:
                times.append(time.perf_counter() - started)
    return statistics.median(times)


def cuda_peak_bytes(probe: Probe) -> int | None:
    """The CUDA allocator's peak over a forward and backward pass of the probe's batch; None on the CPU."""
    device = next(probe.model.parameters()).device
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    with torch.enable_grad():
        probe.loss().backward()
    probe.model.zero_grad(set_to_none=True)
    return torch.cuda.max_memory_allocated(device)


def variants(models, vary: tuple[str, list] | None) -> list[tuple[str, dict]]:
    """(name, overrides) for every model, and every value of the varied setting when there is one."""
    result = []
    for model in models:
        if vary is None:
            result.append((model.upper(), {"model": model}))
        else:
            field, values = vary
            result.extend((f"{model.upper()} {field}={value}", {"model": model, field: value}) for value in values)
    return result


def check_vary(estimator: Estimator, vary: tuple[str, list] | None) -> None:
    """ValueError unless `vary` names one setting of the estimator other than those compare crosses itself."""
    if vary is None:
        return
    name, values = vary
    if name in ("model", "seed"):
        raise ValueError(f"vary cannot name {name!r}: compare already crosses the models (--models) and the seeds "
                         f"(--seeds); received vary={name}={','.join(map(str, values))}")
    settings = [k for k in estimator.get_params() if k != "verbose"]
    if name not in settings:
        raise ValueError(f"vary must name a setting of the {estimator.task.name} task ({', '.join(settings)}); "
                         f"received {name!r}")
    if not values:
        raise ValueError(f"vary must give at least one value for {name}; received none")


def compare(estimator: Estimator, data: Any, out: str | Path, *, data_options: dict | None = None,
            models=ARCHITECTURES, seeds=(0,), vary: tuple[str, list] | None = None, probe_rows: int = 64,
            command: str = "", log=print) -> dict:
    """Trains every variant of `estimator` for every seed under `out` and compares them.

    Args:
        estimator: an unfitted task estimator holding the base settings; its `model` and `seed`
            (and the varied setting) are replaced per run, e.g. `rnnlab.Forecaster(window=24)`.
        data: what each run is fitted on (None for the generated memory tasks).
        out: the directory to write; it must not exist. Each run is saved in a folder of it.
        data_options: the estimator's other `fit` data arguments (a target, columns, ...).
        models: the architectures to train.
        seeds: one run per seed per variant; the table shows mean ± standard deviation.
        vary: (setting, values) of one more setting to cross with the models, e.g. ("hidden_size", [32, 64]).
        probe_rows: held-out sequences in the batch that inference, memory and gradients are measured on.
        log: called with one line as each run finishes ("run k of N: ...").

    Returns:
        {"task", "headline": (metric, higher_is_better, baseline), "runs": one dict per run,
         "rows": one aggregated dict per variant, "inspections": {variant: Inspection of its first seed}}.

    Raises:
        ValueError: for a bad setting, seed list or `vary`, before anything is trained or written.
    """
    task = estimator.task
    stage = Stage(out)  # refuses an existing out before anything is trained
    if not seeds:
        raise ValueError("seeds must name at least one seed; received none")
    check_vary(estimator, vary)
    plan = [(name, overrides, seed) for name, overrides in variants(models, vary) for seed in seeds]
    for _, overrides, _ in plan[:: len(seeds)]:  # every variant's settings, checked before the first run
        type(estimator)(**{**estimator.get_params(), **overrides}).config(data, **(data_options or {}))
    partial = stage.open()
    try:
        runs, inspections = [], {}
        for index, (name, overrides, seed) in enumerate(plan, start=1):
            run_dir = partial / (name.lower().replace(" ", "-").replace("=", "") + f"-seed{seed}")
            fitted = _fit(estimator, overrides, seed, data, data_options)
            fitted.save(run_dir, command=command or fitted.command_line())
            runs.append(_measure(task, name, seed, fitted, probe_rows, inspections)
                        | {"run_dir": str(stage.out / run_dir.name)})  # where it will be once the comparison is complete
            log(f"run {index} of {len(plan)}: {name} seed {seed}: {task.headline.metric} {runs[-1]['metric']:.4g} "
                f"({runs[-1]['seconds']:.1f} s)")
        rows = aggregate(runs)
        result = {"task": task.name, "headline": dataclasses.astuple(task.headline), "runs": runs, "rows": rows,
                  "inspections": inspections}
        write_json(partial / "compare.json", {k: v for k, v in result.items() if k != "inspections"} | {
            "flow": {name: flow_summary(i.flow) for name, i in inspections.items()}})
        _write_report(partial, task.name, estimator, result, seeds, command)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # nothing half-done is left behind; nothing can resume it
        raise
    stage.finish()
    return result


def _fit(estimator: Estimator, overrides: dict, seed: int, data: Any, data_options: dict | None) -> Estimator:
    """A fresh estimator with the base settings and `overrides`, fitted quietly on `data`."""
    run = type(estimator)(**{**estimator.get_params(), **overrides, "seed": seed, "verbose": False})
    return run.fit(data, **(data_options or {})) if task_reads_data(run) else run.fit()


def task_reads_data(estimator: Estimator) -> bool:
    """True for a task that is fitted on data (every task but the generated memory tasks)."""
    return "data" in estimator.task.config_class.DATA


def _measure(task, name: str, seed: int, fitted: Estimator, probe_rows: int, inspections: dict) -> dict:
    probe = fitted.probe(probe_rows)
    metrics, headline = fitted.test_metrics_, task.headline
    seconds = [record["seconds"] for record in fitted.history_ if record.get("seconds") is not None]
    run = {"name": name, "seed": seed, "metric": metrics["model"][headline.metric],
           "baseline": metrics.get(headline.baseline, {}).get(headline.metric, float("nan")),
           "parameters": num_parameters(probe.model), "seconds": fitted.training_seconds_,
           "epochs": len(fitted.history_), "epoch_seconds": statistics.median(seconds) if seconds else float("nan"),
           "inference_ms": 1000 * inference_seconds(probe), "saved_bytes": saved_activation_bytes(probe.model, probe.loss),
           "cuda_peak_bytes": cuda_peak_bytes(probe), "probe": probe.description}
    if name not in inspections:
        inspections[name] = inspect(probe, clip=fitted.grad_clip or None)
    return run


def _spread(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def aggregate(runs: list[dict]) -> list[dict]:
    """One row per variant: the mean (and `<key>_spread`, the standard deviation) of each measure over seeds."""
    rows = []
    for name in dict.fromkeys(run["name"] for run in runs):
        mine = [run for run in runs if run["name"] == name]
        row = {"name": name, "seeds": len(mine), "parameters": mine[0]["parameters"],
               "saved_bytes": mine[0]["saved_bytes"], "cuda_peak_bytes": mine[0]["cuda_peak_bytes"]}
        for key in ("metric", "baseline", "seconds", "epoch_seconds", "inference_ms", "epochs"):
            values = [float(run[key]) for run in mine]
            row[key], row[f"{key}_spread"] = statistics.fmean(values), _spread(values)
        rows.append(row)
    return rows


def table_text(result: dict) -> str:
    """The comparison as a terminal table."""
    metric = result["headline"][0]
    lines = [f"{'model':22}{metric:>22}{'params':>9}{'train s':>9}{'s/epoch':>9}{'infer ms':>9}{'saved KiB':>10}"]
    for row in result["rows"]:
        value = f"{row['metric']:.4g} ± {row['metric_spread']:.2g}" if row["seeds"] > 1 else f"{row['metric']:.4g}"
        lines.append(f"{row['name']:22}{value:>22}{row['parameters']:>9}{row['seconds']:>9.1f}"
                     f"{row['epoch_seconds']:>9.3f}{row['inference_ms']:>9.2f}{row['saved_bytes'] / 1024:>10.1f}")
    baseline = result["rows"][0]["baseline"]
    lines.append(f"{result['headline'][2]:22}{baseline:>22.4g}")
    return "\n".join(lines)


def results_table(result: dict, caption: str) -> Table:
    metric, higher, baseline_name = result["headline"]
    columns = ["model", f"{metric} (mean)", "± std", "seeds", "parameters", "training s", "s / epoch",
               "inference ms / batch", "saved for backward (KiB)"]
    rows = [[r["name"], r["metric"], r["metric_spread"], r["seeds"], r["parameters"], r["seconds"],
             r["epoch_seconds"], r["inference_ms"], r["saved_bytes"] / 1024] for r in result["rows"]]
    rows.append([baseline_name, result["rows"][0]["baseline"], 0.0, "", 0, 0.0, 0.0, 0.0, 0.0])
    better = "higher" if higher else "lower"
    return Table(columns=columns, rows=rows, caption=f"{caption} {metric}: {better} is better.")


def comparison_sections(result: dict, out: Path, *, heading: str, intro: str, prefix: str = "") -> list[Section]:
    """The report sections of one comparison: table, bars, gradient flow and gates of each variant."""
    metric = result["headline"][0]
    bars = plot_comparison(
        [{"name": r["name"], metric: r["metric"], f"{metric}_spread": r["metric_spread"], "parameters": r["parameters"],
          "epoch_seconds": r["epoch_seconds"], "epoch_seconds_spread": r["epoch_seconds_spread"],
          "inference_ms": r["inference_ms"], "saved_kib": r["saved_bytes"] / 1024} for r in result["rows"]],
        out / f"{prefix}comparison.png",
        metrics=[(metric, metric), ("parameters", "parameters"), ("epoch_seconds", "seconds per epoch"),
                 ("inference_ms", "inference ms"), ("saved_kib", "saved for backward (KiB)")],
        title=heading)
    inspections: dict[str, Inspection] = result["inspections"]
    curves = {name: next(iter(i.flow.norms.values())) for name, i in inspections.items()}
    flow = plot_gradient_flow(curves, out / f"{prefix}gradient_flow.png",
                              title=f"{heading}: ‖∂L/∂h_t‖ of the first recurrent layer")
    sections = [Section(heading=heading, paragraphs=[intro], tables=[results_table(result, "")], images=[bars]),
                Section(heading=f"{heading}: gradient flow through time", paragraphs=[
                    "‖∂L/∂h_t‖ on one held-out batch with the task's own loss, for the first seed's model of each "
                    "architecture: the whole gradient reaching h_t, through its output and every later step."],
                        tables=[flow_table({name: i.flow for name, i in inspections.items()})], images=[flow])]
    for name, inspection in inspections.items():
        slug = name.lower().replace(" ", "-").replace("=", "")
        images = write_plots(inspection, out, prefix=f"{prefix}{slug}_", title=name, max_layers=1, flow=False)
        sections.append(Section(heading=f"{heading}: {name} gates", images=images))
    return sections


def _write_report(out: Path, task_name: str, estimator: Estimator, result: dict, seeds, command: str) -> None:
    intro = (f"Each model is trained on the same {task_name} data with the same optimiser, budget and seeds "
             f"({', '.join(map(str, seeds))}), then measured on one held-out batch "
             f"({result['runs'][0]['probe']}). Memory is what autograd saves for the backward pass of that batch.")
    sections = comparison_sections(result, out, heading=f"{task_name}: RNN vs LSTM vs GRU", intro=intro)
    settings = [[k, v] for k, v in estimator.get_params().items() if k not in ("model", "seed", "verbose")]
    sections.append(Section(heading="Settings", tables=[Table(columns=["setting", "value"], rows=settings)]))
    write_report(out / "report.html", title=f"rnnlab compare {task_name}", sections=sections,
                 command=command or f"rnnlab compare {task_name}")
