"""Checkpoints: exact round trips through safetensors + JSON, no pickle, atomic pointer, clear errors."""

from __future__ import annotations

import json
import pickle
import random

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import rnnlab
from rnnlab.train import build_optimizer, build_scheduler, latest_checkpoint, load_checkpoint, restore_rng
from rnnlab.train import save_checkpoint
from rnnlab.train.checkpoint import RunDirectoryError


def trained(seed=0):
    """An LSTM + head, its Adam optimizer and cosine schedule after a few steps (state is non-trivial)."""
    torch.manual_seed(seed)
    model = nn.Sequential()
    model.lstm, model.head = rnnlab.LSTM(3, 5, batch_first=True), nn.Linear(5, 1)
    optimizer = build_optimizer(model.parameters(), "adamw", 0.01, weight_decay=0.1)
    scheduler = build_scheduler(optimizer, "cosine", total_steps=10, warmup_steps=2)
    for _ in range(3):
        ys, _ = model.lstm(torch.randn(4, 6, 3))
        model.head(ys).square().mean().backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    return model, optimizer, scheduler


def test_round_trip_restores_model_optimizer_scheduler_and_state(tmp_path):
    model, optimizer, scheduler = trained(seed=0)
    state = {"epoch": 2, "global_step": 3, "history": [{"epoch": 1, "val_loss": 0.5}], "best_val_loss": None}
    save_checkpoint(tmp_path, model=model, optimizer=optimizer, scheduler=scheduler, state=state)

    other_model, other_optimizer, other_scheduler = trained(seed=1)
    loaded = load_checkpoint(tmp_path, model=other_model, optimizer=other_optimizer, scheduler=other_scheduler)
    assert {k: v for k, v in loaded.items() if k != "rng"} == state
    for key, value in model.state_dict().items():
        assert torch.equal(value, other_model.state_dict()[key])
    ours, theirs = optimizer.state_dict(), other_optimizer.state_dict()
    assert ours["param_groups"] == [{**group, "betas": tuple(group["betas"])} for group in theirs["param_groups"]]
    for index, values in ours["state"].items():
        for name, value in values.items():
            assert torch.equal(value, theirs["state"][index][name])
    assert scheduler.state_dict() == other_scheduler.state_dict()
    assert other_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]


def test_files_are_safetensors_and_json_with_flat_optimizer_keys(tmp_path):
    model, optimizer, scheduler = trained()
    path = save_checkpoint(tmp_path, model=model, optimizer=optimizer, scheduler=scheduler, state={})
    assert sorted(p.name for p in path.iterdir()) == ["model.safetensors", "optimizer.json", "optimizer.safetensors",
                                                     "rng.safetensors", "trainer_state.json"]
    assert "state.0.exp_avg" in load_file(path / "optimizer.safetensors")
    structure = json.loads((path / "optimizer.json").read_text())
    assert structure["param_groups"][0]["params"] == list(range(len(list(model.parameters()))))
    assert json.loads((tmp_path / "checkpoint.json").read_text())["current"] == path.name


def test_rng_states_are_restored(tmp_path):
    model, _, _ = trained()
    torch.manual_seed(7)
    np.random.seed(7)
    random.seed(7)
    save_checkpoint(tmp_path, model=model, state={})
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(8)
    np.random.seed(8)
    random.seed(8)
    restore_rng(load_checkpoint(tmp_path)["rng"])
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and random.random() == expected[2]


def test_loading_never_unpickles(tmp_path, monkeypatch):
    model, optimizer, scheduler = trained()
    save_checkpoint(tmp_path, model=model, optimizer=optimizer, scheduler=scheduler, state={"epoch": 1},
                    best_model_state=model.state_dict())

    def forbidden(*args, **kwargs):
        raise AssertionError("a checkpoint load must not unpickle")
    for module, name in ((pickle, "loads"), (pickle, "load"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(module, name, forbidden)
    loaded = load_checkpoint(tmp_path, model=trained(seed=1)[0], optimizer=trained(seed=1)[1],
                             scheduler=trained(seed=1)[2])
    assert loaded["epoch"] == 1 and set(loaded["best_model_state"]) == set(model.state_dict())


def test_tied_weights_are_saved(tmp_path):
    model = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5, bias=False))
    model[1].weight = model[0].weight  # shared storage, which safetensors refuses unless copied
    save_checkpoint(tmp_path, model=model, state={})
    other = nn.Sequential(nn.Embedding(5, 4), nn.Linear(4, 5, bias=False))
    load_checkpoint(tmp_path, model=other)
    assert torch.equal(other[0].weight, model[0].weight) and torch.equal(other[1].weight, model[0].weight)


def test_an_interrupted_save_leaves_the_previous_checkpoint_current(tmp_path):
    model, optimizer, _ = trained()
    first = save_checkpoint(tmp_path, model=model, optimizer=optimizer, state={"global_step": 3})
    # what a SIGKILL in the middle of the next save leaves: a new directory, some files, no pointer change
    torn = tmp_path / "ckpt-000000004-torn"
    torn.mkdir()
    (torn / "model.safetensors").write_bytes(b"\x00\x01")
    (tmp_path / ".checkpoint.json.abc.tmp").write_text('{"current": "ckpt-0000')
    assert latest_checkpoint(tmp_path) == first
    assert load_checkpoint(tmp_path, model=trained(seed=1)[0])["global_step"] == 3
    second = save_checkpoint(tmp_path, model=model, state={"global_step": 4})
    assert latest_checkpoint(tmp_path) == second and not torn.exists() and not first.exists()


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nothing")):
        load_checkpoint(tmp_path / "nothing")


def test_corrupt_files_name_the_path(tmp_path):
    model, _, _ = trained()
    path = save_checkpoint(tmp_path, model=model, state={})
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    with pytest.raises(RunDirectoryError, match=f"{weights}: not a readable safetensors file"):
        load_checkpoint(tmp_path, model=model)
    (path / "trainer_state.json").write_text("{not json")
    with pytest.raises(RunDirectoryError, match="trainer_state.json: not valid JSON at line 1, column 2"):
        load_checkpoint(tmp_path)
    (tmp_path / "checkpoint.json").write_text('{"format": 1, "current": "gone"}')
    with pytest.raises(RunDirectoryError, match="\"current\" names no checkpoint directory; received 'gone'"):
        load_checkpoint(tmp_path)


def test_a_checkpoint_of_another_model_is_a_clear_error(tmp_path):
    save_checkpoint(tmp_path, model=nn.Linear(3, 2), state={})
    with pytest.raises(RunDirectoryError, match=r"model.safetensors: tensor 'weight' has shape \(2, 3\); the model it "
                                                r"is loaded into needs \(4, 3\)$"):
        load_checkpoint(tmp_path, model=nn.Linear(3, 4))
