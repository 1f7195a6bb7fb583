"""The classify-series command line end to end: train on unseen files, evaluate, predict, reload; bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnlab.cli.main import main

TS_HEADER = ["@problemName Ramps", "@timeStamps false", "@missing false", "@univariate false", "@dimensions 2",
             "@equalLength false", "@classLabel true rise fall", "@data"]


def ramp_cases(count: int, seed: int) -> list[tuple[np.ndarray, str]]:
    """Sequences of 4–11 steps, 2 channels: a rising or falling ramp plus noise; labels alternate."""
    generator = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        n, label = int(generator.integers(4, 12)), ("rise", "fall")[i % 2]
        ramp = np.linspace(-1, 1, n) * (1 if label == "rise" else -1)
        cases.append((np.stack([ramp, 0.5 * ramp], axis=1) + 0.1 * generator.normal(size=(n, 2)), label))
    return cases


def write_ts(path: Path, cases, header=TS_HEADER) -> Path:
    lines = [":".join(",".join(f"{v:.4f}" for v in values[:, c]) for c in range(values.shape[1])) + f":{label}"
             for values, label in cases]
    path.write_text("\n".join(header + lines) + "\n", encoding="utf-8")
    return path


def write_long_csv(path: Path, cases, channels=("x", "y")) -> Path:
    lines = [",".join(["sequence_id", "time", *channels, "label"])]
    for i, (values, label) in enumerate(cases):
        lines += [f"s{i},{t},{values[t, 0]:.4f},{values[t, 1]:.4f},{label}" for t in range(len(values))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "classify-series", "--data", str(data), "--epochs", "2", "--hidden-size", "4",
            "--batch-size", "8", "--out", str(out), "--quiet", *extra]


def test_round_trip_train_evaluate_predict_and_reload(tmp_path, capsys):
    train, test = write_ts(tmp_path / "train.ts", ramp_cases(30, 0)), write_ts(tmp_path / "test.ts", ramp_cases(12, 1))
    out = tmp_path / "run"
    assert main(train_args(train, out, "--test-data", str(test), "--model", "lstm")) == 0
    trained = json.loads(capsys.readouterr().out)
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "test_metrics.json", "predictions.csv",
                 "loss.png", "confusion.png", "report.html"):
        assert (out / name).is_file(), name
    assert not out.with_name("run.partial").exists()
    saved = json.loads((out / "config.json").read_text())
    assert saved["task"] == "classify-series" and saved["classes"] == ["fall", "rise"]
    assert saved["channels"] == ["dim_0", "dim_1"] and saved["split_sizes"] == {"train": 24, "val": 6, "test": 12}

    assert main(["evaluate", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["metrics"]) == {"model", "majority", "1nn_ed", "1nn_dtw"} and result["sequences"] == 12
    assert result["metrics"] == json.loads((out / "test_metrics.json").read_text()) == trained
    assert result["metrics"]["1nn_ed"]["accuracy"] == result["metrics"]["1nn_dtw"]["accuracy"] == 1.0  # easy ramps
    assert np.sum(result["metrics"]["model"]["confusion_matrix"]) == 12

    assert main(["predict", str(out), "--data", str(test)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(i) for i in range(1, 13)]
    assert all(line.split("\t")[1] in ("rise", "fall") and 0.5 <= float(line.split("\t")[2]) <= 1 for line in lines)
    predicted = [row.split(",")[2] for row in (out / "predictions.csv").read_text().splitlines()[1:]]
    assert predicted == [line.split("\t")[1] for line in lines]

    fresh = subprocess.run([sys.executable, "-m", "rnnlab", "predict", str(out), "--data", str(test)],
                           capture_output=True, text=True, timeout=120)
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.splitlines() == lines


def test_a_csv_without_test_data_carves_a_stratified_test_split(tmp_path, capsys):
    data = write_long_csv(tmp_path / "ramps.csv", ramp_cases(40, 2))
    out = tmp_path / "run"
    assert main(train_args(data, out, "--test-fraction", "0.25", "--pooling", "mean")) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["split_sizes"] == {"train": 22, "val": 8, "test": 10} and saved["channels"] == ["x", "y"]
    rows = (out / "predictions.csv").read_text().splitlines()
    assert rows[0] == "id,label,predicted,probability,1nn_ed,1nn_dtw" and len(rows) == 11
    assert sorted(row.split(",")[1] for row in rows[1:]).count("rise") == 5  # stratified: half of each class
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == json.loads((out / "test_metrics.json").read_text())
    assert main(["predict", str(out), "--data", str(data)]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("s0\t")


def test_channels_that_differ_from_training_are_refused_at_evaluate_and_predict(tmp_path, capsys):
    data = write_long_csv(tmp_path / "ramps.csv", ramp_cases(20, 3))
    out = tmp_path / "run"
    assert main(train_args(data, out)) == 0
    other = write_long_csv(tmp_path / "other.csv", ramp_cases(4, 4), channels=("x", "z"))
    for command in (["predict", str(out), "--data", str(other)], ["evaluate", str(out), "--data", str(other)]):
        capsys.readouterr()
        assert main(command) == 2
        error = capsys.readouterr().err.strip()
        assert error.endswith("channels ['x', 'z'] differ from the 2 channels the run was trained on: ['x', 'y']")
    assert main(["predict", str(out), "--text", "1,2,3"]) == 2
    assert "predicts from --data FILE" in capsys.readouterr().err


def _bad_inputs(tmp_path: Path) -> dict[str, list[str]]:
    cases = ramp_cases(20, 5)
    good = write_ts(tmp_path / "good.ts", cases)
    lines = good.read_text().splitlines()

    def variant(name: str, line: int, text: str) -> Path:
        path = tmp_path / name
        path.write_text("\n".join(lines[:line] + [text] + lines[line + 1:]) + "\n")
        return path

    long_lines = write_long_csv(tmp_path / "long.csv", cases).read_text().splitlines()
    changing = tmp_path / "changing.csv"
    changing.write_text("\n".join(long_lines[:3] + [long_lines[3].rsplit(",", 1)[0] + ",fall"] + long_lines[4:]))
    unlabelled = write_ts(tmp_path / "unlabelled.ts", [], TS_HEADER[:6] + ["@classLabel false", "@data"])
    unlabelled.write_text(unlabelled.read_text() + "1,2:3,4\n5,6:7,8\n")
    third = write_ts(tmp_path / "third.ts", ramp_cases(4, 6), TS_HEADER[:6] + ["@classLabel true rise fall flat",
                                                                              "@data"])
    third.write_text(third.read_text() + "1,2:3,4:flat\n")
    wide = write_long_csv(tmp_path / "wide.csv", cases, channels=("x", "y"))
    out = Path(tmp_path / "run")
    return {  # case: (arguments, what the one-line error must say)
        "missing file": (train_args(tmp_path / "nope.ts", out), "is neither a bundled series classification set"),
        "bad header": (train_args(variant("header.ts", 0, "problemName Ramps"), out),
                       "line 1: expected a header line"),
        "channels vs @dimensions": (train_args(variant("dims.ts", 9, "1,2:3,4:5,6:rise"), out),
                                    "line 10: 3 channels; expected 2"),
        "unequal channels": (train_args(variant("unequal.ts", 9, "1,2,3:4,5:rise"), out),
                             "line 10: channel lengths [3, 2] differ"),
        "label not declared": (train_args(variant("label.ts", 9, "1,2:3,4:flat"), out),
                               "line 10: label 'flat' is not in @classLabel ['rise', 'fall']"),
        "non-numeric value": (train_args(variant("text.ts", 9, "1,abc:3,4:rise"), out),
                              "line 10, channel 0: non-numeric value 'abc'"),
        "sequence of length 0": (train_args(variant("empty.ts", 9, ":1:rise"), out),
                                 "line 10: channel 0 is empty (a sequence of length 0)"),
        "missing value without fill": (train_args(variant("missing.ts", 9, "1,?:3,4:rise"), out),
                                       "line 10: 1 missing values, the first at step 1 of channel 0 (0-based); pass fill="),
        "label changes in a sequence": (train_args(changing, out),
                                        "line 4: label 'fall' differs from 'rise' (line 2) within sequence 's0'"),
        "no labels to train on": (train_args(unlabelled, out), "has no labels"),
        "test label unseen in training": (train_args(good, out, "--test-data", str(third)),
                                          "sequence '5' has label 'flat', which training never saw"),
        "test channels differ": (train_args(good, out, "--test-data", str(wide)),
                                 "channels ['x', 'y'] differ from the training data's channels ['dim_0', 'dim_1']"),
    }


@pytest.mark.parametrize("case", ["missing file", "bad header", "channels vs @dimensions", "unequal channels",
                                  "label not declared", "non-numeric value", "sequence of length 0",
                                  "missing value without fill", "label changes in a sequence", "no labels to train on",
                                  "test label unseen in training", "test channels differ"])
def test_bad_input_is_one_line_nonzero_and_writes_nothing(tmp_path, capsys, case):
    args, expected = _bad_inputs(tmp_path)[case]
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("rnnlab train: error:"), error
    assert expected in error, error
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()


def test_fill_lets_a_file_with_missing_values_train(tmp_path, capsys):
    lines = write_ts(tmp_path / "good.ts", ramp_cases(20, 7)).read_text().splitlines()
    lines[9] = "0.1,?,0.3:?,0.2,0.3:rise"
    (tmp_path / "gaps.ts").write_text("\n".join(lines) + "\n")
    assert main(train_args(tmp_path / "gaps.ts", tmp_path / "run", "--fill", "interpolate")) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["config"]["fill"] == "interpolate"
