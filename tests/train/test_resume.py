"""Kill a training run with SIGKILL in the middle of an epoch; resume then finishes it with the same
final weights as an uninterrupted run with the same seed, on CPU."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file

SCRIPT = '''
import sys, time
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F

import rnnlab
from rnnlab.train import Trainer, TrainerOptions

run_dir, resume, delay = Path(sys.argv[1]), sys.argv[2] == "resume", float(sys.argv[3])
torch.set_num_threads(1)  # the same in every process, so reductions add in the same order


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = rnnlab.LSTM(3, 16, batch_first=True)
        self.head = nn.Linear(16, 1)

    def forward(self, xs):
        ys, _ = self.lstm(xs)
        return self.head(ys[:, -1])


torch.manual_seed(0)
model = Model()
data = torch.Generator().manual_seed(1)
X = torch.randn(256, 12, 3, generator=data)
Y = 0.1 * X.sum(dim=(1, 2)).unsqueeze(1)


def train_batches(epoch, generator):
    order = torch.randperm(256, generator=generator)
    for start in range(0, 256, 16):
        time.sleep(delay)  # only slows the run that gets killed; results do not depend on it
        yield X[order[start:start + 16]], Y[order[start:start + 16]]


options = TrainerOptions(epochs=3, checkpoint_every_steps=5, schedule="cosine", early_stopping_patience=2)
Trainer(model, F.mse_loss, options, run_dir=run_dir, quiet=True).fit(
    train_batches, lambda: [(X[:64], Y[:64])], resume=resume)
save_file(model.state_dict(), str(run_dir / "final.safetensors"))
'''


def start(script, run_dir, mode, delay):
    return subprocess.Popen([sys.executable, str(script), str(run_dir), mode, str(delay)],
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=subprocess.PIPE, text=True)


def checkpoint_state(run_dir):
    """(epoch, batches done) of the current checkpoint, or None while there is none (or it moves)."""
    try:
        pointer = json.loads((run_dir / "checkpoint" / "checkpoint.json").read_text())
        state = json.loads((run_dir / "checkpoint" / pointer["current"] / "trainer_state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None
    return state["state"]["epoch"], state["state"]["batches_done"]


def kill_in_epoch_two(process, run_dir, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = checkpoint_state(run_dir)
        if state is not None and state[0] == 2 and state[1] > 0:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.005)
    process.kill()
    raise AssertionError(f"no mid-epoch checkpoint in epoch 2 within {timeout} s")


def metrics(run_dir):
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k != "seconds"} for line in lines]


def test_resume_after_sigkill_mid_epoch_matches_an_uninterrupted_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    reference_dir, killed_dir = tmp_path / "reference", tmp_path / "killed"
    reference = start(script, reference_dir, "fresh", 0.0)
    killed = start(script, killed_dir, "fresh", 0.03)
    kill_in_epoch_two(killed, killed_dir)
    assert killed.returncode == -signal.SIGKILL
    epoch, batches_done = checkpoint_state(killed_dir)
    assert epoch == 2 and 0 < batches_done < 16, "the resume must start in the middle of an epoch"
    assert not (killed_dir / "final.safetensors").exists()

    resumed = start(script, killed_dir, "resume", 0.0)
    assert resumed.wait(timeout=60) == 0, resumed.stderr.read()
    assert reference.wait(timeout=60) == 0, reference.stderr.read()

    expected = load_file(reference_dir / "final.safetensors")
    actual = load_file(killed_dir / "final.safetensors")
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(actual[key], expected[key]), key
    assert metrics(killed_dir) == metrics(reference_dir)  # each epoch logged once, same losses
    assert [line["epoch"] for line in metrics(killed_dir)] == [1, 2, 3]
