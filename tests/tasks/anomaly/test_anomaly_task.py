"""The anomaly task's hooks: its settings and spans, the probe against windows cut by hand, validation data,
the ONNX graphs in onnxruntime, and run directories written by the old code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlab.cells.lstm import LSTMState
from rnnlab.data.errors import DataError
from rnnlab.tasks import load
from rnnlab.tasks.anomaly import AnomalyConfig, AnomalyDetector, AnomalyTask
from rnnlab.tasks.anomaly.windows import Spans, held_out_windows, masked_mse

TINY = dict(epochs=1, hidden_size=8, batch_size=8, window=16, device="cpu")
OLD_RUN = Path(__file__).parent / "old_run"  # written by `rnnlab train anomaly` before the task became a package


@pytest.fixture(scope="module")
def sensor(tmp_path_factory, build) -> Path:
    return build.sensor_csv(tmp_path_factory.mktemp("anomaly") / "sensor.csv")


@pytest.fixture(scope="module")
def fitted(sensor) -> AnomalyDetector:
    return AnomalyDetector(**TINY).fit(str(sensor), normal_until=200)


@pytest.mark.parametrize("overrides, message", [
    ({"bidirectional": True}, "bidirectional must be False"),
    ({"normal_until": 1}, "normal_until must be an integer >= 2"),
    ({"calibration_fraction": 1.0}, "calibration_fraction must be in \\(0, 1\\)"),
    ({"threshold_quantile": 1.5}, "threshold_quantile must be in \\[0, 1\\]"),
    ({"threshold_margin": 0.0}, "threshold_margin must be positive"),
    ({"method": "arima"}, "method must be one of \\['forecast', 'reconstruction'\\]"),
    ({"smooth": 0}, "smooth must be a positive integer"),
])
def test_config_rejects_bad_settings(overrides, message):
    with pytest.raises(ValueError, match=message):
        AnomalyConfig(**overrides)


def test_the_fitted_state_is_saved_under_the_old_keys(fitted, tmp_path):
    saved = json.loads((fitted.save(tmp_path / "run") / "config.json").read_text())
    assert saved["channels"] == ["value"] and saved["normal_until"] == 200 and saved["train_end"] == 150
    assert set(saved["detectors"]) == {"model", "naive"}
    assert saved["detectors"]["model"]["threshold"] == fitted.threshold_
    assert set(saved["detectors"]["naive"]) == {"mean", "std", "scale", "threshold"} and "out" not in saved["config"]


def test_the_probe_is_the_forecast_error_on_held_out_normal_windows(fitted, sensor):
    """Windows cut by hand from the raw file: every forecast in them is of a calibration point."""
    probe = fitted.probe(5)
    values = np.loadtxt(sensor, delimiter=",", skiprows=1, usecols=1)  # (N,)
    calibration = fitted.task_.calibration["model"]
    xs = (values - calibration["mean"][0]) / calibration["std"][0]
    first = fitted.task_.spans.train_end - 1  # the first forecast is of point train_end
    segments = torch.tensor(np.stack([xs[first + k: first + k + 17] for k in range(5)]), dtype=torch.float32)[..., None]
    with torch.no_grad():
        predictions, _ = probe.model(segments[:, :-1])  # (5, 16, 1)
    expected = float(((predictions - segments[:, 1:]) ** 2).mean())
    assert probe.loss().item() == pytest.approx(expected, rel=1e-6, abs=1e-7)
    assert probe.description == "5 held-out normal windows of 16 steps"


def test_held_out_windows_mask_training_forecasts_when_the_span_is_short():
    xs = np.arange(40, dtype=np.float64)[:, None]  # (N, 1): each value is its own index
    inputs, targets = held_out_windows(AnomalyConfig(window=4), xs, Spans(train_end=20, normal_until=30))
    assert inputs.shape == targets.shape == (7, 4, 1)  # targets 20 … 29: every calibration point
    np.testing.assert_array_equal(inputs[0, :, 0], [19, 20, 21, 22])
    np.testing.assert_array_equal(targets[:, 0, 0], np.arange(20, 27))  # each forecast is of a calibration point

    inputs, targets = held_out_windows(AnomalyConfig(window=8), xs, Spans(train_end=20, normal_until=23))
    assert inputs.shape == targets.shape == (3, 8, 1)  # one segment per calibration point, each its newest
    np.testing.assert_array_equal(inputs[:, 0, 0], [12, 13, 14])
    finite = targets[np.isfinite(targets)]
    assert len(finite) == 1 + 2 + 3 and (finite >= 20).all()  # forecasts of training points do not count

    inputs, targets = held_out_windows(AnomalyConfig(method="reconstruction", recon_window=4), xs,
                                       Spans(train_end=20, normal_until=30))
    np.testing.assert_array_equal(inputs[:, -1, 0], np.arange(20, 30))  # windows whose newest point is held out
    np.testing.assert_array_equal(inputs, targets)
    assert masked_mse(torch.zeros(1, 2, 1), torch.tensor([[[float("nan")], [2.0]]])).item() == 4.0


@pytest.mark.parametrize("method", ["forecast", "reconstruction"])
def test_validation_data_validates_and_calibrates_and_the_whole_prefix_trains(method, sensor, build, tmp_path):
    other = build.sensor_csv(tmp_path / "normal.csv", n=120, labels=False)  # the same signal, no burst in it
    settings = {**TINY, "method": method, "recon_window": 8}
    given = AnomalyDetector(**settings).fit(str(sensor), normal_until=200, validation_data=str(other))
    own = AnomalyDetector(**settings).fit(str(sensor), normal_until=200)
    assert given.task_.spans == Spans(200, 200) and own.task_.spans == Spans(150, 200)
    assert given.history_[0]["val_loss"] != own.history_[0]["val_loss"]
    assert given.probe(3).batch_size == 3
    detector = given.task_.detectors(given.network_)["model"]
    first = 1 if method == "forecast" else 7
    calibration = detector.scores(np.loadtxt(other, delimiter=",", skiprows=1, usecols=1)[:, None])[first:]
    assert given.threshold_ == pytest.approx(2.0 * calibration.max())  # threshold_margin × the largest
    loaded = load(given.save(tmp_path / "run"))  # the validation data is not kept: the probe says so
    assert loaded.evaluate()["metrics"] == given.test_metrics_
    with pytest.raises(ValueError, match="calibrated on validation_data, which a saved run does not keep"):
        loaded.probe(3)
    with pytest.raises(DataError, match="validation_data <ndarray in memory> has 1 points"):
        AnomalyDetector(**settings).fit(str(sensor), normal_until=200, validation_data=np.ones(1))


def test_a_validation_series_of_other_channels_is_refused_before_training(sensor, build, tmp_path):
    other = build.sensor_csv(tmp_path / "two.csv", n=60, channels=("a", "b"))
    task = AnomalyTask(AnomalyConfig(**TINY, data=str(sensor), normal_until=200))
    message = r"validation_data .* has channels \['a', 'b'\]; the run is trained on \['value'\]"
    with pytest.raises(DataError, match=message):
        task.prepare(str(sensor), str(other))


def run_onnx(path: Path, **inputs: torch.Tensor) -> list[torch.Tensor]:
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime runs the exported graphs: pip install onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [torch.from_numpy(value) for value in session.run(None, {k: v.numpy() for k, v in inputs.items()})]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_forecaster_exports_with_its_state_carried(cell, build, tmp_path):
    pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript: pip install onnxscript")
    data = build.sensor_csv(tmp_path / "two.csv", channels=("a", "b"))
    detector = AnomalyDetector(**{**TINY, "model": cell, "num_layers": 2}).fit(str(data), normal_until=200)
    (path,) = detector.export(tmp_path / "model.onnx")
    model, generator = detector.network_, torch.Generator().manual_seed(4)
    inputs = torch.randn(3, 9, 2, generator=generator)  # batch and time unlike the export's example
    states = [torch.randn(2, 3, 8, generator=generator) for _ in range(1 + (cell == "lstm"))]
    with torch.no_grad():
        outputs, final = model(inputs, LSTMState(*states) if len(states) == 2 else states[0])
    got = run_onnx(path, inputs=inputs, **dict(zip(["h_0", "c_0"], states)))
    for ours, theirs in zip(got, [outputs, *(final if isinstance(final, tuple) else (final,))], strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0.0)


def test_the_autoencoder_exports_whole_windows(build, tmp_path):
    pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript: pip install onnxscript")
    data = build.sensor_csv(tmp_path / "two.csv", channels=("a", "b"))
    detector = AnomalyDetector(**{**TINY, "method": "reconstruction", "recon_window": 8, "model": "gru"})
    (path,) = detector.fit(str(data), normal_until=200).export(tmp_path / "model.onnx")
    windows = torch.randn(4, 8, 2, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = detector.network_(windows)
    torch.testing.assert_close(run_onnx(path, windows=windows)[0], expected, atol=1e-5, rtol=0.0)


def test_a_run_written_by_the_old_code_loads_and_scores_as_it_did(tmp_path, monkeypatch):
    run = tmp_path / "old_anomaly"
    shutil.copytree(OLD_RUN, run)
    monkeypatch.chdir(run)  # its config names its data by a relative path
    detector = load(run)
    assert type(detector) is AnomalyDetector and detector.smooth == 2 and detector.channels_ == ["value"]
    metrics, saved_metrics = detector.evaluate()["metrics"], json.loads((run / "test_metrics.json").read_text())
    # every metric the old run wrote is unchanged (later metrics, such as the range-based ones, are added)
    assert {name: {key: metrics[name][key] for key in saved} for name, saved in saved_metrics.items()} == saved_metrics
    saved = [line.rsplit(",", 1)[0] for line in (run / "scores.csv").read_text().splitlines()]
    assert detector.predict_lines(data="sensor.csv") == saved  # scores.csv less its label column
    assert list(detector.detect_lines("sensor.csv")) == saved  # streaming prints what batch mode wrote
    assert detector.probe(4).batch_size == 4
