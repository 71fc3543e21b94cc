"""Solar forecasts for a fleet of prosumers, one learned system each, and the zone as their sum.

Each meter carries its own production history and the weather at its location: a
:class:`~models.solar.SolarForecaster` is fitted per meter from the meter's stated size and
place (orientation, losses and clock are learned from its history when it is long enough), then
forecasts the meter's own intervals. The zone's forecast is the sum of the meters' forecasts, so
the two never disagree.

The zone's bounds are the sums of the meters' bounds: the meters of one zone share one sky, so
their forecast errors move together (a cloud the weather forecast missed lowers them all), and
adding bounds is the right limit for errors that move together, never narrower than the truth.

A meter whose history cannot be learned from (too short, or too few daylight intervals for
intervals) is still forecast from its stated specs, with a note saying so; its bounds are then
the widest honest ones, 0 to the array's AC limit, for daylight intervals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.errors import InvalidInput, NotFittedError
from models.forecasting.conformal import check_levels
from models.solar.forecaster import SolarForecaster
from models.solar.weather import step_hours


@dataclass(frozen=True)
class PVMeter:
    """One prosumer's PV: stated size and place, its production and the weather it had.

    ``production`` is kWh per interval stamped like ``weather`` (the interval's end by default);
    ``weather`` covers the history, ``future`` the intervals to forecast.
    """

    meter_id: str
    kwp: float
    lat: float
    lon: float
    production: pd.Series
    weather: pd.DataFrame
    future: pd.DataFrame


@dataclass
class FleetForecast:
    """Per-meter frames (``mean``, ``lo_<level>``, ``hi_<level>``), the zone's sum, and notes."""

    meters: dict[str, pd.DataFrame] = field(default_factory=dict)
    zone: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: dict[str, str] = field(default_factory=dict)
    learned: dict[str, bool] = field(default_factory=dict)


def forecast_meter(meter: PVMeter, levels: Sequence[float] = (80, 95),
                   **params: Any) -> tuple[pd.DataFrame, str, bool]:
    """One meter's forecast frame, the fit's note and whether its system was learned."""
    if not meter.kwp > 0:
        raise InvalidInput(f"meter {meter.meter_id}: pv_kwp must be > 0, got {meter.kwp!r}",
                           field="pv_kwp", row=meter.meter_id, value=meter.kwp)
    levels = check_levels(levels)
    model = SolarForecaster(kwp=float(meter.kwp), lat=float(meter.lat), lon=float(meter.lon),
                            level=tuple(levels), **params)
    history = meter.production.reindex(meter.weather.index)
    try:
        model.fit(meter.weather, history)
    except InvalidInput as err:
        raise InvalidInput(f"meter {meter.meter_id}: {err}", field=err.field,
                           row=meter.meter_id if err.row is None else err.row,
                           value=err.value) from err
    try:
        frame = model.predict_interval(meter.future, levels)
        note = model.note_
    except NotFittedError:  # no calibrated intervals: the widest honest bounds
        mean = model.predict(meter.future).to_numpy()
        limit = model.system_.ac_limit_kw * step_hours(meter.future.index)
        frame = pd.DataFrame({"mean": mean}, index=meter.future.index)
        for level in levels:
            frame[f"lo_{level:g}"] = 0.0
            frame[f"hi_{level:g}"] = np.where(mean > 0, limit, 0.0)
        note = f"{model.note_}; bounds are 0 to the AC limit"
    return frame, note, bool(model.learned_)


def forecast_fleet(meters: Iterable[PVMeter], levels: Sequence[float] = (80, 95),
                   **params: Any) -> FleetForecast:
    """Every meter's forecast and the zone's (their sum over the common future stamps)."""
    out = FleetForecast()
    for meter in meters:
        if meter.meter_id in out.meters:
            raise InvalidInput(f"meter {meter.meter_id} is given twice", field="meter_id",
                               row=meter.meter_id, value=meter.meter_id)
        frame, note, learned = forecast_meter(meter, levels, **params)
        out.meters[meter.meter_id], out.notes[meter.meter_id] = frame, note
        out.learned[meter.meter_id] = learned
    if out.meters:
        frames = list(out.meters.values())
        index = frames[0].index
        for frame in frames[1:]:
            if not frame.index.equals(index):
                raise InvalidInput("the meters' future weather covers different intervals; "
                                   "the zone sum needs the same stamps for every meter",
                                   field="future", value=len(frame))
        out.zone = sum(frames[1:], frames[0].copy())
    return out

