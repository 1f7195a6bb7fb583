"""Writes the five extra series of keras_init.py's cross-series table as CSV files (date,value).

nile, sunspots and elec_equip come from statsmodels, wineind and ausbeer from pmdarima. Those two
packages live in .venv-bench, and keras in .venv, so this step runs on its own, once, before
keras_init.py. The series are read and checked (length, first and last date) by
eight_series.load_series, which dates pmdarima's two arrays from their documented starts and drops
ausbeer's trailing NaN (211 quarters, 1956 Q1 to 2008 Q3, are left).

Run from the repository root:
    .venv-bench/bin/python benchmarks/keras_init_data.py --out /tmp/keras_init
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from eight_series import load_series

NAMES = ("nile", "sunspots", "elec_equip", "wineind", "ausbeer")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write nile, sunspots, elec_equip, wineind and ausbeer as "
                                                 "date,value CSV files for keras_init.py.")
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSV files (made if missing)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for series in load_series(list(NAMES)):
        dates = pd.DatetimeIndex(series.times).strftime("%Y-%m-%d")
        path = args.out / f"{series.name}.csv"
        pd.DataFrame({"date": dates, "value": series.values}).to_csv(path, index=False)
        print(f"{path}: {len(dates)} rows, {dates[0]} to {dates[-1]}; {series.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
