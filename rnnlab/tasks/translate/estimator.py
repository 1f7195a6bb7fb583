"""`rnnlab.Translator`: an encoder–decoder with attention that translates sentences, from Python.

    tr = rnnlab.Translator(epochs=5, min_freq=1)
    tr.fit(pairs)                              # (source, target) pairs; or sources and targets apart,
                                               # a DataFrame with columns source and target, a TSV file or "kjv_rv"
    tr.translate("In the beginning.")          # "en el principio."
    tr.translate(["the light", "the earth"], beam_size=1, return_scores=True)   # [(text, log p), ...]
    tr.evaluate()                              # {"metrics": {"model": {"bleu", "chrf"}, "copy_source": ...}, ...}
    tr.save("runs/tr"); rnnlab.Translator.load("runs/tr")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnlab.data.frames import is_pandas
from rnnlab.tasks.estimator import Estimator
from rnnlab.tasks.translate.corpus import pairs_of, read_texts, sentence_list
from rnnlab.tasks.translate.task import TranslateTask


class Translator(Estimator):
    """Translates sentences word by word with a recurrent encoder–decoder and Luong attention.

    Settings are the options of `rnnlab train translate` (see `help(Translator.__init__)`). The
    pairs are split at random (seeded) into training, validation and test parts; the vocabularies
    come from the training pairs only. Text is lowercased and split into words and marks.
    `evaluate()` gives BLEU and chrF of beam search and greedy decoding on the test pairs, beside
    copying the source.
    """

    task = TranslateTask

    def fit(self, data: Any, targets: Sequence[str] | None = None, *, validation_data: Any = None,
            callbacks: Sequence | None = None, checkpoint_dir: str | Path | None = None,
            resume: bool = False) -> Translator:
        """Trains on the sentence pairs of `data`; returns self.

        Args:
            data: a list of (source, target) pairs of strings; or the sources, with their
                `targets`; or a pandas DataFrame with columns source and target; or a TSV file of
                source<TAB>target lines, or a bundled parallel set's name ("kjv_rv").
            targets: the translations of `data`'s sources, one each (None when `data` holds pairs).
            validation_data: pairs to validate on, in any form `data` takes, or a (sources,
                targets) tuple as Keras takes it; the validation part of `data` then trains too
                (its test part stays the same).
            callbacks: `rnnlab.train.Callback`s (e.g. `TensorBoard("logs")`).
            checkpoint_dir: where training writes checkpoints and metrics.jsonl, to `resume` from.
            resume: continue the interrupted training in `checkpoint_dir`.
        """
        if isinstance(validation_data, tuple) and len(validation_data) == 2 and \
                all(isinstance(part, list) or is_pandas(part, "Series") for part in validation_data):
            validation_data = pairs_of(*validation_data, argument="validation_data")
        return self._fit(pairs_of(data, targets), validation_data=validation_data, callbacks=callbacks,
                         checkpoint_dir=checkpoint_dir, resume=resume)

    @property
    def source_vocabulary_(self) -> list[str]:
        """The source words the encoder knows (from the training pairs), by id; others are read as <unk>."""
        self._check_fitted()
        return list(self.task_.source_vocab.tokens)

    @property
    def target_vocabulary_(self) -> list[str]:
        """The words the decoder can write, by id (with <pad>, <unk>, <s> and </s>)."""
        self._check_fitted()
        return list(self.task_.target_vocab.tokens)

    def translate(self, sentences: str | Sequence[str], *, beam_size: int | None = None,
                  return_scores: bool = False) -> Any:
        """The translation of each sentence (lowercased words, detokenized).

        Args:
            sentences: one string, or a list of strings (a pandas Series of them is read the same).
            beam_size: the beam width (1: greedy decoding); default: the run's beam_size.
            return_scores: also give each translation's log-probability log p(y | x) under the model.

        Returns:
            One translation for one string, else a list of them (a pandas Series indexed like
            `sentences` for a Series); with `return_scores`, (translation, log-probability) pairs.
        """
        self._check_fitted()
        texts = [sentences] if isinstance(sentences, str) else sentence_list(sentences)
        found = self.task_.translate_texts(self.network_, texts, beam_size)
        results = found if return_scores else [text for text, _ in found]
        if isinstance(sentences, str):
            return results[0]
        if is_pandas(sentences, "Series"):
            import pandas as pd

            return pd.Series(results, index=sentences.index, name=sentences.name)
        return results

    def predict(self, sentences: str | Sequence[str]) -> Any:
        """`translate(sentences)` at the run's beam size."""
        return self.translate(sentences)

    def evaluate(self, data: Any = None, targets: Sequence[str] | None = None) -> dict:
        """BLEU and chrF of the model (beam and greedy) and of copying the source: on the test pairs of the
        data it was fitted on when `data` is None, else on every pair of `data` (any form `fit` takes),
        at most `eval_pairs` of them."""
        self._check_fitted()
        return super().evaluate(pairs_of(data, targets))

    def predict_lines(self, data: Any = None, text: str | None = None) -> list[str]:
        """`rnnlab predict`'s output: the translation of `text`, or of each source of `data`, one per line."""
        if (data is None) == (text is None):
            raise ValueError("a translation run predicts from exactly one of --text (an English sentence) or --data "
                             "(a source<TAB>target TSV file or bundled name)")
        sources = [text] if text is not None else [source for source, _ in read_texts(data)]
        return self.translate(sources)
