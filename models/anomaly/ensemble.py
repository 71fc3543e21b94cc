"""``AnomalyDetector``: profiles + four detectors + voting + typing rules, in one estimator.

``AnomalyDetector().fit(history).detect(frame)`` returns one row per anomalous reading with
``meter_id, ts, type, score, severity, confidence, recommended_action`` and ``reason`` (the rule
that decided the type). A point is anomalous when the weighted votes of the detectors reach
``min_votes`` or when a deterministic rule holds (corruption, reversed, zeroed, flat line,
PV far below what irradiance predicts).

Fallbacks, documented: NaN, impossible and duplicate readings are reported as data corruption,
not raised; history rows with such values are ignored; a meter with too little history is
profiled from the population (see :mod:`models.anomaly.points`). Unsorted input is sorted.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models.anomaly.classify import RULE_REASONS, Rules, actions, classify, severity
from models.anomaly.detectors import (
    IsolationForestDetector,
    OneClassSVMDetector,
    PatternBreakDetector,
    RobustZScore,
)
from models.anomaly.points import (
    FEATURES,
    MeterProfile,
    fallback_profile,
    meter_features,
    population,
    profile_meter,
)
from models.anomaly.readings import infer_step, validate_readings
from models.errors import InvalidInput, check_fitted

DETECTORS = ("zscore", "iforest", "ocsvm", "pattern")
OUTPUT = ("meter_id", "ts", "type", "score", "severity", "confidence", "recommended_action",
          "reason")
# IsolationForest and One-Class SVM see the same features and agree with each other far more
# than with the others (on clean readings), so by default they share one vote.
WEIGHTS = {"zscore": 1.0, "pattern": 1.0, "iforest": 0.5, "ocsvm": 0.5}
Detector = RobustZScore | IsolationForestDetector | OneClassSVMDetector | PatternBreakDetector


class AnomalyDetector(BaseEstimator):
    """Ensemble anomaly detector for meter readings (see the module docstring)."""

    def __init__(self, detectors: tuple[str, ...] = DETECTORS, min_votes: float = 2.5,
                 weights: Mapping[str, float] | None = None, z_threshold: float = 3.0,
                 contamination: float = 0.05, min_history: int = 96, max_kwh: float = 50.0,
                 rules: Rules | None = None, random_state: int = 0) -> None:
        self.detectors = detectors
        self.min_votes = min_votes
        self.weights = weights
        self.z_threshold = z_threshold
        self.contamination = contamination
        self.min_history = min_history
        self.max_kwh = max_kwh
        self.rules = rules
        self.random_state = random_state

    def _make(self, name: str) -> Detector:
        if name == "zscore":
            return RobustZScore(self.z_threshold)
        if name == "iforest":
            return IsolationForestDetector(self.contamination, random_state=self.random_state)
        if name == "ocsvm":
            return OneClassSVMDetector(self.contamination, random_state=self.random_state)
        if name == "pattern":
            return PatternBreakDetector()
        raise InvalidInput(f"detectors: unknown detector {name!r}; choose from "
                           f"{', '.join(DETECTORS)}", field="detectors", value=name)

    def fit(self, history: pd.DataFrame) -> AnomalyDetector:
        """Learn per-meter profiles and fit every detector on history's features."""
        if not self.detectors or self.min_votes <= 0:
            raise InvalidInput("detectors must be non-empty and min_votes > 0",
                               field="min_votes", value=self.min_votes)
        detectors = {name: self._make(name) for name in self.detectors}
        df = validate_readings(history, name="history", max_kwh=self.max_kwh)
        clean = df[(df["corruption"] == "") | (df["corruption"] == "timestamp_gap")]
        self.step_ = infer_step(clean if len(clean) else df)
        sizes = clean.groupby("meter_id").size()
        long_enough = sizes[sizes >= self.min_history].index
        if len(long_enough) == 0:
            raise InvalidInput(
                f"history: no meter has {self.min_history} clean readings (longest: "
                f"{int(sizes.max()) if len(sizes) else 0}); pass more history or lower "
                "min_history", field="history", value=int(sizes.max()) if len(sizes) else 0)
        self.profiles_: dict[str, MeterProfile] = {
            m: profile_meter(rows, self.step_) for m, rows in clean.groupby("meter_id")
            if m in long_enough}
        self.population_ = population(self.profiles_)
        feats = self._features(clean[clean["meter_id"].isin(long_enough)])
        self.detectors_ = {name: d.fit(feats) for name, d in detectors.items()}
        return self

    def _profile(self, meter: str, rows: pd.DataFrame) -> MeterProfile:
        prof = self.profiles_.get(meter)
        return prof if prof is not None else fallback_profile(rows, self.population_, self.step_)

    def _features(self, df: pd.DataFrame) -> pd.DataFrame:
        parts = []
        for meter, rows in df.groupby("meter_id", sort=False):
            prof = self._profile(str(meter), rows)
            f = meter_features(rows, prof, self.step_)
            f["zero_share"], f["max_flat_run"] = prof.zero_share, prof.max_flat_run
            parts.append(f)
        feats = pd.concat(parts).reindex(df.index)
        feats["meter_id"] = df["meter_id"]
        return feats

    def score_points(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Every reading with its features, detector scores, votes and type ("" if normal)."""
        check_fitted(self, "detectors_", hint="call fit(history) first")
        df = validate_readings(frame, name="frame", max_kwh=self.max_kwh)
        usable = df["corruption"] != "duplicate"
        feats = self._features(df[usable]).reindex(df.index)
        feats[[*FEATURES, "zero_run"]] = feats[[*FEATURES, "zero_run"]].fillna(0.0)
        feats["flat_run"] = feats["flat_run"].fillna(1)
        feats["meter_id"] = df["meter_id"]
        pts = pd.concat([df, feats.drop(columns="meter_id")], axis=1)
        weights = {n: float((self.weights or WEIGHTS).get(n, 1.0)) for n in self.detectors_}
        votes = np.zeros(len(pts))
        combined = np.zeros(len(pts))
        for name, det in self.detectors_.items():
            ratio = np.clip(det.score(feats), 0, None)
            pts[f"score_{name}"] = ratio
            votes += weights[name] * (ratio >= 1.0)
            combined += weights[name] * ratio / (1.0 + ratio)
            if isinstance(det, PatternBreakDetector):
                pts[["segment_len", "segment_shift"]] = det.segments_
        for col in ("segment_len", "segment_shift"):
            if col not in pts:
                pts[col] = 0
        total = sum(weights.values()) or 1.0
        pts["votes"] = votes
        pts["vote"] = (votes >= self.min_votes) & (df["corruption"].isin(["", "timestamp_gap"]))
        pts["score"] = combined / total
        pts["confidence"] = votes / total
        pts[["type", "reason", "run"]] = classify(pts, self.rules)
        return pts

    def detect(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One row per anomalous reading: the columns of ``OUTPUT``."""
        pts = self.score_points(frame)
        out = pts[pts["type"] != ""].copy()
        rule = out["reason"].isin(RULE_REASONS)
        out.loc[rule, "confidence"] = np.maximum(out.loc[rule, "confidence"], 0.95)
        pv = out["reason"].isin(["pv_yield_loss", "pv_persistent_loss"])
        out.loc[pv, "confidence"] = np.maximum(
            out.loc[pv, "confidence"], np.clip(out.loc[pv, "pv_z"].abs() / 6.0, 0.5, 1.0))
        out.loc[rule | pv, "score"] = np.maximum(out.loc[rule | pv, "score"], 0.5)
        out["severity"] = severity(out["type"], out["reason"], out["z"], out["run"])
        out["recommended_action"] = actions(out["type"])
        out["score"] = out["score"].round(4)
        out["confidence"] = out["confidence"].clip(0, 1).round(4)
        return out[list(OUTPUT)].sort_values(["ts", "meter_id"]).reset_index(drop=True)
