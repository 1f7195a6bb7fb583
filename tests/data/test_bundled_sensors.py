"""Tests for the bundled sensor data sets: their registry entries, their contents, their SOURCE.md."""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnlab.cli.main import main
from rnnlab.data.bundled import (anomaly_info, list_anomaly_names, list_sensor_datasets,
                                 list_series_classification_names, series_classification_files)
from rnnlab.data.ts import read_ts

WHEEL = Path("/tmp/aeon/aeon-1.6.0-py3-none-any.whl")
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "extract_sensor_data.py"


def test_anomaly_info_of_ucr_135():
    info = anomaly_info("ucr_135")
    assert (info.value_column, info.label_column, info.normal_until) == ("value", "is_anomaly", 1200)
    with info.file.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["time", "value", "is_anomaly"] and len(rows) == 7501
    assert [int(row["time"]) for row in rows] == list(range(7501))
    anomalous = [i for i, row in enumerate(rows) if row["is_anomaly"] == "1"]
    assert anomalous == list(range(4187, 4199))
    assert all(row["is_anomaly"] == "0" for row in rows[: info.normal_until])
    assert rows[0]["value"] == "63.73215" and np.isfinite([float(row["value"]) for row in rows]).all()


@pytest.mark.parametrize("name, sizes, channels, lengths, classes", [
    ("japanese_vowels", (270, 370), 12, (7, 29), [str(k) for k in range(1, 10)]),
    ("basic_motions", (40, 40), 6, (100, 100), ["Standing", "Running", "Walking", "Badminton"]),
])
def test_series_classification_files_read(name, sizes, channels, lengths, classes):
    train_path, test_path = series_classification_files(name)
    train, test = read_ts(train_path), read_ts(test_path)
    assert (len(train), len(test)) == sizes
    assert len(train.channels) == len(test.channels) == channels
    all_lengths = np.concatenate([train.lengths, test.lengths])
    assert (all_lengths.min(), all_lengths.max()) == lengths
    assert list(train.classes) == classes and set(train.labels) == set(test.labels) == set(classes)
    # the archive's TRAIN files are balanced
    assert len({train.labels.count(label) for label in classes}) == 1


def test_registry_lists_and_rejects_unknown_names():
    assert list_series_classification_names() == ("japanese_vowels", "basic_motions")
    assert list_anomaly_names() == ("ucr_135",)
    infos = list_sensor_datasets()
    assert [(info.name, info.kind) for info in infos] == [
        ("japanese_vowels", "classification"), ("basic_motions", "classification"), ("ucr_135", "anomaly")]
    for info in infos:
        source = (info.files[0].parent / "SOURCE.md").read_text(encoding="utf-8")
        assert "Licence" in source and "aeon" in source and "scripts/extract_sensor_data.py" in source
        assert all(path.is_file() for path in info.files)
    with pytest.raises(ValueError, match=r"name must be one of \['ucr_135'\]; received 'airline'"):
        anomaly_info("airline")
    with pytest.raises(ValueError, match=r"name must be one of \['japanese_vowels', 'basic_motions'\]"):
        series_classification_files("ucr_135")


def test_datasets_command_lists_the_sensor_sets(capsys):
    assert main(["datasets"]) == 0
    text = capsys.readouterr().out
    assert "Sensor series" in text
    for name in ("japanese_vowels", "basic_motions", "ucr_135"):
        assert name in text


@pytest.mark.skipif(not WHEEL.is_file(), reason="the aeon wheel is not at /tmp/aeon")
def test_extract_script_regenerates_the_bundled_files(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--aeon", str(WHEEL), "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    bundled = [*series_classification_files("japanese_vowels"), *series_classification_files("basic_motions"),
               anomaly_info("ucr_135").file]
    for path in bundled:
        fresh = tmp_path / path.parent.name / path.name
        read = gzip.decompress if path.suffix == ".gz" else (lambda data: data)
        assert read(fresh.read_bytes()) == read(path.read_bytes()), path.name
