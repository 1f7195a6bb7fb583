"""`rnnlab.SeriesClassifier`: a label for each multivariate series (sensor recordings, speech frames) from Python.

    clf = rnnlab.SeriesClassifier(model="gru", epochs=50)
    clf.fit(X, y)                            # an array (N, T, C), a list of (T_i, C) arrays, a long-format
                                             # DataFrame, a .ts / .csv file or "basic_motions"
    clf.predict(X_new)                       # array of labels, in the terms of y
    clf.predict_proba(X_new)                 # (N, K), columns in the order of clf.classes_
    clf.evaluate()                           # {"metrics": {"model", "majority", "1nn_ed", "1nn_dtw"}, ...}
    clf.save("runs/motions"); rnnlab.SeriesClassifier.load("runs/motions")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnlab.data.frames import is_file_or_name
from rnnlab.tasks.classifier import ClassifierEstimator
from rnnlab.tasks.classify_series.task import ClassifySeriesTask, SeriesInputs


class SeriesClassifier(ClassifierEstimator):
    """Classifies multivariate series of unequal lengths with a (bi)RNN/LSTM/GRU and a pooled encoding,
    beside LSTM-FCN's convolutional branch (`conv_branch=True`, the default; False for the recurrent
    encoder alone, which can also `step` when it is one-directional).

    Settings are the options of `rnnlab train classify-series` (see `help(SeriesClassifier.__init__)`).
    Each channel is standardised with the training split's statistics. `evaluate()` scores the test
    sequences beside the majority class and 1-nearest-neighbour on sequences resampled to one
    length, with Euclidean distance ("1nn_ed") and with dynamic time warping ("1nn_dtw"), the
    baselines to beat on the UCR/UEA archive.
    """

    task = ClassifySeriesTask

    def fit(self, data: Any, labels: Sequence | None = None, *, test_data: Any = None, fill: str | None = None,
            validation_data: Any = None, callbacks: Sequence | None = None, checkpoint_dir: str | Path | None = None,
            resume: bool = False) -> SeriesClassifier:
        """Trains on `data`; returns self.

        Args:
            data: a numpy array (N, T, C) or (N, T); a list of arrays (T_i, C) or (T_i,) of unequal
                lengths; a long-format pandas DataFrame (columns sequence_id, optionally time and
                label, and the channels); a .ts or long-format .csv file; or a bundled set's name
                ("japanese_vowels", "basic_motions": trained on its TRAIN file, tested on its TEST file).
            labels: one label per sequence (strings or integers), for arrays and lists.
            test_data: the sequences to test on, a file or a (sequences, labels) tuple (default: a
                bundled set's TEST file; otherwise a stratified split carved from `data`).
            fill: "ffill", "interpolate" or "zero" for missing values (default: they are an error).
            validation_data: labelled sequences to validate on, a file or a (sequences, labels)
                tuple; the validation split of `data` then trains too.
            callbacks: `rnnlab.train.Callback`s (e.g. `TensorBoard("logs")`).
            checkpoint_dir: where training writes checkpoints and metrics.jsonl, to `resume` from.
            resume: continue the interrupted training in `checkpoint_dir`.
        """
        files = labels is None and is_file_or_name(data) and (test_data is None or is_file_or_name(test_data))
        inputs = data if files else SeriesInputs(data, labels, test_data)
        return self._fit(inputs, test_data=str(test_data) if is_file_or_name(test_data) else None, fill=fill,
                         validation_data=validation_data, callbacks=callbacks, checkpoint_dir=checkpoint_dir,
                         resume=resume)

    def predict_lines(self, data: Any = None, text: str | None = None) -> list[str]:
        """`rnnlab predict`'s output: `id<TAB>label<TAB>probability` for each sequence of `data`.

        `data` is a .ts or long-format .csv file (labels, if any, are ignored) or a bundled name (its
        TEST file); its channels must be the run's, and missing values are filled as in training.
        """
        if text is not None or data is None:
            raise ValueError("a series classifier predicts from --data FILE (a .ts or long-format .csv file), not "
                             f"from --text; received data={data!r}, text={text!r}")
        self._check_fitted()
        series = self.task_.sequences(data)  # read once: its ids and its probabilities
        probabilities = self.task_.probabilities(self.network_, series)
        classes = self.task_.classes
        return [f"{sequence_id}\t{classes[k]}\t{p[k]:.4f}"
                for sequence_id, p, k in zip(series.ids, probabilities, probabilities.argmax(axis=1))]
