"""Point models by name, imported lazily so that TensorFlow is loaded only when asked for."""

from __future__ import annotations

import importlib
from typing import Any

from models.errors import InvalidInput
from models.forecasting.base import PointModel

MODEL_PATHS: dict[str, str] = {
    "seasonal_naive": "models.forecasting.naive:SeasonalNaive",
    "naive_day": "models.forecasting.naive:DayNaive",
    "naive_week": "models.forecasting.naive:WeekNaive",
    "ets": "models.forecasting.ets:MSTLETS",
    "arima": "models.forecasting.arima:AutoSARIMAX",
    "mstl_ar": "models.forecasting.arima:MSTLAR",
    "ets_daylight": "models.forecasting.ets:MSTLETS",
    "mstl_ar_daylight": "models.forecasting.arima:MSTLAR",
    "week_analog": "models.forecasting.analog:WeekAnalog",
    "day_analog": "models.forecasting.analog:DayAnalog",
    "gbm": "models.forecasting.gbm:GBMForecaster",
    "lstm": "models.forecasting.deep:LSTMForecaster",
    "transformer": "models.forecasting.deep:TransformerForecaster",
    "prophet": "models.forecasting.prophet:ProphetForecaster",
}
# the daylight-aware variants: the same models given the demand's site (see daylight.py)
SITE_MODELS = frozenset({"ets_daylight", "mstl_ar_daylight"})
# the baselines ``auto`` always backtests, stacks and falls back to
BASELINES = ("naive_day", "naive_week")


def make_model(name: str, **params: Any) -> PointModel:
    """Build the point model registered as ``name`` with hyperparameters ``params``."""
    if name not in MODEL_PATHS:
        choices = ", ".join(sorted(MODEL_PATHS))
        raise InvalidInput(f"unknown model {name!r}; choose one of {choices}",
                           field="model", value=name)
    if name in SITE_MODELS and params.get("site") is None:
        raise InvalidInput(f"model {name!r} needs the demand's site: site=(latitude, longitude, "
                           "timezone)", field="site", value=None)
    if name == "prophet":
        try:
            importlib.import_module("prophet")
        except ImportError as err:
            raise InvalidInput(
                "model 'prophet' needs the optional package 'prophet', which is not installed; "
                "choose another model", field="model", value=name) from err
    module_name, _, attr = MODEL_PATHS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise InvalidInput(f"model {name!r} is unavailable: {err}", field="model",
                           value=name) from err
    try:
        cls = getattr(module, attr)
    except AttributeError as err:
        raise InvalidInput(f"model {name!r} is unavailable: {module_name} has no {attr}",
                           field="model", value=name) from err
    try:
        return cls(**params)
    except TypeError as err:
        raise InvalidInput(f"bad parameters for model {name!r}: {err}", field="params",
                           value=params) from err
