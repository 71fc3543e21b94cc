"""The forecast stage: zone demand and solar for the next 24 h from T (store -> models -> store),
and the live error of the one-step forecasts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from oracle.errors import SourceDataInvalid
from oracle.jobs.shared import FORECAST_HOURS, HISTORY, hourly
from oracle.model_errors import model_errors
from oracle.store import results
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope
from oracle.store.readings import totals_frame
from oracle.store.tables import ForecastRow

if TYPE_CHECKING:
    from models.forecasting import Forecaster
    from oracle.app import Application


def forecaster_for(app: Application) -> Forecaster:
    """The daemon's forecaster: the configured model, told the market's site when it is set."""
    from models.forecasting import Forecaster  # imported late: keeps `oracle --help` fast
    from models.forecasting.daylight import Site

    settings = app.settings.models
    site = None
    if settings.site_latitude is not None and settings.site_longitude is not None:
        site = Site(settings.site_latitude, settings.site_longitude)  # the index is in UTC
    return Forecaster(model=settings.forecast_model, site=site)


@model_errors("forecast", unexpected=True)
def forecast(app: Application, start: datetime) -> dict[str, Any]:
    """Zone demand and solar production for the next 24 h, with intervals."""
    with session_scope(app.engine) as session:
        frame = totals_frame(session, start - HISTORY, start)
    if frame.empty:
        raise SourceDataInvalid(f"forecast: no readings before {start:%Y-%m-%d %H:%M}",
                                field="readings", value=0)
    out: dict[str, Any] = {}
    with session_scope(app.engine) as session:
        for target, column in (("demand", "consumption_kwh"), ("solar", "production_kwh")):
            y = hourly(frame, column, start - HISTORY, start).dropna()
            y.index.freq = "h"  # type: ignore[misc]
            model = app.settings.models.forecast_model
            prediction = forecaster_for(app).fit(y).predict(FORECAST_HOURS)
            if target == "solar":
                prediction = prediction.clip(lower=0.0)
            results.save_forecast(session, target=target, entity_id=app.settings.pricing.zone,
                                  origin=start, frame=prediction, model=model)
            out[f"{target}_next_kwh"] = float(prediction["mean"].iloc[0])
        weather = app.readiness.degraded.get("weather")
        if weather is not None:  # the solar forecast is made from production history alone
            out["degraded"] = f"{weather}; solar forecast without weather input"
        append_entry(session, "forecast", {"origin": start, **out}, ref=f"forecast:{start:%Y-%m-%dT%H:%MZ}")
    return out


def one_step_errors(app: Application, start: datetime, window: timedelta = timedelta(days=2)
                    ) -> pd.DataFrame:
    """The one-step zone-demand forecasts whose hour has been observed: forecast, actual."""
    with session_scope(app.engine) as session:
        rows = session.exec(_first_steps(start, window)).all()
        frame = totals_frame(session, start - window, start)
    if not rows or frame.empty:
        return pd.DataFrame(columns=["forecast", "actual"])
    actual = frame.set_index("ts")["consumption_kwh"]
    stamps = [pd.Timestamp(r.ts).tz_localize(UTC) if r.ts.tzinfo is None else pd.Timestamp(r.ts)
              for r in rows]
    pairs = pd.DataFrame({"forecast": [r.mean for r in rows]}, index=pd.DatetimeIndex(stamps))
    pairs["actual"] = actual.reindex(pairs.index)
    return pairs.dropna()


def forecast_error(app: Application, start: datetime) -> float | None:
    """MAPE (%) of the one-step zone-demand forecasts observed so far (past two days)."""
    pairs = one_step_errors(app, start)
    pairs = pairs[pairs["actual"] > 0]
    if pairs.empty:
        return None
    return 100 * float(((pairs["forecast"] - pairs["actual"]).abs() / pairs["actual"]).mean())


def _first_steps(start: datetime, window: timedelta) -> Any:
    from sqlmodel import col, select

    return select(ForecastRow).where(col(ForecastRow.target) == "demand",
                                     col(ForecastRow.origin) == col(ForecastRow.ts),
                                     col(ForecastRow.ts) < start,
                                     col(ForecastRow.ts) >= start - window)
