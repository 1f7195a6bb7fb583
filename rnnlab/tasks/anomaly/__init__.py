"""Anomaly detection on a stream: a recurrent model of normal behaviour, residual scores, a calibrated threshold.

    model.py        NextStepForecaster and SequenceAutoencoder, the nn.Modules
    detector.py     residuals → scores → flags: Detector, its calibration, the naive baseline
    windows.py      the spans of the normal prefix and the windows trained and validated on
    outputs.py      scores.csv, scores.png and the report sections of a run
    streaming.py    ScoreStream (one point at a time, equal to batch mode) and stream_lines (`rnnlab detect`)
    task.py         AnomalyTask, the hooks the pipeline runs, and AnomalyConfig, its settings
    estimator.py    AnomalyDetector, the public estimator (fit on a DataFrame, an array, a CSV or "ucr_135")

The CSV readers (whole files, and lines of a growing file) are `rnnlab.data.stream`.
"""

from rnnlab.tasks.anomaly.detector import Detector, calibrate_detector
from rnnlab.tasks.anomaly.estimator import AnomalyDetector
from rnnlab.tasks.anomaly.model import NextStepForecaster, SequenceAutoencoder
from rnnlab.tasks.anomaly.streaming import ScoreStream
from rnnlab.tasks.anomaly.task import AnomalyConfig, AnomalyTask

__all__ = ["AnomalyConfig", "AnomalyDetector", "AnomalyTask", "Detector", "NextStepForecaster", "ScoreStream",
           "SequenceAutoencoder", "calibrate_detector"]
