"""Anomaly and fraud detection on meter readings and market trades (pure).

``AnomalyDetector().fit(history).detect(frame)`` types each anomalous reading into one of
:data:`TYPES` with a severity and a recommended action; :mod:`models.anomaly.fraud` scores
users' trading and finds wash-trading rings; :mod:`models.anomaly.inject` builds the
evaluation data (the labels there are injected, not observed).
"""

from models.anomaly.classify import ACTIONS, SEVERITIES, TYPES, Rules, classify
from models.anomaly.detectors import (
    IsolationForestDetector,
    OneClassSVMDetector,
    PatternBreakDetector,
    RobustZScore,
    change_points,
)
from models.anomaly.ensemble import DETECTORS, OUTPUT, AnomalyDetector
from models.anomaly.readings import validate_readings

__all__ = [
    "ACTIONS",
    "DETECTORS",
    "OUTPUT",
    "SEVERITIES",
    "TYPES",
    "AnomalyDetector",
    "IsolationForestDetector",
    "OneClassSVMDetector",
    "PatternBreakDetector",
    "RobustZScore",
    "Rules",
    "change_points",
    "classify",
    "validate_readings",
]
