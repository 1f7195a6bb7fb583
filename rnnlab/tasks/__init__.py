"""The sequence tasks: one estimator each, over one pipeline.

    Forecaster        forecast              the next values of a series
    PanelForecaster   forecast-panel        many series with one model, with quantiles (a long table)
    TextClassifier    classify-text         a label for each text (sentiment)
    SeriesClassifier  classify-series       a label for each multivariate series (sensors, speech)
    Tagger            tag                   a tag for each word (part of speech)
    TextGenerator     generate              a language model over characters or words, and sampling
    Translator        translate             an encoder-decoder with attention
    AnomalyDetector   anomaly               scores and flags per point of a stream
    AddingProblem     adding                the adding problem (long memory)
    CopyProblem       copy                  the copy task (long memory)

Each estimator follows scikit-learn's contract (settings as keywords, `fit` returns self,
`get_params`/`set_params`) with `predict`, `evaluate`, `save` and `load`; `load(path)` here reads
any run directory back as its own task's estimator. Estimators are imported when first named.
"""

from __future__ import annotations

from pathlib import Path

from rnnlab.tasks.registry import estimator_names, get_estimator, get_task, task_names

__all__ = ["AddingProblem", "AnomalyDetector", "CopyProblem", "Forecaster", "PanelForecaster", "SeriesClassifier", "Tagger",
           "TextClassifier", "TextGenerator", "Translator", "get_estimator", "get_task", "load", "task_names"]


def load(path: str | Path):
    """The estimator saved in the run directory `path`, of whichever task wrote it."""
    from rnnlab.tasks.estimator import Estimator

    return Estimator.load(path)


def __getattr__(name: str):
    names = estimator_names()
    if name in names:
        return get_estimator(names[name])
    raise AttributeError(f"module 'rnnlab.tasks' has no attribute {name!r}")
