"""`rnnlab.TextClassifier`: a label for each text (sentiment, topic) from Python.

    clf = rnnlab.TextClassifier(model="gru", epochs=5)
    clf.fit(texts, labels)                   # lists, arrays or pandas Series; a DataFrame with text and
                                             # label columns; a CSV file (text,label) or "rotten_tomatoes"
    clf.predict(["a witty joy"])             # array(['fresh']): labels in the caller's terms
    clf.predict_proba(["a witty joy"])       # (1, K), columns in the order of clf.classes_
    clf.evaluate()                           # {"metrics": {"model": ..., "majority": ...}, ...}
    clf.save("runs/sentiment"); rnnlab.TextClassifier.load("runs/sentiment")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnlab.tasks.classifier import ClassifierEstimator
from rnnlab.tasks.classify_text.task import ClassifyTextTask
from rnnlab.tasks.classify_text.texts import read_text_column


class TextClassifier(ClassifierEstimator):
    """Classifies texts with word embeddings, a (bi)RNN/LSTM/GRU and a pooled encoding.

    Settings are the options of `rnnlab train classify-text` (see `help(TextClassifier.__init__)`).
    The texts are split at random, stratified by label and seeded, into training, validation and
    test sets; the vocabulary comes from the training texts only. `evaluate()` scores the test
    texts beside the majority-class baseline.
    """

    task = ClassifyTextTask

    def fit(self, data: Any, labels: Sequence | None = None, *, validation_data: Any = None,
            callbacks: Sequence | None = None, checkpoint_dir: str | Path | None = None,
            resume: bool = False) -> TextClassifier:
        """Trains on `data`; returns self.

        Args:
            data: texts (a list, tuple, array or pandas Series of strings) with their `labels`; a
                pandas DataFrame with a "text" and a "label" column; or a CSV file with those
                columns, or a bundled labelled set's name ("rotten_tomatoes").
            labels: one label per text (strings or integers: `predict` answers in the same terms).
            validation_data: labelled texts to validate on, in any form `data` takes, or a
                (texts, labels) tuple as Keras takes it; the validation split of `data` then trains
                too (its test split stays the same).
            callbacks: `rnnlab.train.Callback`s (e.g. `TensorBoard("logs")`).
            checkpoint_dir: where training writes checkpoints and metrics.jsonl, to `resume` from.
            resume: continue the interrupted training in `checkpoint_dir`.
        """
        return self._fit(self._combine(data, labels), validation_data=validation_data, callbacks=callbacks,
                         checkpoint_dir=checkpoint_dir, resume=resume)

    def _one_input(self, data: Any) -> bool:
        return isinstance(data, str)

    def predict_lines(self, data: Any = None, text: str | None = None) -> list[str]:
        """`rnnlab predict`'s output: `label<TAB>probability` for `text`; for `data` (a CSV with a text
        column, or a bundled name), one line per row, `label<TAB>probability<TAB>text` (the text
        with its whitespace runs made single spaces)."""
        if (data is None) == (text is None):
            raise ValueError("a text classifier predicts from exactly one of --text \"...\" or --data FILE "
                             f"(a CSV with a text column); received data={data!r}, text={text!r}")
        if text is not None and not text.strip():
            raise ValueError(f"text must not be empty; received {text!r}")
        texts = [text] if text is not None else read_text_column(data)
        probabilities = self.predict_proba(texts)
        classes = self.task_.classes
        lines = [f"{classes[k]}\t{p[k]:.4f}" for p, k in zip(probabilities, probabilities.argmax(axis=1))]
        if text is not None:
            return lines
        return [f"{line}\t{' '.join(source.split())}" for line, source in zip(lines, texts)]
