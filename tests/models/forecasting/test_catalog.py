"""The registry builds models by name and names the choices on a bad one."""

from __future__ import annotations

import importlib.util

import pytest

from models.errors import InvalidInput
from models.forecasting.base import PointModel
from models.forecasting.catalog import MODEL_PATHS, make_model
from models.forecasting.naive import SeasonalNaive


def test_make_model_passes_parameters() -> None:
    model = make_model("seasonal_naive", season="day")
    assert isinstance(model, SeasonalNaive)
    assert isinstance(model, PointModel)
    assert model.season == "day"


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(InvalidInput, match="seasonal_naive") as err:
        make_model("holt")
    assert err.value.field == "model"


def test_bad_parameter_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="bad parameters"):
        make_model("ets", smoothing=0.3)


@pytest.mark.skipif(importlib.util.find_spec("prophet") is not None, reason="prophet installed")
def test_prophet_without_the_package_is_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="not installed"):
        make_model("prophet")


def test_every_design_model_is_registered() -> None:
    assert {"seasonal_naive", "ets", "arima", "gbm", "lstm", "transformer",
            "prophet"} <= set(MODEL_PATHS)
