"""The eight-series table (issue 16): rnnlab's forecasters against statsforecast on eight classic single series.

Eight well-known series, each read offline from an installed package or rnnlab's bundled data
(nothing is downloaded; the script checks each series' length, start and end against the source's
documentation and stops if any differ):

    series        source                                                  frequency   n     m    h
    airline       rnnlab bundled airline (Box & Jenkins Series G)          monthly    144   12   18
    co2           statsmodels.datasets.co2 (Mauna Loa, weekly with gaps),  monthly    526   12   18
                  mean of each calendar month's weeks; the 5 months with
                  no week (1958-06, 1958-10, 1964-02..04) interpolated
                  linearly between their neighbours
    seattle_tmax  rnnlab bundled seattle_weather, column temp_max          daily     1461    7   14
    sunspots      statsmodels.datasets.sunspots (1700-2008)                yearly     309    1    6
    nile          statsmodels.datasets.nile (1871-1970)                    yearly     100    1    6
    elec_equip    statsmodels.datasets.elec_equip (Eurostat, euro area     monthly    257   12   18
                  turnover index, 1995-01..2016-05)
    wineind       pmdarima.datasets.load_wineind (1980-01..1994-08; an     monthly    176   12   18
                  array, dated here from the documented start)
    ausbeer       pmdarima.datasets.load_ausbeer (1956 Q1..2008 Q3; an     quarterly  211    4    8
                  array with one trailing NaN, dropped; dated here)

Protocol. The season m and horizon h are rnnlab's defaults for the frequency
(rnnlab.tasks.forecast.panel_task.SEASONS / HORIZONS: yearly 1/6, quarterly 4/8, monthly 12/18,
daily 7/14). Each series' last h values are its test part; everything before is its training part,
which is all any method sees. Per series and method
    MASE = (1/h · Σ_{t=1..h} |y_t − ŷ_t|) / (1/(n−m) · Σ_{t=m+1..n} |x_t − x_{t−m}|)
with x_1 … x_n the training part (the rnnlab.metrics.regression definition; lag 1 when m = 1), and
the ratio MASE / MASE of SeasonalNaive on the same series. The headline is the geometric mean of
that ratio over the eight series (lower is better; SeasonalNaive is 1 by construction). A method
that fails on a series is a miss: reported, left out of its geometric mean (which then says over
how many series it is taken), and the script still exits 0.

Methods:
- arima, theta, ets, snaive: statsforecast's AutoARIMA, AutoTheta, AutoETS and SeasonalNaive with
  season_length = m and defaults otherwise, through StatsForecast(models=[model], freq=<alias>,
  n_jobs=1).forecast on a frame with the series' real timestamps. SeasonalNaive always runs (the
  ratio needs it) and is checked against the last season repeated.
- rnnlab: rnnlab.PanelForecaster(horizon=h, season=m, seed=s, holdout=False) at its defaults
  (or with --settings), fitted on the one training series (a panel of one) given as a long
  DataFrame (unique_id, ds, y) with the real timestamps, so the calendar features apply.
  Forecast: predict(), the median.
  Seeds 0 … K−1 (--seeds, default 3); the series' MASE is the median over seeds of each seed's
  MASE. (The MASE of the element-wise median forecast over seeds is in the JSON too.)
- rnnlab-single: rnnlab.Forecaster(horizon=h, seed=s) at its defaults (an LSTM on windows of 12
  steps, direct multi-step), fitted on the training part as a pandas Series with its DatetimeIndex,
  forecasting with predict(): the h steps after the training part's end. Note its defaults carve
  its own validation and test spans (15% each) out of the training part, so its weights see only
  the first 70% of it (the forecast still reads the last window). Same seeds and median as rnnlab.

Times per series and method: wall (time.perf_counter) and CPU seconds of this process
(time.process_time), over the fit and the forecast, summed over seeds for the rnnlab methods;
the table shows the time per fit. Each statsforecast model is first fitted once, untimed, on a
made-up series, so that numba's compilation on first use is not counted against the first series.
The machines here are shared 2-core VMs: wall times stretch with other work, so the load average
at start and end is written down, and so are the versions (torch, statsforecast, statsmodels,
pmdarima, pandas, numpy) and rnnlab's revision, read at the start (a change of the checkout by the
end is recorded too).

Environment: the project's .venv-bench (see benchmarks/m3.py) plus statsmodels and pmdarima:
    .venv-bench/bin/pip install -e ".[bench]" statsmodels pmdarima "pandas<3"
Run from the repository root:
    OMP_NUM_THREADS=2 .venv-bench/bin/python benchmarks/eight_series.py                 # the table
    OMP_NUM_THREADS=1 .venv-bench/bin/python benchmarks/eight_series.py --quick         # a smoke run
    .venv-bench/bin/python benchmarks/eight_series.py --methods snaive,theta --out /tmp/e.json
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import math
import platform
import sys
import time
import traceback
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from benchinfo import cpu_model, git_revision
from m3 import compact_json, format_table, load_average, log, parse_list, parse_settings, series_mase

import rnnlab  # m3 has put the checkout on sys.path if rnnlab is not installed
from rnnlab.tasks.forecast.panel_task import HORIZONS, SEASONS

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "rnnlab" / "data" / "bundled"
PEERS = {"arima": "AutoARIMA", "theta": "AutoTheta", "ets": "AutoETS", "snaive": "SeasonalNaive"}
RNNLAB = {"rnnlab": "PanelForecaster", "rnnlab-single": "Forecaster"}
METHODS = (*PEERS, *RNNLAB)
DEFAULT_OUT = Path("benchmarks/results/eight_series.json")
QUICK_PANEL = {"epochs": 2, "steps_per_epoch": 5}   # --quick: a smoke run's budget, not a result
QUICK_SINGLE = {"epochs": 2}


# -- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One series split into its training part and its last `horizon` values (the test part)."""

    name: str
    source: str
    freq: str            # pandas alias, a key of SEASONS / HORIZONS
    times: np.ndarray    # datetime64[ns], every value's timestamp
    values: np.ndarray   # float64, finite

    @property
    def season(self) -> int:
        return SEASONS[self.freq]

    @property
    def horizon(self) -> int:
        return HORIZONS[self.freq]

    @property
    def train(self) -> np.ndarray:
        return self.values[: -self.horizon]

    @property
    def test(self) -> np.ndarray:
        return self.values[-self.horizon:]

    @property
    def train_times(self) -> np.ndarray:
        return self.times[: -self.horizon]

    def fingerprint(self) -> dict:
        digest = hashlib.sha256(self.values.tobytes() + self.times.astype("int64").tobytes()).hexdigest()
        return {"source": self.source, "freq": self.freq, "n": len(self.values), "train": len(self.train),
                "season": self.season, "horizon": self.horizon, "start": str(self.times[0])[:10],
                "end": str(self.times[-1])[:10], "sha256": digest}


def _airline():
    import pandas as pd

    frame = pd.read_csv(BUNDLED / "airline" / "airline.csv")
    return pd.to_datetime(frame["month"] + "-01"), frame["passengers"], "MS", "rnnlab bundled airline/airline.csv"


def _co2():
    from statsmodels.datasets import co2

    weekly = co2.load_pandas().data["co2"]
    monthly = weekly.resample("MS").mean().interpolate(method="linear")  # 5 months have no week at all
    return monthly.index, monthly, "MS", ("statsmodels.datasets.co2 (weekly), monthly mean of the weeks, empty "
                                          "months interpolated linearly")


def _seattle():
    import pandas as pd

    frame = pd.read_csv(BUNDLED / "seattle_weather" / "seattle_weather.csv")
    return pd.to_datetime(frame["date"]), frame["temp_max"], "D", "rnnlab bundled seattle_weather, temp_max"


def _yearly(module, year, column, label):
    import pandas as pd

    frame = module.load_pandas().data
    times = pd.to_datetime(frame[year].astype(int).astype(str) + "-01-01")
    return times, frame[column], "YS", f"statsmodels.datasets.{label} ({column})"


def _sunspots():
    from statsmodels.datasets import sunspots

    return _yearly(sunspots, "YEAR", "SUNACTIVITY", "sunspots")


def _nile():
    from statsmodels.datasets import nile

    return _yearly(nile, "year", "volume", "nile")


def _elec_equip():
    from statsmodels.datasets import elec_equip

    frame = elec_equip.load_pandas().data
    return frame.index, frame.iloc[:, 0], "MS", f"statsmodels.datasets.elec_equip ({frame.columns[0]})"


def _pmdarima(loader, start, freq, label):
    import pandas as pd

    values = np.asarray(loader(), dtype=np.float64)  # an array without dates
    note = ""
    if len(values) and np.isnan(values[-1]) and not np.isnan(values[:-1]).any():
        values, note = values[:-1], ", its trailing NaN dropped"
    return (pd.date_range(start, periods=len(values), freq=freq), values, freq,
            f"pmdarima.datasets.{label}, dated from {start} ({freq}){note}")


def _wineind():
    from pmdarima.datasets import load_wineind

    return _pmdarima(load_wineind, "1980-01-01", "MS", "load_wineind")


def _ausbeer():
    from pmdarima.datasets import load_ausbeer

    return _pmdarima(load_ausbeer, "1956-01-01", "QS", "load_ausbeer")


# name: (loader, expected length, first and last timestamps as documented by the source)
SERIES = {
    "airline": (_airline, 144, "1949-01-01", "1960-12-01"),
    "co2": (_co2, 526, "1958-03-01", "2001-12-01"),
    "seattle_tmax": (_seattle, 1461, "2012-01-01", "2015-12-31"),
    "sunspots": (_sunspots, 309, "1700-01-01", "2008-01-01"),
    "nile": (_nile, 100, "1871-01-01", "1970-01-01"),
    "elec_equip": (_elec_equip, 257, "1995-01-01", "2016-05-01"),
    "wineind": (_wineind, 176, "1980-01-01", "1994-08-01"),
    "ausbeer": (_ausbeer, 211, "1956-01-01", "2008-07-01"),
}


def load_series(names: list[str]) -> list[Series]:
    import pandas as pd

    loaded = []
    for name in names:
        loader, length, first, last = SERIES[name]
        times, values, freq, source = loader()
        times = pd.DatetimeIndex(times).to_numpy(dtype="datetime64[ns]")
        values = np.asarray(values, dtype=np.float64)
        regular = pd.date_range(first, periods=length, freq=freq).to_numpy(dtype="datetime64[ns]")
        if len(values) != length or len(times) != length or not np.array_equal(times, regular):
            raise SystemExit(f"{name} ({source}): expected {length} values at freq {freq} from {first} to {last}; "
                             f"received {len(values)} values, {str(times[0])[:10]} to {str(times[-1])[:10]}")
        if str(regular[-1])[:10] != last or not np.isfinite(values).all():
            raise SystemExit(f"{name}: last timestamp {str(regular[-1])[:10]} (expected {last}) or a non-finite "
                             "value")
        loaded.append(Series(name, source, freq, times, values))
    return loaded


# -- methods ------------------------------------------------------------------------------------


def forecast_peer(series: Series, method: str) -> np.ndarray:
    """statsforecast's model for `method` on the training part; the h forecasts."""
    import pandas as pd
    import statsforecast.models
    from statsforecast import StatsForecast

    model = getattr(statsforecast.models, PEERS[method])(season_length=series.season)
    frame = pd.DataFrame({"unique_id": series.name, "ds": series.train_times, "y": series.train})
    out = StatsForecast(models=[model], freq=series.freq, n_jobs=1).forecast(h=series.horizon, df=frame)
    expected = pd.date_range(series.times[-series.horizon], periods=series.horizon, freq=series.freq)
    if len(out) != series.horizon or not np.array_equal(pd.DatetimeIndex(out["ds"]), expected):
        raise RuntimeError(f"statsforecast's {PEERS[method]} returned {len(out)} rows, not the test part's "
                           f"{series.horizon} timestamps")
    return out[PEERS[method]].to_numpy(dtype=np.float64)


def warm_up(method: str) -> float:
    """One untimed fit of the peer on a short made-up series, so numba's compilation is not timed; its seconds."""
    start = time.perf_counter()
    times = np.arange("2000-01", "2006-01", dtype="datetime64[M]").astype("datetime64[ns]")
    values = 100 + np.arange(len(times)) + 10 * np.sin(np.arange(len(times)) * np.pi / 6)
    forecast_peer(Series("warm-up", "made up", "MS", times, values), method)
    return time.perf_counter() - start


def forecast_panel(series: Series, seed: int, quick: bool, extra: dict) -> tuple[np.ndarray, str]:
    """PanelForecaster on the training part as a panel of one; its median forecast and the input form used."""
    import pandas as pd
    from rnnlab.tasks.forecast.panel_estimator import PanelForecaster

    settings = dict(horizon=series.horizon, season=series.season, seed=seed, holdout=False,
                    **(QUICK_PANEL if quick else {}), **extra)
    frame = pd.DataFrame({"unique_id": series.name, "ds": series.train_times, "y": series.train})
    forecaster = PanelForecaster(**settings).fit(frame)
    out = forecaster.predict()
    expected = pd.date_range(series.times[-series.horizon], periods=series.horizon, freq=series.freq)
    if len(out) != series.horizon or not np.array_equal(pd.DatetimeIndex(out["ds"]), expected):
        raise RuntimeError(f"PanelForecaster.predict returned {len(out)} rows, not the test part's timestamps")
    return out["forecast"].to_numpy(dtype=np.float64), f"DataFrame (freq {forecaster.task_.freq})"


def forecast_single(series: Series, seed: int, quick: bool) -> tuple[np.ndarray, str]:
    """rnnlab.Forecaster on the training part (a pandas Series with its timestamps); its h forecasts."""
    import pandas as pd

    train = pd.Series(series.train, index=pd.DatetimeIndex(series.train_times, freq=series.freq), name="y")
    forecaster = rnnlab.Forecaster(horizon=series.horizon, seed=seed, **(QUICK_SINGLE if quick else {})).fit(train)
    return np.asarray(forecaster.predict(as_frame=False), dtype=np.float64), "pandas Series"


def run_one(series: Series, method: str, args) -> dict:
    """One method on one series: forecasts, MASE and times (every seed for the rnnlab methods), or the error."""
    seeds = range(args.seeds) if method in RNNLAB else [None]
    runs, forms = [], set()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        for seed in seeds:
            if method in PEERS:
                forecast, form = forecast_peer(series, method), "DataFrame"
            elif method == "rnnlab":
                forecast, form = forecast_panel(series, seed, args.quick, args.settings)
            else:
                forecast, form = forecast_single(series, seed, args.quick)
            if forecast.shape != (series.horizon,) or not np.isfinite(forecast).all():
                raise ValueError(f"forecast of shape {forecast.shape} with {int((~np.isfinite(forecast)).sum())} "
                                 f"non-finite values; expected {series.horizon} finite values")
            runs.append(forecast)
            forms.add(form)
    except Exception as error:
        log(f"{method:>13} {series.name:>12}: MISS {error!r}")
        return {"mase": None, "error": repr(error), "traceback": traceback.format_exc(limit=6),
                "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "fits": len(runs)}
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    mases = [series_mase(series.test, f, series.train, series.season) for f in runs]
    result = {"mase": float(np.median(mases)), "wall_s": wall, "cpu_s": cpu, "fits": len(runs),
              "input": " / ".join(sorted(forms)), "forecast": [round(float(v), 4) for v in np.median(runs, axis=0)]}
    if method in RNNLAB:
        result["per_seed_mase"] = [round(v, 4) for v in mases]
        result["mase_of_median_forecast"] = series_mase(series.test, np.median(runs, axis=0), series.train,
                                                        series.season)
    extra = f"  (seeds: {', '.join(f'{v:.3f}' for v in mases)})" if len(mases) > 1 else ""
    log(f"{method:>13} {series.name:>12}: MASE {result['mase']:.3f}  {wall:6.1f} s wall {cpu:6.1f} s CPU{extra}")
    return result


def check_snaive(series: Series, result: dict) -> None:
    """statsforecast's SeasonalNaive must be the training part's last season repeated."""
    if result.get("mase") is None:
        raise SystemExit(f"SeasonalNaive failed on {series.name}; the ratios need it: {result['error']}")
    period = series.season if len(series.train) > series.season else 1
    expected = np.resize(series.train[-period:], series.horizon)
    if not np.allclose(result["forecast"], expected, rtol=1e-6, atol=1e-3):
        raise SystemExit(f"statsforecast's SeasonalNaive on {series.name} is not the last season repeated")


def geometric_mean_ratio(result: dict, reference: dict, names: list[str]) -> dict:
    ratios = {n: result[n]["mase"] / reference[n]["mase"] for n in names if result[n]["mase"] is not None}
    gm = math.exp(np.mean(np.log(list(ratios.values())))) if ratios else None
    return {"gm_ratio": gm, "n_series": len(ratios), "ratios": {n: round(r, 4) for n, r in ratios.items()},
            "misses": [n for n in names if result[n]["mase"] is None]}


# -- report -------------------------------------------------------------------------------------


def settings_of(method: str, args) -> str:
    if method in PEERS:
        return (f"statsforecast {metadata.version('statsforecast')} {PEERS[method]}(season_length=m), defaults "
                "otherwise; StatsForecast(freq=<alias>, n_jobs=1)")
    budget = (QUICK_PANEL if method == "rnnlab" else QUICK_SINGLE) if args.quick else {}
    call = ("PanelForecaster(horizon=h, season=m, seed=s, holdout=False" if method == "rnnlab"
            else "Forecaster(horizon=h, seed=s")
    call += "".join(f", {k}={v!r}" for k, v in {**budget, **(args.settings if method == "rnnlab" else {})}.items())
    call += ")"
    return f"rnnlab.{call}, defaults otherwise; seeds 0..{args.seeds - 1}, median of the per-seed MASEs"


def table(report: dict) -> tuple[list[str], list[list[str]], list[str], list[list[str]]]:
    names = list(report["series"])
    header = ["method", "GM MASE ratio"] + names + ["wall s", "CPU s"]
    rows, time_rows = [], []
    for method, entry in report["methods"].items():
        per = entry["series"]
        gm = entry["summary"]["gm_ratio"]
        gm_text = "miss" if gm is None else f"{gm:.3f}"
        if entry["summary"]["misses"] and gm is not None:
            gm_text += f" ({entry['summary']['n_series']}/{len(names)})"
        rows.append([method, gm_text] + ["miss" if per[n]["mase"] is None else f"{per[n]['mase']:.3f}"
                                         for n in names]
                    + [f"{sum(per[n]['wall_s'] for n in names):.1f}", f"{sum(per[n]['cpu_s'] for n in names):.1f}"])
        time_rows.append([method] + [f"{per[n]['wall_s'] / max(per[n]['fits'], 1):.2f} / "
                                     f"{per[n]['cpu_s'] / max(per[n]['fits'], 1):.2f}" for n in names])
    return header, rows, ["method"] + names, time_rows


def run_lines(report: dict) -> list[str]:
    box, found = report["machine"], report["versions"]
    load = " / ".join(f"{x:.2f}" for x in box["load_average_at_start"] or [])
    load_end = " / ".join(f"{x:.2f}" for x in box["load_average_at_end"] or [])
    return [
        f"- machine: {box['cpu']}, {box['cores']} cores; torch threads: {box['torch_threads']}; statsforecast n_jobs=1",
        f"- torch {found['torch']}, statsforecast {found['statsforecast']}, statsmodels {found['statsmodels']}, "
        f"pmdarima {found['pmdarima']}, pandas {found['pandas']}, numpy {found['numpy']}, Python {box['python']}, "
        f"rnnlab {found['rnnlab']} at {found['revision']}",
        f"- date: {report['date']}; duration {report['duration_s']:.0f} s; load average (1/5/15 min) at start: "
        f"{load}, at end: {load_end}",
        f"- rnnlab seeds: {report['seeds']} (median of the per-seed MASEs)" + ("; --quick: a smoke budget, not a "
                                                                                "result" if report["quick"] else ""),
        "- MASE per series (scale: in-sample seasonal naive of the training part, lag m, 1 when m = 1); GM MASE "
        "ratio = geometric mean over the series of MASE / SeasonalNaive's MASE (lower is better); wall s, CPU s: "
        "every fit of the method on every series",
        "",
    ]


def versions() -> dict:
    found = {"rnnlab": rnnlab.__version__, "revision": git_revision(), "rnnlab_diff_sha256": rnnlab_diff()}
    for package in ("numpy", "pandas", "torch", "statsforecast", "statsmodels", "pmdarima"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def rnnlab_diff() -> str | None:
    """sha256 of `git diff HEAD -- rnnlab` (uncommitted changes the run used), None when there are none."""
    import subprocess

    try:
        diff = subprocess.run(["git", "diff", "HEAD", "--", "rnnlab"], cwd=ROOT, capture_output=True,
                              timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return hashlib.sha256(diff).hexdigest() if diff else None


def machine(load_at_start) -> dict:
    import os

    import torch

    return {"cpu": cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"), "load_average_at_start": load_at_start,
            "load_average_at_end": load_average(), "platform": platform.platform(),
            "python": platform.python_version()}


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Eight classic series, rnnlab's defaults for h and m: MASE of "
                                                 "rnnlab's forecasters and statsforecast's automatic models, "
                                                 "relative to the seasonal naive.")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated: {', '.join(METHODS)} "
                        "(snaive always runs: the ratios need it)")
    parser.add_argument("--series", default=",".join(SERIES), help=f"comma-separated subset of {', '.join(SERIES)}")
    parser.add_argument("--seeds", type=int, default=3, help="rnnlab methods: seeds 0..K-1 (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1 seed and a tiny training budget for the rnnlab methods")
    parser.add_argument("--settings", default="", help="rnnlab (PanelForecaster): settings other than the defaults, "
                                                         "'key=value,...' as m3.py's --settings")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON with every figure (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    args.methods = parse_list(args.methods, METHODS, "--methods")
    if "snaive" not in args.methods:
        args.methods.append("snaive")
    args.series = parse_list(args.series, tuple(SERIES), "--series")
    args.settings = parse_settings(args.settings)
    if args.seeds < 1:
        parser.error("--seeds must be >= 1")
    if args.quick:
        args.seeds = 1
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    command = ["benchmarks/eight_series.py", *(sys.argv[1:] if argv is None else argv)]
    started, clock, load_at_start = datetime.datetime.now(datetime.timezone.utc), time.perf_counter(), load_average()
    found = versions()  # before any fit: the checkout may change while the run goes on
    series = load_series(args.series)
    log("series: " + ", ".join(f"{s.name} (n={len(s.values)}, m={s.season}, h={s.horizon})" for s in series))
    names = [s.name for s in series]
    warm_ups = {method: warm_up(method) for method in args.methods if method in PEERS}
    results = {method: {s.name: run_one(s, method, args) for s in series} for method in args.methods}
    for s in series:
        check_snaive(s, results["snaive"][s.name])
    methods = {method: {"settings": settings_of(method, args),
                        "summary": geometric_mean_ratio(results[method], results["snaive"], names),
                        "series": results[method]} for method in args.methods}
    report = {
        "benchmark": "eight series (issue 16): last h values of each series are the test part",
        "date": started.strftime("%Y-%m-%d %H:%M UTC"), "duration_s": time.perf_counter() - clock,
        "command": " ".join(command), "seeds": args.seeds, "quick": args.quick,
        "series": {s.name: s.fingerprint() for s in series},
        "metrics": {"mase": "MAE over the test part / in-sample MAE of the seasonal naive (lag m; 1 when m = 1) on "
                            "the training part; rnnlab methods: the median over seeds of the per-seed MASE",
                    "gm_ratio": "geometric mean over the series of MASE / SeasonalNaive's MASE; misses left out"},
        "machine": machine(load_at_start), "versions": found, "methods": methods,
        "peer_warm_up_s": {"seconds": warm_ups, "note": "one untimed fit per peer on a made-up monthly series "
                                                         "before the timed ones (numba compiles on first use)"},
    }
    at_end = {k: versions()[k] for k in ("revision", "rnnlab_diff_sha256")}
    if at_end != {k: found[k] for k in at_end}:
        report["versions"]["changed_during_run"] = at_end
        log(f"the checkout changed during the run: at the start {found['revision']} (rnnlab diff "
            f"{found['rnnlab_diff_sha256']}), at the end {at_end['revision']} (rnnlab diff "
            f"{at_end['rnnlab_diff_sha256']})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(compact_json(report) + "\n")
    log(f"written to {args.out}")
    header, rows, time_header, time_rows = table(report)
    print("\n".join(run_lines(report)))
    print(format_table(header, rows, markdown=True))
    print("Time per fit, wall / CPU seconds (rnnlab methods: the mean over seeds):\n")
    print(format_table(time_header, time_rows, markdown=True), end="")
    misses = {m: e["summary"]["misses"] for m, e in methods.items() if e["summary"]["misses"]}
    if misses:
        print("\nmisses: " + "; ".join(f"{m}: {', '.join(n)}" for m, n in misses.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
