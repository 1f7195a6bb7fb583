"""The demo's study end to end on a tiny plan: every part runs, every claim quotes this run's numbers,
the report renders in headless Chromium (skipped, saying why, where there is none)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from rnnlab.report.render import find_chromium, render
from rnnlab.studies import demo as study
from rnnlab.studies.claims import HELD, IN_PART, NOT_HELD


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    full = study.default_plan(quick=True)
    tiny = dataclasses.replace(
        full, seeds=(0, 1), forecast=full.forecast.set_params(epochs=2, hidden_size=4),
        text=full.text.set_params(epochs=1, hidden_size=4, embedding_dim=4, max_vocab=500),
        lengths=(5, 12), adding_seeds=(0,), updates={5: 20, 12: 20}, adding_hidden_size=4)
    out = tmp_path_factory.mktemp("study") / "demo"
    lines = []
    result = study.run_study(out, plan=tiny, quick=True, command="rnnlab demo --quick", log=lines.append)
    return out, result, lines


def test_the_study_runs_every_part_and_publishes_its_directory(tiny_study):
    out, result, lines = tiny_study
    assert not out.with_name("demo.partial").exists()
    assert {path.name for path in out.iterdir()} >= {"report.html", "study.json", "adding", "forecast", "text"}
    saved = json.loads((out / "study.json").read_text())
    assert sorted({(row["cell"], row["length"]) for row in saved["adding"]}) == [
        (cell, length) for cell in ("gru", "lstm", "rnn") for length in (5, 12)]
    assert [row["name"] for row in saved["forecast"]] == ["RNN", "LSTM", "GRU"]
    assert all(row["seeds"] == 2 for row in saved["text"])
    assert set(saved["adding_flow"]) == {"5", "12"}
    assert any(line.startswith("3/3") for line in lines)
    # progress between runs: every part counts its runs
    assert "run 6 of 6: T=12" in "\n".join(lines) and any(line.startswith("run 6 of 6: GRU seed 1") for line in lines)


def test_every_claim_is_judged_and_quotes_numbers_of_this_run(tiny_study):
    _, result, _ = tiny_study
    claims = result["claims"]
    assert len(claims) == 4
    assert all(claim["verdict"] in (HELD, IN_PART, NOT_HELD) for claim in claims)
    by_statement = {claim["statement"]: claim["evidence"] for claim in claims}
    gru = next(evidence for statement, evidence in by_statement.items() if statement.startswith("GRUs"))
    text_rows = {row["name"]: row for row in result["text"]}
    assert f"{text_rows['GRU']['metric']:.4g} vs LSTM {text_rows['LSTM']['metric']:.4g}" in gru
    assert f"parameters {text_rows['GRU']['parameters']} vs {text_rows['LSTM']['parameters']}" in gru
    memory = next(evidence for statement, evidence in by_statement.items() if statement.startswith("Plain RNNs"))
    assert "lengths 5, 12" in memory
    assert "Claims" in result["text_summary"] and "[" in result["text_summary"]


def test_the_report_renders_in_headless_chromium(tiny_study):
    out, result, _ = tiny_study
    html = (out / "report.html").read_text(encoding="utf-8")
    for claim in result["claims"]:
        assert claim["verdict"] in html
    if find_chromium() is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium, or set CHROMIUM)")
    check = render(out / "report.html")
    assert check.ok, check.summary()
    assert check.images >= 10 and check.images_decoded == check.images and check.tables >= 6


def test_the_study_refuses_an_existing_out(tmp_path):
    with pytest.raises(ValueError, match="already exists"):
        study.run_study(tmp_path)
