"""RNN vs LSTM vs GRU on one forecasting task, with the same data, budget and seed: the demo's study.

Each architecture is trained by `train_forecast` into its own run directory; the comparison adds
what a course asks of the three: test error against seasonal naive, parameters, training time and
memory. Memory is measured as the bytes autograd keeps for the backward pass of one training batch
(tensors saved by the forward, parameters excluded): on the CPU, where no allocator reports a peak
per model, it is the part of training memory that differs between architectures.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from rnnlab.report.html import Section, Table, write_report
from rnnlab.tasks.forecast_run import ForecastConfig, load, train_forecast, windows
from rnnlab.tasks.forecast import build_forecaster

ARCHITECTURES = ("rnn", "lstm", "gru")


def saved_activation_bytes(model: torch.nn.Module, xs: torch.Tensor) -> int:
    """Bytes the forward of `xs` saves for the backward pass, parameters excluded."""
    parameters = {p.data_ptr() for p in model.parameters()}
    seen, total = set(), 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        key = (tensor.data_ptr(), tensor.numel())
        if tensor.data_ptr() not in parameters and key not in seen:  # one storage counted once
            seen.add(key)
            total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(xs).sum()
    return total


def compare(base: ForecastConfig, out: str | Path, *, architectures=ARCHITECTURES, quiet: bool = True,
            command: str = "") -> list[dict]:
    """Trains each architecture on `base`'s task into `out/<name>`; writes `out/report.html`.

    Returns:
        One row per architecture (and one for seasonal naive): name, parameters, seconds,
        saved_bytes, and the test metrics.
    """
    out = Path(out)
    if out.exists():
        raise ValueError(f"out {str(out)!r} already exists; choose another --out or remove it")
    prepared = load(base)
    xs = torch.as_tensor(windows(base, prepared, "train")[0][: base.batch_size], dtype=torch.float32)
    rows = []
    for name in architectures:
        config = dataclasses.replace(base, model=name, out=str(out / name))
        summary = train_forecast(config, quiet=quiet, command=command)
        torch.manual_seed(config.seed)
        model = build_forecaster(config.model_config(), input_size=xs.shape[-1])
        rows.append({"name": name.upper(), "parameters": summary["parameters"], "seconds": summary["seconds"],
                     "saved_bytes": saved_activation_bytes(model, xs), **summary["metrics"]["model"]})
    rows.append({"name": "seasonal naive", "parameters": 0, "seconds": 0.0, "saved_bytes": 0,
                 **summary["metrics"]["seasonal_naive"]})
    _write_report(out, base, rows, architectures, command)
    return rows


def table_text(rows: list[dict]) -> str:
    lines = [f"{'model':16}{'test MASE':>10}{'test RMSE':>11}{'params':>9}{'train s':>9}{'saved KiB':>11}"]
    for row in rows:
        lines.append(f"{row['name']:16}{row['mase']:>10.3f}{row['rmse']:>11.2f}{row['parameters']:>9}"
                     f"{row['seconds']:>9.1f}{row['saved_bytes'] / 1024:>11.1f}")
    return "\n".join(lines)


def _write_report(out: Path, base: ForecastConfig, rows: list[dict], architectures, command: str) -> None:
    columns = ["model", "test MASE", "test RMSE", "test MAE", "parameters", "training s", "saved for backward (KiB)"]
    table = Table(columns=columns, rows=[[r["name"], r["mase"], r["rmse"], r["mae"], r["parameters"], r["seconds"],
                                          r["saved_bytes"] / 1024] for r in rows],
                  caption=f"{base.data}: window {base.window}, horizon {base.horizon}, {base.epochs} epochs at most, "
                          f"seed {base.seed}; MASE below 1 beats seasonal naive")
    sections = [Section(heading="RNN vs LSTM vs GRU", paragraphs=[
        "Each architecture is trained on the same windows with the same optimiser, budget and seed. Memory is what "
        "autograd saves for the backward pass of one training batch."], tables=[table])]
    sections += [Section(heading=name.upper(), images=[out / name / "forecast.png", out / name / "loss.png"])
                 for name in architectures]
    write_report(out / "report.html", title=f"rnnlab: RNN vs LSTM vs GRU on {base.data}", sections=sections,
                 command=command or "rnnlab demo")
