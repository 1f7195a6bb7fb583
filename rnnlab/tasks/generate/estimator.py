"""`rnnlab.TextGenerator`: a character- or word-level language model from Python, and text sampled from it.

    lm = rnnlab.TextGenerator(model="gru", epochs=5)
    lm.fit(["first document", "second document"])   # strings in memory, a UTF-8 file or "hamlet"
    lm.generate("To be", length=80, seed=1)          # the prompt and 80 sampled characters
    lm.predict(["To be", "Or not"])                  # each prompt continued at the default settings
    lm.evaluate()                                    # {"metrics": {"model": {"perplexity", ...}, "unigram": ...}}
    lm.save("runs/lm"); rnnlab.TextGenerator.load("runs/lm")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.data.frames import is_pandas
from rnnlab.tasks.estimator import Estimator
from rnnlab.tasks.generate.corpus import read_corpus
from rnnlab.tasks.generate.task import GenerateTask


class TextGenerator(Estimator):
    """A recurrent language model (embedding → RNN/LSTM/GRU → next-token logits) trained on one text.

    Settings are the options of `rnnlab train generate` (see `help(TextGenerator.__init__)`). The
    text is split by position (the end is the test split) and read as parallel streams with the
    state carried between chunks (truncated BPTT). `evaluate()` gives the test split's perplexity
    and bits per character beside a unigram model's.
    """

    task = GenerateTask

    def fit(self, data: Any, *, validation_data: Any = None, callbacks: Sequence | None = None,
            checkpoint_dir: str | Path | None = None, resume: bool = False) -> TextGenerator:
        """Trains on the text of `data`; returns self.

        Args:
            data: a list of strings (documents or lines, joined by "\\n" into one text); a UTF-8
                text file; or a bundled text's name ("hamlet"). A str is always a file or a name.
            validation_data: a text to validate on, in any form `data` takes; the validation share
                of `data` then trains too (its test split stays the same).
            callbacks: `rnnlab.train.Callback`s (e.g. `TensorBoard("logs")`).
            checkpoint_dir: where training writes checkpoints and metrics.jsonl, to `resume` from.
            resume: continue the interrupted training in `checkpoint_dir`.
        """
        return self._fit(data, validation_data=validation_data, callbacks=callbacks, checkpoint_dir=checkpoint_dir,
                         resume=resume)

    @property
    def vocabulary_(self) -> list[str]:
        """The tokens the model reads and writes (characters or words of the training split), by id."""
        self._check_fitted()
        return list(self.task_.vocab.tokens)

    def generate(self, prompt: str, *, length: int | None = None, temperature: float = 0.8, top_k: int = 0,
                 top_p: float = 1.0, seed: int = 0) -> str:
        """The prompt as given, followed by a sampled continuation (what `rnnlab generate` prints).

        Args:
            prompt: the text to continue; tokens never seen in training are read as <unk>.
            length: tokens to generate (default: 300 characters, or 60 words for a word-level model).
            temperature: divides the logits: < 1 is safer, > 1 more varied, 0 greedy.
            top_k: sample among the k most probable tokens (0: all).
            top_p: sample within the smallest set of tokens holding this probability (1: all).
            seed: the sampling's seed: the same seed gives the same text.
        """
        self._check_fitted()
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string; received {type(prompt).__name__}")
        return self.task_.generate(self.network_, prompt, length=length, temperature=temperature, top_k=top_k,
                                   top_p=top_p, seed=seed)

    def predict(self, prompts: Any) -> Any:
        """Each prompt followed by its continuation, sampled at `generate`'s default settings.

        Args:
            prompts: a list of strings, or one string; a pandas Series of strings is read the same.

        Returns:
            A list of texts (one text for one string); a pandas Series indexed like `prompts` for a Series.
        """
        if isinstance(prompts, str):
            return self.generate(prompts)
        rows = prompts.tolist() if is_pandas(prompts, "Series") or isinstance(prompts, np.ndarray) else prompts
        if not isinstance(rows, (list, tuple)):
            raise TypeError(f"prompts must be a string or a list of strings; received {type(prompts).__name__}")
        for index, prompt in enumerate(rows):
            if not isinstance(prompt, str):
                raise TypeError(f"prompts[{index}] must be a string; received {type(prompt).__name__}")
        texts = [self.generate(prompt) for prompt in rows]
        if is_pandas(prompts, "Series"):
            import pandas as pd

            return pd.Series(texts, index=prompts.index, name=prompts.name)
        return texts

    def predict_lines(self, data: Any = None, text: str | None = None) -> list[str]:
        """`rnnlab predict`: --text (or the text of the file --data) continued with the default sampling settings."""
        if (text is None) == (data is None):
            raise ValueError("generate predicts from exactly one of --text (a prompt) or --data (a file whose text "
                             "is the prompt)")
        prompt = text if text is not None else read_corpus(data)
        return self.generate(prompt).split("\n")
