"""Translation: an encoder–decoder with Luong attention, decoded by beam search (many-to-many, unaligned).

    model.py        TranslatorNetwork, the nn.Module: encoder, bridge, attention, decoder; its loss and
                    the teacher-forced log-probability of given outputs
    decoding.py     greedy and beam-search decoding, never worse than greedy by construction
    corpus.py       sentence pairs read in any form, split, vocabularies and padded batches
    task.py         TranslateTask, the hooks the pipeline runs, and TranslateConfig, its settings
    graphs.py       the encoder and one decoder call as ONNX graphs
    estimator.py    Translator, the public estimator (fit on pairs, a DataFrame, a TSV file or "kjv_rv")
"""

from rnnlab.tasks.translate.decoding import Hypothesis, Translation, beam_search, greedy_decode
from rnnlab.tasks.translate.estimator import Translator
from rnnlab.tasks.translate.model import TeacherForcedBatch, TranslatorNetwork, sequence_log_probs, translation_loss
from rnnlab.tasks.translate.task import TranslateConfig, TranslateTask

__all__ = ["Hypothesis", "TeacherForcedBatch", "Translation", "TranslateConfig", "TranslateTask", "Translator",
           "TranslatorNetwork", "beam_search", "greedy_decode", "sequence_log_probs", "translation_loss"]
