"""The replay dataset behind the reference backend, built from real data shipped with pip packages.

Real: the demand curve (``pmdarima.datasets.load_taylor``: half-hourly England & Wales demand
from Monday 2000-06-05) and the weather (pvlib's TMY3 file for Greensboro NC: irradiance,
temperature, humidity, wind, cloud). Derived (seeded): the households, their load scaled from
the real curve, PV from the real irradiance through a PVWatts model, and the market orders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TMY3_FILE = "723170TYA.CSV"  # Greensboro Piedmont Triad Intl., NC (UTC-5)
TAYLOR_HOURS = 4032 // 2  # 12 weeks
MAX_WEEKS = TAYLOR_HOURS // 168
# Taylor's first value is Monday 2000-06-05 00:00 local time; the community lives on the TMY
# site's local standard time (UTC-5), so its day starts at 05:00 UTC.
REPLAY_START = datetime(2000, 6, 5, 5, tzinfo=UTC)
INTERVAL_S = 3600
ORIENTATIONS = ((25.0, 180.0), (25.0, 135.0), (25.0, 225.0), (35.0, 180.0))  # tilt, azimuth
SYSTEM_LOSSES = 0.14  # PVWatts default: soiling, wiring, mismatch, inverter


@dataclass(frozen=True)
class Replay:
    """Hourly consumption and production per meter, weather per hour, and order generation."""

    start: datetime
    meters: list[dict[str, Any]]
    consumption: np.ndarray  # (meters, hours), kWh per interval
    production: np.ndarray
    weather: pd.DataFrame  # Open-Meteo variables, indexed by UTC hour-ending label
    site: tuple[float, float]
    seed: int
    tariff: float = 0.20
    export_price: float = 0.08
    carbon_g_per_kwh: float = 390.0

    @property
    def hours(self) -> int:
        return int(self.consumption.shape[1])

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=self.hours)

    def index_of(self, ts: datetime) -> int:
        """Interval index of ``ts`` (may be out of range); ceil for off-grid times."""
        return math.ceil((ts - self.start).total_seconds() / INTERVAL_S)

    def orders(self, t: int) -> list[dict[str, Any]]:
        """Orders for interval ``t``: each household bids its deficit or offers its surplus."""
        if not 0 <= t < self.hours:
            return []
        rng = np.random.default_rng([self.seed, 1, t])
        net = self.production[:, t] - self.consumption[:, t]
        spread = rng.uniform(size=len(self.meters))
        interval_start = self.start + timedelta(hours=t)
        placed = (interval_start - timedelta(minutes=15)).isoformat()
        orders = []
        for i, meter in enumerate(self.meters):
            if abs(net[i]) < 0.01:
                continue
            side = "offer" if net[i] > 0 else "bid"
            # Sellers ask between the export price and the tariff, buyers bid around the tariff.
            low, high = (0.4, 1.0) if side == "offer" else (0.85, 1.15)
            price = self.tariff * (low + (high - low) * spread[i])
            orders.append({"order_id": f"o{t:05d}-{meter['meter_id']}",
                           "user_id": meter["user_id"], "meter_id": meter["meter_id"],
                           "node_id": meter["node_id"], "side": side,
                           "quantity_kwh": round(abs(float(net[i])), 4),
                           "limit_price": round(float(price), 4), "ts": placed})
        return orders

    def grid(self) -> dict[str, Any]:
        nodes = sorted({m["node_id"] for m in self.meters})
        storage = {n: sum(m["storage_kwh"] for m in self.meters if m["node_id"] == n)
                   for n in nodes}
        # Feeders are sized to the community: a ring line carries up to 3/4 of the peak demand
        # (at least 250 kW); the closing line is rated at 60% of that, so congestion can bind.
        peak_kw = float(self.consumption.sum(axis=0).max()) * 3600 / INTERVAL_S
        rating = round(max(250.0, 0.75 * peak_kw), 1)
        lines = [{"from": a, "to": b, "capacity_kw": rating} for a, b in pairwise(nodes)]
        if len(nodes) > 2:
            lines.append({"from": nodes[-1], "to": nodes[0], "capacity_kw": round(0.6 * rating, 1)})
        return {"nodes": [{"node_id": n, "storage_kwh": round(storage[n], 2),
                           "storage_kw": round(storage[n] / 2, 2)} for n in nodes],
                "lines": lines, "import_price": self.tariff, "export_price": self.export_price,
                "carbon_g_per_kwh": self.carbon_g_per_kwh}


@lru_cache(maxsize=1)
def read_site_weather() -> tuple[pd.DataFrame, tuple[float, float, float]]:
    """The TMY3 year (coerced to 2000) in Open-Meteo's variables and units; (lat, lon, alt)."""
    import pvlib

    path = Path(pvlib.__file__).parent / "data" / TMY3_FILE
    data, meta = pvlib.iotools.read_tmy3(str(path), coerce_year=2000, map_variables=True)
    data.index = data.index.tz_convert(UTC)
    weather = pd.DataFrame({
        "temperature_2m": data["temp_air"],
        "relative_humidity_2m": data["relative_humidity"],
        "shortwave_radiation": data["ghi"],
        "direct_normal_irradiance": data["dni"],
        "diffuse_radiation": data["dhi"],
        "wind_speed_10m": data["wind_speed"] * 3.6,  # m/s -> km/h, Open-Meteo's default unit
        "cloud_cover": data["TotCld (tenths)"] * 10.0,  # tenths -> percent
    }).astype(float)
    return weather, (float(meta["latitude"]), float(meta["longitude"]),
                     float(meta["altitude"]))


def pv_per_kwp(weather: pd.DataFrame, site: tuple[float, float, float], tilt: float,
               azimuth: float) -> pd.Series:
    """AC energy per kWp for each hour, PVWatts on the real irradiance; indexed by hour start."""
    import pvlib

    lat, lon, alt = site
    labels = weather.index  # hour-ending: the value is the mean over the preceding hour
    solpos = pvlib.solarposition.get_solarposition(labels - pd.Timedelta(minutes=30), lat, lon,
                                                   altitude=alt)
    poa = pvlib.irradiance.get_total_irradiance(
        tilt, azimuth, solpos["apparent_zenith"].to_numpy(), solpos["azimuth"].to_numpy(),
        dni=weather["direct_normal_irradiance"].to_numpy(),
        ghi=weather["shortwave_radiation"].to_numpy(),
        dhi=weather["diffuse_radiation"].to_numpy())
    poa_global = np.nan_to_num(np.asarray(poa["poa_global"], dtype=float)).clip(min=0)
    t_cell = pvlib.temperature.faiman(poa_global, weather["temperature_2m"].to_numpy(),
                                      weather["wind_speed_10m"].to_numpy() / 3.6)
    dc = pvlib.pvsystem.pvwatts_dc(poa_global, t_cell, pdc0=1.0, gamma_pdc=-0.0037)
    ac = np.clip(np.asarray(dc) * (1 - SYSTEM_LOSSES), 0.0, 1.0)
    return pd.Series(ac, index=labels - pd.Timedelta(hours=1))


def load_shape(hours: int) -> np.ndarray:
    """The real Taylor demand curve, hourly, scaled to mean 1."""
    from pmdarima.datasets import load_taylor

    half_hourly = np.asarray(load_taylor(), dtype=float)
    hourly = half_hourly.reshape(-1, 2).mean(axis=1)[:hours]
    return hourly / hourly.mean()


def _make_meters(n: int, rng: np.random.Generator, site: tuple[float, float, float]
                 ) -> list[dict[str, Any]]:
    kinds = rng.choice(["prosumer", "consumer", "producer"], size=n, p=[0.55, 0.40, 0.05])
    n_nodes = max(1, min(12, math.ceil(n / 100)))
    meters = []
    for i, kind in enumerate(kinds):
        kwp = {"prosumer": rng.uniform(3, 10), "consumer": 0.0,
               "producer": rng.uniform(20, 60)}[str(kind)]
        storage = float(rng.choice([0.0, 0.0, 5.0, 10.0, 13.5])) if kind == "prosumer" else 0.0
        meters.append({"meter_id": f"m{i:05d}", "user_id": f"u{i:05d}",
                       "node_id": f"n{i % n_nodes:02d}", "kind": str(kind),
                       "pv_kwp": round(float(kwp), 2), "storage_kwh": storage,
                       "lat": round(site[0] + float(rng.uniform(-0.02, 0.02)), 4),
                       "lon": round(site[1] + float(rng.uniform(-0.02, 0.02)), 4)})
    return meters


def build_replay(meters: int = 50, weeks: int = 4, seed: int = 0) -> Replay:
    """A deterministic replay of ``meters`` meters over ``weeks`` weeks of hourly data."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be between 1 and {MAX_WEEKS} (the real demand data)")
    if meters < 1:
        raise ValueError("meters must be at least 1")
    hours = weeks * 168
    rng = np.random.default_rng(seed)
    weather, site = read_site_weather()
    table = _make_meters(meters, rng, site)
    hour_starts = pd.date_range(REPLAY_START, periods=hours, freq="h")
    profiles = np.stack([pv_per_kwp(weather, site, tilt, az).reindex(hour_starts).to_numpy()
                         for tilt, az in ORIENTATIONS])
    shape = load_shape(hours + 2)
    kwp = np.array([m["pv_kwp"] for m in table])
    orientation = rng.integers(len(ORIENTATIONS), size=meters)
    derate = rng.uniform(0.95, 1.0, size=meters)[:, None]
    production = kwp[:, None] * profiles[orientation] * derate
    # Households are peakier than the national curve: square the shape, shift up to an hour.
    mean_kw = rng.uniform(0.3, 0.9, size=meters)[:, None]
    shift = rng.integers(0, 3, size=meters)
    peaky = np.stack([shape[s:s + hours] for s in shift]) ** 2
    noise = rng.lognormal(0.0, 0.2, size=(meters, hours))
    consumption = mean_kw * peaky / peaky.mean() * noise
    is_producer = np.array([m["kind"] == "producer" for m in table])
    consumption[is_producer] *= 0.05  # a plant's own use
    return Replay(start=REPLAY_START, meters=table,
                  consumption=np.round(consumption, 4), production=np.round(production, 4),
                  weather=weather, site=(site[0], site[1]), seed=seed)
