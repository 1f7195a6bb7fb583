"""Set-up for the whole test session, and the small data files every task's tests build.

Without a GPU, the triton backend's tests run its kernels through Triton's interpreter. The
interpreter must be chosen before anything imports triton, because triton builds its own library
functions (tl.zeros, ...) as compiled or interpreted ones when it is imported, and torch.compile's
inductor imports it in tests that run earlier in the same worker.

Test modules cannot import each other (pytest runs with --import-mode=importlib), so what several
of them share is here: `build` makes small files of every format the tasks read (each a real file
of that format, tiny enough to train on for a few steps), and `as_tuple` flattens a state.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

try:  # the fuzz suites: seeded (the same examples on every run and machine) and bounded in count
    from hypothesis import HealthCheck, settings
except ImportError:  # without hypothesis the fuzz suites skip (pytest.importorskip in each)
    pass
else:
    settings.register_profile("rnnlab", derandomize=True, deadline=None, max_examples=60, database=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    # HYPOTHESIS_PROFILE=deep: a longer hunt with fresh random examples, for a person, not for CI
    settings.register_profile("deep", parent=settings.get_profile("rnnlab"), derandomize=False, max_examples=1000)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "rnnlab"))

GOOD = ["great", "wonderful", "moving", "superb", "delightful"]
BAD = ["dull", "awful", "boring", "tedious", "dreadful"]
FILLER = "the film is a with and of story cast plot its this".split()
ANOMALY = range(300, 306)  # the labelled burst of `Builders.sensor_csv`


class Builders:
    """Writers of small data files; each returns the path it wrote."""

    @staticmethod
    def series_csv(path: Path, n: int = 120) -> Path:
        """A daily series (date, sales, temperature): a trend with a season, and a covariate."""
        days = np.datetime64("2020-01-01") + np.arange(n)
        rows = [f"{day},{100 + t + 10 * math.sin(t / 2):.3f},{5 * math.cos(t / 3):.3f}" for t, day in enumerate(days)]
        path.write_text("date,sales,temperature\n" + "\n".join(rows) + "\n", encoding="utf-8")
        return path

    @staticmethod
    def panel_csv(path: Path, series: int = 5, seed: int = 0) -> Path:
        """A long table (unique_id, ds, y, promo, kind) of monthly series of different lengths and
        scales: a yearly season times a level, a promotion known in advance that lifts its month,
        and a static category per series (kind: its season's phase, summer or winter peak)."""
        rng = np.random.default_rng(seed)
        rows = ["unique_id,ds,y,promo,kind"]
        for k in range(series):
            n, level = int(rng.integers(36, 54)), float(np.exp(rng.normal(3, 0.7)))
            months = np.arange(np.datetime64("2016-01"), np.datetime64("2016-01") + n)
            for t, month in enumerate(months):
                promo = int(rng.random() < 0.2)
                season = math.sin(2 * math.pi * t / 12) * (1 if k % 2 else -1)
                y = level * (2 + season) * (1.3 if promo else 1.0) * math.exp(0.05 * rng.normal())
                rows.append(f"item {k},{month}-01,{y:.4f},{promo},{'summer' if k % 2 else 'winter'}")
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        return path

    @staticmethod
    def reviews_csv(path: Path, rows: int = 240, seed: int = 0) -> Path:
        """A CSV of text,label where one sentiment word (among filler words) decides the label."""
        generator = np.random.default_rng(seed)
        with path.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(["text", "label"])
            for _ in range(rows):
                label = ["fresh", "rotten"][int(generator.integers(2))]
                words = list(generator.choice(FILLER, size=int(generator.integers(2, 10))))
                keyword = str(generator.choice(GOOD if label == "fresh" else BAD))
                words.insert(int(generator.integers(len(words) + 1)), keyword)
                writer.writerow([" ".join(words).capitalize() + ".", label])
        return path

    @staticmethod
    def labelled_csv(path: Path, repeats: int = 6) -> Path:
        """Eight short reviews, fresh or rotten, repeated."""
        positive = ["a fine and moving film", "great acting and a great story", "warm funny and wise", "a joy to watch"]
        negative = ["a dull and tired mess", "boring plot and bad acting", "flat lifeless and long",
                    "a chore to sit through"]
        rows = [f'"{text}",fresh' for text in positive] + [f'"{text}",rotten' for text in negative]
        path.write_text("text,label\n" + "\n".join(rows * repeats) + "\n", encoding="utf-8")
        return path

    @staticmethod
    def conllu(path: Path, repeats: int = 12) -> Path:
        """Two Portuguese sentences with UPOS tags, repeated: a CoNLL-U file."""
        sentences = [[("O", "DET"), ("gato", "NOUN"), ("dorme", "VERB"), (".", "PUNCT")],
                     [("A", "DET"), ("casa", "NOUN"), ("é", "AUX"), ("grande", "ADJ"), (".", "PUNCT")]]
        blocks = ["\n".join(f"{i}\t{form}\t_\t{tag}\t_\t_\t_\t_\t_\t_" for i, (form, tag) in enumerate(sentence, 1))
                  for sentence in sentences]
        path.write_text("\n\n".join(blocks * repeats) + "\n\n", encoding="utf-8")
        return path

    @staticmethod
    def parallel_tsv(path: Path, repeats: int = 6) -> Path:
        """English<TAB>Spanish pairs, repeated."""
        pairs = ["the light\tla luz", "the earth\tla tierra", "and god said\ty dijo dios", "the water\tel agua"]
        path.write_text("\n".join(pairs * repeats) + "\n", encoding="utf-8")
        return path

    @staticmethod
    def text_file(path: Path, repeats: int = 40) -> Path:
        """A few lines of plain text, repeated: a corpus for a language model."""
        lines = ["to be or not to be that is the question", "whether tis nobler in the mind to suffer",
                 "the slings and arrows of outrageous fortune"]
        path.write_text("\n".join(lines * repeats) + "\n", encoding="utf-8")
        return path

    @staticmethod
    def series_ts(path: Path, cases: int = 16) -> Path:
        """The bundled BasicMotions training file cut to its first `cases` cases: a real .ts file."""
        from rnnlab.data.bundled import series_classification_files

        with gzip.open(series_classification_files("basic_motions")[0], "rt", encoding="utf-8") as file:
            lines = file.read().splitlines()
        start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data") + 1
        path.write_text("\n".join(lines[: start + cases]) + "\n", encoding="utf-8")
        return path

    @staticmethod
    def sensor_csv(path: Path, n: int = 400, *, labels: bool = True, channels: tuple[str, ...] = ("value",)) -> Path:
        """A noisy periodic signal with a jagged burst at points 300-305 (labelled when `labels`)."""
        rng = np.random.default_rng(0)
        header = ["time", *channels] + (["is_anomaly"] if labels else [])
        lines = [",".join(header)]
        for t in range(n):
            values = [10 * math.sin(2 * math.pi * t / 25 + c) + 0.3 * rng.standard_normal() for c in range(len(channels))]
            if t in ANOMALY:
                values = [v + (8 if t % 2 else -8) for v in values]
            label = [str(int(t in ANOMALY))] if labels else []
            lines.append(",".join([f"t{t:04d}", *(f"{v:.4f}" for v in values)] + label))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


@pytest.fixture(scope="session")
def build() -> type[Builders]:
    """The small-file writers: `build.reviews_csv(tmp_path / "r.csv")`, `build.conllu(...)`, ..."""
    return Builders


def as_tuple(state) -> tuple:
    """A recurrent state as a tuple of tensors: (h, c) for an LSTM, (h,) otherwise."""
    return tuple(state) if isinstance(state, tuple) else (state,)


@pytest.fixture(scope="session")
def flatten_state():
    """`as_tuple`, for test modules (which cannot import this one)."""
    return as_tuple
