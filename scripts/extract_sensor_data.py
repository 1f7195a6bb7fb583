"""Regenerate rnnlab's bundled sensor data sets from the aeon wheel.

Standard library only. The wheel ``aeon-1.6.0-py3-none-any.whl`` (BSD-3-Clause) carries small
copies of the UEA/UCR archive files under ``aeon/datasets/data/``; this script copies three of them
into ``rnnlab/data/bundled/`` (or ``--out``), byte for byte the same on every run (gzip members are
written with mtime 0 and no file name). Get the wheel with:

    pip download --no-deps -d /tmp/aeon aeon==1.6.0

then run:

    python scripts/extract_sensor_data.py --aeon /tmp/aeon/aeon-1.6.0-py3-none-any.whl

What is kept:

- ``japanese_vowels/JapaneseVowels_{TRAIN,TEST}.ts.gz`` and
  ``basic_motions/BasicMotions_{TRAIN,TEST}.ts.gz``: the ``.ts`` files unchanged, gzipped.
- ``ucr_135/ucr_135.csv``: ``135_UCR_Anomaly_InternalBleeding16_TEST.csv`` (the whole series,
  7501 points) with its header ``timestamp,value,is_anomaly`` renamed ``time,value,is_anomaly``
  and every value kept as the same text. The archive's TRAIN file is the first 1200 rows of the
  same series, so it is not copied; the script checks that it is.
"""

import argparse
import zipfile
from pathlib import Path

from bundle_files import write_reproducibly  # scripts/ is on the path when a script runs

OUT = Path(__file__).resolve().parents[1] / "rnnlab" / "data" / "bundled"
DATA = "aeon/datasets/data/"
TS_FILES = {  # bundled folder -> aeon's name of the problem
    "japanese_vowels": "JapaneseVowels",
    "basic_motions": "BasicMotions",
}
UCR_135 = DATA + "KDD-TSAD_135/135_UCR_Anomaly_InternalBleeding16_{}.csv"
UCR_135_NORMAL_UNTIL = 1200   # rows of the archive's TRAIN part (anomaly-free by construction)
UCR_135_ROWS = 7501


def extract_ts(wheel: zipfile.ZipFile, out: Path) -> None:
    """Copy the TRAIN and TEST ``.ts`` files of each problem in TS_FILES, gzipped."""
    for folder, problem in TS_FILES.items():
        for split in ("TRAIN", "TEST"):
            name = f"{problem}_{split}.ts"
            write_reproducibly(out / folder / f"{name}.gz", wheel.read(f"{DATA}{problem}/{name}"))


def extract_ucr_135(wheel: zipfile.ZipFile, out: Path) -> None:
    """Write the UCR anomaly series 135 as ``time,value,is_anomaly`` (see the module docstring)."""
    lines = wheel.read(UCR_135.format("TEST")).decode("ascii").splitlines()
    train = wheel.read(UCR_135.format("TRAIN")).decode("ascii").splitlines()
    if lines[0] != "timestamp,value,is_anomaly" or len(lines) != UCR_135_ROWS + 1:
        raise SystemExit(f"unexpected UCR 135 TEST file: header {lines[0]!r}, {len(lines)} lines")
    if train != lines[:UCR_135_NORMAL_UNTIL + 1]:
        raise SystemExit("UCR 135 TRAIN file is not the first 1200 rows of the TEST file")
    rows = [line.split(",") for line in lines[1:]]
    if [int(row[0]) for row in rows] != list(range(UCR_135_ROWS)):
        raise SystemExit("UCR 135 timestamps are not 0, 1, ..., 7500")
    write_reproducibly(out / "ucr_135" / "ucr_135.csv",
                       "\n".join(["time,value,is_anomaly", *lines[1:]]).encode() + b"\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aeon", type=Path, required=True, help="aeon-1.6.0-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=OUT, help=f"bundled folder (default {OUT})")
    args = parser.parse_args()
    with zipfile.ZipFile(args.aeon) as wheel:
        extract_ts(wheel, args.out)
        extract_ucr_135(wheel, args.out)


if __name__ == "__main__":
    main()
