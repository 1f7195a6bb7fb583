"""`rnnlab.Tagger`: tag each word of a sentence (parts of speech) from Python.

    tagger = rnnlab.Tagger(model="gru", epochs=5)
    tagger.fit(sentences, tags)                    # token lists and tag lists; or (words, tags) pairs,
                                                   # a CoNLL-U file or a bundled treebank ("porttinari")
    tagger.predict(["O gato dorme ."])             # [["DET", "NOUN", "VERB", "PUNCT"]]
    tagger.classes_                                # the tags it can predict
    tagger.evaluate()                              # {"metrics": {"model": ..., "most_frequent_tag": ...}, ...}
    tagger.save("runs/pos"); rnnlab.Tagger.load("runs/pos")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnnlab.data.frames import is_pandas
from rnnlab.tasks.estimator import Estimator
from rnnlab.tasks.tag.sentences import read_sentences, sentences_of, token_lists
from rnnlab.tasks.tag.task import TagTask


class Tagger(Estimator):
    """A recurrent part-of-speech tagger: word embeddings, a character encoder and a (bi)RNN/LSTM/GRU.

    Settings are the options of `rnnlab train tag` (see `help(Tagger.__init__)`). The sentences are
    split at random (seeded) into training, validation and test sets; the vocabularies come from
    the training sentences only. `evaluate()` scores the test sentences beside the baseline that
    gives each word its most frequent training tag.
    """

    task = TagTask

    def fit(self, data: Any, tags: Sequence[Sequence[str]] | None = None, *, validation_data: Any = None,
            callbacks: Sequence | None = None, checkpoint_dir: str | Path | None = None,
            resume: bool = False) -> Tagger:
        """Trains on `data`; returns self.

        Args:
            data: a list of (words, tags) pairs, each a list of strings of one length; or token
                lists (one list of words per sentence) with their `tags`; or a CoNLL-U file with
                UPOS tags, or a bundled treebank's name ("porttinari").
            tags: the tag lists of `data`'s token lists, one tag per word (None when `data` holds
                its tags).
            validation_data: sentences to validate on, in any form `data` takes, or a
                (sentences, tags) tuple as Keras takes it; the validation split of `data` then
                trains too (its test split stays the same).
            callbacks: `rnnlab.train.Callback`s (e.g. `TensorBoard("logs")`).
            checkpoint_dir: where training writes checkpoints and metrics.jsonl, to `resume` from.
            resume: continue the interrupted training in `checkpoint_dir`.
        """
        if isinstance(validation_data, tuple) and len(validation_data) == 2:
            validation_data = sentences_of(*validation_data, argument="validation_data")
        return self._fit(sentences_of(data, tags), validation_data=validation_data, callbacks=callbacks,
                         checkpoint_dir=checkpoint_dir, resume=resume)

    @property
    def classes_(self) -> list[str]:
        """The tags the tagger can predict (those of its training sentences), sorted."""
        self._check_fitted()
        return list(self.task_.vocabs.tags)

    def predict(self, sentences: Any) -> Any:
        """The tag of each word of each sentence.

        Args:
            sentences: a list of token lists; or a list of strings, each split on whitespace (write
                punctuation apart, "Uma frase ."); or one string, one sentence. A pandas Series of
                either is read the same.

        Returns:
            A list of tag lists, one tag per word (one list for one string); a pandas Series of
            them, indexed like `sentences`, for a Series.
        """
        self._check_fitted()
        tagged = self.task_.tag(self.network_, token_lists(sentences))
        if isinstance(sentences, str):
            return tagged[0]
        if is_pandas(sentences, "Series"):
            import pandas as pd

            return pd.Series(tagged, index=sentences.index, name=sentences.name)
        return tagged

    def evaluate(self, data: Any = None, tags: Sequence[Sequence[str]] | None = None) -> dict:
        """Accuracies of the model and the baseline, overall, on unseen words and per tag: on the
        test sentences of the data it was fitted on when `data` is None, else on every sentence of
        `data` (any form `fit` takes)."""
        self._check_fitted()
        return super().evaluate(sentences_of(data, tags))

    def predict_lines(self, data: Any = None, text: str | None = None) -> list[str]:
        """`rnnlab predict`'s output: one line of `word/TAG` per sentence.

        `text` is one sentence, split into words on whitespace only, like the CoNLL-U words the
        model was trained on: write punctuation apart ("Uma frase .") and, for a treebank that
        splits contractions (Porttinari: "do" is "de o"), split them too. `data` is a CoNLL-U file
        (or bundled name) whose sentences are tagged; its own tags must be there (the reader
        requires UPOS) but are not used.
        """
        if (data is None) == (text is None):
            raise ValueError("a tagger predicts from either --text (one sentence) or --data (a CoNLL-U file); "
                             f"received {'both' if text is not None else 'neither'}")
        if text is not None:
            if not text.split():
                raise ValueError(f"text must hold at least one word; received {text!r}")
            words = [text.split()]
        else:
            words = [forms for forms, _ in read_sentences(data)]
        tagged = self.predict(words)
        return [" ".join(f"{word}/{tag}" for word, tag in zip(forms, tags)) for forms, tags in zip(words, tagged)]
