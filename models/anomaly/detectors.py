"""Point detectors over the per-point features of :mod:`models.anomaly.points`.

Each detector follows scikit-learn conventions and scores points on one scale: ``score(X)``
is the anomaly score divided by the detector's own threshold, so ``score >= 1`` means
"this detector votes anomalous". The ensemble combines the votes.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from models.anomaly.points import FEATURES
from models.errors import InvalidInput, check_fitted


def _matrix(X: pd.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise InvalidInput(f"features: missing column(s) {', '.join(missing)}",
                           field=missing[0], value=None)
    return np.nan_to_num(X[list(columns)].to_numpy(dtype=float), nan=0.0, posinf=1e6,
                         neginf=-1e6)


class RobustZScore(BaseEstimator):
    """Median/MAD z-score of each feature column; votes when any |z| exceeds ``threshold``."""

    def __init__(self, threshold: float = 3.0, columns: tuple[str, ...] = ("z", "pv_z")) -> None:
        self.threshold = threshold
        self.columns = columns

    def fit(self, X: pd.DataFrame) -> RobustZScore:
        """Learn each column's median and MAD scale from (mostly clean) history."""
        m = _matrix(X, self.columns)
        self.median_ = np.median(m, axis=0)
        mad = 1.4826 * np.median(np.abs(m - self.median_), axis=0)
        self.scale_ = np.where(mad > 1e-9, mad, 1.0)
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """max |robust z| over columns, divided by the threshold."""
        check_fitted(self, "scale_")
        z = np.abs(_matrix(X, self.columns) - self.median_) / self.scale_
        return z.max(axis=1) / self.threshold


class IsolationForestDetector(BaseEstimator):
    """scikit-learn IsolationForest on the point features; threshold set by ``contamination``."""

    def __init__(self, contamination: float = 0.05, n_estimators: int = 100,
                 max_samples: int = 256, random_state: int = 0,
                 columns: tuple[str, ...] = FEATURES) -> None:
        self.contamination = contamination
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.random_state = random_state
        self.columns = columns

    def fit(self, X: pd.DataFrame) -> IsolationForestDetector:
        """Grow the forest on history features."""
        m = _matrix(X, self.columns)
        self.model_ = IsolationForest(n_estimators=self.n_estimators,
                                      max_samples=min(self.max_samples, len(m)),
                                      contamination=self.contamination,
                                      random_state=self.random_state).fit(m)
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """Isolation score divided by the contamination threshold."""
        check_fitted(self, "model_")
        raw = -self.model_.score_samples(_matrix(X, self.columns))
        return np.asarray(raw / -self.model_.offset_, dtype=float)


class OneClassSVMDetector(BaseEstimator):
    """RBF One-Class SVM (``nu`` = contamination) on standardised features, fitted on a sample."""

    def __init__(self, nu: float = 0.05, gamma: str | float = "scale", max_train: int = 2000,
                 random_state: int = 0, columns: tuple[str, ...] = FEATURES) -> None:
        self.nu = nu
        self.gamma = gamma
        self.max_train = max_train
        self.random_state = random_state
        self.columns = columns

    def fit(self, X: pd.DataFrame) -> OneClassSVMDetector:
        """Fit on at most ``max_train`` history points (the SVM is quadratic in n)."""
        m = _matrix(X, self.columns)
        if len(m) > self.max_train:
            rng = np.random.default_rng(self.random_state)
            m = m[rng.choice(len(m), self.max_train, replace=False)]
        self.scaler_ = StandardScaler().fit(m)
        self.model_ = OneClassSVM(nu=self.nu, gamma=self.gamma).fit(self.scaler_.transform(m))
        d = self.model_.decision_function(self.scaler_.transform(m))
        self.spread_ = max(float(np.std(d)), 1e-9)
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """1 on the SVM boundary, growing with the distance outside it."""
        check_fitted(self, "model_")
        d = self.model_.decision_function(self.scaler_.transform(_matrix(X, self.columns)))
        return np.asarray(1.0 - d / self.spread_, dtype=float)


def change_points(x: np.ndarray, min_size: int, penalty: float) -> list[int]:
    """Binary segmentation for mean shifts (Gaussian cost); returns sorted segment starts."""
    starts = [0]
    stack = [(0, len(x))]
    while stack:
        a, b = stack.pop()
        m = b - a
        if m < 2 * min_size:
            continue
        cs = np.cumsum(x[a:b])
        k = np.arange(min_size, m - min_size + 1)
        left = cs[k - 1]
        gain = left**2 / k + (cs[-1] - left) ** 2 / (m - k) - cs[-1] ** 2 / m
        j = int(np.argmax(gain))
        if gain[j] > penalty:
            starts.append(a + int(k[j]))
            stack += [(a, a + int(k[j])), (a + int(k[j]), b)]
    return sorted(starts)


class PatternBreakDetector(BaseEstimator):
    """Breaks of the seasonal pattern: residual against the meter's recent level (``z_local``),
    and change points (binary segmentation of the median-filtered residual) into a shifted regime.

    Expects ``meter_id`` and ``z`` columns; ``segment_len`` and ``segment_shift`` of the last
    :meth:`score` call are kept in ``segments_`` for the classifier.
    """

    def __init__(self, threshold: float = 4.0, min_shift: float = 4.0, min_segment: int = 12,
                 penalty: float = 3.0) -> None:
        self.threshold = threshold
        self.min_shift = min_shift
        self.min_segment = min_segment
        self.penalty = penalty

    def fit(self, X: pd.DataFrame) -> PatternBreakDetector:
        """Learn the spread of the local-level residual ``z_local`` in history."""
        e = _matrix(X, ("z_local",))[:, 0]
        self.scale_ = max(1.4826 * float(np.median(np.abs(e - np.median(e)))), 1e-6)
        return self

    def score(self, X: pd.DataFrame) -> np.ndarray:
        """max(level residual / threshold, shift of the point's regime / min_shift)."""
        check_fitted(self, "scale_")
        point = np.abs(_matrix(X, ("z_local",))[:, 0]) / self.scale_ / self.threshold
        seg_len = np.zeros(len(X), dtype=int)
        seg_shift = np.zeros(len(X))
        z_all = X["z"].to_numpy(dtype=float)
        for idx in X.groupby(X["meter_id"].to_numpy()).indices.values():
            z = z_all[idx]
            smooth = pd.Series(z).rolling(13, center=True, min_periods=1).median().to_numpy()
            bounds = [*change_points(smooth, self.min_segment,
                                     self.penalty * np.log(max(len(z), 2))), len(z)]
            for a, b in itertools.pairwise(bounds):
                seg_len[idx[a:b]] = b - a
                seg_shift[idx[a:b]] = np.median(z[a:b])
        self.segments_ = pd.DataFrame({"segment_len": seg_len, "segment_shift": seg_shift},
                                      index=X.index)
        same_sign = np.sign(z_all) == np.sign(seg_shift)
        regime = np.where(same_sign & (np.abs(z_all) >= self.min_shift / 2)
                          & (seg_len >= self.min_segment), np.abs(seg_shift) / self.min_shift, 0)
        return np.maximum(point, regime)
