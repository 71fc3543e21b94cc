"""A member's own answer for a round, from its own store: the clearing price it computed for
the interval (or, when its price stage has not run yet, the clearing of its stored orders) and
its forward curve from its stored forecasts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from oracle.config import PricingSettings
from oracle.store import results
from oracle.store.engine import session_scope


@dataclass(frozen=True)
class LocalAnswer:
    price: float | None  # None: no trade in the interval
    curve: tuple[float, ...]


class StoredView:
    """The member's view of an interval; ``curve`` computes its forward curve (the jobs'
    pricing of its forecasts), injected so this module needs no models."""

    def __init__(self, engine: Engine, pricing: PricingSettings,
                 curve: Callable[[datetime], list[float]]) -> None:
        self.engine = engine
        self.pricing = pricing
        self.curve = curve

    def answer(self, interval_start: datetime) -> LocalAnswer | None:
        """None when this member holds no data for the interval."""
        with session_scope(self.engine) as session:
            stored = results.price_round(session, self.pricing.zone, interval_start)
            orders = results.orders_frame(session, interval_start) if stored is None else None
        if stored is not None:
            price = stored.price
        else:
            assert orders is not None
            if orders.empty:
                return None
            from models.pricing import clear_market, split_orders

            bids, offers = split_orders(orders)
            p = self.pricing
            price = clear_market(bids, offers, rule=p.rule, floor=p.floor, cap=p.cap).price
        return LocalAnswer(price=price, curve=tuple(self.curve(interval_start)))
