"""Tariff rules: each a pure function of its inputs, with every parameter configurable.

- ``marginal_cost_price``: marginal cost plus a markup.
- ``TimeOfUse``: peak 17:00-21:00 x1.5, off-peak 22:00-06:00 x0.7, x1.0 otherwise.
- ``congestion_multiplier``: 1 + 0.5 x congestion level.
- ``supply_demand_price``: between the feed-in and retail tariffs by the supply-demand ratio.
- ``nodal_congestion``: the congestion component per node from nodal (LMP) prices, e.g. the
  duals of the dispatch LP; the seam between ``models.optimization`` and pricing.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.errors import InvalidInput


def _number(name: str, value: Any, *, low: float | None = None,
            high: float | None = None) -> float:
    """Check one scalar argument: a finite real, optionally inside [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(number := float(value)):
        raise InvalidInput(f"{name} must be a finite number, got {value!r}", field=name,
                           value=value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise InvalidInput(f"{name} must lie in [{low}, {high}], got {value!r}", field=name,
                           value=value)
    return number


def marginal_cost_price(marginal_cost: float, markup: float = 0.10, floor: float = 0.05,
                        cap: float = 0.50) -> float:
    """Marginal cost times (1 + markup), clipped to [floor, cap]."""
    cost = _number("marginal_cost", marginal_cost, low=0.0)
    rate = _number("markup", markup, low=-1.0)
    return float(np.clip(cost * (1.0 + rate), floor, cap))


def _hour_window(name: str, window: tuple[float, float]) -> tuple[float, float]:
    if len(window) != 2:
        raise InvalidInput(f"{name} must be (start_hour, end_hour), got {window!r}", field=name,
                           value=window)
    start = _number(f"{name}[0]", window[0], low=0, high=24)
    end = _number(f"{name}[1]", window[1], low=0, high=24)
    return start, end


def _in_window(hours: np.ndarray, window: tuple[float, float]) -> np.ndarray:
    """Half-open [start, end) in hours of day; wraps past midnight when start > end."""
    start, end = window
    if start <= end:
        return (hours >= start) & (hours < end)
    return (hours >= start) | (hours < end)


@dataclass(frozen=True)
class TimeOfUse:
    """Time-of-use multipliers: windows are half-open [start, end) hours of the local day.

    Defaults: peak 17:00-21:00 x1.5, off-peak 22:00-06:00 x0.7 (wrapping midnight), x1.0 in
    between. Timestamps are read in ``tz`` when given (tz-aware ones converted, naive ones taken
    as already local).
    """

    peak_hours: tuple[float, float] = (17, 21)
    offpeak_hours: tuple[float, float] = (22, 6)
    peak_multiplier: float = 1.5
    offpeak_multiplier: float = 0.7
    tz: str | None = None

    def _validate(self) -> None:
        peak = _hour_window("peak_hours", self.peak_hours)
        offpeak = _hour_window("offpeak_hours", self.offpeak_hours)
        _number("peak_multiplier", self.peak_multiplier, low=0.0)
        _number("offpeak_multiplier", self.offpeak_multiplier, low=0.0)
        minutes = np.arange(0, 24, 1 / 60)
        if (_in_window(minutes, peak) & _in_window(minutes, offpeak)).any():
            raise InvalidInput(f"peak_hours {peak} and offpeak_hours {offpeak} overlap",
                               field="offpeak_hours", value=self.offpeak_hours)

    def multiplier(self, ts: Any) -> float | np.ndarray:
        """The multiplier at ``ts``: one timestamp gives a float, many give an array."""
        self._validate()
        scalar = np.ndim(ts) == 0
        stamps = pd.DatetimeIndex(pd.to_datetime([ts] if scalar else list(ts), errors="coerce"))
        if stamps.isna().any():
            pos = int(np.flatnonzero(stamps.isna())[0])
            value = ts if scalar else list(ts)[pos]
            raise InvalidInput(f"ts: row {pos} is not a timestamp, got {value!r}", field="ts",
                               row=pos, value=value)
        if self.tz is not None and stamps.tz is not None:
            stamps = stamps.tz_convert(self.tz)
        hours = (stamps.hour + stamps.minute / 60 + stamps.second / 3600).to_numpy(dtype=float)
        out = np.ones(len(hours))
        out[_in_window(hours, self.peak_hours)] = self.peak_multiplier
        out[_in_window(hours, self.offpeak_hours)] = self.offpeak_multiplier
        return float(out[0]) if scalar else out

    def price(self, base_price: float, ts: Any) -> float | np.ndarray:
        """Base price times the multiplier at ``ts``."""
        return _number("base_price", base_price, low=0.0) * self.multiplier(ts)


def time_of_use_price(base_price: float, ts: Any, tou: TimeOfUse | None = None
                      ) -> float | np.ndarray:
    """Base price scaled by the time-of-use multiplier (default windows, see ``TimeOfUse``)."""
    return (tou or TimeOfUse()).price(base_price, ts)


def congestion_multiplier(level: float, sensitivity: float = 0.5) -> float:
    """1 + sensitivity x congestion level; the level is line loading in [0, 1] (1 = at limit)."""
    load = _number("congestion_level", level, low=0.0, high=1.0)
    return 1.0 + _number("sensitivity", sensitivity, low=0.0) * load


def supply_demand_price(supply_kwh: float, demand_kwh: float, feed_in_tariff: float,
                        retail_tariff: float) -> float:
    """Peer-to-peer price between the feed-in and the retail tariff by the supply-demand balance.

    price = feed_in + (retail - feed_in) x D / (S + D): scarce supply (S << D) tends to the
    retail tariff, a glut (S >> D) to the feed-in tariff, a balanced market (S = D) to their
    midpoint. With no supply and no demand the midpoint is returned.
    """
    supply = _number("supply_kwh", supply_kwh, low=0.0)
    demand = _number("demand_kwh", demand_kwh, low=0.0)
    feed_in = _number("feed_in_tariff", feed_in_tariff, low=0.0)
    retail = _number("retail_tariff", retail_tariff, low=0.0)
    if feed_in > retail:
        raise InvalidInput(f"feed_in_tariff ({feed_in}) must not exceed retail_tariff "
                           f"({retail})", field="feed_in_tariff", value=feed_in)
    share = 0.5 if supply + demand == 0 else demand / (supply + demand)
    return feed_in + (retail - feed_in) * share


def nodal_congestion(nodal_prices: Mapping[Any, float], reference_price: float
                     ) -> dict[Any, float]:
    """Congestion component per node: nodal price minus the reference (uncongested) price.

    ``nodal_prices`` are locational marginal prices, e.g. the duals of the nodal balance
    constraints of the dispatch LP; the reference is the price at the reference (slack) bus
    or the system energy price. Positive where congestion makes energy dearer.
    """
    reference = _number("reference_price", reference_price)
    out: dict[Any, float] = {}
    for node, price in nodal_prices.items():
        if isinstance(price, bool) or not isinstance(price, numbers.Real) \
                or not np.isfinite(price):
            raise InvalidInput(f"nodal_prices: node {node!r} price must be a finite number, "
                               f"got {price!r}", field="nodal_prices", row=node, value=price)
        out[node] = float(price) - reference
    return out
