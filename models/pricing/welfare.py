"""The welfare-optimal price from supply and demand curves, found exactly.

Curves are piecewise linear in price (quantity at each breakpoint price, linear in between,
flat outside). At price p the market trades Q(p) = min(D(p), S(p)); the short side is served in
full and the long side in merit order (highest bids, cheapest offers first), so

    consumer surplus  CS(p) = integral_p^cap   min(D(x), Q(p)) dx
    producer surplus  PS(p) = integral_floor^p min(S(x), Q(p)) dx
    grid stability    G(p)  = -balancing_cost x |S(p) - D(p)|

G is the local imbalance the main grid (or storage) must absorb at that price, valued at the
balancing cost per kWh: 0 when the market balances, falling linearly with the mismatch.
Willingness to pay above the cap counts as the cap. The objective is
w_cs CS + w_ps PS + w_g G (0.4, 0.4, 0.2 by default).

Exactness: on every interval between consecutive breakpoints - the curves' own breakpoints,
the prices where they cross, and the prices where one curve reaches a breakpoint quantity of
the other - every term is a quadratic in p. The optimiser fits that quadratic from three exact
evaluations per interval and compares the endpoints and interior vertices, so the maximum over
[floor, cap] is global, with no starting point and no iterations. Ties go to the lowest price.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from models.errors import InvalidInput
from models.pricing.orders import check_bounds
from models.pricing.strategies import _number

Curve: TypeAlias = pd.DataFrame | tuple[Sequence[float], Sequence[float]] | Mapping[float, float]
"""A curve: a frame with price and quantity_kwh, a (prices, quantities) pair or {price: qty}."""


@dataclass(frozen=True)
class WelfarePrice:
    """The chosen price and the objective's terms at it."""

    price: float
    objective: float
    consumer_surplus: float
    producer_surplus: float
    grid_stability: float
    volume_kwh: float
    imbalance_kwh: float


def _curve(name: str, curve: Curve, decreasing: bool) -> tuple[np.ndarray, np.ndarray]:
    """Validate a curve into (strictly increasing prices, monotone non-negative quantities)."""
    if isinstance(curve, pd.DataFrame):
        missing = [c for c in ("price", "quantity_kwh") if c not in curve.columns]
        if missing:
            raise InvalidInput(f"{name}: missing column(s) {', '.join(missing)}",
                               field=missing[0])
        prices, quantities = curve["price"], curve["quantity_kwh"]
    elif isinstance(curve, Mapping):
        prices, quantities = list(curve.keys()), list(curve.values())
    else:
        prices, quantities = curve
    xs = pd.to_numeric(pd.Series(list(prices)), errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(pd.Series(list(quantities)), errors="coerce").to_numpy(dtype=float)
    if len(xs) == 0 or len(xs) != len(ys):
        raise InvalidInput(f"{name}: needs one quantity per price and at least one point, got "
                           f"{len(xs)} prices and {len(ys)} quantities", field=name,
                           value=len(xs))
    checks = [
        ("price", xs, ~np.isfinite(xs), "must be a finite number"),
        ("quantity_kwh", ys, ~np.isfinite(ys) | (ys < 0), "must be a finite number >= 0"),
        ("price", xs, np.r_[False, np.diff(xs) <= 0], "must increase strictly"),
        ("quantity_kwh", ys, np.r_[False, np.diff(ys) > 0 if decreasing else np.diff(ys) < 0],
         "must not increase with price" if decreasing else "must not decrease with price"),
    ]
    for field, values, bad, problem in checks:
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InvalidInput(f"{name}: point {row}: {field} {problem}, got {values[row]!r}",
                               field=field, row=row, value=values[row])
    return xs, ys


def _integral_min(xs: np.ndarray, ys: np.ndarray, lo: float, hi: float, level: float) -> float:
    """Exact integral over [lo, hi] of min(curve(x), level) for a piecewise-linear curve."""
    if hi <= lo:
        return 0.0
    y0, y1 = ys[:-1], ys[1:]
    crosses = (y0 - level) * (y1 - level) < 0
    xc = xs[:-1][crosses] + (level - y0[crosses]) * np.diff(xs)[crosses] / (y1 - y0)[crosses]
    points = np.concatenate(([lo, hi], xs, xc))
    points = np.unique(points[(points >= lo) & (points <= hi)])
    values = np.minimum(np.interp(points, xs, ys), level)
    return float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(points)))


def _level_prices(xs: np.ndarray, ys: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Every price at which a piecewise-linear curve passes strictly through one of ``levels``."""
    y0, y1 = ys[:-1, None], ys[1:, None]
    crosses = (y0 - levels) * (y1 - levels) < 0
    seg, lvl = np.nonzero(crosses)
    return xs[seg] + (levels[lvl] - ys[seg]) * (xs[seg + 1] - xs[seg]) / (ys[seg + 1] - ys[seg])


@dataclass(frozen=True)
class _Problem:
    demand: tuple[np.ndarray, np.ndarray]
    supply: tuple[np.ndarray, np.ndarray]
    weights: tuple[float, float, float]
    balancing_cost: float
    floor: float
    cap: float

    def terms(self, p: float) -> tuple[float, float, float, float, float]:
        """(CS, PS, G, volume, imbalance) at price p."""
        d = float(np.interp(p, *self.demand))
        s = float(np.interp(p, *self.supply))
        q = min(d, s)
        cs = _integral_min(*self.demand, p, self.cap, q)
        ps = _integral_min(*self.supply, self.floor, p, q)
        return cs, ps, -self.balancing_cost * abs(s - d), q, s - d

    def objective(self, p: float) -> float:
        cs, ps, g, _, _ = self.terms(p)
        w_cs, w_ps, w_g = self.weights
        return w_cs * cs + w_ps * ps + w_g * g

    def breakpoints(self) -> np.ndarray:
        """Prices between which every term of the objective is one quadratic."""
        (dx, dy), (sx, sy) = self.demand, self.supply
        grid = np.unique(np.concatenate(([self.floor, self.cap], dx, sx)))
        grid = grid[(grid >= self.floor) & (grid <= self.cap)]
        gap = np.interp(grid, sx, sy) - np.interp(grid, dx, dy)
        g0, g1 = gap[:-1], gap[1:]
        turn = g0 * g1 < 0
        crossings = grid[:-1][turn] + g0[turn] * np.diff(grid)[turn] / (g0 - g1)[turn]
        d_levels = np.interp(grid, dx, dy)
        s_levels = np.interp(grid, sx, sy)
        extra = [crossings, _level_prices(dx, dy, s_levels), _level_prices(sx, sy, d_levels)]
        points = np.unique(np.concatenate([grid, *extra]))
        return points[(points >= self.floor) & (points <= self.cap)]


def _candidates(problem: _Problem) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints plus each interval's vertex where its quadratic peaks inside it."""
    points = problem.breakpoints()
    values = np.array([problem.objective(p) for p in points])
    extra_p, extra_v = [], []
    for u, v, fu, fv in zip(points[:-1], points[1:], values[:-1], values[1:], strict=True):
        fm = problem.objective((u + v) / 2)
        a = 2 * (fu - 2 * fm + fv)
        b = fv - fu - a
        if a < 0 and 0 < -b / (2 * a) < 1:
            p = u + (-b / (2 * a)) * (v - u)
            extra_p.append(p)
            extra_v.append(problem.objective(p))
    return np.r_[points, extra_p], np.r_[values, extra_v]


def welfare_optimal_price(demand: Curve, supply: Curve, *,
                          weights: tuple[float, float, float] = (0.4, 0.4, 0.2),
                          balancing_cost: float = 0.10, floor: float = 0.05,
                          cap: float = 0.50) -> WelfarePrice:
    """The price in [floor, cap] maximising weighted consumer, producer surplus and stability.

    ``demand`` and ``supply`` are curves (kWh at each price), e.g. from the demand and solar
    forecasts; see the module docstring for the terms and why the optimum is exact.
    """
    check_bounds(floor, cap)
    if len(weights) != 3:
        raise InvalidInput(f"weights must be (consumer, producer, stability), got {weights!r}",
                           field="weights", value=weights)
    w: Any = tuple(_number(f"weights[{i}]", x, low=0.0) for i, x in enumerate(weights))
    if sum(w) == 0:
        raise InvalidInput("weights must not all be zero", field="weights", value=weights)
    problem = _Problem(_curve("demand", demand, decreasing=True),
                       _curve("supply", supply, decreasing=False), w,
                       _number("balancing_cost", balancing_cost, low=0.0), floor, cap)
    prices, values = _candidates(problem)
    best = values.max()
    tied = values >= best - 1e-12 * max(1.0, abs(best))
    price = float(prices[tied].min())
    cs, ps, g, volume, imbalance = problem.terms(price)
    return WelfarePrice(price, problem.objective(price), cs, ps, g, volume, imbalance)
