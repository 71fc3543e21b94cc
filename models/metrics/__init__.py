"""Metrics, one module per model family: ``forecast`` (errors, interval coverage) and
``detection`` (precision, recall, F1, ROC-AUC, PR-AUC overall and per type)."""
