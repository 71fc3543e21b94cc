"""Anomaly detection over groups of meters, with the results of one detector over the zone.

The per-meter work (validation, profiles, features, detector scores) runs on each group of
meters apart, so the groups can run in other processes or on other machines. What crosses
meters is small and is gathered in between, in one place:

    fit      learn_group(g) for every group  ->  fit_groups(parts)         -> AnomalyDetector
    detect   vote_group(d_g, frame_g) for every group -> zone_crowd(crowds)
             -> finish_group(points_g, zone, d.rules) for every group      -> anomalies

``zone_crowd`` is what the cyber-attack rule needs: per timestamp, the meters of the whole zone
and how many of them the detectors flag. Detection over groups gives the rows that
``AnomalyDetector.detect`` gives on the whole frame (the groups must not share a meter).

Fitting over groups joins every group's profiles; the detectors' thresholds are fitted on each
group's feature rows, at most ``max_rows`` of them per group (a seeded sample, so memory is
bounded by the group size; ``None`` keeps them all and gives exactly ``AnomalyDetector.fit``).
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from models.anomaly.classify import Rules, classify, crowd
from models.anomaly.ensemble import AnomalyDetector, MeterHistory, anomalies


def learn_group(detector: AnomalyDetector, history: pd.DataFrame, *,
                step: pd.Timedelta | None = None, max_rows: int | None = None) -> MeterHistory:
    """One group's part of the fit: profiles and (at most ``max_rows``) feature rows."""
    part = detector.learn_meters(history, step)
    if max_rows is None or len(part.features) <= max_rows:
        return part
    first = str(min(part.profiles)) if part.profiles else ""
    rng = np.random.default_rng(zlib.crc32(first.encode()))  # the same sample in any process
    keep = np.sort(rng.choice(len(part.features), max_rows, replace=False))
    return MeterHistory(part.step, part.profiles,
                        part.features.iloc[keep].reset_index(drop=True), part.longest)


def common_step(parts: Sequence[MeterHistory]) -> pd.Timedelta | None:
    """The reading step of most profiled meters over the parts (None: no meter profiled)."""
    weights: dict[pd.Timedelta, int] = {}
    for p in parts:
        weights[p.step] = weights.get(p.step, 0) + max(len(p.profiles), 0)
    if not weights:
        return None
    return max(weights, key=lambda s: (weights[s], -s.value))


def fit_groups(detector: AnomalyDetector, parts: Sequence[MeterHistory]) -> AnomalyDetector:
    """Fit ``detector`` on the groups' parts (learned with one step; see :func:`common_step`)."""
    return detector.fit_parts(parts)


def for_meters(detector: AnomalyDetector, meters: Iterable[str]) -> AnomalyDetector:
    """The fitted detector, holding only the profiles of ``meters`` (what one group needs)."""
    profiles = getattr(detector, "profiles_", None)
    if profiles is None:
        return detector
    part = copy.copy(detector)
    part.profiles_ = {m: profiles[m] for m in meters if m in profiles}
    return part


def vote_group(detector: AnomalyDetector, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A group's scored, not yet typed points and its crowd (see :func:`zone_crowd`)."""
    points = detector.vote_points(frame)
    return points, crowd(points, detector.rules)


def zone_crowd(crowds: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The zone's crowd per timestamp: the sum of the groups' (the groups share no meter)."""
    frames = [c for c in crowds if len(c)]
    if not frames:
        return pd.DataFrame({"meters": [], "hits": []}, index=pd.DatetimeIndex([], name="ts"))
    return pd.concat(frames).groupby(level=0).sum()


def finish_group(points: pd.DataFrame, zone: pd.DataFrame, rules: Rules | None = None) -> pd.DataFrame:
    """A group's anomalies (``OUTPUT`` columns), typed with the zone's crowd and the
    detector's ``rules``."""
    typed = points.copy()
    typed[["type", "reason", "run"]] = classify(typed, rules, zone=zone)
    return anomalies(typed)
