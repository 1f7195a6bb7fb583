"""Damaged and contended run directories: a damaged file is one clear error; two runs never share one.

Each case copies a good run, damages one file as a disk, an editor or another program might, and
checks that loading it (from Python, and through `rnnlab evaluate` and `predict`) fails with one
line naming the file and what is wrong, and changes nothing in the directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import torch

import rnnlab
from rnnlab.cli.main import main
from rnnlab.tasks.pipeline import RunDirectoryError
from rnnlab.tasks.rundir import RunLock

TINY = dict(epochs=1, hidden_size=4, window=6)


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    return rnnlab.Forecaster(**TINY).fit("airline").save(tmp_path_factory.mktemp("good") / "run")


def _edit_config(change):
    def damage(run):
        saved = json.loads((run / "config.json").read_text())
        change(saved)
        (run / "config.json").write_text(json.dumps(saved))
    return damage


def _truncate(name, keep):
    def damage(run):
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[:keep(len(data))])
    return damage


def _weights_of(other_settings):
    def damage(run):
        other = rnnlab.Forecaster(**{**TINY, **other_settings}).fit("airline")
        (run / "model.safetensors").write_bytes((other.save(run.parent / "other") / "model.safetensors").read_bytes())
    return damage


DAMAGE = {
    "weights truncated": (_truncate("model.safetensors", lambda n: n // 2), "model.safetensors", "safetensors"),
    "weights not safetensors": (lambda run: (run / "model.safetensors").write_bytes(b"\x00" * 64),
                                "model.safetensors", "safetensors"),
    "weights of another model": (_weights_of({"hidden_size": 6}), "model.safetensors", "has shape"),
    "weights of a deeper model": (_weights_of({"num_layers": 2}), "model.safetensors", "unexpected"),
    "config not JSON": (_truncate("config.json", lambda n: n - 5), "config.json", "not valid JSON"),
    "config not UTF-8": (lambda run: (run / "config.json").write_bytes(b'{"task": "\xff"}'), "config.json", "UTF-8"),
    "config without its config": (_edit_config(lambda saved: saved.pop("config")), "config.json", '"config"'),
    "config a list": (lambda run: (run / "config.json").write_text("[1, 2]"), "config.json", '"config"'),
    "unknown task": (_edit_config(lambda saved: saved.update(task="dance")), "config.json", "'dance'"),
    "unknown setting": (_edit_config(lambda saved: saved["config"].update(colour="red")), "config.json", "'colour'"),
    "setting of the wrong type": (_edit_config(lambda saved: saved["config"].update(hidden_size="four")),
                                  "config.json", "hidden_size"),
    "setting out of range": (_edit_config(lambda saved: saved["config"].update(window=0)), "config.json", "window"),
    "fitted state missing": (_edit_config(lambda saved: saved.pop("scaler")), "config.json", "'scaler'"),
    # fitted state of the wrong kind or range: each named by its key path and the value
    "a scaler's std of zero": (_edit_config(lambda saved: saved["scaler"]["std"].__setitem__(0, 0)), "config.json",
                               "std[0] must be a positive finite number; received 0"),
    "a scaler's mean a string": (_edit_config(lambda saved: saved["scaler"].update(mean="0.5")), "config.json",
                                 "mean must be a non-empty list of numbers; received '0.5'"),
    "a target not among the columns": (_edit_config(lambda saved: saved.update(target="profit")), "config.json",
                                       "'target' must be one of ['passengers']; received 'profit'"),
    "a season of zero": (_edit_config(lambda saved: saved.update(season=0)), "config.json",
                         "'season' must be an integer >= 1; received 0"),
    "columns repeated": (_edit_config(lambda saved: saved.update(columns=["passengers", "passengers"])),
                         "config.json", "'columns' must be a list of distinct strings; received 'passengers' more"),
    "metrics log damaged": (lambda run: (run / "metrics.jsonl").write_text('{"epoch": 1}\n{"epoch": \n'),
                            "metrics.jsonl: line 2", "not valid JSON"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_run_is_one_clear_error_naming_the_file_and_changes_nothing(case, good_run, tmp_path, capsys):
    damage, file, words = DAMAGE[case]
    run = tmp_path / "run"
    shutil.copytree(good_run, run)
    damage(run)
    before = {path.name: path.read_bytes() for path in run.iterdir()}
    with pytest.raises(RunDirectoryError) as raised:
        rnnlab.tasks.load(run)
    message = str(raised.value)
    assert file in message and words in message and "\n" not in message, message
    for command in (["evaluate", str(run)], ["predict", str(run), "--data", "airline"]):
        assert main(command) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1 and file in captured.err, captured.err
    assert {path.name: path.read_bytes() for path in run.iterdir()} == before


def _train(out, *extra):
    return main(["train", "forecast", "--data", "airline", "--epochs", "1", "--hidden-size", "4", "--window", "6",
                 "--out", str(out), "--quiet", *extra])


def test_a_second_run_on_the_same_out_stops_at_once_and_touches_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    partial = out.with_name("run.partial")
    (partial / "checkpoint").mkdir(parents=True)
    (partial / "checkpoint" / "mine.txt").write_text("the first run's")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # a live process
    try:
        out.with_name("run.lock").write_text(f"{holder.pid}\n")
        for extra in ((), ("--resume",)):
            assert _train(out, *extra) == 2
            error = capsys.readouterr().err
            assert error.count("\n") == 1 and f"being written by process {holder.pid}" in error, error
            assert (partial / "checkpoint" / "mine.txt").read_text() == "the first run's" and not out.exists()
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_whose_process_is_gone_is_taken_over_and_released(tmp_path, capsys):
    out = tmp_path / "run"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    out.with_name("run.lock").write_text(f"{gone.pid}\n")  # a crashed run's
    assert _train(out) == 0
    assert (out / "model.safetensors").is_file() and not out.with_name("run.lock").exists()
    with RunLock(tmp_path / "other") as lock, RunLock(tmp_path / "other"):  # re-entrant in one process
        assert lock.owner and (tmp_path / "other.lock").read_text().strip() == str(os.getpid())
    assert not (tmp_path / "other.lock").exists()


def test_of_runs_started_together_on_one_out_exactly_one_takes_the_lock(tmp_path):
    """Four processes, imports done, race for one lock at one signal; the winner holds it until told."""
    script = ("import pathlib, sys, time\nfrom rnnlab.tasks.rundir import RunLock\n"
              "folder = pathlib.Path(sys.argv[1])\n(folder / f'ready{sys.argv[2]}').touch()\n"
              "while not (folder / 'go').exists():\n    time.sleep(0.005)\n"
              "try:\n    with RunLock(folder / 'run'):\n        print('got', flush=True)\n"
              "        while not (folder / 'done').exists():\n            time.sleep(0.01)\n"
              "except ValueError as error:\n    print('refused', error)\n")
    racers = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), str(i)], stdout=subprocess.PIPE, text=True)
              for i in range(4)]
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("ready*"))) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        (tmp_path / "go").touch()
        while sum(racer.poll() is not None for racer in racers) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)  # the losers answer at once; the winner still holds the lock
        assert (tmp_path / "run.lock").exists()
    finally:
        (tmp_path / "done").touch()
    answers = [racer.communicate(timeout=60)[0].split()[0] for racer in racers]
    assert sorted(answers) == ["got", "refused", "refused", "refused"], answers
    assert not (tmp_path / "run.lock").exists() and not list(tmp_path.glob(".run.lock.*"))


def test_two_train_commands_on_one_out_leave_one_run_identical_to_a_run_alone(tmp_path):
    """`rnnlab train ... --out run` twice at the same moment (and once alone, elsewhere): one of the two
    trains, the other stops in one line (the lock is held, or the run exists by then), and what is left
    at run/ is, tensor for tensor and metric for metric, the run trained alone."""
    from safetensors.torch import load_file

    def command(out):
        return [sys.executable, "-m", "rnnlab", "train", "forecast", "--data", "airline", "--epochs", "3",
                "--hidden-size", "4", "--window", "6", "--out", str(out), "--quiet"]

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = [subprocess.Popen(command(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
               for out in (tmp_path / "run", tmp_path / "run", tmp_path / "alone")]
    results = [(process.returncode, *output) for process, output in
               ((process, process.communicate(timeout=600)) for process in started)]
    (first, second), alone = results[:2], results[2]
    assert alone[0] == 0, alone[2]
    assert sorted([first[0], second[0]]) == [0, 2], (first[2], second[2])
    loser = first if first[0] == 2 else second
    assert loser[1] == "" and loser[2].count("\n") == 1 and "run" in loser[2], loser[2]
    assert "being written by process" in loser[2] or "already exists" in loser[2], loser[2]
    ours, theirs = load_file(tmp_path / "run" / "model.safetensors"), load_file(tmp_path / "alone" / "model.safetensors")
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[name], theirs[name]) for name in ours)
    assert (json.loads((tmp_path / "run" / "test_metrics.json").read_text())
            == json.loads((tmp_path / "alone" / "test_metrics.json").read_text()))
    assert not (tmp_path / "run.partial").exists() and not (tmp_path / "run.lock").exists()
