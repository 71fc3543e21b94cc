"""Conformal prediction intervals for PV production, by sun-elevation bin, zero at night.

Out-of-sample residuals (observed − forecast, from refits that did not see their days) are
divided by the interval's clear-sky production, so one bin pools low-sun and high-sun errors
on one scale, and split by sun elevation (``EDGES``) and, within each elevation bin, by the sky
the weather forecasts (``SKIES``: clear, broken, overcast, from the clear-sky index over the
surrounding hour). A cell's bounds are the finite-sample conformal quantiles
``ceil((n + 1) q) / n`` of its scaled residuals at ``(1 − level) / 2`` and ``(1 + level) / 2``;
a cell with fewer than ``min_bin`` residuals takes its elevation bin's, a thin elevation bin the
pooled ones. Bounds are clipped to 0..AC limit; where it is dark, mean and bounds are exactly 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.errors import InvalidInput
from models.forecasting.conformal import check_levels

EDGES = (0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 90.1)
SKIES = ("clear", "broken", "overcast")


@dataclass(frozen=True)
class ElevationConformal:
    """Scaled residual quantiles (lower, upper) per level, elevation bin and sky."""

    levels: tuple[float, ...]
    lower: dict[float, np.ndarray]  # (elevation bins, skies)
    upper: dict[float, np.ndarray]
    counts: np.ndarray

    def bounds(self, mean: np.ndarray, scale: np.ndarray, elevation: np.ndarray,
               dark: np.ndarray, limit: float, levels: Sequence[float],
               sky: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """``lo_<level>`` / ``hi_<level>`` around ``mean``: 0 where dark, within 0..limit."""
        bins = bin_of(elevation)
        skies = np.zeros(len(bins), dtype=int) if sky is None else sky
        out: dict[str, np.ndarray] = {}
        for level in check_levels(levels):
            if level not in self.lower:
                raise InvalidInput(f"level {level:g} was not calibrated; fit with it in `level` "
                                   f"(calibrated: {list(self.levels)})", field="level",
                                   value=level)
            lo = np.clip(mean + self.lower[level][bins, skies] * scale, 0.0, limit)
            hi = np.clip(mean + self.upper[level][bins, skies] * scale, 0.0, limit)
            name = f"{level:g}"
            out[f"lo_{name}"] = np.where(dark, 0.0, np.minimum(lo, mean))
            out[f"hi_{name}"] = np.where(dark, 0.0, np.maximum(hi, mean))
        return out


def bin_of(elevation: np.ndarray) -> np.ndarray:
    """Elevation bin index (the sun below the horizon goes in the lowest bin)."""
    return np.clip(np.searchsorted(EDGES, np.nan_to_num(elevation), side="right") - 1, 0,
                   len(EDGES) - 2)


def sky_of(kc_hour: np.ndarray, kc_spread: np.ndarray) -> np.ndarray:
    """0 clear (steady index ≥ 0.75), 2 overcast (index < 0.35), else 1 broken; NaN is broken."""
    kc, spread = np.nan_to_num(kc_hour, nan=0.5), np.nan_to_num(kc_spread, nan=1.0)
    return np.where((kc >= 0.75) & (spread < 0.05), 0, np.where(kc < 0.35, 2, 1))


def conformal_quantile(values: np.ndarray, q: float) -> float:
    """The finite-sample conformal quantile of ``values`` at probability ``q``."""
    ordered = np.sort(values)
    n = len(ordered)
    if q >= 0.5:
        rank = min(int(np.ceil((n + 1) * q)), n)
        return float(ordered[rank - 1])
    rank = max(int(np.floor((n + 1) * q)), 1)
    return float(ordered[rank - 1])


def calibrate(residual: np.ndarray, scale: np.ndarray, elevation: np.ndarray,
              levels: Sequence[float], sky: np.ndarray | None = None,
              min_bin: int = 50) -> ElevationConformal:
    """Quantiles of ``residual / scale`` per elevation bin and sky for each level."""
    ok = np.isfinite(residual) & np.isfinite(scale) & (scale > 0)
    if ok.sum() < 2:
        raise InvalidInput(f"intervals need out-of-sample residuals in daylight; got "
                           f"{int(ok.sum())}", field="production", value=int(ok.sum()))
    scaled = residual[ok] / scale[ok]
    bins = bin_of(elevation[ok])
    skies = np.zeros(len(bins), dtype=int) if sky is None else np.asarray(sky)[ok]
    shape = (len(EDGES) - 1, len(SKIES))
    counts = np.zeros(shape, dtype=int)
    np.add.at(counts, (bins, skies), 1)
    lower, upper = {}, {}
    for level in check_levels(levels):
        a = (1 - level / 100.0) / 2

        def pair(values: np.ndarray, a: float = a) -> tuple[float, float]:
            return conformal_quantile(values, a), conformal_quantile(values, 1 - a)

        pooled = pair(scaled)
        lo, hi = np.full(shape, pooled[0]), np.full(shape, pooled[1])
        for b in range(shape[0]):
            in_bin = bins == b
            if in_bin.sum() < min_bin:
                continue
            lo[b, :], hi[b, :] = pair(scaled[in_bin])
            for k in range(shape[1]):
                if counts[b, k] >= min_bin:
                    lo[b, k], hi[b, k] = pair(scaled[in_bin & (skies == k)])
        lower[level], upper[level] = lo, hi
    return ElevationConformal(tuple(lower), lower, upper, counts)
