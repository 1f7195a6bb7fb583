"""The estimator every task's public class is: scikit-learn's contract, with Keras's habits.

    est = rnnlab.Forecaster(model="gru", window=24)    settings only, stored as given
    est.fit(data, ...)                                  a DataFrame, arrays, texts, a file or a bundled name
    est.predict(...)                                    in the caller's terms (timestamps, labels, text)
    est.evaluate(data=None)                             {"model": {...}, <baseline>: {...}} and more
    est.save("runs/x"); rnnlab.Forecaster.load("runs/x")

An estimator's settings are the fields of its task's config (`Task.config_class`) that are not
data fields, plus `verbose`: the same names and defaults as the command line's options. Its
`__init__` signature is generated from the config when the class is defined, so the options, the
config and the estimator cannot drift apart, and `help()` and `inspect.signature` show every
setting. `__init__` only stores the settings; `fit` validates them (ValueError or TypeError naming
the setting and the value received). Fitted attributes end in `_`: `network_` (the nn.Module),
`history_` (one dict per epoch), `test_metrics_` (held-out metrics of the fit), `task_`.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import os
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from rnnlab.tasks import pipeline
from rnnlab.tasks.api import Probe, Task
from rnnlab.tasks.rundir import RunLock, Stage


class NotFittedError(ValueError, AttributeError):
    """An estimator was used before `fit` or `load` (scikit-learn's exception of the same name)."""


class Estimator:
    """Base class of the task estimators (`rnnlab.Forecaster`, `rnnlab.TextClassifier`, ...).

    A subclass sets `task` and writes `fit` (its data arguments), `predict` and `predict_lines`.
    """

    task: ClassVar[type[Task]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "task" in cls.__dict__:
            cls.__init__ = _settings_init(cls)

    def __init__(self, **settings: Any) -> None:
        defaults = self.setting_defaults()
        for name in settings:
            if name not in defaults:
                raise TypeError(f"{type(self).__name__} has no setting {name!r}; its settings are {list(defaults)}")
        for name, default in defaults.items():
            setattr(self, name, settings.get(name, default))

    @classmethod
    def setting_defaults(cls) -> dict[str, Any]:
        """{setting: default} in the config's order, then `verbose`."""
        config = cls.task.config_class
        fields = [f for f in dataclasses.fields(config) if f.name not in config.DATA]
        return {**{f.name: f.default for f in fields}, "verbose": False}

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The settings as given (scikit-learn's `get_params`; `deep` changes nothing: none is an estimator)."""
        return {name: getattr(self, name) for name in self.setting_defaults()}

    def set_params(self, **settings: Any) -> Estimator:
        """Changes settings (validated at the next `fit`); returns self."""
        defaults = self.setting_defaults()
        for name, value in settings.items():
            if name not in defaults:
                raise ValueError(f"{type(self).__name__} has no setting {name!r}; its settings are {list(defaults)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v != self.setting_defaults()[k]]
        return f"{type(self).__name__}({', '.join(changed)})"

    # --- fitting -----------------------------------------------------------------------------------

    def _fit(self, data: Any, *, validation_data: Any = None, callbacks: Sequence | None = None,
             checkpoint_dir: str | Path | None = None, resume: bool = False, **data_options: Any) -> Estimator:
        """Builds the config from the settings and `data_options`, then runs the pipeline."""
        config = self.config(data, **data_options)
        task = self.task(config)
        fitted = pipeline.fit(task, data, validation_data=validation_data, callbacks=callbacks or (),
                              checkpoint_dir=checkpoint_dir, resume=resume, verbose=bool(self.verbose))
        self.task_, self.network_, self._fitted, self._source = task, fitted.model, fitted, None
        self.history_ = fitted.result.history
        self.training_seconds_ = fitted.seconds
        self.test_metrics_ = None if fitted.evaluation is None else fitted.evaluation["metrics"]
        return self

    def config(self, data: Any = None, **data_options: Any):
        """The task's config for these settings: `data` is kept where it is a file or a bundled name."""
        config_class = self.task.config_class
        unknown = sorted(set(data_options) - set(config_class.DATA))
        if unknown:
            raise TypeError(f"{type(self).__name__}.fit has no argument {unknown[0]!r}; its data arguments are "
                            f"{list(config_class.DATA)}")
        if "data" in config_class.DATA:
            data_options["data"] = str(data) if isinstance(data, (str, os.PathLike)) else None
        settings = {k: v for k, v in self.get_params().items() if k != "verbose"}
        return config_class(**settings, **data_options)

    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit (or {type(self).__name__}"
                                 ".load) first")

    def _combine(self, data: Any, y: Any) -> Any:
        """One data argument for the task: (data, y) for a supervised task given y, else data."""
        if y is None:
            return data
        if not self.task.supervised:
            raise TypeError(f"{type(self).__name__} takes no y (labels); received y of type {type(y).__name__}")
        return data, y

    # --- using a fitted estimator --------------------------------------------------------------------

    def evaluate(self, data: Any = None, y: Any = None) -> dict:
        """Metrics of the model and the task's baselines, JSON-ready with a "metrics" key: on the
        held-out split of the data it was fitted on when `data` is None, else on `data`."""
        self._check_fitted()
        return self.task_.evaluate(self.network_, self._combine(data, y))

    def evaluate_text(self, result: dict) -> str:
        """The printable form of `evaluate`'s result."""
        self._check_fitted()
        return self.task_.evaluate_text(result)

    def summary(self) -> str:
        """What the fit did, printable: the model, its size, the training time and held-out metrics."""
        self._check_fitted()
        seconds = getattr(self, "training_seconds_", None)
        took = f", trained in {seconds:.1f} s" if seconds is not None else ""
        return (f"{self.task_.describe()}: {pipeline.num_parameters(self.network_)} parameters{took}; held out:\n"
                + self.task_.metrics_text(self.test_metrics_))

    def predict_lines(self, data: Any = None, text: str | None = None) -> list[str]:
        """What `rnnlab predict` prints for `data` (a file or bundled name) or one `text`."""
        raise NotImplementedError

    def probe(self, rows: int = 64) -> Probe:
        """The trained model and `rows` held-out sequences of its own data, with the training loss."""
        self._check_fitted()
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise ValueError(f"rows must be a positive integer; received {rows!r}")
        return self.task_.probe(self.network_, self.task_.own_data(), rows)

    # --- saving and loading ----------------------------------------------------------------------

    def save(self, path: str | Path, *, overwrite: bool = False, command: str | None = None) -> Path:
        """Writes the run directory (safetensors and JSON, never pickle), atomically.

        Args:
            path: the directory to write; it must not exist unless `overwrite`.
            command: the command line shown under "Reproduce" in the report (default: the
                `rnnlab train` line, or the Python call, that repeats this fit).
        """
        self._check_fitted()
        if self._source is not None:  # loaded, not refitted: the run directory is copied as it is
            stage = Stage(path, overwrite=overwrite)
            with RunLock(path):
                shutil.copytree(self._source, stage.open(), dirs_exist_ok=True)
                return stage.finish()
        return pipeline.save(self.task_, self._fitted, path, command=command or self.command_line(),
                             overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> Estimator:
        """The estimator saved at `path`, ready to evaluate and predict (exactly as it was saved).

        Called on `Estimator` itself, it returns the estimator of whichever task the run holds.
        """
        from rnnlab.tasks.registry import get_estimator

        estimator_class = cls
        if cls is Estimator:
            estimator_class = get_estimator(pipeline.read_config(path)["task"])
        task, model = pipeline.load(estimator_class.task, path)
        settings = {k: getattr(task.config, k) for k in estimator_class.setting_defaults() if k != "verbose"}
        estimator = estimator_class(**settings)
        estimator.task_, estimator.network_, estimator._fitted, estimator._source = task, model, None, Path(path)
        estimator.history_ = pipeline.read_history(path)
        metrics = Path(path) / "test_metrics.json"
        estimator.test_metrics_ = (pipeline.read_json_text(metrics.read_text(encoding="utf-8", errors="replace"),
                                                           str(metrics)) if metrics.is_file() else None)
        return estimator

    def command_line(self) -> str:
        """The command that repeats this fit: `rnnlab train ...` for file data, else the Python call."""
        self._check_fitted()
        config, defaults = self.task_.config, self.task.config_class()
        changed = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                   if getattr(config, f.name) != getattr(defaults, f.name)}
        if self.task.config_class.DATA and getattr(config, "data", None) is None:
            settings = ", ".join(f"{k}={v!r}" for k, v in changed.items() if k not in self.task.config_class.DATA)
            return f"rnnlab.{type(self).__name__}({settings}).fit(<data in memory>)"
        words = ["rnnlab", "train", self.task.name]
        for name, value in changed.items():
            flag = "--" + name.replace("_", "-")
            if isinstance(value, bool):
                words.append(flag if value else "--no-" + flag[2:])
            else:  # "none": how the options that may be None spell it (e.g. --forget-bias none)
                words += [flag, "none" if value is None else str(value)]
        return " ".join(shlex.quote(word) for word in words)

    def export(self, path: str | Path | None = None) -> list[Path]:
        """Writes the network as ONNX (default: model.onnx in the run directory it was loaded from)."""
        self._check_fitted()
        from rnnlab.interop.onnx_runs import export_graphs  # optional dependencies: onnx, onnxscript

        if path is None and self._source is None:
            raise ValueError("path is required for an estimator that was not loaded from a run directory; "
                             "received None")
        where = f"rnnlab {self.task.name} run" + (f" {self._source.name}" if self._source is not None else "")
        return export_graphs(self.task_.export_graphs(copy.deepcopy(self.network_).cpu().eval()),
                             Path(path) if path is not None else self._source / "model.onnx", description=where)


def _settings_init(cls: type[Estimator]):
    """An `__init__` for `cls` whose signature and docstring list its settings."""

    def __init__(self, **settings: Any) -> None:
        Estimator.__init__(self, **settings)

    fields = {f.name: f for f in dataclasses.fields(cls.task.config_class)}
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    lines = [f"Stores the settings of a {cls.task.name} estimator (validated by fit).", "", "Args:"]
    for name, default in cls.setting_defaults().items():
        parameters.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default))
        help_text = fields[name].metadata.get("help", "") if name in fields else "show the progress bar while fitting"
        lines.append(f"    {name}: {help_text} (default: {default!r})")
    __init__.__signature__ = inspect.Signature(parameters)
    __init__.__doc__ = "\n".join(lines)
    __init__.__qualname__ = f"{cls.__name__}.__init__"
    return __init__
