"""Plausibility and referential rules for rows that passed the schema.

Readings: negative energy, more energy than the meter's rating allows, intervals that have not
ended yet, timestamps off the interval grid or outside the requested window, unknown meters,
and the same (meter, interval) twice with different values. Meters: nodes the grid does not
have, ids listed twice with different values. Orders: unknown meters or nodes, a node that is
not the meter's, ids listed twice with different values or already used for another interval.
Each is quarantined with its reason; nobody can tell which of two versions is right, so no
version of a conflicting key wins.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar

from pydantic import BaseModel

from oracle.sources.schemas import MeterIn, OrderIn, ReadingIn, Rejected

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class PlausibilityRules:
    """Limits a reading must respect; the defaults suit hourly household meters."""

    interval_s: int = 3600
    max_import_kw: float = 60.0  # a large three-phase household connection
    pv_margin: float = 1.25  # production may exceed kWp x hours by this factor (cold, clear sky)
    clock_skew_s: float = 120.0


@dataclass
class DuplicateTracker:
    """Values seen per (meter, ts) within one ingestion pass, across pages."""

    values: dict[tuple[str, datetime], tuple[float, float]] = field(default_factory=dict)

    def conflicts(self, reading: ReadingIn) -> tuple[float, float] | None:
        """The earlier values if this key was seen with different ones, else None."""
        key = (reading.meter_id, reading.ts)
        value = (reading.consumption_kwh, reading.production_kwh)
        earlier = self.values.setdefault(key, value)
        return earlier if earlier != value else None


@dataclass
class Checked(Generic[M]):
    valid: list[M] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def _conflicting(rows: Sequence[M], key: Callable[[M], Hashable]) -> set[Hashable]:
    """Keys that arrive in ``rows`` with more than one version."""
    versions: dict[Hashable, M] = {}
    conflicts = set()
    for row in rows:
        earlier = versions.setdefault(key(row), row)
        if earlier != row:
            conflicts.add(key(row))
    return conflicts


def _reject(reading: ReadingIn, row: int, field_name: str, value: object,
            reason: str) -> Rejected:
    return Rejected(source="readings", row=row, row_key=f"{reading.meter_id}|{reading.ts.isoformat()}",
                    field=field_name, value=value, reason=reason,
                    payload=reading.model_dump(mode="json"))


def _problem(reading: ReadingIn, meter: MeterIn | None, rules: PlausibilityRules,
             now: datetime, window: tuple[datetime, datetime] | None
             ) -> tuple[str, object, str] | None:
    """(field, value, reason) of the first rule the reading breaks, or None."""
    hours = rules.interval_s / 3600
    if meter is None:
        return "meter_id", reading.meter_id, "unknown meter (not in /api/v1/meters)"
    for name in ("consumption_kwh", "production_kwh"):
        value = getattr(reading, name)
        if value < 0:
            return name, value, f"negative energy: {name} = {value}"
    if int(reading.ts.timestamp()) % rules.interval_s or reading.ts.microsecond:
        return "ts", reading.ts.isoformat(), (
            f"off the {rules.interval_s} s interval grid: {reading.ts.isoformat()}")
    if reading.ts + timedelta(seconds=rules.interval_s - rules.clock_skew_s) > now:
        return "ts", reading.ts.isoformat(), (
            f"interval {reading.ts.isoformat()} has not ended at {now.isoformat()} (future)")
    if window is not None and not window[0] <= reading.ts < window[1]:
        return "ts", reading.ts.isoformat(), (
            f"outside the requested window [{window[0].isoformat()}, {window[1].isoformat()})")
    max_import = rules.max_import_kw * hours
    if reading.consumption_kwh > max_import:
        return "consumption_kwh", reading.consumption_kwh, (
            f"consumption {reading.consumption_kwh} kWh exceeds the connection's "
            f"{max_import:g} kWh per interval")
    max_pv = meter.pv_kwp * hours * rules.pv_margin
    if reading.production_kwh > max_pv:
        return "production_kwh", reading.production_kwh, (
            f"production {reading.production_kwh} kWh exceeds {max_pv:g} kWh "
            f"({meter.pv_kwp} kWp x {hours:g} h x {rules.pv_margin})")
    return None


def check_readings(readings: Iterable[ReadingIn], meters: Mapping[str, MeterIn], *,
                   rules: PlausibilityRules | None = None, now: datetime | None = None,
                   window: tuple[datetime, datetime] | None = None,
                   seen: DuplicateTracker | None = None) -> Checked[ReadingIn]:
    """Split schema-valid readings into plausible ones and quarantined ones.

    Exact repeats of a row are kept once; every version of a key that arrives with
    different values in the same call is quarantined (nobody can tell which is right), and
    so is a later version that disagrees with one accepted earlier in the pass (``seen``).
    """
    rules = rules or PlausibilityRules()
    now = now or datetime.now(UTC)
    seen = seen if seen is not None else DuplicateTracker()
    rows = list(readings)
    versions: dict[tuple[str, datetime], set[tuple[float, float]]] = {}
    for r in rows:
        versions.setdefault((r.meter_id, r.ts), set()).add((r.consumption_kwh, r.production_kwh))
    checked: Checked[ReadingIn] = Checked()
    accepted = set()
    for row, reading in enumerate(rows):
        key = (reading.meter_id, reading.ts)
        problem = _problem(reading, meters.get(reading.meter_id), rules, now, window)
        if problem is None and len(versions[key]) > 1:
            shown = sorted(versions[key])[:5]
            problem = ("consumption_kwh,production_kwh",
                       (reading.consumption_kwh, reading.production_kwh),
                       f"duplicate of ({reading.meter_id}, {reading.ts.isoformat()}) with "
                       f"different values in the same page: {shown}")
        if problem is None:
            earlier = seen.conflicts(reading)
            if earlier is not None:
                problem = ("consumption_kwh,production_kwh",
                           (reading.consumption_kwh, reading.production_kwh),
                           f"duplicate of ({reading.meter_id}, {reading.ts.isoformat()}) with "
                           f"different values: {earlier} accepted earlier in this pass")
        if problem is not None:
            checked.rejected.append(_reject(reading, row, *problem))
        elif key not in accepted:
            accepted.add(key)
            checked.valid.append(reading)
    return checked


# ---------------------------------------------------------------- meters and orders


def _rejected(source: str, row: int, key: str, field_name: str, value: object, reason: str,
              model: BaseModel) -> Rejected:
    return Rejected(source=source, row=row, row_key=key, field=field_name, value=value,
                    reason=reason, payload=model.model_dump(mode="json"))


def check_meters(meters: Sequence[MeterIn], nodes: set[str] | None) -> Checked[MeterIn]:
    """Meters on nodes the grid does not list (when the grid is known) and ids listed twice
    with different values are quarantined; exact repeats are kept once."""
    conflicts = _conflicting(meters, lambda m: m.meter_id)
    checked: Checked[MeterIn] = Checked()
    kept: set[str] = set()
    for row, meter in enumerate(meters):
        if meter.meter_id in conflicts:
            checked.rejected.append(_rejected(
                "meters", row, meter.meter_id, "meter_id", meter.meter_id,
                f"meter {meter.meter_id} is listed more than once with different values", meter))
        elif nodes is not None and meter.node_id not in nodes:
            checked.rejected.append(_rejected(
                "meters", row, meter.meter_id, "node_id", meter.node_id,
                f"node {meter.node_id} of meter {meter.meter_id} is not in /api/v1/grid", meter))
        elif meter.meter_id not in kept:
            kept.add(meter.meter_id)
            checked.valid.append(meter)
    return checked


def _order_problem(order: OrderIn, meters: Mapping[str, MeterIn], nodes: set[str] | None,
                   stored: Mapping[str, datetime], interval_start: datetime
                   ) -> tuple[str, object, str] | None:
    meter = meters.get(order.meter_id)
    if meter is None:
        return "meter_id", order.meter_id, f"unknown meter {order.meter_id} (not in /api/v1/meters)"
    if nodes is not None and order.node_id not in nodes:
        return "node_id", order.node_id, f"node {order.node_id} is not in /api/v1/grid"
    if order.node_id != meter.node_id:
        return "node_id", order.node_id, (
            f"node {order.node_id} is not meter {order.meter_id}'s node {meter.node_id}")
    earlier = stored.get(order.order_id)
    if earlier is not None and earlier != interval_start:
        return "order_id", order.order_id, (
            f"order {order.order_id} is already stored for the interval {earlier.isoformat()}")
    return None


def check_orders(orders: Sequence[OrderIn], meters: Mapping[str, MeterIn],
                 nodes: set[str] | None, *, interval_start: datetime,
                 stored: Mapping[str, datetime] | None = None) -> Checked[OrderIn]:
    """Orders for unknown meters or nodes, on a node that is not their meter's, listed twice
    with different values, or reusing the id of an order stored for another interval
    (``stored``: order id -> its interval) are quarantined."""
    conflicts = _conflicting(orders, lambda o: o.order_id)
    checked: Checked[OrderIn] = Checked()
    kept: set[str] = set()
    for row, order in enumerate(orders):
        problem = _order_problem(order, meters, nodes, stored or {}, interval_start)
        if problem is None and order.order_id in conflicts:
            problem = ("order_id", order.order_id,
                       f"order {order.order_id} is listed more than once with different values")
        if problem is not None:
            checked.rejected.append(_rejected("orders", row, order.order_id, *problem, order))
        elif order.order_id not in kept:
            kept.add(order.order_id)
            checked.valid.append(order)
    return checked


def known_meters(fetched: Sequence[MeterIn], stored: Sequence[MeterIn]
                 ) -> tuple[dict[str, MeterIn], str | None]:
    """The meters to check readings against, and why the backend's list was not enough.

    An empty list, or one that has lost more than half of the stored meters, is a backend
    fault rather than a decommissioning: the stored meters stay known (updated by the list).
    """
    meters = {m.meter_id: m for m in fetched}
    if not stored or (fetched and len(fetched) * 2 >= len(stored)):
        return meters, None
    reason = ("the backend listed no meters" if not fetched else
              f"the backend listed {len(fetched)} meters of the {len(stored)} stored")
    return {**{m.meter_id: m for m in stored}, **meters}, (
        f"{reason}; checking readings against the {len(stored)} stored meters")
