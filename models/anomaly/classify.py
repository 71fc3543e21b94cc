"""Typing rules: every flagged point gets one of eight types, a reason, a severity and an action.

Rules are checked in this order; the first that holds decides the type:

1. data_corruption   missing/impossible value, duplicate timestamp, or the first reading after a gap
2. meter_tampering   reversed: negative consumption
3. meter_tampering   zeroed: a run of >= min_zero_run zero readings on a meter that rarely reads 0
4. meter_tampering   flat_line: a run of identical non-zero readings longer than history's longest
                     run + flat_margin (and >= min_flat_run)
5. meter_tampering   scale_change: flagged, inside a change-point regime of >= scale_min_run points
                     (and flagged same-sign neighbours of such points, in the same run)
6. cyber_attack      the detectors flag >= max(cyber_min_meters, cyber_fraction x meters) meters
                     in the same interval (a meter already explained by rules 3-5 keeps that type)
7. equipment_failure PV output below pv_loss_ratio x expected for >= failure_min_points daylight
                     readings in a row (a persistent yield loss)
8. production_anomaly PV output below pv_loss_ratio x expected and pv_z <= -pv_z (shorter loss)
9. consumption_spike / consumption_drop  flagged by the detectors, sign of the residual

``trading_fraud`` comes from :mod:`models.anomaly.fraud` (market data, not readings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.anomaly.points import run_lengths

TYPES = ("consumption_spike", "consumption_drop", "production_anomaly", "meter_tampering",
         "equipment_failure", "data_corruption", "trading_fraud", "cyber_attack")
SEVERITIES = ("low", "medium", "high", "critical")
ACTIONS = {
    "consumption_spike": "verify the reading against the next intervals; contact the household "
                         "if it persists",
    "consumption_drop": "check meter connectivity and supply; confirm with the household",
    "production_anomaly": "inspect the PV array for shading or soiling; compare with neighbours",
    "meter_tampering": "flag the meter on chain, suspend its trading and schedule an inspection",
    "equipment_failure": "send a technician to inspect the inverter and PV array",
    "data_corruption": "exclude the reading from settlement and request re-transmission",
    "trading_fraud": "freeze the user's open orders and review their trades",
    "cyber_attack": "isolate the affected meters' data feed, alert security and hold settlement "
                    "for the interval",
}
RULE_REASONS = frozenset({"missing_value", "impossible_value", "duplicate", "timestamp_gap",
                          "reversed", "zeroed", "flat_line"})


@dataclass(frozen=True)
class Rules:
    """Thresholds of the typing rules (see the module docstring)."""

    min_zero_run: int = 3
    max_zero_share: float = 0.01
    min_flat_run: int = 4
    flat_margin: int = 2
    scale_min_run: int = 24
    scale_min_shift: float = 4.0
    pv_loss_ratio: float = 0.5
    pv_z: float = 3.0
    failure_min_points: int = 16
    cyber_min_meters: int = 5
    cyber_fraction: float = 0.3
    z_threshold: float = 3.0


def _pv_runs(pts: pd.DataFrame, low: np.ndarray) -> np.ndarray:
    """Length of the run of low-yield daylight readings each reading belongs to."""
    out = np.zeros(len(pts), dtype=int)
    sun = pts["pv_ratio"].notna().to_numpy()
    for idx in pts.groupby("meter_id", sort=False).indices.values():
        day = idx[sun[idx]]
        if day.size:
            runs = run_lengths(low[day].astype(int))
            out[day] = np.where(low[day], runs, 0)
    return out


def _pv_low(pts: pd.DataFrame, r: Rules) -> np.ndarray:
    return ((pts["pv_ratio"] < r.pv_loss_ratio) & (pts["pv_z"] <= -r.pv_z)).to_numpy()


def _consumption_votes(pts: pd.DataFrame, r: Rules, pv_low: np.ndarray) -> np.ndarray:
    z = pts["z"].to_numpy(dtype=float)
    return pts["vote"].to_numpy(dtype=bool) & ~(pv_low & (np.abs(z) < r.z_threshold))


def crowd(pts: pd.DataFrame, rules: Rules | None = None) -> pd.DataFrame:
    """Per timestamp: how many meters the frame has and how many of them the detectors flag
    (``meters``, ``hits``, indexed by ``ts``). Summed over groups of meters, it is the zone's
    crowd that the cyber-attack rule needs (see :func:`classify`)."""
    r = rules or Rules()
    cons = _consumption_votes(pts, r, _pv_low(pts, r))
    frame = pd.DataFrame({"ts": pts["ts"].to_numpy(), "meter_id": pts["meter_id"].to_numpy(),
                          "hit": cons.astype(int)})
    return frame.groupby("ts").agg(meters=("meter_id", "nunique"), hits=("hit", "sum"))


def _cyber(pts: pd.DataFrame, cons: np.ndarray, rules: Rules,
           zone: pd.DataFrame | None = None) -> np.ndarray:
    if zone is None:
        meters = pts.groupby("ts")["meter_id"].transform("nunique").to_numpy()
        hits = pd.Series(cons.astype(int), index=pts.index).groupby(pts["ts"]).transform("sum")
        hit_counts = hits.to_numpy()
    else:  # the zone's counts, gathered over every group of meters
        keys = pd.DatetimeIndex(pts["ts"])
        meters = zone["meters"].reindex(keys).fillna(0).to_numpy()
        hit_counts = zone["hits"].reindex(keys).fillna(0).to_numpy()
    need = np.maximum(rules.cyber_min_meters, np.ceil(rules.cyber_fraction * meters))
    return cons & (hit_counts >= need)


def classify(pts: pd.DataFrame, rules: Rules | None = None, *,
             zone: pd.DataFrame | None = None) -> pd.DataFrame:
    """Type, reason and run length for every row of the scored frame ("" where normal).

    ``pts`` needs the reading and feature columns plus ``vote`` (ensemble decision),
    ``segment_len``, ``segment_shift``, ``zero_share`` and ``max_flat_run``. ``zone`` (the
    :func:`crowd` of every meter, when ``pts`` holds only some of them) decides the
    cyber-attack rule; None: ``pts`` is the whole zone.
    """
    r = rules or Rules()
    z = pts["z"].to_numpy(dtype=float)
    c = pts["consumption_kwh"].to_numpy(dtype=float)
    pv_low = _pv_low(pts, r)
    cons = _consumption_votes(pts, r, pv_low)
    pv_run = _pv_runs(pts, pv_low)
    flat_need = np.maximum(r.min_flat_run, pts["max_flat_run"].to_numpy() + r.flat_margin)
    zeroed = ((pts["zero_run"] >= r.min_zero_run) & (pts["zero_share"] <= r.max_zero_share))
    shifted = (cons & (pts["segment_len"] >= r.scale_min_run).to_numpy()
               & (np.abs(pts["segment_shift"]) >= r.scale_min_shift).to_numpy())
    corrupt = pts["corruption"].to_numpy(dtype=object)
    table = [
        (corrupt != "", "data_corruption", corrupt),
        (c < 0, "meter_tampering", "reversed"),
        (zeroed.to_numpy(), "meter_tampering", "zeroed"),
        ((pts["flat_run"] >= flat_need).to_numpy(), "meter_tampering", "flat_line"),
        (shifted, "meter_tampering", "scale_change"),
        (_cyber(pts, cons, r, zone), "cyber_attack", "coordinated"),
        (pv_low & (pv_run >= r.failure_min_points), "equipment_failure", "pv_persistent_loss"),
        (pv_low, "production_anomaly", "pv_yield_loss"),
        (cons & (z > 0), "consumption_spike", "high_consumption"),
        (cons & (z <= 0), "consumption_drop", "low_consumption"),
    ]
    conds = [t[0] for t in table]
    kind = np.select(conds, [t[1] for t in table], default="")
    reason = np.select(conds, [np.broadcast_to(np.asarray(t[2], dtype=object), len(pts))
                               for t in table], default="")
    _spread_scale_change(pts, kind, reason, z)
    run = np.select([reason == "zeroed", reason == "flat_line", reason == "scale_change",
                     pv_low], [pts["zero_run"], pts["flat_run"], pts["segment_len"], pv_run], 1)
    return pd.DataFrame({"type": kind, "reason": reason, "run": run}, index=pts.index)


def _spread_scale_change(pts: pd.DataFrame, kind: np.ndarray, reason: np.ndarray,
                         z: np.ndarray) -> None:
    """A spike/drop run touching a scale-change regime is part of it (change points are only
    located to within a few readings)."""
    plain = np.isin(reason, ["high_consumption", "low_consumption", "scale_change"])
    meter = pts["meter_id"].to_numpy()
    brk = np.r_[True, (meter[1:] != meter[:-1]) | (plain[1:] != plain[:-1])
                | (np.sign(z[1:]) != np.sign(z[:-1]))]
    run_id = np.cumsum(brk)
    has = pd.Series(reason == "scale_change").groupby(run_id).transform("any").to_numpy()
    grow = plain & has & (reason != "scale_change")
    kind[grow], reason[grow] = "meter_tampering", "scale_change"


def severity(kind: pd.Series, reason: pd.Series, z: pd.Series, run: pd.Series) -> pd.Series:
    """Severity by type, escalated by magnitude (|z|) or duration (run length in readings)."""
    az = z.abs().to_numpy()
    by_z = np.select([az >= 12, az >= 6], ["high", "medium"], "low")
    k = kind.to_numpy()
    rs = reason.to_numpy()
    long_run = run.to_numpy() >= 48
    out = np.select(
        [k == "cyber_attack",
         (k == "meter_tampering") & ((rs == "reversed") | long_run),
         k == "meter_tampering",
         k == "equipment_failure",
         k == "production_anomaly",
         (k == "data_corruption") & (rs == "impossible_value"),
         k == "data_corruption"],
        ["critical", "critical", "high", "high", "medium", "medium", "low"], by_z)
    return pd.Series(out, index=kind.index)


def actions(kind: pd.Series) -> pd.Series:
    """The recommended action for each type."""
    return kind.map(ACTIONS)
