"""Peak shaving and valley filling levels, shift recommendations and the stability score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from optimization_cases import small_case

from models.errors import InvalidInput
from models.optimization import optimize_dispatch
from models.optimization.balancing import (
    dispatch_stability,
    peak_shaving_level,
    shave_and_fill,
    shift_recommendations,
    stability_score,
    valley_filling_level,
)

LOAD = pd.Series([2.0, 1.0, 1.0, 3.0, 6.0, 5.0, 2.0, 1.0])


def test_peak_shaving_level_removes_exactly_the_energy() -> None:
    level = peak_shaving_level(LOAD, 3.0)
    assert (LOAD - level).clip(lower=0).sum() == pytest.approx(3.0)
    assert level == pytest.approx(4.0)  # 6 → 4 and 5 → 4
    assert peak_shaving_level(LOAD, 0.0) == pytest.approx(6.0)


def test_valley_filling_level_adds_exactly_the_energy() -> None:
    level = valley_filling_level(LOAD, 2.0)
    assert (level - LOAD).clip(lower=0).sum() == pytest.approx(2.0)
    assert level == pytest.approx(1.0 + 2.0 / 3.0)


def test_shave_and_fill_flattens_the_profile() -> None:
    flat = shave_and_fill(LOAD, 3.0)
    assert flat.max() < LOAD.max() and flat.min() > LOAD.min()
    assert stability_score(flat) > stability_score(LOAD)


def test_stability_score_definition() -> None:
    assert stability_score(pd.Series([3.0] * 6)) == pytest.approx(100.0)
    spiky = pd.Series([0.0, 4.0, 0.0, 4.0])
    # load factor 0.5, ramp index 1, no lines: 100 × (0.25 + 0 + 0.2)
    assert stability_score(spiky) == pytest.approx(45.0)
    overloaded = pd.DataFrame({"a->b": [0.5, 1.5]})
    assert stability_score(pd.Series([3.0, 3.0]), overloaded) == pytest.approx(90.0)
    with pytest.raises(InvalidInput) as info:
        stability_score(pd.Series([1.0, np.nan]))
    assert info.value.row == 1


def test_recommendations_come_from_the_plans_moves() -> None:
    case = small_case()
    d = optimize_dispatch(case["grid"], case["demand"], case["generation"], case["prices"])
    recs = shift_recommendations(d)
    assert set(recs["action"]) == {"shift_in", "shift_out"}
    out = recs[recs["action"] == "shift_out"].groupby("hour")["kwh"].sum()
    into = recs[recs["action"] == "shift_in"].groupby("hour")["kwh"].sum()
    net = into.sub(out, fill_value=0.0).reindex(d.demand_shift.index, fill_value=0.0)
    np.testing.assert_allclose(net.to_numpy(), d.demand_shift["consumer"].to_numpy(), atol=1e-5)
    # evening peak hours (17-21 UTC) only ever give load away
    evening = recs[recs["hour"].dt.hour.between(17, 21)]
    assert (evening["action"] == "shift_out").all() and len(evening) > 0
    score = dispatch_stability(d, case["grid"].lines.set_index(d.flows.columns)["capacity_kw"])
    assert 0 < score <= 100
