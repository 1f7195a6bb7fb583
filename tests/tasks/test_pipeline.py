"""The spine every task shares: run directories, the estimator base, callbacks, checkpoints and resume.

Shown on the forecaster (the smallest task that reads data); the contract test runs the parts that
differ between tasks on all of them.
"""

from __future__ import annotations

import inspect
import json

import pytest
from safetensors.torch import load_file

import rnnlab
from rnnlab.cli.main import main
from rnnlab.tasks.pipeline import read_config
from rnnlab.tasks.rundir import Stage
from rnnlab.train import Callback

TINY = dict(epochs=3, hidden_size=4, window=6)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    forecaster = rnnlab.Forecaster(**TINY).fit("airline")
    return forecaster, forecaster.save(tmp_path_factory.mktemp("pipeline") / "run")


def test_a_run_directory_is_read_back_only_as_the_task_that_wrote_it(saved):
    _, run_dir = saved
    assert read_config(run_dir)["task"] == read_config(run_dir, "forecast")["task"] == "forecast"
    with pytest.raises(ValueError, match="holds a forecast run, not a translate run"):
        read_config(run_dir, "translate")
    with pytest.raises(ValueError, match="holds a forecast run, not a tag run"):
        rnnlab.Tagger.load(run_dir)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        read_config(run_dir / "missing")


def test_runs_written_by_earlier_versions_load(saved, tmp_path):
    forecaster, run_dir = saved
    old = tmp_path / "old"
    old.mkdir()
    (old / "model.safetensors").write_bytes((run_dir / "model.safetensors").read_bytes())
    config = json.loads((run_dir / "config.json").read_text())
    del config["task"]                    # runs written before tasks were named are forecasts
    config["config"]["out"] = "runs/air"  # the run directory was once a setting
    (old / "config.json").write_text(json.dumps(config))
    loaded = rnnlab.tasks.load(old)
    assert isinstance(loaded, rnnlab.Forecaster) and loaded.evaluate()["metrics"] == forecaster.test_metrics_


def test_the_settings_are_the_signature_and_the_docstring():
    parameters = inspect.signature(rnnlab.Forecaster).parameters
    assert list(parameters)[:3] == ["model", "hidden_size", "num_layers"] and list(parameters)[-1] == "verbose"
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())
    assert parameters["window"].default == 12 and "data" not in parameters and "target" not in parameters
    assert "window: input steps per window (default: 12)" in rnnlab.Forecaster.__init__.__doc__
    assert repr(rnnlab.Forecaster(window=24, model="gru")) == "Forecaster(model='gru', window=24)"


def test_save_refuses_an_existing_directory_unless_told_to_replace_it(saved, tmp_path):
    forecaster, _ = saved
    target = tmp_path / "run"
    target.mkdir()
    (target / "mine.txt").write_text("keep")
    with pytest.raises(ValueError, match="already exists"):
        forecaster.save(target)
    assert (target / "mine.txt").read_text() == "keep"
    forecaster.save(target, overwrite=True)
    assert not (target / "mine.txt").exists() and (target / "model.safetensors").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing aside or partial is left


def test_a_loaded_run_saves_an_identical_copy(saved, tmp_path):
    _, run_dir = saved
    copy = rnnlab.tasks.load(run_dir).save(tmp_path / "copy")
    assert (copy / "config.json").read_text() == (run_dir / "config.json").read_text()
    assert load_file(copy / "model.safetensors").keys() == load_file(run_dir / "model.safetensors").keys()


def test_callbacks_pass_through_fit_and_can_stop_it():
    class StopAfterTwo(Callback):
        def __init__(self):
            self.epochs = []

        def on_epoch_end(self, trainer, record):
            self.epochs.append(record["epoch"])
            trainer.stop_training = len(self.epochs) == 2

    callback = StopAfterTwo()
    forecaster = rnnlab.Forecaster(**{**TINY, "epochs": 5}).fit("airline", callbacks=[callback])
    assert callback.epochs == [1, 2] and len(forecaster.history_) == 2


def test_an_interrupted_fit_resumes_from_its_checkpoints_to_the_same_weights(tmp_path):
    class Interrupt(Callback):
        def on_epoch_end(self, trainer, record):
            if record["epoch"] == 2:
                raise KeyboardInterrupt

    straight = rnnlab.Forecaster(**TINY).fit("airline")
    with pytest.raises(KeyboardInterrupt):
        rnnlab.Forecaster(**TINY).fit("airline", callbacks=[Interrupt()], checkpoint_dir=tmp_path / "ckpt")
    resumed = rnnlab.Forecaster(**TINY).fit("airline", checkpoint_dir=tmp_path / "ckpt", resume=True)
    assert resumed.test_metrics_ == straight.test_metrics_
    assert [r["train_loss"] for r in resumed.history_] == [r["train_loss"] for r in straight.history_]
    with pytest.raises(ValueError, match="nothing to resume"):
        rnnlab.Forecaster(**TINY).fit("airline", checkpoint_dir=tmp_path / "none", resume=True)


def test_verbose_shows_the_progress_and_quiet_shows_nothing(capsys):
    rnnlab.Forecaster(**TINY).fit("airline")
    assert capsys.readouterr().err == ""
    rnnlab.Forecaster(**TINY, verbose=True).fit("airline")
    assert capsys.readouterr().err.count("epoch ") == 3  # one summary line per epoch off a terminal


def test_the_command_line_logs_to_tensorboard(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs = tmp_path / "logs"
    assert main(["train", "forecast", *[w for k, v in TINY.items() for w in ("--" + k.replace("_", "-"), str(v))],
                 "--out", str(tmp_path / "run"), "--tensorboard", str(logs), "--quiet"]) == 0
    events = EventAccumulator(str(logs / "epoch"))
    events.Reload()
    history = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [event.value for event in events.Scalars("train_loss")]
    assert losses == pytest.approx([record["train_loss"] for record in history])


def test_a_stage_checks_its_destination_before_anything_runs(tmp_path):
    (tmp_path / "done").mkdir()
    with pytest.raises(ValueError, match="already exists"):
        Stage(tmp_path / "done")
    with pytest.raises(ValueError, match="nothing to resume"):
        Stage(tmp_path / "new", resume=True)
    stage = Stage(tmp_path / "new")
    (stage.open() / "checkpoint").mkdir()
    assert stage.finish() == tmp_path / "new" and not (tmp_path / "new" / "checkpoint").exists()
