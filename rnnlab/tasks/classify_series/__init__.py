"""Series classification: a label for each multivariate sequence (gestures from wearables, spoken vowels).

    estimator.py   SeriesClassifier, the public estimator (`rnnlab.SeriesClassifier`)
    task.py        ClassifySeriesConfig and ClassifySeriesTask: the settings and the pipeline's hooks
    model.py       SeriesClassifierNetwork (encoder → pooled encoding → logits) and its batches
    series.py      sequences from .ts / long-format CSV files, bundled sets, arrays and DataFrames
    baselines.py   1-nearest-neighbour on resampled sequences (Euclidean and DTW), the UCR/UEA archive's baselines
"""

from rnnlab.tasks.classify_series.baselines import (dtw_distance, dtw_distances, nearest_neighbour,
                                                    nearest_neighbour_dtw, nearest_neighbour_ed, resample)
from rnnlab.tasks.classify_series.estimator import SeriesClassifier
from rnnlab.tasks.classify_series.model import SeriesBatch, SeriesClassifierNetwork, pad_series
from rnnlab.tasks.classify_series.task import ClassifySeriesConfig, ClassifySeriesTask

__all__ = ["ClassifySeriesConfig", "ClassifySeriesTask", "SeriesBatch", "SeriesClassifier", "SeriesClassifierNetwork",
           "dtw_distance", "dtw_distances", "nearest_neighbour", "nearest_neighbour_dtw", "nearest_neighbour_ed",
           "pad_series", "resample"]
