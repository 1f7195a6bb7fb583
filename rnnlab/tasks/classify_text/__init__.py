"""Text classification: a label for each text (sentiment of a review, topic of a message).

    estimator.py   TextClassifier, the public estimator (`rnnlab.TextClassifier`)
    task.py        ClassifyTextConfig and ClassifyTextTask: the settings and the pipeline's hooks
    model.py       TextClassifierNetwork (embedding → encoder → pooled encoding → logits), batching
    texts.py       labelled texts from files and memory, and the saved TextEncoder
"""

from rnnlab.tasks.classify_text.estimator import TextClassifier
from rnnlab.tasks.classify_text.model import TextBatch, TextClassifierNetwork
from rnnlab.tasks.classify_text.task import ClassifyTextConfig, ClassifyTextTask
from rnnlab.tasks.classify_text.texts import TextEncoder

__all__ = ["ClassifyTextConfig", "ClassifyTextTask", "TextBatch", "TextClassifier", "TextClassifierNetwork",
           "TextEncoder"]
