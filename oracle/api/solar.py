"""POST /forecast/solar: PV production for a site from weather (``models.solar``).

The forecast covers the first ``horizon`` weather rows after the end of the history (or, with no
history, the first ``horizon`` rows). With a production history the physics model's learned
correction is fitted on it (the champion's hyperparameters when one is registered); without one
the physics model answers alone, and the response says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from oracle.api import compute
from oracle.api.schemas import SolarForecastRequest
from oracle.api.service import Job, Models, Rejected, refit_copy, series_of
from oracle.limits import Limits, check_at_most


def weather_frame(request: SolarForecastRequest) -> pd.DataFrame:
    """The request's weather rows as a UTC-indexed frame with Open-Meteo column names."""
    rows = [w.model_dump() for w in request.weather]
    frame = pd.DataFrame(rows).set_index("ts")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index, utc=True)).as_unit("ns")
    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        raise Rejected(422, ("weather",), "weather timestamps must be strictly increasing",
                       "invalid_input")
    return frame.dropna(axis=1, how="all")


def _split(request: SolarForecastRequest, weather: pd.DataFrame,
           history: pd.Series | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    past = weather.iloc[:0] if history is None else weather.loc[weather.index <= history.index[-1]]
    future = weather.loc[weather.index > past.index[-1]] if len(past) else weather
    if len(future) < request.horizon:
        raise Rejected(422, ("weather",), f"weather covers {len(future)} intervals after the "
                       f"history; the horizon needs {request.horizon}", "invalid_input")
    if history is not None and len(past) < len(history):
        raise Rejected(422, ("weather",), "weather must cover every history timestamp",
                       "invalid_input")
    return past, future.iloc[:request.horizon]


def forecast_solar(models: Models, request: SolarForecastRequest, limits: Limits) -> Job:
    """The solar champion refit on the request's history and weather, else the default."""
    from models.solar import SolarForecaster

    check_at_most("weather", len(request.weather), limits.max_points, "max_points", "rows")
    check_at_most("horizon", request.horizon, limits.max_horizon, "max_horizon", "steps")
    choice = models.run("solar", (), lambda: models.choose(request, "solar"))
    weather = weather_frame(request)
    given = request.history
    history = (models.run("solar", ("history",), lambda: series_of(given, "history"))
               if given is not None else None)
    past, future = _split(request, weather, history)
    site = request.site.model_dump()
    specs = {"kwp": site["pv_kwp"], "lat": site["lat"], "lon": site["lon"],
             "tilt": site["tilt"], "azimuth": site["azimuth"]}
    model = None
    if history is None:
        note = "no production history: physics model only (no learned correction)"
    elif choice.record is not None:
        model = models.run("solar", (), lambda: refit_copy(models.load(choice)))
        model.set_params(**specs)
        note = "champion hyperparameters refit on the request history"
    else:
        model = SolarForecaster(**specs)
        note = f"no champion registered for {choice.name!r}: default SolarForecaster"
    where = ("weather",) if history is None else ("history",)

    def finish(mean: pd.Series) -> dict[str, Any]:
        steps = [{"ts": ts, "mean": max(0.0, float(v)) if np.isfinite(v) else 0.0, "bounds": {}}
                 for ts, v in mean.items()]
        return {**choice.provenance(note), "horizon": request.horizon, "forecast": steps}

    return Job("solar", where, compute.solar_production, (specs, model, past, history, future),
               finish)
