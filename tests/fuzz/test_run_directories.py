"""A saved run whose config.json was edited or damaged: it loads and predicts, or one clear error.

The property, for a tiny saved run of every task that reads data: with one value anywhere in its
config.json (a setting, the task's name, any part of the fitted state: vocabularies, scalers,
classes, calibrations, tag tables) replaced by another JSON value or deleted, `rnnlab.tasks.load`
either gives an estimator whose `predict_lines` works, or raises `RunDirectoryError` (a
ValueError) in one line naming config.json or model.safetensors; a prediction from a run that
loaded may refuse its input in one line (a ValueError), but never crash. A KeyError, a TypeError
from numpy, an IndexError in a vocabulary lookup fails it.

Why: config.json is plain JSON beside the weights; people open it, "fix" a value, copy parts of
it between runs, and disks damage it. The fitted state in it decides how new data is prepared,
so a wrong value taken in silently would be a model that predicts nonsense.

Counts (the "rnnlab" profile, seeded): 210 edited files over the 7 tasks, about 2 s; the runs
are fitted once (about 6 s). `HYPOTHESIS_PROFILE=deep` tried 1,000 fresh ones without a failure.
"""

from __future__ import annotations

import json
import math
import shutil

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import rnnlab  # noqa: E402
from rnnlab.tasks import get_estimator  # noqa: E402
from rnnlab.tasks.pipeline import RunDirectoryError  # noqa: E402

# task: (the conftest builder and file name, tiny settings, other fit arguments, predict_lines arguments)
TASKS = {
    "forecast": ("series_csv", "sales.csv", dict(epochs=1, hidden_size=4, window=6), {"target": "sales"}, None),
    "classify-text": ("labelled_csv", "reviews.csv", dict(epochs=1, hidden_size=4, batch_size=8, embedding_dim=4,
                                                          min_freq=1), {}, "a great film"),
    "classify-series": ("series_ts", "motions.ts", dict(epochs=1, hidden_size=4, batch_size=8), {}, None),
    "tag": ("conllu", "sentences.conllu", dict(epochs=1, hidden_size=4, batch_size=8, embedding_dim=4, min_freq=1,
                                               test_fraction=0.2), {}, "O gato é grande ."),
    "generate": ("text_file", "corpus.txt", dict(epochs=1, hidden_size=8, batch_size=4, bptt=20, embedding_dim=4),
                 {}, "to be"),
    "translate": ("parallel_tsv", "pairs.tsv", dict(epochs=1, hidden_size=4, batch_size=8, embedding_dim=4,
                                                    min_freq=1, test_fraction=0.15), {}, "the light"),
    "anomaly": ("sensor_csv", "sensor.csv", dict(epochs=1, hidden_size=4, window=16), {"normal_until": 200}, None),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, build):
    """{task: (run directory, data file)} of runs fitted once and saved."""
    saved = {}
    for name, (builder, file, settings, options, _) in TASKS.items():
        folder = tmp_path_factory.mktemp(name.replace("-", "_"))
        data = getattr(build, builder)(folder / file)
        estimator = get_estimator(name)(**settings).fit(str(data), **options)
        saved[name] = (estimator.save(folder / "run"), data)
    return saved


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.sampled_from([0, -1, 1, 2]),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6), st.sampled_from(["<unk>", "a"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=6)


@settings(max_examples=210)  # 30 a task: a load takes milliseconds
@given(task=st.sampled_from(list(TASKS)), choice=st.integers(0, 10**6), new=JSON_VALUES,
       how=st.sampled_from(["replace", "replace", "delete", "duplicate"]))
def test_an_edited_config_loads_and_predicts_or_fails_clearly(runs, tmp_path, json_paths, task, choice, new, how):
    good, data = runs[task]
    run = tmp_path / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(good, run)
    saved = json.loads((run / "config.json").read_text())
    paths = [path for path in json_paths(saved) if path]  # below the root
    path = paths[choice % len(paths)]
    parent = saved
    for key in path[:-1]:
        parent = parent[key]
    if how == "delete":
        del parent[path[-1]]
    elif how == "duplicate" and isinstance(parent, list):
        parent.insert(path[-1], parent[path[-1]])  # a list entry twice: a vocabulary's token, a class
    else:
        parent[path[-1]] = new
    (run / "config.json").write_text(json.dumps(saved))
    try:
        estimator = rnnlab.tasks.load(run)
    except RunDirectoryError as error:
        message = str(error)
        assert "\n" not in message and ("config.json" in message or "model.safetensors" in message), message
        event("refused")
        return
    text = TASKS[task][4]
    try:
        lines = estimator.predict_lines(text=text) if text is not None else estimator.predict_lines(data=str(data))
    except ValueError as error:
        assert "\n" not in str(error), str(error)
        event("loaded; the prediction refused")
        return
    assert isinstance(lines, list) and all(isinstance(line, str) for line in lines)
    if task in ("forecast", "anomaly"):  # numbers: an edited scaler or calibration must not print nan or inf
        assert not any(word in line.lower() for line in lines for word in ("nan", "inf")), lines[:3]
    event("loaded and predicted")


def test_the_edits_reach_the_fitted_state(runs, json_paths):
    """The fuzz above is only as good as the paths it edits: every task's fitted state is among them."""
    for task, (run, _) in runs.items():
        saved = json.loads((run / "config.json").read_text())
        state_paths = [path for path in json_paths(saved) if path and path[0] not in ("config", "task")]
        assert state_paths, task
        assert all(isinstance(value, (str, int, float, list, dict, bool, type(None))) and
                   not (isinstance(value, float) and not math.isfinite(value)) for value in saved.values()), task
