"""Looking inside a trained run: its gates and its gradient flow through time on one held-out batch.

`inspect` runs a task's `Probe` twice: once recording every gate (no gradient), once measuring
‖∂L/∂h_t‖ with the task's own loss. `diagnose` does that for a run directory and writes a report;
`rnnlab compare` and the demo use `inspect` for each architecture they train.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnlab.diagnostics import GradientFlow, Recording, gradient_flow, record
from rnnlab.report.html import Section, Table, write_report
from rnnlab.report.diagnostic_plots import plot_gradient_flow
from rnnlab.report.gate_plots import plot_gate_heatmaps, plot_gate_histograms, saturation
from rnnlab.report.atomic import write_json
from rnnlab.tasks import load
from rnnlab.tasks.api import Probe


@dataclass(frozen=True)
class Inspection:
    """The gates and the gradient flow of one model on one batch."""

    probe: Probe
    recording: Recording
    flow: GradientFlow


def inspect(probe: Probe, *, clip: float | None = None) -> Inspection:
    """Records `probe`'s gates on its batch, then its gradient flow through time (clipping to `clip` reported)."""
    with torch.no_grad(), record(probe.model) as recording:
        probe.loss()
    return Inspection(probe, recording, gradient_flow(probe.model, probe.loss, clip=clip))


def valid_values(recording: Recording, key) -> dict[str, np.ndarray]:
    """A (module, layer, direction)'s recorded values at real steps only, name -> (N, H)."""
    values = recording.values(*key)
    lengths = recording.lengths(*key)
    steps = next(iter(values.values())).shape[0]
    if lengths is None:
        return {name: v.flatten(0, 1).double().cpu().numpy() for name, v in values.items()}
    mask = (torch.arange(steps, device=lengths.device).unsqueeze(1) < lengths).cpu()  # (T, B)
    return {name: v.cpu()[mask].double().numpy() for name, v in values.items()}


def first_sequence(recording: Recording, key) -> dict[str, np.ndarray]:
    """A (module, layer, direction)'s recorded values for the batch's first sequence, name -> (T, H)."""
    values = recording.values(*key)
    lengths = recording.lengths(*key)
    steps = int(lengths[0]) if lengths is not None else next(iter(values.values())).shape[0]
    return {name: v[:steps, 0].double().cpu().numpy() for name, v in values.items()}


def key_label(key) -> str:
    module, layer, direction = key
    return f"{module} layer {layer}" + (" reverse" if direction else "")


def gate_table(inspection: Inspection) -> Table:
    """Per layer and gate: mean, range, and the fraction saturated (near 0 or 1 for σ, ±1 for tanh)."""
    rows = []
    recording = inspection.recording
    for key in recording.keys():
        kinds = recording.kinds[key[0]]
        for name, values in valid_values(recording, key).items():
            kind = kinds.get(name, "free")
            saturated = saturation(values, kind)["saturated"] if kind in ("sigmoid", "tanh") else math.nan
            rows.append([key_label(key), name, kind, float(values.mean()), float(values.min()), float(values.max()),
                         saturated])
    return Table(columns=["layer", "value", "range", "mean", "min", "max", "saturated fraction"], rows=rows,
                 caption="Saturated: σ below 0.1 or above 0.9; tanh beyond ±0.9. Real steps only.")


def flow_table(flows: dict[str, GradientFlow]) -> Table:
    """One row per model and recurrent layer: ‖∂L/∂h_t‖ at both ends, its growth per step, and clipping."""
    rows = []
    for model, flow in flows.items():
        growth, orders = flow.growth(), flow.orders_of_magnitude()
        for label, norms in flow.norms.items():
            rows.append([model, label, len(norms), float(norms[0]), float(norms[-1]), growth[label], orders[label],
                         flow.parameter_norm, flow.clip_factor])
    return Table(columns=["model", "layer", "steps", "‖∂L/∂h‖ at t = 0", "at the last t", "growth per step",
                          "orders of magnitude spanned", "‖∇θ L‖", "clipping factor"], rows=rows, caption=(
        "‖∂L/∂h_t‖ over the units, averaged over the sequences running at t. Growth per step is the factor from "
        "step t to t − 1 fitted to the whole curve: below 1 the gradient vanishes going back in time, above 1 it "
        "explodes. Clipping multiplies every step by the same factor (1: it would not act on this batch), so it "
        "bounds the update but leaves the growth per step as it is."))


def write_plots(inspection: Inspection, out: Path, *, prefix: str = "", title: str = "",
                max_layers: int = 4, flow: bool = True) -> list[Path]:
    """Gate heatmaps (first sequence) and histograms for up to `max_layers` layers, and (with `flow`)
    the gradient-flow curves."""
    recording, paths = inspection.recording, []
    for index, key in enumerate(recording.keys()[:max_layers]):
        kinds = recording.kinds[key[0]]
        label = f"{title} {key_label(key)}".strip()
        paths.append(plot_gate_heatmaps(first_sequence(recording, key), out / f"{prefix}gates_{index}.png",
                                        title=f"{label}: gates of the first sequence", kinds=kinds))
        paths.append(plot_gate_histograms(valid_values(recording, key), out / f"{prefix}gate_histograms_{index}.png",
                                          title=f"{label}: gate values over the batch", kinds=kinds))
    if not flow:
        return paths
    curves = dict(inspection.flow.norms)
    if inspection.flow.clip_factor < 1:
        curves.update({f"{label} (clipped)": norms for label, norms in inspection.flow.clipped().items()})
    paths.append(plot_gradient_flow(curves, out / f"{prefix}gradient_flow.png",
                                    title=f"{title} gradient flow through time".strip()))
    return paths


def flow_summary(flow: GradientFlow) -> dict:
    """JSON-ready numbers of a gradient flow."""
    growth, orders = flow.growth(), flow.orders_of_magnitude()
    return {"loss": flow.loss, "parameter_norm": flow.parameter_norm, "clip": flow.clip,
            "clip_factor": flow.clip_factor,
            "layers": {label: {"growth_per_step": _finite(growth[label]), "orders_of_magnitude": _finite(orders[label]),
                               "norms": [float(x) for x in norms]} for label, norms in flow.norms.items()}}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def diagnose(run_dir: str | Path, out: str | Path | None = None, *, rows: int = 64, command: str = "") -> dict:
    """Gates and gradient flow of a trained run on `rows` held-out sequences; writes `out` (default
    `<run_dir>/diagnose`): report.html, the plots and diagnose.json, replacing an earlier diagnosis.

    Returns:
        {"run_dir", "out", "task", "model", "probe": the batch's description, "flow": `flow_summary`}.
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:  # before anything is read
        raise ValueError(f"rows must be a positive integer; received {rows!r}")
    run_dir = Path(run_dir)
    estimator = load(run_dir)
    inspection = inspect(estimator.probe(rows), clip=estimator.grad_clip or None)
    out = Path(out) if out is not None else run_dir / "diagnose"
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    model_name, task = estimator.model.upper(), estimator.task.name
    images = write_plots(inspection, partial, title=model_name)
    summary = {"run_dir": str(run_dir), "out": str(out), "task": task, "model": estimator.model,
               "probe": inspection.probe.description, "flow": flow_summary(inspection.flow)}
    write_json(partial / "diagnose.json", summary)
    sections = [
        Section(heading="Gradient flow through time", paragraphs=[
            f"On {inspection.probe.description}, with the task's own loss. ∂L/∂h_t is the whole gradient that reaches "
            "h_t: through the output at t and through every later step."], tables=[flow_table({model_name: inspection.flow})],
            images=[p for p in images if p.name.endswith("gradient_flow.png")]),
        Section(heading="Gates", tables=[gate_table(inspection)],
                images=[p for p in images if not p.name.endswith("gradient_flow.png")]),
    ]
    write_report(partial / "report.html", title=f"rnnlab diagnose: {task} {model_name} ({run_dir.name})",
                 sections=sections, command=command or f"rnnlab diagnose {run_dir}")
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return summary


def summary_text(summary: dict) -> str:
    lines = [f"{summary['task']} {str(summary['model']).upper()} on {summary['probe']}",
             f"{'layer':32}{'growth/step':>12}{'orders':>8}"]
    for label, layer in summary["flow"]["layers"].items():
        growth, orders = layer["growth_per_step"], layer["orders_of_magnitude"]
        lines.append(f"{label:32}{_fmt(growth):>12}{_fmt(orders):>8}")
    lines.append(f"report: {summary['out']}/report.html")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
