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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
    meters_features,
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


@dataclass(frozen=True)
class MeterHistory:
    """What the history of some meters says (:meth:`AnomalyDetector.learn_meters`)."""

    step: pd.Timedelta
    profiles: dict[str, MeterProfile]
    features: pd.DataFrame  # one row per clean reading of a profiled meter
    longest: int  # most clean readings of one meter


def _features(df: pd.DataFrame, profiles: Mapping[str, MeterProfile], step: pd.Timedelta,
              pop: MeterProfile | None) -> pd.DataFrame:
    meters = [str(m) for m in pd.unique(df["meter_id"])]
    own = {m: profiles[m] for m in meters if m in profiles}
    if len(own) < len(meters):
        assert pop is not None, "a meter without a profile needs the population"
        missing = df[~df["meter_id"].astype(str).isin(own)]
        own.update({str(m): fallback_profile(rows, pop, step)
                    for m, rows in missing.groupby("meter_id", sort=False)})
    feats = meters_features(df, [own[m] for m in meters], step)  # every meter at once
    if feats is None:
        feats = _features_meter_by_meter(df, own, step)
    feats["meter_id"] = df["meter_id"]
    return feats


def _features_meter_by_meter(df: pd.DataFrame, profiles: Mapping[str, MeterProfile],
                             step: pd.Timedelta) -> pd.DataFrame:
    """What :func:`meters_features` gives, when a meter's rows are not together or the
    profiles' slot counts differ."""
    parts = []
    for meter, rows in df.groupby("meter_id", sort=False):
        prof = profiles[str(meter)]
        f = meter_features(rows, prof, step)
        f["zero_share"], f["max_flat_run"] = prof.zero_share, prof.max_flat_run
        parts.append(f)
    return pd.concat(parts).reindex(df.index)


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
        return self.fit_parts([self.learn_meters(history)])

    def learn_meters(self, history: pd.DataFrame, step: pd.Timedelta | None = None) -> MeterHistory:
        """What the history of some meters says: the reading step (``step``, or inferred), the
        profiles of meters with ``min_history`` clean readings and their feature rows. The
        zone's parts, learned apart, are joined by :meth:`fit_parts`."""
        self._check_params()
        df = validate_readings(history, name="history", max_kwh=self.max_kwh)
        clean = df[(df["corruption"] == "") | (df["corruption"] == "timestamp_gap")]
        step = step if step is not None else infer_step(clean if len(clean) else df)
        sizes = clean.groupby("meter_id").size()
        long_enough = sizes[sizes >= self.min_history].index
        profiles = {str(m): profile_meter(rows, step) for m, rows in clean.groupby("meter_id")
                    if m in long_enough}
        rows = clean[clean["meter_id"].isin(long_enough)]
        feats = (_features(rows, profiles, step, None) if len(rows)
                 else pd.DataFrame(columns=[*FEATURES, "meter_id"]))
        return MeterHistory(step, profiles, feats, int(sizes.max()) if len(sizes) else 0)

    def fit_parts(self, parts: Sequence[MeterHistory]) -> AnomalyDetector:
        """Fit the detectors on the joined parts of :meth:`learn_meters` (all with one step)."""
        self._check_params()
        steps = {p.step for p in parts}
        if len(steps) != 1:
            raise InvalidInput(f"history: the parts have different reading steps "
                               f"({', '.join(sorted(map(str, steps)))}); learn them with one step",
                               field="step", value=sorted(map(str, steps)))
        profiles = {m: prof for p in parts for m, prof in p.profiles.items()}
        if not profiles:
            longest = max((p.longest for p in parts), default=0)
            raise InvalidInput(
                f"history: no meter has {self.min_history} clean readings (longest: "
                f"{longest}); pass more history or lower min_history", field="history",
                value=longest)
        detectors = {name: self._make(name) for name in self.detectors}
        self.step_ = steps.pop()
        self.profiles_ = profiles
        self.population_ = population(self.profiles_)
        feats = pd.concat([p.features for p in parts if len(p.features)], ignore_index=True)
        self.detectors_ = {name: d.fit(feats) for name, d in detectors.items()}
        return self

    def _check_params(self) -> None:
        if not self.detectors or self.min_votes <= 0:
            raise InvalidInput("detectors must be non-empty and min_votes > 0",
                               field="min_votes", value=self.min_votes)
        for name in self.detectors:
            self._make(name)

    def _features(self, df: pd.DataFrame) -> pd.DataFrame:
        return _features(df, self.profiles_, self.step_, self.population_)

    def score_points(self, frame: pd.DataFrame, *, zone: pd.DataFrame | None = None) -> pd.DataFrame:
        """Every reading with its features, detector scores, votes and type ("" if normal).

        ``zone``: the :func:`~models.anomaly.classify.crowd` of every meter in the zone when
        ``frame`` holds only some of them (see :mod:`models.anomaly.groups`)."""
        pts = self.vote_points(frame)
        pts[["type", "reason", "run"]] = classify(pts, self.rules, zone=zone)
        return pts

    def vote_points(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Every reading with its features, detector scores and votes, not yet typed."""
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
        return pts

    def detect(self, frame: pd.DataFrame, *, zone: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per anomalous reading: the columns of ``OUTPUT``."""
        return anomalies(self.score_points(frame, zone=zone))


def anomalies(pts: pd.DataFrame) -> pd.DataFrame:
    """The anomalous rows of typed points (:meth:`AnomalyDetector.score_points`): ``OUTPUT``."""
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
