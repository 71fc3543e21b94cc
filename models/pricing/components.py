"""A published price broken into the parts that make it, which add up to it exactly.

    energy          the energy price (clearing, marginal-cost or welfare price)
    congestion      energy x (congestion multiplier - 1), or a nodal congestion component
    time_of_use     (energy + congestion) x (time-of-use multiplier - 1)
    grid_fee        the network fee per kWh
    bound_adjustment  what clipping to [floor, cap] added or removed (0 unless clipped)
    total           the sum of the above, in that order: the published price
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from models.errors import InvalidInput
from models.pricing.orders import check_bounds
from models.pricing.strategies import TimeOfUse, _number, congestion_multiplier


@dataclass(frozen=True)
class PriceComponents:
    """The parts of one published price; ``total`` is their sum."""

    energy: float
    congestion: float
    time_of_use: float
    grid_fee: float
    bound_adjustment: float
    total: float

    def as_dict(self) -> dict[str, float]:
        """The components as a plain mapping (for reports and the audit log)."""
        return asdict(self)


def price_components(energy_price: float, *, congestion_level: float = 0.0,
                     nodal_congestion: float | None = None, ts: Any = None,
                     tou: TimeOfUse | None = None, grid_fee: float = 0.0,
                     floor: float = 0.05, cap: float = 0.50) -> PriceComponents:
    """Build the published price from its parts and return each part.

    Congestion comes either from ``congestion_level`` (multiplier 1 + 0.5 x level) or, when
    given, from ``nodal_congestion`` (currency/kWh, e.g. ``strategies.nodal_congestion`` of the
    dispatch LP's nodal prices). Time of use applies when ``ts`` is given.
    """
    check_bounds(floor, cap)
    energy = _number("energy_price", energy_price, low=0.0)
    if nodal_congestion is not None:
        if congestion_level:
            raise InvalidInput("give congestion_level or nodal_congestion, not both",
                               field="nodal_congestion", value=nodal_congestion)
        congestion = _number("nodal_congestion", nodal_congestion)
    else:
        congestion = energy * (congestion_multiplier(congestion_level) - 1.0)
    multiplier = 1.0 if ts is None else (tou or TimeOfUse()).multiplier(ts)
    if np.ndim(multiplier) != 0:
        raise InvalidInput("ts must be a single timestamp for one price", field="ts", value=ts)
    time_of_use = (energy + congestion) * (float(multiplier) - 1.0)
    fee = _number("grid_fee", grid_fee, low=0.0)
    raw = energy + congestion + time_of_use + fee
    adjustment = float(np.clip(raw, floor, cap)) - raw
    total = raw + adjustment  # the same left-to-right sum of the five parts
    while total > cap or total < floor:  # rounding can overshoot a bound by one ulp
        adjustment = float(np.nextafter(adjustment, -np.inf if total > cap else np.inf))
        total = raw + adjustment
    return PriceComponents(energy, congestion, time_of_use, fee, adjustment, total)
