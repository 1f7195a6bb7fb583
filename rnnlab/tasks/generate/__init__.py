"""Text generation: a character- or word-level recurrent language model, and text sampled from it.

    model.py       LanguageModel, the nn.Module; stream batches and CarriedState (stateful truncated BPTT)
    task.py        GenerateTask, the hooks the pipeline runs, and GenerateConfig, its settings
    estimator.py   TextGenerator, the public estimator (fit on strings, a text file or "hamlet"; generate)
    corpus.py      the text read and split by position into train, validation and test token ids
    sampling.py    temperature, top-k and nucleus sampling, and a prompt continued as text
    baselines.py   the add-one unigram model a language model must beat
"""

from rnnlab.tasks.generate.estimator import TextGenerator
from rnnlab.tasks.generate.model import CarriedState, LanguageModel, StreamBatch, lm_loss, stream_batches, stream_nll
from rnnlab.tasks.generate.sampling import filter_logits, next_token, sample
from rnnlab.tasks.generate.task import GenerateConfig, GenerateTask

__all__ = ["CarriedState", "GenerateConfig", "GenerateTask", "LanguageModel", "StreamBatch", "TextGenerator",
           "filter_logits", "lm_loss", "next_token", "sample", "stream_batches", "stream_nll"]
