"""Monitoring: live forecast error against the champion's backtest baseline (degradation) and
feature drift (population stability index and Kolmogorov-Smirnov per feature).

Alerts go to the audit log (``monitor.alert``) and to ``oracle_alerts_total{kind}``; the
retraining job reads them as triggers. PSI bins come from the reference's quantiles; a PSI
above 0.2 is the usual "significant shift".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy.engine import Engine

from oracle.errors import SourceDataInvalid
from oracle.lifecycle.registry import ModelRegistry, jsonable
from oracle.store.audit import AuditLog
from oracle.telemetry import Metrics


@dataclass(frozen=True)
class MonitorPolicy:
    psi_threshold: float = 0.2
    ks_pvalue: float = 0.01
    degradation_ratio: float = 1.5   # alert when live error > ratio x the backtest baseline
    baseline_metric: str = "mae"
    min_samples: int = 30


@dataclass(frozen=True)
class Alert:
    kind: str       # drift / degradation
    model: str
    subject: str    # the feature, or the metric
    value: float
    threshold: float
    detail: str


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference`` (reference quantile bins)."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        return 0.0 if np.allclose(current, reference[0]) else float("inf")
    edges[0], edges[-1] = -np.inf, np.inf
    expected = np.histogram(reference, edges)[0] / len(reference)
    actual = np.histogram(current, edges)[0] / len(current)
    expected, actual = np.clip(expected, 1e-6, None), np.clip(actual, 1e-6, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def drift(reference: pd.DataFrame, current: pd.DataFrame,
          policy: MonitorPolicy | None = None) -> pd.DataFrame:
    """Per numeric feature: PSI, KS statistic and p-value, and whether it drifted."""
    policy = policy or MonitorPolicy()
    rows = {}
    for feature in reference.select_dtypes("number").columns:
        if feature not in current.columns:
            raise SourceDataInvalid(f"current data lacks feature {feature!r}", field=feature)
        ref = reference[feature].dropna().to_numpy(dtype=float)
        cur = current[feature].dropna().to_numpy(dtype=float)
        if min(len(ref), len(cur)) < policy.min_samples:
            continue
        ks = stats.ks_2samp(ref, cur)
        value = psi(ref, cur)
        rows[feature] = {"psi": value, "ks": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
                         "drifted": bool(value > policy.psi_threshold
                                         and ks.pvalue < policy.ks_pvalue)}
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["psi", "ks", "ks_pvalue", "drifted"])


class Monitor:
    """Checks one model's live error and inputs; raises alerts into the audit log and metrics."""

    def __init__(self, engine: Engine, registry: ModelRegistry, metrics: Metrics | None = None,
                 policy: MonitorPolicy | None = None) -> None:
        self.audit = AuditLog(engine)
        self.registry = registry
        self.metrics = metrics
        self.policy = policy or MonitorPolicy()

    def check(self, name: str, *, live_error: float | None = None,
              reference: pd.DataFrame | None = None,
              current: pd.DataFrame | None = None) -> list[Alert]:
        alerts = []
        if live_error is not None:
            alerts += self._degradation(name, live_error)
        if reference is not None and current is not None:
            table = drift(reference, current, self.policy)
            for feature, row in table[table["drifted"]].iterrows():
                alerts.append(Alert("drift", name, str(feature), float(row["psi"]),
                                    self.policy.psi_threshold,
                                    f"PSI {row['psi']:.3f}, KS {row['ks']:.3f} "
                                    f"(p={row['ks_pvalue']:.2g})"))
        for alert in alerts:
            self.audit.append("monitor.alert", jsonable(asdict(alert)), ref=f"model:{name}")
            if self.metrics is not None:
                self.metrics.alerts.labels(kind=alert.kind).inc()
        return alerts

    def _degradation(self, name: str, live_error: float) -> list[Alert]:
        record = self.registry.champion(name)
        metric = self.policy.baseline_metric
        baseline = (record.metrics or {}).get(metric) if record is not None else None
        if baseline is None or not np.isfinite(live_error):
            return []
        threshold = float(baseline) * self.policy.degradation_ratio
        if live_error <= threshold:
            return []
        return [Alert("degradation", name, metric, float(live_error), threshold,
                      f"live {metric} {live_error:.4g} vs backtest baseline {float(baseline):.4g} "
                      f"of version {record.version if record else None}")]
