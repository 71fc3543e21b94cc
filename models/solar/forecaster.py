"""SolarForecaster: a PV system learned from its history, physics, a correction and intervals.

``fit(weather, production)`` uses the last ``history_days`` days: it learns the system
(``models.solar.identify``; the stated specs when the history is short or
``learn_system=False``), then the ratio correction (``models.solar.correction``), then conformal intervals
(``models.solar.intervals``) from the residuals of ``folds`` refits on contiguous blocks of days
that each leave their block out. Fit on the weather the forecaster will have when it predicts:
the stored forecast issue, not the later measurement. ``predict`` gives kWh per interval;
``predict_interval`` adds ``lo_<level>`` / ``hi_<level>``; both are exactly 0 where it is dark.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models.errors import InvalidInput, NotFittedError, check_fitted
from models.forecasting.conformal import check_levels
from models.solar import correction as corr
from models.solar.clock import shift_frame, solar_days
from models.solar.identify import LearnedSystem, learn_system, stated
from models.solar.intervals import ElevationConformal, calibrate, sky_of
from models.solar.physics import PVSystem, clear_sky_power, physical_power
from models.solar.weather import Label, check_label, prepare_weather, step_hours, sun_geometry

DAY = pd.Timedelta("1D")


class SolarForecaster(BaseEstimator):  # type: ignore[misc]
    """PV production forecasts for one system; see the module docstring."""

    def __init__(self, kwp: float = 4.0, lat: float = 51.5, lon: float = 0.0,
                 tilt: float = 30.0, azimuth: float = 180.0, altitude: float = 0.0,
                 gamma_pdc: float = -0.004, losses: float = 0.14, dc_ac_ratio: float = 1.2,
                 label: Label = "right", correction: Literal["gbm", "ridge"] | None = "ridge",
                 learn_system: bool = True, min_days: int = 14, min_clear: int = 50,
                 history_days: int = 365, max_ratio: float = 2.0, min_samples: int = 48,
                 level: Sequence[float] = (80, 95), folds: int = 4, sky_intervals: bool = True,
                 calibration_days: int | None = None,
                 n_threads: int | None = 1, random_state: int = 0) -> None:
        self.kwp = kwp
        self.lat = lat
        self.lon = lon
        self.tilt = tilt
        self.azimuth = azimuth
        self.altitude = altitude
        self.gamma_pdc = gamma_pdc
        self.losses = losses
        self.dc_ac_ratio = dc_ac_ratio
        self.label = label
        self.correction = correction
        self.learn_system = learn_system
        self.min_days = min_days
        self.min_clear = min_clear
        self.history_days = history_days
        self.max_ratio = max_ratio
        self.min_samples = min_samples
        self.level = level
        self.folds = folds
        self.sky_intervals = sky_intervals
        self.calibration_days = calibration_days
        self.n_threads = n_threads  # OpenMP threads for the GBM; see models.forecasting.gbm
        self.random_state = random_state

    def system(self) -> PVSystem:
        """The stated panel specs as a validated :class:`PVSystem`."""
        return PVSystem(kwp=self.kwp, lat=self.lat, lon=self.lon, tilt=self.tilt,
                        azimuth=self.azimuth, altitude=self.altitude, gamma_pdc=self.gamma_pdc,
                        losses=self.losses, dc_ac_ratio=self.dc_ac_ratio)

    def fit(self, weather: pd.DataFrame, production: pd.Series) -> SolarForecaster:
        """Learn the system, the correction and the intervals from weather and observed kWh."""
        self._check_params()
        spec, label = self.system(), check_label(self.label)
        wx = prepare_weather(weather)
        wx = wx.loc[wx.index >= wx.index[-1] - self.history_days * DAY] if len(wx) else wx
        observed = _production(production, wx.index)
        geo = sun_geometry(wx.index, spec.lat, spec.lon, spec.altitude, label)
        step_h = step_hours(wx.index)
        found = learn_system(wx, geo, observed, spec, step_h, self.min_days, self.min_clear) \
            if self.learn_system else stated(spec, "stated specs (learn_system=False)")
        self._set_learned(found)
        self.cloud_ = bool("cloud_cover" in wx and wx["cloud_cover"].notna().all())
        hours = found.clock.hours if found.clock is not None else 0
        frame = self._frame(wx, geo, hours)
        physical = frame["ac_unclipped_kw"].to_numpy() * step_h
        notes = [found.note]
        limit = self.system_.ac_limit_kw * step_h
        use = (np.isfinite(observed) & (physical > 0.02 * self.system_.kwp * step_h)
               & (observed < 0.97 * limit))
        self.model_: Any = None
        if self.correction is not None and use.sum() < self.min_samples:
            notes.append(f"only {int(use.sum())} daylight intervals with production "
                         f"(the correction needs {self.min_samples}): physics only")
        elif self.correction is not None:
            self.model_ = self._fit_correction(frame, observed, physical, use)
        mask = np.isfinite(observed) & (physical > 0)
        self.bias_ratio_ = float(observed[mask].sum() / physical[mask].sum()) if mask.any() \
            else float("nan")
        self.calibration_ = self._calibrate(frame, observed, physical, use, step_h)
        if self.calibration_ is None:
            notes.append("too few daylight residuals for intervals: predict_interval refuses")
        self.note_ = "; ".join(notes)
        return self

    def predict(self, weather_future: pd.DataFrame) -> pd.Series:
        """Energy per interval (kWh) for the weather's timestamps; 0 where it is dark."""
        frame, mean = self._predict_frame(weather_future)
        return pd.Series(mean, index=frame.index, name="production_kwh")

    def predict_interval(self, weather_future: pd.DataFrame,
                         level: Sequence[float] | None = None) -> pd.DataFrame:
        """``mean`` and ``lo_<level>`` / ``hi_<level>`` columns (kWh); all 0 where it is dark."""
        frame, mean = self._predict_frame(weather_future)
        if self.calibration_ is None:
            raise NotFittedError("SolarForecaster has no calibrated intervals: the history had "
                                 "too few daylight residuals")
        levels = check_levels(self.level if level is None else level)
        step_h = step_hours(frame.index)
        scale = self._scale(frame, step_h)
        bounds = self.calibration_.bounds(mean, scale, frame["elevation"].to_numpy(),
                                          frame["dark"].to_numpy(),
                                          self.system_.ac_limit_kw * step_h, levels,
                                          self._sky(frame))
        return pd.DataFrame({"mean": mean, **bounds}, index=frame.index)

    def summary(self) -> str:
        """What the fit learned, in a few lines (the system, the correction, the intervals)."""
        check_fitted(self, "system_")
        s = self.system_
        lines = [f"system: tilt {s.tilt:.1f}°, azimuth {s.azimuth:.1f}°, {s.kwp:.2f} kWp, "
                 f"AC limit {s.ac_limit_kw:.2f} kW, {len(s.shade.cells)} shaded cells, "
                 f"clock {self.clock_shift_hours_:+d} h ({'learned' if self.learned_ else 'stated'})",
                 f"note: {self.note_}",
                 f"correction: {self.correction if self.model_ is not None else 'none'}; "
                 f"observed / physical {self.bias_ratio_:.3f}"]
        if self.calibration_ is not None:
            counts = self.calibration_.counts.sum(axis=1)
            lines.append("intervals: conformal by sun elevation (and forecast sky), residuals "
                         "per elevation bin " + " ".join(str(int(c)) for c in counts))
        return "\n".join(lines)

    def _check_params(self) -> None:
        if self.correction not in ("gbm", "ridge", None):
            raise InvalidInput(f"correction must be 'gbm', 'ridge' or None, got "
                               f"{self.correction!r}", field="correction", value=self.correction)
        for name in ("min_days", "min_clear", "history_days", "min_samples", "folds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"{name} must be a positive integer, got {value!r}",
                                   field=name, value=value)
        if not isinstance(self.max_ratio, int | float) or not self.max_ratio > 0:
            raise InvalidInput(f"max_ratio must be > 0, got {self.max_ratio!r}",
                               field="max_ratio", value=self.max_ratio)
        check_levels(self.level)
        days = self.calibration_days
        if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
            raise InvalidInput(f"calibration_days must be a positive integer or None, got "
                               f"{days!r}", field="calibration_days", value=days)

    def _set_learned(self, found: LearnedSystem) -> None:
        self.learned_system_ = found
        self.system_ = found.system
        self.learned_ = found.learned
        self.tilt_, self.azimuth_ = found.system.tilt, found.system.azimuth
        self.kwp_ = found.system.kwp
        self.losses_ = found.extra.get("losses", found.system.losses)
        self.ac_limit_kw_ = found.system.ac_limit_kw
        self.clipping_ = found.clipping
        self.shade_ = found.system.shade
        self.clock_shift_hours_ = found.clock.latest if found.clock is not None else 0
        self.clock_changes_ = found.clock.changes if found.clock is not None else ()

    def _frame(self, wx: pd.DataFrame, geo: pd.DataFrame,
               hours: np.ndarray | int) -> pd.DataFrame:
        """Physics and correction features on the meter's clock (dark where unknown)."""
        power = physical_power(wx, self.system_, self.label, geo)
        power["clear_kw"] = clear_sky_power(geo, self.system_, wx["temp_air"].to_numpy())
        feats = corr.features(power, self.system_.lon, self.cloud_)
        frame = pd.concat([power, feats.drop(columns=[c for c in feats if c in power])], axis=1)
        frame = shift_frame(frame, hours)
        for col in ("ac_kw", "ac_unclipped_kw", "clear_kw"):
            frame[col] = np.where(frame["dark"], 0.0, frame[col].fillna(0.0))
        frame["elevation"] = frame["elevation"].fillna(-90.0)
        return frame

    def _x(self, frame: pd.DataFrame) -> pd.DataFrame:
        cols = [*corr.FEATURES, "cloud_cover"] if self.cloud_ else list(corr.FEATURES)
        return frame[cols]

    def _fit_correction(self, frame: pd.DataFrame, observed: np.ndarray, physical: np.ndarray,
                        use: np.ndarray) -> Any:
        ratio = np.clip(observed[use] / physical[use], 0.0, self.max_ratio)
        return corr.fit_ratio(str(self.correction), self._x(frame)[use], ratio,
                              physical[use] ** 2, self.random_state, self.n_threads)

    def _apply(self, model: Any, frame: pd.DataFrame, physical: np.ndarray,
               step_h: float) -> np.ndarray:
        ratio = np.ones(len(frame)) if model is None else corr.predict_ratio(
            model, str(self.correction), self._x(frame), self.max_ratio, self.n_threads)
        mean = np.minimum(physical * ratio, self.system_.ac_limit_kw * step_h)
        return np.where(frame["dark"].to_numpy(), 0.0, mean)

    def _calibrate(self, frame: pd.DataFrame, observed: np.ndarray, physical: np.ndarray,
                   use: np.ndarray, step_h: float) -> ElevationConformal | None:
        """Out-of-sample residuals by leave-one-block-of-days-out refits of the correction."""
        oos = np.full(len(frame), np.nan)
        days = solar_days(frame.index, self.system_.lon)
        unique = np.unique(days)
        blocks = np.array_split(unique, min(self.folds, len(unique))) \
            if self.model_ is not None else [unique]
        for block in blocks:
            held = np.isin(days, block)
            model = None
            if self.model_ is not None:
                train = use & ~held
                if train.sum() < self.min_samples:
                    continue
                model = self._fit_correction(frame, observed, physical, train)
            oos[held] = self._apply(model, frame.iloc[held], physical[held], step_h)
        daylight = ~frame["dark"].to_numpy() & np.isfinite(observed)
        if self.calibration_days is not None:
            daylight &= frame.index >= frame.index[-1] - self.calibration_days * DAY
        residual = np.where(daylight, observed - oos, np.nan)
        try:
            return calibrate(residual, self._scale(frame, step_h), frame["elevation"].to_numpy(),
                             self.level, self._sky(frame))
        except InvalidInput:
            return None

    def _sky(self, frame: pd.DataFrame) -> np.ndarray | None:
        """The forecast sky per interval for the intervals, or None when they ignore it."""
        if not self.sky_intervals:
            return None
        return sky_of(frame["kc_hour"].to_numpy(), frame["kc_spread"].to_numpy())

    def _scale(self, frame: pd.DataFrame, step_h: float) -> np.ndarray:
        floor = 0.02 * self.system_.kwp * step_h
        return np.maximum(frame["clear_kw"].to_numpy() * step_h, floor)

    def _predict_frame(self, weather: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        check_fitted(self, "system_")
        wx = prepare_weather(weather)
        if self.model_ is not None and self.cloud_ and ("cloud_cover" not in wx
                                                        or wx["cloud_cover"].isna().any()):
            raise InvalidInput("the correction was fitted with cloud_cover; the forecast has "
                               "none", field="cloud_cover", value=None)
        geo = sun_geometry(wx.index, self.system_.lat, self.system_.lon, self.system_.altitude,
                           check_label(self.label))
        frame = self._frame(wx, geo, self.clock_shift_hours_)
        step_h = step_hours(wx.index)
        physical = frame["ac_unclipped_kw"].to_numpy() * step_h
        return frame, self._apply(self.model_, frame, physical, step_h)


def _production(production: pd.Series, index: pd.DatetimeIndex) -> np.ndarray:
    """Observed kWh aligned to the weather index (NaN where missing); negative is an error."""
    if not isinstance(production, pd.Series):
        raise InvalidInput(f"production must be a Series, got {type(production).__name__}",
                           field="production", value=type(production).__name__)
    from models.features import validate_index

    validate_index(production.index, "production index")
    values = pd.to_numeric(production, errors="coerce")
    bad = values.isna() & production.notna() | np.isinf(values) | (values < 0)
    if bad.any():
        row = production.index[np.flatnonzero(bad.to_numpy())[0]]
        raise InvalidInput(f"production at {row} is {production[row]!r}; kWh must be a finite "
                           "number >= 0", field="production", row=row, value=production[row])
    if not production.index.isin(index).any():
        raise InvalidInput("production and weather share no timestamps", field="production",
                           row=production.index[0] if len(production) else None)
    return values.reindex(index).to_numpy(dtype=float)
