"""Per-meter seasonal profiles learned from history, and the per-point features built on them.

A meter's profile is the median consumption per seasonal slot (time of day, weekday/weekend),
the spread of log-ratio residuals around it, and for PV the median yield per unit of
irradiance by time of day. Features at ``t`` use the profile and readings at or before ``t``;
only the run lengths (flat, zero) look at the whole run, so a run is flagged from its start.

Fallback: a meter with fewer than ``min_history`` clean readings in history is profiled from
the population's median shape scaled to that meter's own median in the frame being scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from models.anomaly.readings import DAYLIGHT_GHI, slot_of

FEATURES = ("z", "z_local", "pv_z", "flat")
MIN_SCALE = 0.02
LEVEL_WINDOW = 48  # readings behind t whose median residual is the local level


@dataclass(frozen=True)
class MeterProfile:
    """What history says about one meter."""

    slots: np.ndarray       # median consumption per seasonal slot
    level: float            # median consumption
    resid_median: float
    resid_scale: float      # 1.4826 * MAD of the log-ratio residual
    zero_share: float       # share of zero readings: a meter that often reads 0 is not "zeroed"
    max_flat_run: int       # longest run of identical non-zero readings seen in history
    pv_yield: np.ndarray    # median production per W/m² by time-of-day slot (NaN: unknown)
    pv_median: float
    pv_scale: float
    pv_peak: float          # 99th percentile of production
    from_history: bool = True


def run_lengths(values: np.ndarray) -> np.ndarray:
    """For each element, the length of the run of consecutive equal values it belongs to."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=int)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    lengths = np.diff(np.r_[starts, n])
    return np.repeat(lengths, lengths)


def _mad_scale(x: np.ndarray) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0, 0.25
    med = float(np.median(x))
    return med, max(MIN_SCALE, 1.4826 * float(np.median(np.abs(x - med))))


def _eps(level: float) -> float:
    return max(1e-3, 0.05 * level)


def _fill_slots(med: pd.Series, per_day: int, level: float) -> np.ndarray:
    slots = med.reindex(range(2 * per_day)).to_numpy(dtype=float)
    for s in range(2 * per_day):  # a weekend slot never seen borrows the weekday one, and back
        if np.isnan(slots[s]):
            slots[s] = slots[(s + per_day) % (2 * per_day)]
    return np.where(np.isnan(slots), level, slots)


def profile_meter(rows: pd.DataFrame, step: pd.Timedelta) -> MeterProfile:
    """Profile one meter from its clean readings."""
    per_day = max(1, int(pd.Timedelta(days=1) / step))
    c = rows["consumption_kwh"].to_numpy(dtype=float)
    level = float(np.median(c))
    slot = slot_of(rows["ts"], step)
    slots = _fill_slots(rows.groupby(slot)["consumption_kwh"].median(), per_day, level)
    eps = _eps(level)
    resid = np.log((np.clip(c, 0, None) + eps) / (slots[slot] + eps))
    r_med, r_scale = _mad_scale(resid)
    nonzero = c != 0
    flat = run_lengths(c)
    yield_, pv_med, pv_scale, pv_peak = _pv_profile(rows, slot % per_day, per_day)
    return MeterProfile(slots, level, r_med, r_scale, float(np.mean(c == 0)),
                        int(flat[nonzero].max()) if nonzero.any() else 1,
                        yield_, pv_med, pv_scale, pv_peak)


def _pv_profile(rows: pd.DataFrame, tod: np.ndarray,
                per_day: int) -> tuple[np.ndarray, float, float, float]:
    p = rows["production_kwh"].to_numpy(dtype=float)
    peak = float(np.quantile(p, 0.99)) if p.size else 0.0
    yield_ = np.full(per_day, np.nan)
    if peak <= 0:
        return yield_, 0.0, 0.25, 0.0
    if "ghi_wm2" in rows:
        ghi = rows["ghi_wm2"].to_numpy(dtype=float)
        sun = ghi > DAYLIGHT_GHI
        ratio = pd.Series(p[sun] / ghi[sun]).groupby(tod[sun]).median()
        yield_ = ratio.reindex(range(per_day)).to_numpy(dtype=float)
    expected = expected_production(rows, tod, yield_)
    if expected is None:
        return yield_, 0.0, 0.25, peak
    sun = expected > 0.1 * peak
    med, scale = _mad_scale(np.log((p[sun] + 0.05 * peak) / (expected[sun] + 0.05 * peak)))
    return yield_, med, scale, peak


def expected_production(rows: pd.DataFrame, tod: np.ndarray,
                        yield_: np.ndarray) -> np.ndarray | None:
    """Expected PV output: given directly, or learned yield x irradiance; None if unknowable."""
    if "expected_production_kwh" in rows:
        return rows["expected_production_kwh"].to_numpy(dtype=float)
    if "ghi_wm2" in rows and np.isfinite(yield_).any():
        fallback = float(np.nanmedian(yield_))
        y = np.where(np.isfinite(yield_), yield_, fallback)
        return y[tod] * np.clip(rows["ghi_wm2"].to_numpy(dtype=float), 0, None)
    return None


def population(profiles: dict[str, MeterProfile]) -> MeterProfile:
    """The median meter: normalised slot shape and median spreads, for meters without history."""
    items = list(profiles.values())
    shape = np.nanmedian([p.slots / max(p.level, 1e-9) for p in items], axis=0)
    return MeterProfile(shape, 1.0, float(np.median([p.resid_median for p in items])),
                        float(np.median([p.resid_scale for p in items])), 0.0,
                        int(np.median([p.max_flat_run for p in items])),
                        np.full(len(items[0].pv_yield), np.nan),
                        0.0, float(np.median([p.pv_scale for p in items])), 0.0, False)


def fallback_profile(rows: pd.DataFrame, pop: MeterProfile, step: pd.Timedelta) -> MeterProfile:
    """Profile a meter without history: population shape at the meter's own median level."""
    level = float(np.nanmedian(rows["consumption_kwh"].clip(lower=0))) if len(rows) else 1.0
    level = level if np.isfinite(level) and level > 0 else 1.0
    per_day = max(1, int(pd.Timedelta(days=1) / step))
    own = profile_meter(rows.dropna(subset=["consumption_kwh", "production_kwh"]), step) \
        if rows[["consumption_kwh", "production_kwh"]].notna().all(axis=1).any() else None
    pv = own if own is not None else pop
    return replace(pop, slots=pop.slots * level, level=level,
                   pv_yield=pv.pv_yield if len(pv.pv_yield) == per_day else pop.pv_yield,
                   pv_peak=pv.pv_peak, pv_median=pv.pv_median)


def meter_features(rows: pd.DataFrame, prof: MeterProfile, step: pd.Timedelta) -> pd.DataFrame:
    """Features for one meter's readings (sorted by time, duplicates already removed)."""
    per_day = max(1, int(pd.Timedelta(days=1) / step))
    slot = slot_of(rows["ts"], step)
    c = rows["consumption_kwh"].to_numpy(dtype=float)
    eps = _eps(prof.level)
    base = prof.slots[slot]
    z = (np.log((np.clip(np.nan_to_num(c, nan=0.0), 0, None) + eps) / (base + eps))
         - prof.resid_median) / prof.resid_scale
    level = pd.Series(z).shift(1).rolling(LEVEL_WINDOW, min_periods=1).median().fillna(0.0)
    out = pd.DataFrame({"z": z, "z_local": z - level.to_numpy()}, index=rows.index)
    expected = expected_production(rows, slot % per_day, prof.pv_yield)
    p = rows["production_kwh"].to_numpy(dtype=float)
    if expected is None or prof.pv_peak <= 0:
        out["expected_kwh"], out["pv_ratio"], out["pv_z"] = np.nan, np.nan, 0.0
    else:
        e = 0.05 * prof.pv_peak
        sun = expected > 0.1 * prof.pv_peak
        pv_z = (np.log((np.nan_to_num(p) + e) / (expected + e)) - prof.pv_median) / prof.pv_scale
        out["expected_kwh"] = expected
        out["pv_ratio"] = np.where(sun, np.nan_to_num(p) / np.maximum(expected, 1e-9), np.nan)
        out["pv_z"] = np.where(sun, pv_z, 0.0)
    flat = run_lengths(c)
    out["flat_run"] = np.where(c != 0, flat, 1)
    out["zero_run"] = np.where(c == 0, flat, 0)
    out["flat"] = np.log(out["flat_run"].to_numpy(dtype=float))
    return out


def meters_features(rows: pd.DataFrame, profiles: Sequence[MeterProfile],
                    step: pd.Timedelta) -> pd.DataFrame | None:
    """:func:`meter_features` of many meters at once, plus each profile's ``zero_share`` and
    ``max_flat_run``: the same values as meter by meter, without a Python loop per meter.

    ``rows`` hold each meter's readings together (as :func:`validate_readings` sorts them);
    ``profiles[i]`` is the profile of the i-th meter in order of appearance. Returns None when
    that does not hold or the profiles' slot counts differ (the caller goes meter by meter)."""
    meter = rows["meter_id"].to_numpy()
    change = meter[1:] != meter[:-1]
    codes = np.r_[0, np.cumsum(change)] if len(meter) else np.zeros(0, dtype=int)
    n = int(codes[-1]) + 1 if len(meter) else 0
    if not profiles or n != len(profiles) or n != pd.unique(meter).size:
        return None
    if len({p.slots.shape for p in profiles}) > 1 or len({p.pv_yield.shape for p in profiles}) > 1:
        return None
    per_day = max(1, int(pd.Timedelta(days=1) / step))

    def each(attr: str) -> np.ndarray:
        return np.array([getattr(p, attr) for p in profiles])[codes]

    slot = slot_of(rows["ts"], step)
    c = rows["consumption_kwh"].to_numpy(dtype=float)
    eps = np.maximum(1e-3, 0.05 * each("level"))
    base = np.vstack([p.slots for p in profiles])[codes, slot]
    z = (np.log((np.clip(np.nan_to_num(c, nan=0.0), 0, None) + eps) / (base + eps))
         - each("resid_median")) / each("resid_scale")
    by_meter = pd.Series(z).groupby(codes)
    level = (by_meter.shift(1).groupby(codes).rolling(LEVEL_WINDOW, min_periods=1).median()
             .fillna(0.0).to_numpy())
    out = pd.DataFrame({"z": z, "z_local": z - level}, index=rows.index)
    expected, known = _expected_many(rows, profiles, codes, slot % per_day)
    peak = each("pv_peak")
    pv = known & (peak > 0)
    p = np.nan_to_num(rows["production_kwh"].to_numpy(dtype=float))
    e = 0.05 * peak
    sun = pv & (expected > 0.1 * peak)
    with np.errstate(divide="ignore", invalid="ignore"):
        pv_z = (np.log((p + e) / (expected + e)) - each("pv_median")) / each("pv_scale")
    out["expected_kwh"] = np.where(pv, expected, np.nan)
    out["pv_ratio"] = np.where(sun, p / np.maximum(expected, 1e-9), np.nan)
    out["pv_z"] = np.where(sun, pv_z, 0.0)
    starts = np.flatnonzero(np.r_[True, (c[1:] != c[:-1]) | change]) if len(c) else np.zeros(0, int)
    lengths = np.diff(np.r_[starts, len(c)])
    flat = np.repeat(lengths, lengths)
    out["flat_run"] = np.where(c != 0, flat, 1)
    out["zero_run"] = np.where(c == 0, flat, 0)
    out["flat"] = np.log(out["flat_run"].to_numpy(dtype=float))
    out["zero_share"] = each("zero_share").astype(float)
    out["max_flat_run"] = each("max_flat_run").astype(int)
    return out


def _expected_many(rows: pd.DataFrame, profiles: Sequence[MeterProfile], codes: np.ndarray,
                   tod: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`expected_production` for every row, and whether it is known for the row's meter."""
    if "expected_production_kwh" in rows:
        return rows["expected_production_kwh"].to_numpy(dtype=float), np.ones(len(rows), bool)
    if "ghi_wm2" not in rows:
        return np.zeros(len(rows)), np.zeros(len(rows), bool)
    yields = np.vstack([p.pv_yield for p in profiles])
    has = np.isfinite(yields).any(axis=1)
    fallback = np.array([float(np.nanmedian(y)) if h else np.nan for y, h in zip(yields, has, strict=True)])
    filled = np.where(np.isfinite(yields), yields, fallback[:, None])
    ghi = np.clip(rows["ghi_wm2"].to_numpy(dtype=float), 0, None)
    return np.where(has[codes], filled[codes, tod] * ghi, 0.0), has[codes]
