"""Conformal prediction intervals for PV production, by sun-elevation bin, zero at night.

Out-of-sample residuals (observed − forecast, from refits that did not see their days) are
divided by the interval's clear-sky production, so one bin pools low-sun and high-sun errors
on one scale, and split by sun elevation (``EDGES``). A bin's bounds are the finite-sample
conformal quantiles ``ceil((n + 1) q) / n`` of its scaled residuals at ``(1 − level) / 2`` and
``(1 + level) / 2``; a bin with fewer than ``min_bin`` residuals takes the pooled ones. Bounds
are clipped to 0..AC limit; where the interval is dark, mean and bounds are exactly 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.errors import InvalidInput
from models.forecasting.conformal import check_levels

EDGES = (0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 90.1)


@dataclass(frozen=True)
class ElevationConformal:
    """Scaled residual quantiles (lower, upper) per level and elevation bin."""

    levels: tuple[float, ...]
    lower: dict[float, np.ndarray]
    upper: dict[float, np.ndarray]
    counts: np.ndarray

    def bounds(self, mean: np.ndarray, scale: np.ndarray, elevation: np.ndarray,
               dark: np.ndarray, limit: float, levels: Sequence[float]) -> dict[str, np.ndarray]:
        """``lo_<level>`` / ``hi_<level>`` around ``mean``: 0 where dark, within 0..limit."""
        bins = bin_of(elevation)
        out: dict[str, np.ndarray] = {}
        for level in check_levels(levels):
            if level not in self.lower:
                raise InvalidInput(f"level {level:g} was not calibrated; fit with it in `level` "
                                   f"(calibrated: {list(self.levels)})", field="level",
                                   value=level)
            lo = np.clip(mean + self.lower[level][bins] * scale, 0.0, limit)
            hi = np.clip(mean + self.upper[level][bins] * scale, 0.0, limit)
            name = f"{level:g}"
            out[f"lo_{name}"] = np.where(dark, 0.0, np.minimum(lo, mean))
            out[f"hi_{name}"] = np.where(dark, 0.0, np.maximum(hi, mean))
        return out


def bin_of(elevation: np.ndarray) -> np.ndarray:
    """Elevation bin index (the sun below the horizon goes in the lowest bin)."""
    return np.clip(np.searchsorted(EDGES, np.nan_to_num(elevation), side="right") - 1, 0,
                   len(EDGES) - 2)


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
              levels: Sequence[float], min_bin: int = 50) -> ElevationConformal:
    """Quantiles of ``residual / scale`` per elevation bin for each level."""
    ok = np.isfinite(residual) & np.isfinite(scale) & (scale > 0)
    if ok.sum() < 2:
        raise InvalidInput(f"intervals need out-of-sample residuals in daylight; got "
                           f"{int(ok.sum())}", field="production", value=int(ok.sum()))
    scaled = residual[ok] / scale[ok]
    bins = bin_of(elevation[ok])
    n_bins = len(EDGES) - 1
    counts = np.bincount(bins, minlength=n_bins)
    checked = check_levels(levels)
    lower, upper = {}, {}
    for level in checked:
        a = (1 - level / 100.0) / 2
        pooled = (conformal_quantile(scaled, a), conformal_quantile(scaled, 1 - a))
        lo, hi = np.full(n_bins, pooled[0]), np.full(n_bins, pooled[1])
        for b in range(n_bins):
            if counts[b] >= min_bin:
                lo[b] = conformal_quantile(scaled[bins == b], a)
                hi[b] = conformal_quantile(scaled[bins == b], 1 - a)
        lower[level], upper[level] = lo, hi
    return ElevationConformal(checked, lower, upper, counts)
