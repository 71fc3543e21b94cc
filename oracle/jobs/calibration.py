"""Live calibration of the zone-demand forecast: learn from the actuals that arrived, adjust the
new forecast, and the rolling live coverage and bias of what was stored.

One :class:`~models.forecasting.calibration.OnlineCalibrator` per horizon step (1 .. 24 h
ahead): each learns once per observed hour, from the forecast made that many hours before it,
so every calibrator sees one error per hour (the rate its constants were chosen for in
``benchmarks/forecast_calibration.py``) and a day-ahead step is widened by day-ahead errors,
not by one-step ones. The calibrators score the *raw* forecasts (the forecaster's own mean and
intervals), so the state keeps each origin's raw forecast until its last step is observed or it
is :data:`PENDING_FOR` old. ``watermark`` is the last observed hour learned from: a re-run of a
tick finds nothing newer and learns nothing twice. An hour whose readings arrive after the
watermark has passed it is not learned from.

The stage loads the state, :meth:`LiveCalibration.learn`, :meth:`LiveCalibration.adjust`, and
saves the adjusted forecast and the state in one session (:func:`calibrated`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlmodel import Session

from oracle.errors import SourceDataInvalid
from oracle.lifecycle.evaluation import interval_scores
from oracle.store import results
from oracle.store.calibration import load_calibration, save_calibration
from oracle.store.readings import totals_frame

if TYPE_CHECKING:
    from models.forecasting.calibration import OnlineCalibrator
    from oracle.telemetry import Metrics

LEVELS = (80, 95)
COLUMNS = ("mean", "lo_80", "hi_80", "lo_95", "hi_95")
STATE_FORMAT = "solchain-live-calibration/1"
STEP = timedelta(hours=1)
PENDING_FOR = timedelta(days=2)  # a raw forecast older than this is forgotten
ROLLING = timedelta(days=2)  # the window of the live coverage and bias


def _utc(ts: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(ts)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


@dataclass
class LiveCalibration:
    """Per-horizon calibrators, the raw forecasts awaiting actuals, and the watermark."""

    horizons: int
    calibrators: dict[int, OnlineCalibrator] = field(default_factory=dict)
    pending: dict[str, list[list[float]]] = field(default_factory=dict)  # origin -> raw rows
    watermark: datetime | None = None
    learned: int = 0  # pairs learned by this instance's last learn()

    def __post_init__(self) -> None:
        from models.forecasting.calibration import OnlineCalibrator  # late: `oracle --help`

        for h in range(1, self.horizons + 1):
            self.calibrators.setdefault(h, OnlineCalibrator(LEVELS))

    # -- state -------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "horizons": self.horizons,
                "calibrators": {str(h): c.state() for h, c in self.calibrators.items()},
                "pending": self.pending}

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None, watermark: datetime | None,
                   horizons: int) -> LiveCalibration:
        """Resume; a fresh calibration when there is no state or it was kept for another
        number of horizon steps. A foreign or damaged state is an error naming its field."""
        if state is None:
            return cls(horizons)
        if not isinstance(state, Mapping) or state.get("format") != STATE_FORMAT:
            got = state.get("format") if isinstance(state, Mapping) else type(state).__name__
            raise SourceDataInvalid(f"forecast_calibration.state has format {got!r}, expected "
                                    f"{STATE_FORMAT!r}", field="forecast_calibration.state",
                                    value=got)
        if state.get("horizons") != horizons:
            return cls(horizons)
        from models.forecasting.calibration import OnlineCalibrator

        calibrators = {int(h): OnlineCalibrator.from_state(s)
                       for h, s in state.get("calibrators", {}).items()}
        pending = {str(k): [list(map(float, row)) for row in v]
                   for k, v in state.get("pending", {}).items()}
        return cls(horizons, calibrators, pending,
                   None if watermark is None else _utc(watermark).to_pydatetime())

    # -- learning and applying ---------------------------------------------------------------

    def learn(self, actual: pd.Series, until: datetime) -> int:
        """Learn from every observed hour after the watermark and before ``until``, each with
        the raw forecasts (one per horizon) made for it; returns how many pairs were learned."""
        self.learned = 0
        if actual.empty:
            return 0
        stamps = pd.DatetimeIndex([_utc(t) for t in actual.index])
        values = pd.Series(actual.to_numpy(dtype="float64"), index=stamps).sort_index()
        keep = values.index < _utc(until)
        if self.watermark is not None:
            keep &= values.index > _utc(self.watermark)
        values = values[keep & np.isfinite(values.to_numpy())]
        origins = {_utc(k): v for k, v in self.pending.items()}
        for ts, value in values.items():
            for origin, rows in origins.items():
                h = (ts - origin) / STEP
                if not float(h).is_integer() or not 0 <= h < len(rows) or h >= self.horizons:
                    continue
                raw = pd.DataFrame([rows[int(h)]], columns=list(COLUMNS), index=[ts])
                self.calibrators[int(h) + 1].update(raw, pd.Series([value], index=[ts]))
                self.learned += 1
        if len(values):
            self.watermark = values.index.max().to_pydatetime()
        self._forget(until)
        return self.learned

    def adjust(self, origin: datetime, raw: pd.DataFrame) -> pd.DataFrame:
        """The forecast from ``origin`` with each step's bias and interval scale applied (never
        below zero); the raw forecast is kept to be learned from when its hours arrive."""
        check_raw(raw)
        raw = raw.iloc[:self.horizons]
        columns = list(COLUMNS)
        values = np.vstack([self.calibrators[i + 1].adjust(raw.iloc[[i]][columns])[columns]
                            .to_numpy(dtype="float64") for i in range(len(raw))])
        out = raw.copy()
        out[columns] = values
        self.pending[_utc(origin).isoformat()] = raw[list(COLUMNS)].to_numpy(
            dtype="float64").tolist()
        for column in COLUMNS:
            out[column] = out[column].clip(lower=0.0)
        return out

    def _forget(self, until: datetime) -> None:
        for key in list(self.pending):
            origin = _utc(key)
            last = origin + (len(self.pending[key]) - 1) * STEP
            done = self.watermark is not None and last <= _utc(self.watermark)
            if done or origin < _utc(until) - PENDING_FOR:
                del self.pending[key]

    def summary(self) -> dict[str, Any]:
        """What the audit keeps: the one-step bias and scales, the mean bias over horizons."""
        first = self.calibrators[1]
        return {"learned": self.learned, "updates": first.updates,
                "bias_kwh": round(first.bias, 6),
                "scale_80": round(first.scales[80], 6), "scale_95": round(first.scales[95], 6),
                "mean_bias_kwh": round(float(np.mean([c.bias for c in self.calibrators.values()])),
                                       6)}


def check_raw(raw: pd.DataFrame) -> None:
    """A forecast the calibrators can adjust: it has every column of ``COLUMNS``."""
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise SourceDataInvalid(f"forecast has no {missing[0]!r} column: cannot calibrate its "
                                "intervals", field=missing[0], value=None)


def observed_demand(session: Session, since: datetime, until: datetime) -> pd.Series:
    """Zone consumption per hour in [since, until), only the hours that have readings."""
    frame = totals_frame(session, since, until)
    if frame.empty:
        return pd.Series(dtype="float64")
    return frame.set_index("ts")["consumption_kwh"].astype("float64")


def calibrated(session: Session, *, zone: str, start: datetime, raw: pd.DataFrame,
               target: str = "demand") -> tuple[pd.DataFrame, dict[str, Any]]:
    """Load the zone's calibration, learn from what arrived, adjust ``raw`` (the forecast from
    ``start``), save the state (in the caller's session, with the forecast) and return the
    adjusted forecast and the audit's summary."""
    row = load_calibration(session, target, zone)
    live = LiveCalibration.from_state(row.state if row is not None else None,
                                      row.watermark if row is not None else None, len(raw))
    since = live.watermark if live.watermark is not None else start - PENDING_FOR
    live.learn(observed_demand(session, since, start), start)
    adjusted = live.adjust(start, raw)
    save_calibration(session, target, zone, live.state(), live.watermark)
    return adjusted, live.summary()


# -- the live figures of what was stored -----------------------------------------------------


def live_scores(session: Session, *, zone: str, until: datetime, window: timedelta = ROLLING,
                target: str = "demand") -> dict[str, Any]:
    """Coverage (%) of the 80 and 95 % intervals and bias (mean actual minus forecast, kWh) of
    the stored one-step forecasts of ``zone`` whose hour in [until - window, until) has been
    observed; ``steps`` is how many there were (figures are None without any)."""
    rows = results.first_step_forecasts(session, target=target, entity_id=zone,
                                        since=until - window, until=until)
    actual = observed_demand(session, until - window, until)
    frame = pd.DataFrame([{c: getattr(r, c) for c in COLUMNS} for r in rows],
                         index=pd.DatetimeIndex([_utc(r.ts) for r in rows]),
                         columns=list(COLUMNS))
    return interval_scores(frame, actual)


def export(metrics: Metrics, scores: Mapping[str, Any], summary: Mapping[str, Any]) -> None:
    """The live figures in /metrics: coverage and bias of what was stored (when any step has
    been observed) and the calibration's current correction."""
    for level in LEVELS:
        value = scores.get(f"coverage_{level}")
        if value is not None:
            metrics.forecast_coverage.labels(level=str(level)).set(value / 100)
        metrics.forecast_interval_scale.labels(level=str(level)).set(summary[f"scale_{level}"])
    if scores.get("bias_kwh") is not None:
        metrics.forecast_bias.set(scores["bias_kwh"])
    metrics.forecast_bias_correction.set(summary["bias_kwh"])
