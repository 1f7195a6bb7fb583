"""Anomaly detection: rnnlab's two detectors against the naive residual and a matrix-profile discord.

Series, each read from a file inside an installed package's wheel or generated offline (nothing is
downloaded, nothing is copied into this repository):

    series            source                                                   points  anomalies   normal prefix
    ucr_135           aeon: datasets/data/KDD-TSAD_135/135_UCR_Anomaly_             7501   1 (12 pts)    1200 (archive)
                      InternalBleeding16_TEST.csv (the UCR/KDD-21 archive)
    gutentag_ecg3     aeon: datasets/data/UnitTest/ecg-diff-count-3_TEST.csv       10000   3 (300 pts)   rule
                      (TimeEval's GutenTAG test series)
    mitdb             sktime: datasets/data/mitdb/mitdb.csv (an MIT-BIH             7500   1 (352 pts)   rule
                      arrhythmia ECG excerpt)
    yahoo             sktime: datasets/data/yahoo/yahoo.csv (a Yahoo Webscope       1000   7 (7 pts)     rule
                      S5 series)
    gt_<base>_<kind>  GutenTAG 1.5 (timeeval-gutentag), generated here from the     5000   1             rule
                      fixed configurations in GUTENTAG with seed 17: six
                      base oscillations × anomaly kinds

"rule": the normal prefix is the first ⌊0.9 × b⌋ points, b the first labelled anomalous point,
so that some normal points precede the first anomaly in the test span (the UCR archive states
its own training length, which is used for ucr_135). aeon also ships Daphnet_S06R02E0, whose
excerpt holds no labelled anomaly (aeon's docstring says so): it is left out. ucr_135 is
rnnlab's bundled series, on which the detector's defaults were chosen (issue 10): it is marked
"tuned" in every table; the others were never used in development. Terms, as the packages state
them (also in the JSON, `TERMS`): aeon and sktime are BSD-3-Clause packages; the UCR archive asks
that uses cite Wu & Keogh (2021); the MIT-BIH arrhythmia database is under PhysioNet's ODC
Attribution licence (cite Moody & Mark 2001, Goldberger et al. 2000); Yahoo's Webscope S5 data
is licensed by Yahoo for non-commercial research and may not be redistributed, so it is only
ever read from the installed sktime wheel; GutenTAG is MIT-licensed, and what it generates is
ours (cite Wenig et al. 2022).

Protocol. Every series is univariate; each detector sees its normal prefix [0, n0) as normal
(nothing else is known to it) and is scored on the test span [n0, N). rnnlab's task splits the
prefix into a training span [0, t0) and a calibration span [t0, n0) (calibration_fraction 0.25),
and every method below uses the same two spans for the same two purposes:
- forecast, reconstruction: `rnnlab.AnomalyDetector(method=m, seed=s)` at its defaults
  otherwise (--settings changes them and the JSON says so), fitted on the values with
  normal_until=n0; scores are the fitted detector's batch scores of the whole series.
- naive: the fitted task's own naive detector, |x_t − x_{t−1}| standardised, calibrated as the model.
- discord: the matrix profile (stumpy.stump) of the test span's length-m subsequences against the
  training span's (an AB-join: each test subsequence's z-normalised Euclidean distance to its
  nearest normal one; self-matches cannot arise), the point score of t being the profile value
  of the subsequence centred on t (the nearest one at the edges). m is the training span's
  dominant period (the highest autocorrelation after the first zero crossing, lags 4 to 256,
  32 when none is found). Its threshold comes from the calibration span's profile against the
  training span, by the same rule as the detectors.
Thresholds: every method's flags are score > τ, with τ from its calibration-span scores by the
rule that rnnlab's config names (today's default: 2 × the largest), and, from the same scores,
the alternatives in RULES (the largest alone; peaks over a threshold at risk 1e-3 and 1e-4, the
SPOT rule in rnnlab.tasks.anomaly.detector.pot_threshold), reported as F1 per rule so that a
default can be chosen across the suite. The fitted detector's own τ is checked against the rule
recomputed here.

Metrics (rnnlab.metrics.detection, over the test span): point-wise precision, recall and F1;
range-based F1 (Tatbul et al. 2018, flat bias, α = 0); average precision (threshold-free); the
UCR hit (the top score within the anomaly widened by max(100, its length) on each side). With
--seeds K the rnnlab numbers are means over seeds 0..K−1 (each seed in the JSON); naive and
discord are deterministic. A method that fails on a series is a miss, reported, and the script
still exits 0.

Targets (issue 17): forecast (rnnlab's default method) F1 > 0 and above naive on every series;
its UCR hits at least as many as the discord's.

Environment: its own virtualenv, .venv-anomaly (gitignored; GutenTAG pins numpy < 2.3):
    python3 -m venv .venv-anomaly
    .venv-anomaly/bin/pip install torch==2.13.0
    .venv-anomaly/bin/pip install -e . aeon==1.6.0 stumpy timeeval-gutentag==1.5.0
    .venv-anomaly/bin/pip install --no-deps sktime==1.2.0
Run:
    OMP_NUM_THREADS=1 .venv-anomaly/bin/python benchmarks/anomaly.py
    OMP_NUM_THREADS=1 .venv-anomaly/bin/python benchmarks/anomaly.py --quick      # plumbing, 2 epochs
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from m3 import parse_list, parse_settings
from ucr import cpu_seconds, load_average, log, machine, package_file, versions

import rnnlab
from rnnlab.metrics.detection import detection_metrics, segments
from rnnlab.tasks.anomaly.detector import pot_threshold

DEFAULT_OUT = Path(__file__).parent / "results" / "anomaly.json"
QUICK_OUT = Path(__file__).parent / "results" / "anomaly_quick.json"
DETECTORS = ("forecast", "reconstruction")
METHODS = (*DETECTORS, "naive", "discord")
PACKAGES = ("numpy", "torch", "aeon", "stumpy", "numba", "sktime", "timeeval-gutentag", "scikit-learn")
RULES = {"2max": lambda s: 2.0 * float(np.max(s)), "max": lambda s: float(np.max(s)),
         "pot_1e-3": lambda s: pot_threshold(s, risk=1e-3), "pot_1e-4": lambda s: pot_threshold(s, risk=1e-4)}
CALIBRATION_FRACTION = 0.25   # rnnlab's default; the discord's spans follow it

# GutenTAG configurations, fixed before any run (base oscillation, its parameters, anomaly kind and length).
GUTENTAG = {
    "gt_sine_platform": ({"kind": "sine", "frequency": 1.0, "amplitude": 1.0, "variance": 0.05},
                         {"kind": "platform", "value": 0.0}, 50),
    "gt_ecg_frequency": ({"kind": "ecg", "frequency": 1.0, "variance": 0.05},
                         {"kind": "frequency", "frequency_factor": 2.0}, 200),
    "gt_rw_extremum": ({"kind": "random-walk", "amplitude": 1.0, "smoothing": 0.01, "variance": 0.05},
                       {"kind": "extremum", "min": False, "local": False}, 1),
    "gt_cbf_variance": ({"kind": "cylinder-bell-funnel", "avg-pattern-length": 100, "variance-pattern-length": 10,
                         "variance-amplitude": 1.0, "amplitude": 1.0, "variance": 0.05},
                        {"kind": "variance", "variance": 0.3}, 100),
    "gt_sine_pattern": ({"kind": "sine", "frequency": 0.5, "amplitude": 1.0, "variance": 0.05},
                        {"kind": "pattern", "sinusoid_k": 10.0}, 200),
    "gt_ecg_amplitude": ({"kind": "ecg", "frequency": 1.0, "variance": 0.05},
                         {"kind": "amplitude", "amplitude_factor": 1.6}, 100),
}
GUTENTAG_LENGTH, GUTENTAG_SEED = 5000, 17
PACKAGED = ("ucr_135", "gutentag_ecg3", "mitdb", "yahoo")
SERIES = (*PACKAGED, *GUTENTAG)
TUNED = ("ucr_135",)
TERMS = {
    "ucr_135": "aeon (BSD-3-Clause) ships it; the UCR anomaly archive asks uses to cite Wu & Keogh (2021), "
               "Current Time Series Anomaly Detection Benchmarks are Flawed, IEEE TKDE",
    "gutentag_ecg3": "aeon (BSD-3-Clause) ships it as a test series generated with GutenTAG (MIT); cite Wenig et al. "
                     "(2022), TimeEval, PVLDB 15(12)",
    "mitdb": "sktime (BSD-3-Clause) ships it; MIT-BIH Arrhythmia Database, PhysioNet, Open Data Commons Attribution "
             "1.0: cite Moody & Mark (2001) and Goldberger et al. (2000)",
    "yahoo": "sktime (BSD-3-Clause) ships it; Yahoo Webscope S5 is licensed for non-commercial research and must not "
             "be redistributed: read from the installed wheel only, never copied",
    "gutentag": "generated here by GutenTAG (timeeval-gutentag, MIT) from the configurations in this script",
}


# -- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One labelled univariate series and its normal prefix."""

    name: str
    values: np.ndarray      # (N, 1) float64
    labels: np.ndarray      # (N,) 0/1
    normal_until: int
    source: str

    @property
    def train_end(self) -> int:
        """t0, the end of the training span (rnnlab's split of the prefix at the default calibration fraction)."""
        return self.normal_until - max(1, int(self.normal_until * CALIBRATION_FRACTION))

    def describe(self) -> dict:
        found = segments(self.labels)
        return {"source": self.source, "points": len(self.labels), "normal_until": self.normal_until,
                "anomalies": len(found), "anomalous_points": int(self.labels.sum()), "segments": found[:10],
                "tuned": self.name in TUNED, "terms": TERMS["gutentag" if self.name in GUTENTAG else self.name]}


def read_csv(package: str, relative: str, value: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Column `value` and the last column (0/1 labels) of a CSV inside an installed package."""
    table = np.loadtxt(package_file(package, relative), delimiter=",", skiprows=1, usecols=(value, -1))
    return table[:, :1].astype(np.float64), table[:, 1].astype(np.int64)


def by_rule(labels: np.ndarray) -> int:
    """The normal prefix of a series with no stated one: ⌊0.9 × the first anomalous point⌋."""
    return int(0.9 * int(np.argmax(labels)))


def load_case(name: str) -> Case:
    if name == "ucr_135":
        relative = "aeon/datasets/data/KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_TEST.csv"
        values, labels = read_csv("aeon", relative)
        return Case(name, values, labels, 1200, f"aeon: {relative}")
    if name == "gutentag_ecg3":
        relative = "aeon/datasets/data/UnitTest/ecg-diff-count-3_TEST.csv"
        values, labels = read_csv("aeon", relative)
        return Case(name, values, labels, by_rule(labels), f"aeon: {relative}")
    if name in ("mitdb", "yahoo"):
        relative = f"sktime/datasets/data/{name}/{name}.csv"
        values, labels = read_csv("sktime", relative, value=0)
        return Case(name, values, labels, by_rule(labels), f"sktime: {relative}")
    return generated(name)


def generated(name: str) -> Case:
    """A GutenTAG series from its fixed configuration, its anomaly placed in the last third."""
    from gutenTAG import GutenTAG

    base, kind, length = GUTENTAG[name]
    generator = GutenTAG(seed=GUTENTAG_SEED)
    generator.load_config_dict({"timeseries": [{"name": name, "length": GUTENTAG_LENGTH, "base-oscillations": [base],
                                                "anomalies": [{"position": "end", "length": length,
                                                               "kinds": [kind]}]}]})
    frame = generator.generate(return_timeseries=True)[0].timeseries
    values = frame.drop(columns="is_anomaly").to_numpy(np.float64)
    labels = frame["is_anomaly"].to_numpy(np.int64)
    return Case(name, values, labels, by_rule(labels),
                f"GutenTAG {metadata.version('timeeval-gutentag')} seed {GUTENTAG_SEED}: {base} + {kind} x {length}")


def check_case(case: Case) -> None:
    """Stops on a series that is not what the table above says it is."""
    if case.values.ndim != 2 or case.values.shape[1] != 1 or not np.isfinite(case.values).all():
        raise ValueError(f"{case.name}: expected a finite univariate series; received shape {case.values.shape}")
    if not case.labels.any() or case.labels[: case.normal_until].any() or case.train_end < 250:
        raise ValueError(f"{case.name}: needs labelled anomalies after a normal prefix whose training span holds "
                         f"250 points or more; "
                         f"received {int(case.labels.sum())} anomalous points, prefix {case.normal_until}")


# -- methods ------------------------------------------------------------------------------------


def thresholds(calibration_scores: np.ndarray) -> dict[str, float]:
    return {rule: threshold(calibration_scores) for rule, threshold in RULES.items()}


def evaluate(case: Case, scores: np.ndarray, default_rule: str) -> dict:
    """Test-span metrics of `scores` (N,) flagged by the default rule, and F1 under every rule."""
    n0 = case.normal_until
    taus = thresholds(scores[case.train_end : n0])
    test, labels = scores[n0:], case.labels[n0:]
    result = detection_metrics(test, test > taus[default_rule], labels, offset=n0)
    result["threshold"] = taus[default_rule]
    result["f1_by_rule"] = {rule: detection_metrics(test, test > tau, labels)["f1"] for rule, tau in taus.items()}
    return result


def fit_detector(case: Case, method: str, seed: int, settings: dict) -> dict:
    """rnnlab's detector and the fitted task's naive detector, scored on the whole series."""
    clock, cpu = time.perf_counter(), cpu_seconds()
    detector = rnnlab.AnomalyDetector(method=method, seed=seed, **settings).fit(case.values,
                                                                              normal_until=case.normal_until)
    wall, cpu = time.perf_counter() - clock, cpu_seconds() - cpu
    task = detector.task_
    if (task.spans.train_end, task.spans.normal_until) != (case.train_end, case.normal_until):
        raise RuntimeError(f"{case.name}: the task split the prefix at {task.spans}, not at {case.train_end}")
    config = task.config
    rule = {("quantile", 1.0, 2.0, config.threshold_risk): "2max",
            ("pot", config.threshold_quantile, config.threshold_margin, 1e-3): "pot_1e-3"}.get(
        (config.threshold_rule, config.threshold_quantile, config.threshold_margin, config.threshold_risk))
    if rule is None:
        raise SystemExit("--settings: this script reproduces the thresholds of quantile 1 x margin 2 and of pot at "
                         "risk 1e-3 only")
    results = {}
    for name, scorer in task.detectors(detector.network_).items():
        scores = scorer.scores(case.values)
        results[name] = evaluate(case, scores, rule)
        if not np.isclose(results[name]["threshold"], scorer.threshold, rtol=1e-9, atol=0):
            raise RuntimeError(f"{case.name} {method} {name}: threshold {scorer.threshold} is not the "
                               f"{rule} rule's {results[name]['threshold']}")
    history = detector.history_
    results["model"].update(wall_s=wall, cpu_s=cpu, epochs_run=len(history), rule=rule)
    return results


def dominant_period(values: np.ndarray, longest: int = 256) -> int:
    """The lag of the highest autocorrelation after its first zero crossing (4 ≤ lag ≤ longest); 32 without one."""
    x = values - values.mean()
    spectrum = np.fft.rfft(x, 2 * len(x))
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[: min(longest, len(x) // 4) + 1]
    acf = acf / acf[0]
    below = np.flatnonzero(acf[4:] < 0)
    if below.size == 0:
        return 32
    start = 4 + int(below[0])
    return start + int(np.argmax(acf[start:])) if start < len(acf) else 32


def discord(case: Case, default_rule: str) -> dict:
    """Matrix-profile (AB-join) point scores of the calibration and test spans against the training span."""
    import stumpy

    clock, cpu = time.perf_counter(), cpu_seconds()
    x = case.values[:, 0]
    t0, n0 = case.train_end, case.normal_until
    m = dominant_period(x[:t0])
    reference = x[:t0]
    scores = np.zeros(len(x))
    for begin, end in ((t0, n0), (n0, len(x))):
        profile = stumpy.stump(x[begin:end], m, T_B=reference, ignore_trivial=False)[:, 0].astype(np.float64)
        centre = np.clip(np.arange(end - begin) - m // 2, 0, len(profile) - 1)
        scores[begin:end] = profile[centre]
    result = evaluate(case, scores, default_rule)
    result.update(window=m, wall_s=time.perf_counter() - clock, cpu_s=cpu_seconds() - cpu)
    return result


# -- the run ------------------------------------------------------------------------------------


def mean_over_seeds(runs: list[dict]) -> dict:
    """Numbers averaged over seeds (booleans as the share of seeds), each seed's kept under per_seed."""
    if len(runs) == 1:
        return runs[0]
    first, merged = runs[0], {}
    for key, value in first.items():
        if isinstance(value, (bool, int, float)):
            merged[key] = float(np.mean([run[key] for run in runs]))
        elif key == "f1_by_rule":
            merged[key] = {rule: float(np.mean([run[key][rule] for run in runs])) for rule in value}
        else:
            merged[key] = value
    return {**merged, "per_seed": runs}


def run_case(case: Case, args) -> dict:
    results, default_rule = {}, None
    for method in (m for m in args.methods if m in DETECTORS):
        per_seed = []
        for seed in range(args.seeds):
            try:
                per_seed.append(fit_detector(case, method, seed, args.settings))
            except (ValueError, RuntimeError) as error:
                results[method] = {"error": f"{type(error).__name__}: {error}"}
                log(f"{case.name:>18} {method}: failed, {results[method]['error']}")
                break
        if method in results:
            continue
        default_rule = per_seed[0]["model"]["rule"]
        results[method] = mean_over_seeds([run["model"] for run in per_seed])
        if "naive" not in results and "naive" in args.methods:
            results["naive"] = per_seed[0]["naive"]   # deterministic: the same for every seed and method
        found = results[method]
        log(f"{case.name:>18} {method:>14}: F1 {found['f1']:.3f}, AP {found['average_precision']:.3f}, "
            f"UCR hit {found['ucr_hit']:.2f} ({found['wall_s']:.0f} s)")
    if "discord" in args.methods:
        try:
            results["discord"] = discord(case, default_rule or "2max")
            log(f"{case.name:>18} {'discord':>14}: F1 {results['discord']['f1']:.3f}, "
                f"AP {results['discord']['average_precision']:.3f}, UCR hit {results['discord']['ucr_hit']}")
        except (ImportError, ValueError) as error:
            results["discord"] = {"error": f"{type(error).__name__}: {error}"}
    return results


def value(result: dict | None, key: str) -> str:
    if result is None:
        return "–"
    if "error" in result:
        return "failed"
    number = result[key]
    return f"{number:.3f}" if isinstance(number, float) else str(number)


def table(report: dict, key: str) -> str:
    names = [m for m in METHODS if m in report["methods"]]
    lines = ["| series | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for series, results in report["series"].items():
        label = f"{series} (tuned)" if series in TUNED else series
        lines.append(f"| {label} | " + " | ".join(value(results.get(n), key) for n in names) + " |")
    return "\n".join(lines)


def rule_table(report: dict) -> str:
    """F1 under each threshold rule, per method, over the series (mean and how many above 0)."""
    lines = ["| method | " + " | ".join(RULES) + " |", "|---|" + "---:|" * len(RULES)]
    for method in (m for m in METHODS if m in report["methods"]):
        found = [r[method] for r in report["series"].values() if method in r and "error" not in r[method]]
        if not found:
            continue
        cells = []
        for rule in RULES:
            f1 = [r["f1_by_rule"][rule] for r in found]
            cells.append(f"{np.mean(f1):.3f} ({sum(f > 0 for f in f1)}/{len(f1)} > 0)")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(report: dict) -> list[str]:
    series = report["series"]
    lines = []
    if "forecast" in report["methods"] and "naive" in report["methods"]:
        misses = [name for name, r in series.items() if "error" in r.get("forecast", {"error": 1})
                  or not (r["forecast"]["f1"] > 0 and r["forecast"]["f1"] > r["naive"]["f1"])]
        lines.append(f"- forecast F1 > 0 and above naive on every series: {'met' if not misses else 'missed'}"
                     + (f" (not on {', '.join(misses)})" if misses else ""))
    if "forecast" in report["methods"] and "discord" in report["methods"]:
        ours = sum(r["forecast"].get("ucr_hit", 0) for r in series.values() if "error" not in r["forecast"])
        theirs = sum(r["discord"].get("ucr_hit", 0) for r in series.values() if "error" not in r["discord"])
        lines.append(f"- UCR hits, forecast {ours:g} vs discord {theirs:g} of {len(series)}: "
                     f"{'met' if ours >= theirs else 'missed'}")
    if report["quick"]:
        lines.append("- SMOKE RUN (--quick): 2 epochs, not comparable with anything")
    return lines


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Labelled anomaly series: rnnlab's forecast and reconstruction "
                                                 "detectors against the naive residual and a matrix-profile discord.")
    parser.add_argument("--series", default=",".join(SERIES), help=f"comma-separated: {', '.join(SERIES)}")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated: {', '.join(METHODS)}")
    parser.add_argument("--seeds", type=int, default=1, help="rnnlab: seeds 0..K-1, metrics averaged")
    parser.add_argument("--settings", default="", help="rnnlab: AnomalyDetector settings other than the defaults, "
                                                         "'key=value,...'")
    parser.add_argument("--quick", action="store_true", help="plumbing check: rnnlab trains 2 epochs")
    parser.add_argument("--out", type=Path, default=None, help=f"JSON (default {DEFAULT_OUT}; --quick {QUICK_OUT})")
    args = parser.parse_args(argv)
    args.series = parse_list(args.series, SERIES, "--series")
    args.methods = parse_list(args.methods, METHODS, "--methods")
    args.settings = parse_settings(args.settings)
    if {"method", "seed", "normal_until"} & set(args.settings):
        parser.error("--settings: method and seed come from --methods and --seeds, normal_until from the series")
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1; received {args.seeds}")
    if args.quick:
        args.settings.setdefault("epochs", 2)
    args.out = args.out or (QUICK_OUT if args.quick else DEFAULT_OUT)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    command = " ".join(["benchmarks/anomaly.py", *(sys.argv[1:] if argv is None else argv)])
    started, clock, load_at_start = datetime.datetime.now(datetime.timezone.utc), time.perf_counter(), load_average()
    data, series, failures = {}, {}, {}
    for name in args.series:
        try:
            case = load_case(name)
            check_case(case)
        except (OSError, ValueError, ImportError) as error:
            failures[name] = f"{type(error).__name__}: {error}"
            log(f"{name}: not loaded, {failures[name]}")
            continue
        data[name] = case.describe()
        log(f"{name}: {len(case.labels)} points, normal prefix {case.normal_until}, "
            f"{data[name]['anomalies']} anomalies ({data[name]['anomalous_points']} points)")
        series[name] = run_case(case, args)
    report = {"benchmark": "anomaly detection on labelled univariate series (issue 17, item 5)",
              "date": started.strftime("%Y-%m-%d %H:%M UTC"), "duration_s": time.perf_counter() - clock,
              "command": command, "seeds": args.seeds, "rnnlab_settings": args.settings, "quick": args.quick,
              "methods": args.methods, "rules": list(RULES), "machine": machine(load_at_start),
              "versions": versions(PACKAGES), "data": data, "not_loaded": failures, "series": series}
    report["targets"] = targets(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    temporary.replace(args.out)
    log(f"written to {args.out}")
    for title, key in (("F1 (point-wise, default threshold)", "f1"), ("range-based F1", "range_f1"),
                       ("average precision (threshold-free)", "average_precision"), ("UCR hit", "ucr_hit")):
        print(f"\n{title}:\n\n{table(report, key)}")
    print(f"\nF1 by threshold rule (mean over series):\n\n{rule_table(report)}\n")
    print("\n".join(report["targets"] + [f"- not loaded: {n} ({why})" for n, why in failures.items()]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
