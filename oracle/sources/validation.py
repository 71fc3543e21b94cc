"""Plausibility rules for readings that passed the schema: what a real meter cannot report.

Negative energy, more energy than the meter's rating allows, intervals that have not ended
yet, timestamps off the interval grid or outside the requested window, unknown meters, and
the same (meter, interval) twice with different values are quarantined with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from oracle.sources.schemas import MeterIn, ReadingIn, Rejected


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
class Checked:
    valid: list[ReadingIn] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


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
                   seen: DuplicateTracker | None = None) -> Checked:
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
    checked, accepted = Checked(), set()
    for row, reading in enumerate(rows):
        key = (reading.meter_id, reading.ts)
        problem = _problem(reading, meters.get(reading.meter_id), rules, now, window)
        if problem is None and len(versions[key]) > 1:
            problem = ("consumption_kwh,production_kwh",
                       (reading.consumption_kwh, reading.production_kwh),
                       f"duplicate of ({reading.meter_id}, {reading.ts.isoformat()}) with "
                       f"different values in the same page: {sorted(versions[key])}")
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
