"""The forecast stage: zone demand and solar for the next 24 h from T (store -> models -> store),
and the live error of the one-step forecasts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy.engine import Engine

from oracle.config import ModelSettings
from oracle.errors import SourceDataInvalid
from oracle.executor import Executor
from oracle.jobs import calibration
from oracle.jobs.meter_forecasts import MODEL as METERS_MODEL
from oracle.jobs.meter_forecasts import due, fit_meters, save_meter_forecasts
from oracle.jobs.shared import FORECAST_HOURS, HISTORY, hourly
from oracle.model_errors import model_errors
from oracle.readiness import Readiness
from oracle.sources.weather import location_key, weather_point
from oracle.store import results
from oracle.store import solar as solar_repo
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope
from oracle.store.readings import totals_frame
from oracle.telemetry import Metrics

if TYPE_CHECKING:
    from models.forecasting import Forecaster
    from models.solar.fleet import FleetForecast


@dataclass(frozen=True)
class ForecastParts:
    """What the forecast stage uses: the store, ``[models]``, the zone, the readiness (what
    the tick runs without), the metrics (live calibration) and the executor with its group
    size (per-meter demand forecasts)."""

    engine: Engine
    models: ModelSettings
    zone: str  # pricing.zone
    readiness: Readiness
    metrics: Metrics
    executor: Executor
    group_size: int  # compute.group_size


def forecaster_for(settings: ModelSettings) -> Forecaster:
    """The daemon's forecaster: the configured model, told the market's site when it is set."""
    from models.forecasting import Forecaster  # imported late: keeps `oracle --help` fast
    from models.forecasting.daylight import Site

    site = None
    if settings.site_latitude is not None and settings.site_longitude is not None:
        site = Site(settings.site_latitude, settings.site_longitude)  # the index is in UTC
    return Forecaster(model=settings.forecast_model, site=site)


@model_errors("forecast", unexpected=True)
def forecast(parts: ForecastParts, start: datetime) -> dict[str, Any]:
    """Zone demand and solar production for the next 24 h, with intervals, and (every
    ``models.demand_meters_every_h``) each meter's demand. Every model is fitted before the
    write transaction opens; it only calibrates, reconciles and stores."""
    with session_scope(parts.engine) as session:
        frame = totals_frame(session, start - HISTORY, start)
        newest_meters = results.newest_origin(session, target="demand", model=METERS_MODEL)
    if frame.empty:
        raise SourceDataInvalid(f"forecast: no readings before {start:%Y-%m-%d %H:%M}",
                                field="readings", value=0)
    out: dict[str, Any] = {}
    fleet, why_not = solar_fleet(parts, start)
    raw: dict[str, pd.DataFrame] = {}
    for target, column in (("demand", "consumption_kwh"), ("solar", "production_kwh")):
        if target == "solar" and fleet is not None:
            continue
        y = hourly(frame, column, start - HISTORY, start).dropna()
        y.index.freq = "h"  # type: ignore[misc]
        raw[target] = forecaster_for(parts.models).fit(y).predict(FORECAST_HOURS)
    held = due(newest_meters, start, parts.models.demand_meters_every_h)
    fits = None if held is not None else fit_meters(
        parts.engine, parts.executor, start - HISTORY, start, horizon=FORECAST_HOURS,
        group_size=parts.group_size, max_meters=parts.models.demand_meters_max_meters)
    with session_scope(parts.engine) as session:
        for target in ("demand", "solar"):
            model = parts.models.forecast_model
            if target == "solar" and fleet is not None:
                prediction, model = fleet.zone, SOLAR_FLEET_MODEL
                for meter_id, meter_frame in fleet.meters.items():
                    results.save_forecast(session, target="solar", entity_id=meter_id,
                                          origin=start, frame=meter_frame, model=model)
                out["solar_meters"] = len(fleet.meters)
                out["solar_meters_learned"] = sum(fleet.learned.values())
            else:
                prediction = raw[target]
            if target == "solar":
                prediction = prediction.clip(lower=0.0)
            else:  # live calibration: learn from what arrived, adjust, state saved alongside
                prediction, out["calibration"] = calibration.calibrated(
                    session, zone=parts.zone, start=start, raw=prediction)
            results.save_forecast(session, target=target, entity_id=parts.zone,
                                  origin=start, frame=prediction, model=model)
            if target == "demand":  # each meter's, scaled to add up to the zone's
                out.update({"demand_meters": 0, "demand_meters_held": held} if fits is None
                           else save_meter_forecasts(session, fits, origin=start,
                                                     zone=prediction))
            out[f"{target}_next_kwh"] = float(prediction["mean"].iloc[0])
        weather = parts.readiness.degraded.get("weather")
        if fleet is None and why_not is not None:
            out["solar_model"] = f"{parts.models.forecast_model}: {why_not}"
        if weather is not None:
            out["degraded"] = (f"{weather}; solar forecast without weather input"
                               if fleet is None else  # made from production history alone
                               f"{weather}; solar forecast from the last stored weather forecast")
        out["live"] = calibration.live_scores(session, zone=parts.zone, until=start)
        calibration.export(parts.metrics, out["live"], out["calibration"])
        append_entry(session, "forecast", {"origin": start, **out}, ref=f"forecast:{start:%Y-%m-%dT%H:%MZ}")
    return out


SOLAR_FLEET_MODEL = "solar_fleet"
WEATHER_STEP = timedelta(hours=1)  # stored weather is hourly, each value the mean of the hour ending at its stamp


def solar_fleet(parts: ForecastParts, start: datetime) -> tuple[FleetForecast | None, str | None]:
    """Per-prosumer PV forecasts for the 24 h from ``start`` and the zone as their sum.

    Every PV meter is forecast from its own production history and the stored weather at its
    place (``models.solar.fleet``), as the daemon knew it (``oracle.store.solar``'s rule): the
    next 24 h from the newest forecast issue made by ``start``; each history hour from the
    newest issue made by that hour's start, so the fit learns from the weather it will predict
    from, not from the later observation. History hours no issue covers fall back to the
    observation; the meters' notes and the audit log (``forecast.solar_weather``) say how many.
    Returns ``(None, reason)`` when that cannot be done for every PV meter (no PV meters, a
    meter without a place, weather missing for the next 24 h): the zone's solar is then
    forecast from its production history alone, as before.
    """
    from models.solar.fleet import PVMeter, forecast_fleet

    since, until = start - HISTORY, start + timedelta(hours=FORECAST_HOURS)
    with session_scope(parts.engine) as session:
        meters = solar_repo.pv_meters(session)
        if meters.empty:
            return None, "no meter has PV"
        limit = parts.models.solar_fleet_max_meters
        if len(meters) > limit:
            return None, (f"{len(meters)} PV meters exceed models.solar_fleet_max_meters "
                          f"({limit}): per-meter solar forecasts are off")
        unplaced = meters[meters["lat"].isna() | meters["lon"].isna()]
        if not unplaced.empty:
            return None, f"meter {unplaced['meter_id'].iloc[0]} has no lat/lon"
        production = solar_repo.production_by_meter(session, list(meters["meter_id"]), since,
                                                     start)
        weather: dict[str, pd.DataFrame] = {}
        for lat, lon in {weather_point(a, b) for a, b in zip(meters["lat"], meters["lon"],
                                                               strict=True)}:
            key = location_key(lat, lon)
            weather[key] = solar_repo.weather_as_known(session, key, since, until, start)
    labels = pd.date_range(start + WEATHER_STEP, until, freq=WEATHER_STEP, tz=UTC)
    fleet_in, sources = [], {}
    for row in meters.itertuples(index=False):
        key = location_key(*weather_point(row.lat, row.lon))
        wx = weather[key]
        future = wx.reindex(labels)
        if wx.empty or future["shortwave_radiation"].isna().any():
            return None, f"no stored weather forecast at {key} for the next {FORECAST_HOURS} h"
        past = wx.loc[wx.index <= start].dropna(subset=["shortwave_radiation"])
        sources[key] = _weather_sources(past)
        # a reading is stamped at its interval's start, the weather at its hour's end
        kwh = production[row.meter_id] if row.meter_id in production else pd.Series(dtype=float)
        history = pd.Series(kwh.to_numpy(), index=kwh.index + WEATHER_STEP).reindex(past.index)
        fleet_in.append(PVMeter(row.meter_id, float(row.pv_kwp), float(row.lat), float(row.lon),
                                history, past.drop(columns="issued_at"),
                                future.drop(columns="issued_at")))
    fleet = forecast_fleet(fleet_in)
    for meter in fleet_in:
        issued, observed = sources[location_key(*weather_point(meter.lat, meter.lon))]
        fleet.notes[meter.meter_id] += (f"; trained on {issued} h of forecast issues and "
                                        f"{observed} h of observed weather (no issue stored)")
    _audit_weather_fallback(parts.engine, start, sources)
    fleet.zone.index = fleet.zone.index - WEATHER_STEP
    for frame in fleet.meters.values():
        frame.index = frame.index - WEATHER_STEP
    return fleet, None


def _weather_sources(past: pd.DataFrame) -> tuple[int, int]:
    """History hours trained on a forecast issue, and on the observation (no issue stored)."""
    observed = int(past["issued_at"].isna().sum())
    return len(past) - observed, observed


def _audit_weather_fallback(engine: Engine, start: datetime,
                            sources: dict[str, tuple[int, int]]) -> None:
    """One audit entry when some history hours had no stored forecast issue."""
    fallback = {key: {"issue_hours": issued, "observed_hours": observed}
                for key, (issued, observed) in sorted(sources.items()) if observed}
    if not fallback:
        return
    with session_scope(engine) as session:
        append_entry(session, "forecast.solar_weather",
                     {"origin": start, "rule": "no forecast issue stored for these history "
                      "hours: the fit used the observed weather", "locations": fallback},
                     ref=f"forecast:{start:%Y-%m-%dT%H:%MZ}")


def one_step_errors(engine: Engine, zone: str, start: datetime, window: timedelta = timedelta(days=2)
                    ) -> pd.DataFrame:
    """The one-step zone-demand forecasts whose hour has been observed: forecast, actual."""
    with session_scope(engine) as session:
        rows = results.first_step_forecasts(session, target="demand", entity_id=zone,
                                            since=start - window, until=start)
        frame = totals_frame(session, start - window, start)
    if not rows or frame.empty:
        return pd.DataFrame(columns=["forecast", "actual"])
    actual = frame.set_index("ts")["consumption_kwh"]
    stamps = [pd.Timestamp(r.ts).tz_localize(UTC) if r.ts.tzinfo is None else pd.Timestamp(r.ts)
              for r in rows]
    pairs = pd.DataFrame({"forecast": [r.mean for r in rows]}, index=pd.DatetimeIndex(stamps))
    pairs["actual"] = actual.reindex(pairs.index)
    return pairs.dropna()


def forecast_error(engine: Engine, zone: str, start: datetime) -> float | None:
    """MAPE (%) of the one-step zone-demand forecasts observed so far (past two days)."""
    pairs = one_step_errors(engine, zone, start)
    pairs = pairs[pairs["actual"] > 0]
    if pairs.empty:
        return None
    return 100 * float(((pairs["forecast"] - pairs["actual"]).abs() / pairs["actual"]).mean())
