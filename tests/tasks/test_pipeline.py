"""The shared run layer: a run directory is read back only as the task that wrote it."""

import json

import pytest
import torch

from rnnlab.tasks.run import read_run, save_run


def test_read_run_names_the_task_a_run_holds(tmp_path):
    save_run(tmp_path, torch.nn.Linear(2, 1), "tag", {"config": {}})
    assert read_run(tmp_path)["task"] == "tag"
    assert read_run(tmp_path, "tag")["config"] == {}
    with pytest.raises(ValueError, match="holds a tag run, not a translate run"):
        read_run(tmp_path, "translate")


def test_runs_written_before_tasks_were_named_are_forecasts(tmp_path):
    save_run(tmp_path, torch.nn.Linear(2, 1), "forecast", {})
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["task"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert read_run(tmp_path, "forecast")["task"] == "forecast"


def test_a_directory_without_a_finished_run_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        read_run(tmp_path / "missing")
