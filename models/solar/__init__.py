"""PV production forecasts: a system learned from its history, physics (pvlib), a learned
correction and conformal intervals by sun elevation.

One job per module: ``weather`` (names, validation, sun geometry), ``physics`` (the chain from
irradiance to AC power), ``clock`` (a meter clock off by whole hours), ``identify`` (orientation,
size, clipping and shading from history), ``correction`` (the ratio model), ``intervals``
(conformal bounds) and ``forecaster`` (``SolarForecaster``, which puts them together).
Production is energy per interval in kWh.
"""

from models.solar.forecaster import SolarForecaster
from models.solar.physics import (
    PVSystem,
    ShadeMap,
    fleet_production,
    physical_power,
    physical_production,
)
from models.solar.weather import ALIASES, prepare_weather

__all__ = ["ALIASES", "PVSystem", "ShadeMap", "SolarForecaster", "fleet_production",
           "physical_power", "physical_production", "prepare_weather"]
