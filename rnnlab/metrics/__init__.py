"""How well a model did, one module per kind of output.

    regression       forecasts: MAE, RMSE, MAPE, sMAPE, MASE
    classification   labels: accuracy, balanced accuracy, macro F1, confusion matrices
    detection        anomaly flags and scores: point-wise and point-adjusted F1, average precision, the UCR check
    translation      corpus BLEU and chrF
    tagging          per-word accuracy, overall, on words unseen in training and per tag
    language         perplexity and bits per character of a language model

Every function takes plain arrays or lists and returns floats or JSON-ready dicts: none of them
needs a model.
"""
