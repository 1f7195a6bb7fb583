"""`rnnlab train anomaly`, `evaluate` and `predict`: the run directory, the scores, and each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnlab.cli.main import main

def train_args(data: Path | str, out: Path, *extra: str) -> list[str]:
    return ["train", "anomaly", "--data", str(data), "--normal-until", "200", "--epochs", "2", "--hidden-size", "8",
            "--window", "16", "--out", str(out), "--quiet", *extra]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, build):
    folder = tmp_path_factory.mktemp("anomaly")
    data = build.sensor_csv(folder / "sensor.csv")
    assert main(train_args(data, folder / "run")) == 0
    return data, folder / "run"


def test_a_run_directory_holds_everything(trained, capsys):
    data, out = trained
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "test_metrics.json", "scores.csv", "scores.png",
                 "loss.png", "report.html"):
        assert (out / name).is_file(), name
    assert not out.with_name("run.partial").exists()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
    rows = (out / "scores.csv").read_text().splitlines()
    assert rows[0] == "time,value,score,flag,label" and len(rows) == 401
    assert [row.split(",")[-1] for row in rows[301:307]] == ["1"] * 6
    assert "Test metrics" in (out / "report.html").read_text()


def test_evaluate_json_matches_the_saved_metrics(trained, capsys):
    _, out = trained
    assert main(["evaluate", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["metrics"]) == {"model", "naive"} and result["test_from"] == 200
    assert result["metrics"] == json.loads((out / "test_metrics.json").read_text())
    naive = result["metrics"]["naive"]
    assert naive["anomaly"] == [300, 305] and naive["ucr_hit"]     # the burst is plain in |x_t - x_(t-1)|
    assert main(["evaluate", str(out)]) == 0
    assert "precision" in capsys.readouterr().out


def test_predict_prints_the_scores_written_at_training(trained, capsys):
    data, out = trained
    assert main(["predict", str(out), "--data", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "time,value,score,flag" and len(lines) == 401
    saved = [row.rsplit(",", 1)[0] for row in (out / "scores.csv").read_text().splitlines()[1:]]
    assert lines[1:] == saved                                        # the batch scores written at training


def test_reconstruction_method_round_trip(tmp_path, capsys, build):
    data = build.sensor_csv(tmp_path / "two.csv", channels=("a", "b"))
    out = tmp_path / "ae"
    assert main(train_args(data, out, "--method", "reconstruction", "--recon-window", "8", "--model", "gru")) == 0
    capsys.readouterr()
    assert main(["predict", str(out), "--data", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "time,a,b,score,flag"
    assert [float(line.split(",")[3]) for line in lines[1:8]] == [0.0] * 7   # no complete window yet


def test_bundled_series_135(tmp_path, capsys):
    out = tmp_path / "ucr"
    assert main(["train", "anomaly", "--epochs", "1", "--hidden-size", "4", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["naive"]["anomaly"] == [4187, 4198]
    assert metrics["naive"]["ucr_hit"] and 4187 - 100 <= metrics["naive"]["top_index"] <= 4198 + 100
    assert json.loads((out / "config.json").read_text())["normal_until"] == 1200


def _bad_inputs(tmp_path: Path, build) -> dict[str, tuple[list[str], str]]:
    good = build.sensor_csv(tmp_path / "good.csv")
    lines = good.read_text().splitlines()
    nan = tmp_path / "nan.csv"
    nan.write_text("\n".join(lines[:50] + ["t0049,nan,0"] + lines[51:]) + "\n")
    header_only = tmp_path / "header.csv"
    header_only.write_text("time,value,is_anomaly\n")
    early = build.sensor_csv(tmp_path / "early.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("\n".join(lines[:4] + ["t0003,2.5 \xb0C,0"] + lines[5:]).encode("latin-1"))
    flat = tmp_path / "flat.csv"
    flat.write_text("\n".join(lines[:1] + [",".join([line.split(",")[0], "3.5", line.split(",")[2]])
                                            for line in lines[1:]]) + "\n")
    out = tmp_path / "run"
    return {
        "constant series": (train_args(flat, out), "is constant in every channel (received [3.5])"),
        "NaN without --fill": (train_args(nan, out), "missing cells"),
        "length 0": (train_args(header_only, out), "no data rows"),
        "file without --normal-until": ([a for a in train_args(good, out) if a not in ("--normal-until", "200")],
                                        "normal_until is required"),
        "anomaly inside the normal prefix": (train_args(early, out)[:4] + ["--normal-until", "350"]
                                             + train_args(early, out)[6:], "labelled anomalous"),
        "missing file": (train_args(tmp_path / "nope.csv", out), "neither a bundled anomaly series"),
        "normal prefix too short": (train_args(good, out)[:4] + ["--normal-until", "10"] + train_args(good, out)[6:],
                                    "shorter than one training window"),
        "bidirectional": (train_args(good, out, "--bidirectional"), "bidirectional must be False"),
        "not UTF-8": (train_args(latin, out), "latin.csv: not UTF-8: byte b'\\xb0' at line 5"),
    }


@pytest.mark.parametrize("case", ["constant series", "NaN without --fill", "length 0", "file without --normal-until",
                                  "anomaly inside the normal prefix", "missing file", "normal prefix too short",
                                  "bidirectional", "not UTF-8"])
def test_bad_input_is_one_line_nonzero_and_writes_nothing(tmp_path, capsys, build, case):
    args, message = _bad_inputs(tmp_path, build)[case]
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("rnnlab train: error:") and message in error, error
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()


def test_nan_is_accepted_with_a_fill(tmp_path, capsys, build):
    data = build.sensor_csv(tmp_path / "gap.csv")
    lines = data.read_text().splitlines()
    data.write_text("\n".join(lines[:50] + ["t0049,,0"] + lines[51:]) + "\n")
    assert main(train_args(data, tmp_path / "run", "--fill", "interpolate", "--epochs", "1")) == 0


def test_other_channels_and_text_are_refused_at_evaluate_and_predict(trained, tmp_path, capsys, build):
    _, out = trained
    other = build.sensor_csv(tmp_path / "other.csv", channels=("temp", "pressure"))
    for command in (["evaluate", str(out), "--data", str(other)], ["predict", str(out), "--data", str(other)]):
        assert main(command) == 2
        error = capsys.readouterr().err.strip()
        assert "has channels ['temp', 'pressure']; the run was trained on ['value']" in error
    assert main(["predict", str(out), "--text", "1,2,3"]) == 2
    assert "not --text" in capsys.readouterr().err
