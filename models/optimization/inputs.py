"""Checks and aligns the time series a dispatch needs: demand and renewable generation per node
and hour, import/export prices and grid carbon per hour. Bad values raise ``InvalidInput``
naming the field, the row (timestamp) and the value."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from models.errors import InvalidInput
from models.optimization.grid import Grid
from models.optimization.model import ModelInputs, Weights


def prepare_inputs(grid: Grid, demand: pd.DataFrame | None, generation: pd.DataFrame | None,
                   prices: float | pd.Series | pd.DataFrame | None, horizon: int, *,
                   weights: Weights, carbon_price: float, unserved_penalty: float | None,
                   reference_price: float | None) -> ModelInputs:
    """Turn user frames into node×hour arrays over the first ``horizon`` hours."""
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise InvalidInput(f"horizon must be a positive integer, got {horizon!r}",
                           field="horizon", value=horizon)
    horizon = int(horizon)
    if demand is None:
        index = pd.RangeIndex(horizon, name="hour")
        demand_arr = np.repeat(grid.nodes["demand_kw"].to_numpy()[:, None], horizon, axis=1)
    else:
        demand_arr, index = _node_frame(grid, demand, "demand", horizon, None)
    pv = (np.zeros_like(demand_arr) if generation is None
          else _node_frame(grid, generation, "generation", horizon, index)[0])
    imp, exp, carbon = _prices(grid, prices, horizon, index)
    _scalar("carbon_price", carbon_price)
    if unserved_penalty is not None:
        _scalar("unserved_penalty", unserved_penalty, positive=True)
    if reference_price is None:
        reference_price = _reference_price(grid, imp)
    else:
        _scalar("reference_price", reference_price, positive=True)
    return ModelInputs(index=index, demand=demand_arr, pv=pv, import_price=imp, export_price=exp,
                       grid_carbon=carbon, weights=weights, carbon_price=float(carbon_price),
                       unserved_penalty=unserved_penalty, reference_price=float(reference_price))


def _node_frame(grid: Grid, frame: Any, name: str, horizon: int,
                index: pd.Index | None) -> tuple[np.ndarray, pd.Index]:
    """hour × node frame -> node × hour array; unknown nodes, NaN, negatives or short rows raise."""
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(f"{name} must be a DataFrame of hours × nodes, got "
                           f"{type(frame).__name__}", field=name, value=type(frame).__name__)
    unknown = [c for c in frame.columns if c not in set(grid.node_ids)]
    if unknown:
        raise InvalidInput(f"{name} has column {unknown[0]!r} that is not a node of the grid",
                           field=f"{name}.columns", value=unknown[0])
    if len(frame) < horizon:
        raise InvalidInput(f"{name} has {len(frame)} rows, fewer than the horizon of {horizon}",
                           field=name, value=len(frame))
    frame = frame.iloc[:horizon]
    if index is not None and not frame.index.equals(index):
        raise InvalidInput(f"{name} index does not match the demand index (first row "
                           f"{frame.index[0]!r} vs {index[0]!r})", field=f"{name}.index",
                           row=frame.index[0], value=frame.index[0])
    numeric = all(pd.api.types.is_numeric_dtype(t) for t in frame.dtypes)
    values = frame.astype(float) if numeric else frame.apply(pd.to_numeric, errors="coerce")
    _check_values(values, frame, name)
    full = values.reindex(columns=grid.node_ids, fill_value=0.0)
    return full.to_numpy(dtype=float).T.copy(), frame.index


def _check_values(values: pd.DataFrame, raw: pd.DataFrame, name: str) -> None:
    arr = values.to_numpy(dtype=float)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        col, row = values.columns[c], values.index[r]
        raise InvalidInput(f"{name}[{col!r}] at {row!r} must be a finite number >= 0, got "
                           f"{raw.iat[r, c]!r}", field=f"{name}.{col}", row=row,
                           value=raw.iat[r, c])


def _prices(grid: Grid, prices: Any, horizon: int,
            index: pd.Index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Import price, export price and grid carbon per hour (connection defaults fill the gaps)."""
    conn = grid.connection
    if conn is None:
        if prices is not None:
            raise InvalidInput("prices were given but the grid has no main-grid connection",
                               field="prices", value=type(prices).__name__)
        zero = np.zeros(horizon)
        return zero, zero, zero
    frame = pd.DataFrame(index=index)
    if isinstance(prices, int | float) and not isinstance(prices, bool):
        frame["import"] = float(prices)
    elif isinstance(prices, pd.Series):
        frame["import"] = _aligned(prices, "prices", horizon, index)
    elif isinstance(prices, pd.DataFrame):
        if "import" not in prices.columns:
            raise InvalidInput("prices frame needs an 'import' column",
                               field="prices.import", value=list(prices.columns))
        for col in ("import", "export", "carbon_g_per_kwh"):
            if col in prices.columns:
                frame[col] = _aligned(prices[col], f"prices.{col}", horizon, index)
    elif prices is not None:
        raise InvalidInput(f"prices must be a number, Series or DataFrame, got "
                           f"{type(prices).__name__}", field="prices", value=prices)
    defaults = {"import": conn.import_price, "export": conn.export_price,
                "carbon_g_per_kwh": conn.carbon_g_per_kwh}
    for col, value in defaults.items():
        if col not in frame.columns:
            frame[col] = value
    bad = ~np.isfinite(frame.to_numpy(dtype=float))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InvalidInput(f"prices.{frame.columns[c]} at {index[r]!r} must be finite, got "
                           f"{frame.iat[r, c]!r}", field=f"prices.{frame.columns[c]}",
                           row=index[r], value=frame.iat[r, c])
    over = np.flatnonzero(frame["export"].to_numpy() > frame["import"].to_numpy())
    if len(over):
        r = over[0]
        raise InvalidInput(f"prices.export {frame['export'].iat[r]} exceeds the import price "
                           f"{frame['import'].iat[r]} at {index[r]!r}", field="prices.export",
                           row=index[r], value=frame["export"].iat[r])
    if (frame["carbon_g_per_kwh"] < 0).any():
        r = int(np.argmax(frame["carbon_g_per_kwh"].to_numpy() < 0))
        raise InvalidInput(f"prices.carbon_g_per_kwh must be >= 0 at {index[r]!r}",
                           field="prices.carbon_g_per_kwh", row=index[r],
                           value=frame["carbon_g_per_kwh"].iat[r])
    return (frame["import"].to_numpy(float), frame["export"].to_numpy(float),
            frame["carbon_g_per_kwh"].to_numpy(float))


def _aligned(series: pd.Series, name: str, horizon: int, index: pd.Index) -> np.ndarray:
    if len(series) < horizon:
        raise InvalidInput(f"{name} has {len(series)} rows, fewer than the horizon of {horizon}",
                           field=name, value=len(series))
    series = series.iloc[:horizon]
    if not isinstance(index, pd.RangeIndex) and not series.index.equals(index):
        raise InvalidInput(f"{name} index does not match the demand index (first row "
                           f"{series.index[0]!r} vs {index[0]!r})", field=f"{name}.index",
                           row=series.index[0], value=series.index[0])
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def _reference_price(grid: Grid, import_price: np.ndarray) -> float:
    """Currency value of a kWh used to weigh the renewable and stability terms."""
    if grid.connection is not None:
        ref = float(np.mean(np.abs(import_price)))
    elif len(grid.generators):
        g = grid.generators
        ref = float((g["cost_linear"] + g["cost_quadratic"] * g["p_max_kw"]).abs().mean())
    else:
        ref = 0.0
    return ref if ref > 0 else 1.0


def _scalar(name: str, value: Any, *, positive: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        raise InvalidInput(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, "
                           f"got {value!r}", field=name, value=value)
