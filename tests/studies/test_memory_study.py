"""The adding-length study: the same budget for every cell at a length, the verdict per cell, the presets."""

from __future__ import annotations

import dataclasses
import json
import shlex

import pytest

from rnnlab.cli.args import values_from_arguments
from rnnlab.cli.main import build_parser
from rnnlab.studies.memory import QUICK_STUDY, STUDY, adding_study, longest_beaten, study_runs, table_text
from rnnlab.tasks.memory import AddingConfig, AddingProblem, AddingTask
from rnnlab.tasks.memory.task import FreshBatches


def test_study_gives_every_cell_the_same_budget_at_a_length(tmp_path):
    base = dict(batch_size=8, hidden_size=6, learning_rate=0.02)
    runs = study_runs(tmp_path, cells=("rnn", "lstm"), lengths=(10, 40), seeds=(0, 1),
                      updates={10: 20, 40: 50}, evaluations=5, base=base)
    configs = [AddingProblem(**run.settings).config() for run in runs]
    assert [(c.length, c.model, c.seed) for c in configs][:4] == [(10, "rnn", 0), (10, "rnn", 1), (10, "lstm", 0),
                                                                 (10, "lstm", 1)]
    for run, config in zip(runs, configs):
        updates = config.epochs * len(FreshBatches(AddingTask(config), 1))
        assert updates == (20 if config.length == 10 else 50)
        assert (config.batch_size, config.hidden_size, config.learning_rate) == (8, 6, 0.02)
        assert run.run_dir == tmp_path / f"T{config.length}" / f"{config.model}-seed{config.seed}"
    with pytest.raises(ValueError, match=r"updates must be an integer ≥ evaluations \(5\).*received 3 for length 10"):
        study_runs(tmp_path, cells=("rnn",), lengths=(10,), seeds=(0,), updates=3, evaluations=5, base=base)


def row(cell, length, seed, mse, baseline=0.16):
    return {"cell": cell, "length": length, "seed": seed, "mse": mse, "baseline_mse": baseline, "seconds": 1.0}


def test_longest_beaten_averages_the_seeds_against_nine_tenths_of_the_baseline():
    rows = [row("rnn", 10, 0, 0.01), row("rnn", 10, 1, 0.02),
            row("rnn", 30, 0, 0.10), row("rnn", 30, 1, 0.20),     # mean 0.15 > 0.9 × 0.16 = 0.144: not beaten
            row("rnn", 100, 0, 0.16), row("rnn", 100, 1, 0.17),
            row("lstm", 10, 0, 0.001), row("lstm", 30, 0, 0.1), row("lstm", 100, 0, 0.14),  # 0.14 < 0.144
            row("gru", 10, 0, 0.16)]
    verdict = longest_beaten(rows)
    assert verdict["rnn"] == {"longest": 10, "stops": 30, "beaten": [10]}
    assert verdict["lstm"] == {"longest": 100, "stops": None, "beaten": [10, 30, 100]}
    assert verdict["gru"] == {"longest": None, "stops": 10, "beaten": []}
    assert longest_beaten(rows, ratio=0.8)["lstm"]["longest"] == 30
    with pytest.raises(ValueError, match="ratio must be in \\(0, 1\\]; received 1.5"):
        longest_beaten(rows, ratio=1.5)


def test_a_study_run_names_the_command_that_trains_it_again():
    settings = dict(model="rnn", length=10, seed=2, forget_bias=None, epochs=1, train_sequences=32, test_sequences=8)
    problem = AddingProblem(**settings).fit()
    words = problem.command_line().split(" ", 1)
    assert words[0] == "rnnlab" and "--forget-bias none" in words[1]
    args = build_parser().parse_args(shlex.split(words[1]) + ["--out", "x"])
    assert values_from_arguments(AddingConfig, args) == dataclasses.asdict(problem.config())


def test_study_arguments_are_checked_before_any_run(tmp_path):
    with pytest.raises(ValueError, match="cells must name cells among .*received 'transformer'"):
        adding_study(tmp_path, cells=("rnn", "transformer"), lengths=(4,), seeds=(0,), updates=10)
    with pytest.raises(ValueError, match="received None for length 30"):
        adding_study(tmp_path, lengths=(10, 30), seeds=(0,), updates={10: 20})
    with pytest.raises(ValueError, match="jobs must be a positive integer; received 0"):
        adding_study(tmp_path, lengths=(4,), seeds=(0,), updates=10, jobs=0)
    with pytest.raises(ValueError, match="received an empty study"):
        adding_study(tmp_path, lengths=(4,), seeds=(), updates=10)
    assert not any(tmp_path.iterdir())  # nothing trained, nothing written


@pytest.mark.parametrize("preset", [STUDY, QUICK_STUDY])
def test_the_demo_presets_reach_a_thousand_steps_with_one_budget_per_length(preset, tmp_path):
    base = dict(batch_size=32, hidden_size=32)
    runs = study_runs(tmp_path, cells=("rnn", "lstm", "gru"), evaluations=10, base=base, **preset)
    configs = [AddingProblem(**run.settings).config() for run in runs]
    assert max(config.length for config in configs) >= 1000
    for length in preset["lengths"]:
        budgets = {(c.epochs, c.train_sequences, c.batch_size, c.hidden_size, c.learning_rate)
                   for c in configs if c.length == length}
        assert len(budgets) == 1


def test_tiny_study_trains_every_cell_and_length_with_one_budget(tmp_path):
    rows = adding_study(tmp_path / "study", lengths=(4, 8), seeds=(3,), updates=6, batch_size=8, hidden_size=4,
                        evaluations=2, test_sequences=50, jobs=2)
    assert [(r["length"], r["cell"], r["seed"]) for r in rows] == [(4, "rnn", 3), (4, "lstm", 3), (4, "gru", 3),
                                                                  (8, "rnn", 3), (8, "lstm", 3), (8, "gru", 3)]
    for r in rows:
        run_dir = tmp_path / "study" / f"T{r['length']}" / f"{r['cell']}-seed3"
        assert r["updates"] == 6 and r["run_dir"] == str(run_dir)
        assert json.loads((run_dir / "config.json").read_text())["config"]["hidden_size"] == 4
    assert {r["parameters"] for r in rows if r["cell"] == "lstm"} == {4 * (4 * 2 + 4 * 4 + 2 * 4) + 5}
    assert json.loads((tmp_path / "study" / "study.json").read_text()) == rows
    verdict = longest_beaten(rows)
    assert set(verdict) == {"rnn", "lstm", "gru"}
    assert all(set(v) == {"longest", "stops", "beaten"} for v in verdict.values())
    assert "mean predictor" in table_text(rows)

    # the runs went two at a time in worker processes; one of them trained here gives the same numbers
    run = study_runs(tmp_path / "again", cells=("gru",), lengths=(8,), seeds=(3,), updates=6, evaluations=2,
                     base=dict(hidden_size=4, batch_size=8, test_sequences=50, patience=0))[0]
    assert AddingProblem(**run.settings).fit().test_metrics_["model"]["mse"] == rows[-1]["mse"]
