"""Two CPU processes under DDP (gloo, loopback), each on half of every global batch, end with the
weights of one process trained on the full global batches."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from rnnlab.train import shard

SCRIPT = '''
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
from torch.nn import functional as F

import rnnlab
from rnnlab.train import Trainer, TrainerOptions, init_from_env, is_main
from rnnlab.train.distributed import rank

out = Path(sys.argv[1])
init_from_env()  # a no-op in the single-process run (no WORLD_SIZE)
torch.set_num_threads(1)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = rnnlab.LSTM(3, 8, batch_first=True)
        self.head = nn.Linear(8, 1)

    def forward(self, xs):
        ys, _ = self.lstm(xs)
        return self.head(ys[:, -1])


torch.manual_seed(0)
model = Model().double()
X = torch.randn(64, 5, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
Y = X.sum(dim=(1, 2)).unsqueeze(1)


def global_batches(epoch, generator):
    order = torch.randperm(64, generator=generator)
    return [(X[order[i:i + 16]], Y[order[i:i + 16]]) for i in range(0, 64, 16)]


options = TrainerOptions(epochs=2, learning_rate=0.01, checkpoint_every_steps=3)
result = Trainer(model, F.mse_loss, options, run_dir=out / "run", quiet=True).fit(
    global_batches, lambda: [(X, Y)])
save_file(model.state_dict(), str(out / f"rank{rank()}.safetensors"))
if is_main():
    (out / "history.json").write_text(__import__("json").dumps(result.history))
'''


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(script, out, env):
    return subprocess.Popen([sys.executable, str(script), str(out)], env={**os.environ, "OMP_NUM_THREADS": "1", **env},
                            stderr=subprocess.PIPE, text=True)


def without_seconds(history):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


def test_two_ranks_on_half_batches_equal_one_process_on_full_batches(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    port = str(free_port())
    ddp_env = {"WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "GLOO_SOCKET_IFNAME": "lo"}
    single = launch(script, tmp_path / "single", {})
    ranks = [launch(script, tmp_path / "ddp", {**ddp_env, "RANK": str(r), "LOCAL_RANK": str(r)}) for r in (0, 1)]
    for process in [single, *ranks]:
        assert process.wait(timeout=60) == 0, process.stderr.read()

    expected = load_file(tmp_path / "single" / "rank0.safetensors")
    rank0, rank1 = (load_file(tmp_path / "ddp" / f"rank{r}.safetensors") for r in (0, 1))
    for key in expected:
        assert torch.equal(rank0[key], rank1[key]), key  # DDP keeps the replicas identical
        torch.testing.assert_close(rank0[key], expected[key], rtol=0, atol=1e-10)
    ddp_history = json.loads((tmp_path / "ddp" / "history.json").read_text())
    single_history = json.loads((tmp_path / "single" / "history.json").read_text())
    for ours, theirs in zip(without_seconds(ddp_history), without_seconds(single_history), strict=True):
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert ours[key] == pytest.approx(theirs[key], rel=1e-9, abs=1e-12)
    # only rank 0 writes: one metrics line per epoch, not two
    lines = (tmp_path / "ddp" / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]


def test_shard_takes_each_rank_s_contiguous_slice():
    batch = (torch.arange(8), {"y": torch.arange(8) * 10})
    inputs, targets = shard(batch, rank=1, world=2)
    assert inputs.tolist() == [4, 5, 6, 7] and targets["y"].tolist() == [40, 50, 60, 70]
    with pytest.raises(ValueError, match="batch size must be divisible by the world size 3; received 8"):
        shard(batch, rank=0, world=3)
    with pytest.raises(ValueError, match=r"rank must be in \[0, world=2\); received 2"):
        shard(batch, rank=2, world=2)
