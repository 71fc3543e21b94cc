"""optimize_dispatch and Grid on bad input and on plans that cannot be met."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from optimization_cases import HOURS, small_case

from models.errors import InvalidInput, SolveFailed
from models.optimization import Grid, Weights, optimize_dispatch


def _solve(case: dict[str, Any], **kw: Any) -> Any:
    return optimize_dispatch(case["grid"], case["demand"], case["generation"], case["prices"],
                             horizon=24, **kw)


def test_infeasible_line_limit_is_named_with_line_and_hour() -> None:
    with pytest.raises(SolveFailed) as info:
        _solve(small_case(line_kw=4.0))
    err = info.value
    assert err.status == "infeasible" and err.binding == "line_limits"
    assert "'line_limits'" in str(err) and "feeder->consumer" in str(err)
    assert "17:00" in str(err)  # the evening peak is where it breaks


def test_unreachable_final_state_of_charge_is_named() -> None:
    case = small_case()
    nodes = case["grid"].nodes.copy()
    nodes.loc["prosumer", ["soc_initial", "soc_final", "storage_kw"]] = [0.1, 0.95, 0.1]
    case["grid"] = Grid(nodes=nodes, lines=case["grid"].lines, connection=case["grid"].connection)
    with pytest.raises(SolveFailed) as info:
        _solve(case)
    assert info.value.binding == "storage_final_soc"
    assert "prosumer" in str(info.value)


def test_unserved_penalty_reports_shortfall_instead_of_raising() -> None:
    d = _solve(small_case(line_kw=4.0), unserved_penalty=10.0)
    assert d.unserved["consumer"].max() == pytest.approx(0.5, abs=1e-6)  # 6 − 1 − 0.5 − 4
    assert d.unserved.drop(columns="consumer").to_numpy().max() < 1e-6
    assert d.cost_breakdown["unserved"] == pytest.approx(10.0 * d.unserved.sum().sum())


def test_uncapped_generator_is_rejected() -> None:
    with pytest.raises(InvalidInput) as info:
        Grid(nodes=pd.DataFrame(index=["a"]),
             generators=pd.DataFrame({"node": ["a"], "p_max_kw": [math.inf]}))
    assert info.value.field == "generators.p_max_kw" and info.value.row == 0


@pytest.mark.parametrize(("column", "value", "field"), [
    ("storage_kwh", -1.0, "nodes.storage_kwh"),
    ("storage_kw", "four", "nodes.storage_kw"),
    ("charge_efficiency", 1.2, "nodes.charge_efficiency"),
    ("soc_initial", 0.05, "nodes.soc_initial"),  # below soc_min 0.1
    ("dr_curtail_kw", -0.5, "nodes.dr_curtail_kw"),
])
def test_bad_node_values_name_field_row_and_value(column: str, value: Any, field: str) -> None:
    case = small_case()
    nodes = case["grid"].nodes.astype(object)
    nodes.loc["prosumer", column] = value
    with pytest.raises(InvalidInput) as info:
        Grid(nodes=nodes, lines=case["grid"].lines, connection=case["grid"].connection)
    assert info.value.field == field and info.value.row == "prosumer"
    assert "prosumer" in str(info.value)


def test_bad_lines_are_rejected() -> None:
    nodes = pd.DataFrame(index=["a", "b"])
    with pytest.raises(InvalidInput) as info:
        Grid(nodes=nodes, lines=pd.DataFrame({"from": ["a"], "to": ["z"]}))
    assert info.value.field == "lines.to" and info.value.value == "z"
    with pytest.raises(InvalidInput, match="capacity_kw"):
        Grid(nodes=nodes, lines=pd.DataFrame({"from": ["a"], "to": ["b"], "capacity_kw": [-3]}))
    with pytest.raises(InvalidInput, match="reactance"):
        Grid(nodes=nodes, lines=pd.DataFrame({"from": ["a"], "to": ["b"], "reactance": [0.0]}))


def test_nan_and_negative_demand_name_node_and_hour() -> None:
    case = small_case()
    case["demand"].loc[HOURS[5], "consumer"] = np.nan
    with pytest.raises(InvalidInput) as info:
        _solve(case)
    assert info.value.field == "demand.consumer" and info.value.row == HOURS[5]
    case = small_case()
    case["generation"].loc[HOURS[7], "prosumer"] = -2.0
    with pytest.raises(InvalidInput, match="generation") as info:
        _solve(case)
    assert info.value.value == -2.0


def test_mismatched_shapes_are_rejected() -> None:
    case = small_case()
    short = case["demand"].iloc[:10]
    with pytest.raises(InvalidInput, match="fewer than the horizon"):
        optimize_dispatch(case["grid"], short, horizon=24)
    shifted = case["generation"].set_axis(HOURS + pd.Timedelta("1h"))
    with pytest.raises(InvalidInput) as info:
        optimize_dispatch(case["grid"], case["demand"], shifted, horizon=24)
    assert info.value.field == "generation.index"
    with pytest.raises(InvalidInput) as info:
        optimize_dispatch(case["grid"], case["demand"].assign(nowhere=1.0), horizon=24)
    assert info.value.value == "nowhere"


def test_bad_prices_weights_and_horizon() -> None:
    case = small_case()
    prices = case["prices"].copy()
    prices.loc[HOURS[3], "export"] = 0.9
    with pytest.raises(InvalidInput) as info:
        optimize_dispatch(case["grid"], case["demand"], prices=prices)
    assert info.value.field == "prices.export" and info.value.row == HOURS[3]
    with pytest.raises(InvalidInput, match=r"weights\.renewable"):
        Weights(cost=0.6, renewable=-0.3)
    with pytest.raises(InvalidInput, match="horizon"):
        optimize_dispatch(case["grid"], case["demand"], horizon=0)
