"""Learn a PV system from its own history: orientation, size, clipping, shading and its clock.

Clear intervals (steady clear-sky index above ``CLEAR_KC``, sun above 10°) carry the geometry:
a grid over tilt (5°) and azimuth (10°) scores each orientation by the squared error left after
the best size, and ``scipy.optimize.least_squares`` (soft-L1, so shaded or snowy intervals weigh
little) refines the best one. Size and losses are one product to production; ``kwp`` is given
at the stated losses and ``losses`` at the stated size. The inverter limit is the plateau the
output sits on when the model says it should be higher; shading is the beam share that reaches
the array per sun-position cell. With fewer than ``min_days`` days or ``min_clear`` clear
intervals the stated specs stand, and the note says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from models.solar.clock import ClockFit, fit_clock, shift_frame, solar_days
from models.solar.physics import (
    PVSystem,
    ShadeMap,
    ac_power,
    dc_power,
    physical_power,
    plane_of_array,
)
from models.solar.weather import irradiance_parts

CLEAR_KC = 0.75
STEADY = 0.1  # largest change of the clear-sky index from one interval to the next
MAX_SAMPLES = 2000
TILTS = np.arange(0.0, 91.0, 5.0)
AZIMUTHS = np.arange(0.0, 360.0, 10.0)


@dataclass(frozen=True)
class LearnedSystem:
    """What the history taught: the system to model with, the clock, and how much data spoke."""

    system: PVSystem
    learned: bool
    note: str
    days: int
    clear: int
    clock: ClockFit | None = None
    clipping: bool = False
    shaded_cells: int = 0
    fit_rmse: float = float("nan")
    extra: dict[str, float] = field(default_factory=dict)


def stated(system: PVSystem, note: str, days: int = 0, clear: int = 0) -> LearnedSystem:
    """The stated specs, unchanged, with the reason they were kept."""
    return LearnedSystem(system, False, note, days, clear)


def learn_system(wx: pd.DataFrame, geo: pd.DataFrame, observed: np.ndarray, spec: PVSystem,
                 step_h: float, min_days: int = 14, min_clear: int = 50) -> LearnedSystem:
    """Fit orientation, size, AC limit, shading and clock to ``observed`` kWh per interval."""
    daylight = ~geo["night"].to_numpy() & np.isfinite(observed)
    days = len(np.unique(solar_days(wx.index[daylight], spec.lon)))
    if days < min_days:
        return stated(spec, f"history too short ({days} days with production; learning the "
                      f"system needs {min_days}): stated specs kept", days)
    power = observed / step_h
    top = np.nanmax(np.where(daylight, power, np.nan)) if daylight.any() else 0.0
    clock = ClockFit(np.zeros(len(wx), dtype=int), 0, (), 0)
    system, rmse, scale, n_clear = spec, float("nan"), 1.0, 0
    for _ in range(3):  # orientation on the current clock, then the clock against it
        base = _aligned(wx, geo, clock)
        clear = _clear(base) & np.isfinite(power) & (power > 0)
        fit_rows = np.flatnonzero(clear & (power < 0.98 * top))
        n_clear = len(fit_rows)
        if n_clear < min_clear:
            return stated(spec, f"only {n_clear} clear intervals in {days} days (learning the "
                          f"system needs {min_clear}): stated specs kept", days, n_clear)
        rows = fit_rows[np.linspace(0, n_clear - 1, min(MAX_SAMPLES, n_clear)).astype(int)]
        tilt, azimuth, scale, rmse = _orientation(base.iloc[rows], power[rows], spec)
        system = replace(spec, tilt=tilt, azimuth=azimuth, kwp=spec.kwp * scale,
                         ac_limit=10.0 * spec.kwp * scale)
        modelled = physical_power(wx, system, geo=geo)["ac_kw"].to_numpy()
        new = fit_clock(observed, modelled, wx.index, spec.lon, pd.Timedelta(hours=step_h))
        if np.array_equal(new.hours, clock.hours):
            break
        clock = new
    clock = new if np.array_equal(new.hours, clock.hours) else clock
    base = _aligned(wx, geo, clock)
    clear = _clear(base) & np.isfinite(power) & (power > 0)
    model = physical_power(base[wx.columns], system, geo=base)
    limit, clipping = _ac_limit(power, model["ac_unclipped_kw"].to_numpy(), daylight, spec)
    system = replace(system, ac_limit=limit)
    shade = _shading(base, power, clear & (power < 0.97 * limit), system)
    system = replace(system, shade=shade)
    tilt, azimuth = system.tilt, system.azimuth
    losses = 1 - scale * (1 - spec.losses)
    note = (f"learned from {days} days ({n_clear} clear intervals): tilt {tilt:.0f}°, "
            f"azimuth {azimuth:.0f}°, {system.kwp:.2f} kWp at {spec.losses:.0%} losses "
            f"(or {losses:.0%} losses at the stated {spec.kwp:g} kWp), AC limit {limit:.2f} kW"
            f"{' (clipping seen)' if clipping else ''}, {len(shade.cells)} shaded sun-position "
            f"cells, meter clock {clock.latest:+d} h")
    return LearnedSystem(system, True, note, days, n_clear, clock, clipping,
                         len(shade.cells), rmse, {"losses": losses, "scale": scale})


def _aligned(wx: pd.DataFrame, geo: pd.DataFrame, clock: ClockFit) -> pd.DataFrame:
    """Weather and geometry at the true time of each production stamp (NaN where unknown)."""
    frame = pd.concat([wx, geo.drop(columns=[c for c in geo.columns if c in wx.columns])], axis=1)
    shifted = shift_frame(frame, clock.hours)
    return shifted.fillna({c: 0.0 for c in shifted.columns if c != "night"})


def _clear(frame: pd.DataFrame) -> np.ndarray:
    """Intervals with a steady clear sky and the sun above 10°."""
    ghi, clear = frame["ghi"].to_numpy(), frame["ghi_clear"].to_numpy()
    kc = np.where(clear > 50, ghi / np.maximum(clear, 1.0), 0.0)
    steady = (np.abs(np.diff(kc, prepend=kc[0])) < STEADY) & (np.abs(np.diff(kc, append=kc[-1])) < STEADY)
    return (kc > CLEAR_KC) & (kc < 1.3) & steady & (frame["elevation"].to_numpy() > 10.0)


def _dc_model(tilt: np.ndarray | float, azimuth: np.ndarray | float, frame: pd.DataFrame,
              spec: PVSystem) -> np.ndarray:
    """AC kW before clipping for the orientation(s), unshaded, at the stated size."""
    ghi, dni, dhi = irradiance_parts(frame, frame)
    arr = plane_of_array(tilt, azimuth, frame, ghi, dni, dhi, spec.albedo)
    temp = frame["temp_air"].to_numpy()
    wind = frame["wind_speed"].to_numpy()
    dc, _ = dc_power(arr["beam"] + arr["diffuse"], arr["poa_global"], temp, wind, spec)
    return dc * spec.inverter_efficiency


def _orientation(frame: pd.DataFrame, power: np.ndarray,
                 spec: PVSystem) -> tuple[float, float, float, float]:
    """Tilt, azimuth, size scale and RMSE (kW) of the best fit to clear-sky production."""
    grid = _dc_model(TILTS[:, None, None], AZIMUTHS[None, :, None], frame, spec)
    scale = (grid * power).sum(-1) / np.maximum((grid ** 2).sum(-1), 1e-12)
    sse = ((power - scale[..., None] * grid) ** 2).sum(-1)
    i, j = np.unravel_index(int(np.argmin(sse)), sse.shape)

    def residual(x: np.ndarray) -> np.ndarray:
        m = _dc_model(x[0], x[1], frame, spec)
        k = float((m * power).sum() / max(float((m ** 2).sum()), 1e-12))
        return power - k * m

    start = np.array([TILTS[i], AZIMUTHS[j]])
    lo = np.array([0.0, start[1] - 30.0])
    hi = np.array([90.0, start[1] + 30.0])
    fit = least_squares(residual, np.clip(start, lo + 1e-6, hi - 1e-6), bounds=(lo, hi),
                        loss="soft_l1", f_scale=0.03 * spec.kwp, diff_step=1e-3)
    tilt, azimuth = float(fit.x[0]), float(fit.x[1]) % 360.0
    m = _dc_model(tilt, azimuth, frame, spec)
    k = float((m * power).sum() / max(float((m ** 2).sum()), 1e-12))
    return tilt, azimuth, k, float(np.sqrt(np.mean((power - k * m) ** 2)))


def _ac_limit(power: np.ndarray, unclipped: np.ndarray, daylight: np.ndarray,
              spec: PVSystem) -> tuple[float, bool]:
    """The AC limit (kW) and whether clipping was seen: output flat while the model goes higher."""
    ok = daylight & np.isfinite(power) & (power > 0)
    if ok.sum() < 20:
        return spec.ac_limit_kw, False
    level = float(np.quantile(power[ok], 0.995))
    above = ok & (unclipped > 1.05 * level)
    if above.sum() >= 10:
        stuck = power[above]
        median = float(np.median(stuck))
        q25, q75 = np.quantile(stuck, [0.25, 0.75])
        if 0.97 * level <= median <= 1.01 * level and (q75 - q25) < 0.03 * level:
            return median, True
    return max(spec.ac_limit_kw, 1.02 * float(power[ok].max())), False


def _shading(frame: pd.DataFrame, power: np.ndarray, clear: np.ndarray,
             system: PVSystem, min_samples: int = 4, min_days: int = 3) -> ShadeMap:
    """Beam share per sun-position cell where clear-sky output says part of the beam is lost."""
    rows = np.flatnonzero(clear & (frame["elevation"].to_numpy() > 2.0))
    if len(rows) < min_samples:
        return ShadeMap()
    sub = frame.iloc[rows]
    ghi, dni, dhi = irradiance_parts(sub, sub)
    arr = plane_of_array(system.tilt, system.azimuth, sub, ghi, dni, dhi, system.albedo)
    temp, wind = sub["temp_air"].to_numpy(), sub["wind_speed"].to_numpy()
    full = ac_power(dc_power(arr["beam"] + arr["diffuse"], arr["poa_global"], temp, wind,
                             system)[0], system)
    sky = ac_power(dc_power(arr["diffuse"], arr["poa_global"], temp, wind, system)[0], system)
    beam = full - sky
    ok = beam > 0.05 * system.kwp
    share = np.where(ok, (power[rows] - sky) / np.maximum(beam, 1e-9), np.nan)
    shade = ShadeMap()
    az = np.floor(sub["solar_azimuth"].to_numpy() / shade.az_step).astype(int)
    el = np.floor(sub["elevation"].to_numpy() / shade.el_step).astype(int)
    day = solar_days(sub.index, system.lon)
    table = pd.DataFrame({"az": az, "el": el, "share": share, "day": day})[ok]
    cells = []
    for (a, e), group in table.groupby(["az", "el"]):
        value = float(group["share"].median())
        if len(group) >= min_samples and group["day"].nunique() >= min_days and value < 0.8:
            cells.append((int(a), int(e), float(np.clip(value, 0.0, 1.0))))
    return ShadeMap(shade.az_step, shade.el_step, tuple(cells))
