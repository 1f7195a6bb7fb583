"""The demo's study: RNN vs LSTM vs GRU measured on bundled data, and the course claims judged by the numbers.

Three parts, every architecture trained with the same data, budget and seeds within each:
1. the adding problem at increasing lengths (`rnnlab.studies.memory`): how far back each one
   remembers, and the gradient flow through time of the trained models;
2. forecasting the bundled airline series (`rnnlab.studies.compare`);
3. sentiment of the bundled Rotten Tomatoes reviews (`rnnlab.studies.compare`).
Then each claim of `rnnlab.studies.claims` is judged on those numbers. Everything is written under
`<out>.partial` and renamed to `<out>` when complete: report.html, study.json, the runs.
"""

from __future__ import annotations

import dataclasses
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnlab.diagnostics import gradient_flow
from rnnlab.report.html import Section, Table, write_report
from rnnlab.report.diagnostic_plots import plot_gradient_flow, plot_memory_curve
from rnnlab.studies import claims
from rnnlab.report.atomic import write_json
from rnnlab.studies.compare import compare, comparison_sections
from rnnlab.studies.compare import table_text as comparison_text
from rnnlab.studies.memory import BEATS_RATIO, QUICK_STUDY, STUDY, adding_study, length_table, longest_beaten
from rnnlab.studies.memory import table_text as adding_text
from rnnlab.tasks import AddingProblem, Forecaster, TextClassifier
from rnnlab.tasks.rundir import Stage

CELLS = ("rnn", "lstm", "gru")


@dataclass(frozen=True)
class StudyPlan:
    """What the study trains; `default_plan()` gives the default and the quick one."""

    seeds: tuple[int, ...]  # forecasting and text
    forecast: Forecaster    # unfitted, with the study's settings; fitted on `forecast_data`
    text: TextClassifier    # likewise, on `text_data`
    lengths: tuple[int, ...]  # adding problem
    adding_seeds: tuple[int, ...]
    updates: int | dict[int, int]  # optimizer steps per adding run (or per length)
    adding_hidden_size: int = 32
    forecast_data: str = "airline"
    text_data: str = "rotten_tomatoes"


def default_plan(quick: bool = False) -> StudyPlan:
    """The default study (about 6 minutes on 2 CPU cores) or the quick one (about 2)."""
    forecast = dict(hidden_size=32, epochs=150)
    text = dict(bidirectional=False, hidden_size=32, embedding_dim=32, epochs=4)
    if quick:
        return StudyPlan(seeds=(0,), forecast=Forecaster(**{**forecast, "epochs": 60}),
                         text=TextClassifier(**{**text, "epochs": 2}), lengths=QUICK_STUDY["lengths"],
                         adding_seeds=QUICK_STUDY["seeds"], updates=QUICK_STUDY["updates"])
    return StudyPlan(seeds=(0, 1, 2), forecast=Forecaster(**forecast), text=TextClassifier(**text), lengths=STUDY["lengths"],
                     adding_seeds=STUDY["seeds"], updates=STUDY["updates"])


def run_study(out: str | Path, *, quick: bool = False, plan: StudyPlan | None = None, jobs: int = 1,
              command: str = "", log=print) -> dict:
    """Runs the study into `out`: `plan`, or `default_plan(quick)`. Returns its numbers, the judged
    claims and "text_summary", the terminal version of the report."""
    stage = Stage(out)  # refuses an existing out before anything is trained
    started = time.perf_counter()
    chosen = plan if plan is not None else default_plan(quick)
    partial = stage.open()

    log(f"1/3 adding problem: T = {', '.join(map(str, chosen.lengths))}, seeds {list(chosen.adding_seeds)}")
    rows = adding_study(partial / "adding", cells=CELLS, lengths=chosen.lengths, seeds=chosen.adding_seeds,
                        updates=chosen.updates, hidden_size=chosen.adding_hidden_size, jobs=jobs, log=log)
    flows = _adding_flows(rows, chosen.adding_seeds[0])
    log("2/3 forecasting the airline series")
    forecast = compare(chosen.forecast, chosen.forecast_data, partial / "forecast", seeds=chosen.seeds,
                       command=command, log=log)
    log("3/3 sentiment of Rotten Tomatoes reviews")
    text = compare(chosen.text, chosen.text_data, partial / "text", seeds=chosen.seeds, command=command, log=log)

    judged = judge(rows, flows, {"forecast": forecast, "classify-text": text})
    seconds = time.perf_counter() - started
    result = {"quick": quick, "seconds": seconds, "adding": rows, "adding_flow": _flow_numbers(flows),
              "forecast": forecast["rows"], "text": text["rows"], "claims": [dataclasses.asdict(c) for c in judged]}
    write_json(partial / "study.json", result)
    _write_report(partial, chosen, rows, flows, forecast, text, judged, seconds, command, quick)
    stage.finish()
    result["text_summary"] = summary_text(rows, forecast, text, judged, seconds)
    return result


def _adding_flows(rows: list[dict], seed: int) -> dict[int, dict[str, object]]:
    """The gradient flow of each cell's trained adding model, per length, for the first seed's runs."""
    flows: dict[int, dict[str, object]] = {}
    for row in rows:
        if row["seed"] == seed:
            probe = AddingProblem.load(row["run_dir"]).probe(64)
            flows.setdefault(row["length"], {})[row["cell"].upper()] = gradient_flow(probe.model, probe.loss)
    return flows


def _flow_numbers(flows) -> dict:
    return {str(length): {cell: {"growth_per_step": next(iter(flow.growth().values())),
                                 "orders_of_magnitude": next(iter(flow.orders_of_magnitude().values()))}
                          for cell, flow in by_cell.items()} for length, by_cell in flows.items()}


def judge(rows: list[dict], flows, comparisons: dict[str, dict]) -> list[claims.Claim]:
    """Each course claim against this study's numbers."""
    lengths = sorted({row["length"] for row in rows})
    longest = {cell.upper(): verdict["longest"] for cell, verdict in longest_beaten(rows).items()}
    # the gradient claim is about LSTMs that do their job: judged at the longest length the LSTM learned
    flow_length = longest["LSTM"] or lengths[0]
    note = (", the longest length at which the LSTM learned the task" if longest["LSTM"] else
            ", the shortest length tried (the LSTM learned none)")
    orders = {cell: next(iter(flow.orders_of_magnitude().values())) for cell, flow in flows[flow_length].items()}
    growth = {cell: next(iter(flow.growth().values())) for cell, flow in flows[flow_length].items()}
    table = {(entry["cell"].upper(), entry["length"]): entry for entry in length_table(rows)}
    short, long = lengths[0], lengths[-2] if len(lengths) > 2 else lengths[-1]  # the longest is often beyond all

    def mse(length):
        return {cell: (table[(cell, length)]["mse"], table[(cell, length)]["mse_spread"]) for cell in ("GRU", "LSTM")}

    tasks = {}
    for name, result in comparisons.items():
        metric, higher, _ = result["headline"]
        by_name = {row["name"]: row for row in result["rows"]}
        tasks[name] = {"GRU": by_name["GRU"], "LSTM": by_name["LSTM"],
                       "_headline": {"metric_name": metric, "higher_is_better": higher}}
    return [claims.memory_claim(longest, lengths), claims.gradient_claim(orders, growth, flow_length, note),
            claims.gru_claim(tasks), claims.length_claim(mse(short), mse(long), short, long)]


def summary_text(rows, forecast, text, judged, seconds) -> str:
    lines = ["Adding problem: test MSE (mean ± std over seeds) by sequence length", adding_text(rows), "",
             "Forecasting the airline series", comparison_text(forecast), "",
             "Sentiment of Rotten Tomatoes reviews", comparison_text(text), "", "Claims"]
    for claim in judged:
        lines.append(f"- {claim.statement} [{claim.verdict.upper()}]\n  {claim.evidence}")
    lines.append(f"\nstudy took {seconds / 60:.1f} min")
    return "\n".join(lines)


def _adding_sections(out: Path, rows, flows) -> list[Section]:
    table = length_table(rows)
    cells = list(dict.fromkeys(entry["cell"] for entry in table))
    curves = {cell.upper(): [(e["length"], e["mse"], e["mse"] - e["mse_spread"], e["mse"] + e["mse_spread"])
                             for e in table if e["cell"] == cell] for cell in cells}
    baseline = statistics.fmean(e["baseline_mse"] for e in table)
    curve = plot_memory_curve(curves, out / "adding_mse.png", baseline=baseline,
                              title="Adding problem: test MSE by sequence length (± std over seeds)",
                              baseline_label="predict the mean")
    lengths = sorted(flows)
    longest = longest_beaten(rows)
    images = [curve]
    for length in sorted({longest.get("lstm", {}).get("longest") or lengths[0], lengths[-1]}):
        curves = {cell: next(iter(flow.norms.values())) for cell, flow in flows[length].items()}
        images.append(plot_gradient_flow(curves, out / f"adding_gradient_flow_T{length}.png",
                                         title=f"Adding problem, T = {length}: ‖∂L/∂h_t‖ of the trained models"))
    mse_rows = []
    for length in sorted({e["length"] for e in table}):
        mine = {e["cell"]: e for e in table if e["length"] == length}
        mse_rows.append([length, *(f"{mine[c]['mse']:.4f} ± {mine[c]['mse_spread']:.4f}" for c in cells),
                         float(np.mean([mine[c]["baseline_mse"] for c in cells]))])
    mse_table = Table(columns=["T", *(c.upper() for c in cells), "predict the mean"], rows=mse_rows, caption=(
        f"Test MSE, mean ± std over seeds. A cell beats the baseline at T when its mean MSE is below {BEATS_RATIO:g}× "
        "the mean predictor's (it explains at least a tenth of the target's variance)."))
    verdict_table = Table(columns=["cell", "beats the baseline up to", "first length it does not"], rows=[
        [cell.upper(), _or_none(v["longest"]), _or_none(v["stops"])] for cell, v in longest.items()])
    flow_rows = [[length, cell, next(iter(flow.growth().values())), next(iter(flow.orders_of_magnitude().values()))]
                 for length, by_cell in sorted(flows.items()) for cell, flow in by_cell.items()]
    flow_table = Table(columns=["T", "cell", "growth per step", "orders of magnitude spanned"], rows=flow_rows,
                       caption="‖∂L/∂h_t‖ of each trained model (first seed) on 64 test sequences: growth per step "
                               "going back in time (below 1: vanishing) and the orders of magnitude the curve spans.")
    return [Section(heading="How far back each one remembers: the adding problem", paragraphs=[
        "Each sequence holds random values in (0, 1) and two markers; the target is the sum of the two marked "
        "values. Predicting the mean scores an MSE of about 1/6. Every cell gets the same hidden size, batch, "
        "learning rate and number of updates at a given length."], tables=[mse_table, verdict_table], images=images[:1]),
        Section(heading="Gradient flow through time on the adding problem", tables=[flow_table], images=images[1:])]


def _or_none(value) -> str:
    return "none" if value is None else f"T = {value}"


def _write_report(out: Path, chosen: StudyPlan, rows, flows, forecast, text, judged, seconds, command, quick) -> None:
    claims_table = Table(columns=["claim", "verdict", "what this run measured"],
                         rows=[[c.statement, c.verdict, c.evidence] for c in judged],
                         caption="Each verdict is computed from the numbers of this run (rnnlab.studies.claims).")
    sections = [Section(heading="The course claims, measured", paragraphs=[
        "Courses on recurrent networks end with claims about the three architectures. This run measured each one "
        "on bundled data; the sections below hold the numbers."], tables=[claims_table])]
    sections += _adding_sections(out, rows, flows)
    seeds = ", ".join(map(str, chosen.seeds))
    sections += comparison_sections(forecast, out, heading="Forecasting the airline series", prefix="forecast_", intro=(
        f"Monthly airline passengers ({chosen.forecast_data}): {chosen.forecast.window}-month windows, "
        f"{chosen.forecast.horizon}-month horizon, "
        f"hidden size {chosen.forecast.hidden_size}, at most {chosen.forecast.epochs} epochs, seeds {seeds}. MASE "
        "below 1 beats seasonal naive."))
    sections += comparison_sections(text, out, heading="Sentiment of Rotten Tomatoes reviews", prefix="text_", intro=(
        f"Positive or negative, from the review's words: one-direction encoder, hidden size {chosen.text.hidden_size}, "
        f"{chosen.text.epochs} epochs, seeds {seeds}."))
    sections.append(Section(heading="This run", paragraphs=[
        f"{'Quick study (one seed: differences are not tested against the noise between seeds)' if quick else 'Full study'}, "
        f"{seconds / 60:.1f} minutes on "
        f"{platform.processor() or platform.machine()} with {torch.get_num_threads()} torch threads, torch "
        f"{torch.__version__}. Every run's directory is under this report's folder (adding/, forecast/, text/)."]))
    write_report(out / "report.html", title="rnnlab: RNN vs LSTM vs GRU, measured", sections=sections,
                 command=command or "rnnlab demo")
