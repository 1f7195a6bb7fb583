"""Part-of-speech tagging: one tag per word, from a recurrent encoder over words and their characters.

    model.py          TaggerNetwork, the nn.Module (and its character encoder), its inputs, loss and batching
    task.py           TagTask, the hooks the pipeline runs, and TagConfig, its settings
    estimator.py      Tagger, the public estimator (fit on (words, tags) pairs, token and tag lists, CoNLL-U)
    sentences.py      sentences from a CoNLL-U file, a bundled treebank or Python lists, checked
    vocabularies.py   the word, tag and character vocabularies fitted on the training sentences
    baselines.py      MostFrequentTag, each word's most frequent training tag
"""

from rnnlab.tasks.tag.baselines import MostFrequentTag
from rnnlab.tasks.tag.estimator import Tagger
from rnnlab.tasks.tag.model import CharEncoder, TaggerInputs, TaggerNetwork, tagging_loss
from rnnlab.tasks.tag.task import TagConfig, TagTask

__all__ = ["CharEncoder", "MostFrequentTag", "TagConfig", "TagTask", "Tagger", "TaggerInputs", "TaggerNetwork",
           "tagging_loss"]
