"""`oracle model optimize`: microgrid dispatch on a grid JSON file.

Input (JSON; see ``tests/data/grid_small.json``)::

    {
      "grid": {                                   # the backend's /api/v1/grid document
        "nodes": [{"node_id": "n1", "storage_kwh": 10, "storage_kw": 4,
                   "charge_efficiency": 0.95, "discharge_efficiency": 0.95,
                   "soc_initial": 0.5, "soc_final": 0.5, "soc_min": 0.1, "soc_max": 0.95,
                   "dr_shift_kw": 1, "dr_window_h": 3, "dr_curtail_kw": 0.5,
                   "dr_curtail_cost": 0.6, "demand_kw": 2}],        # all but node_id optional
        "lines": [{"from": "n1", "to": "n2", "capacity_kw": 20, "reactance": 0.01}],
        "generators": [{"name": "diesel", "node": "n1", "p_max_kw": 5, "p_min_kw": 0,
                        "cost_linear": 0.3, "cost_quadratic": 0.0, "cost_fixed": 0,
                        "carbon_g_per_kwh": 700, "renewable": false}],
        "connection": {"node": "n1", "import_price": 0.25, "export_price": 0.05,
                       "import_limit_kw": 50, "export_limit_kw": 50, "carbon_g_per_kwh": 250}
      },
      "hours": ["2024-06-03T00:00:00Z", ...],      # optional labels, one per hour
      "horizon": 24,                              # optional, default: number of hours given
      "demand": {"n1": [kW per hour, ...]},       # optional, default nodes' demand_kw
      "generation": {"n1": [kW per hour, ...]},   # renewable (PV) available, optional
      "prices": {"import": [...], "export": [...], "carbon_g_per_kwh": [...]},  # or a number
      "weights": {"cost": 0.6, "renewable": 0.3, "stability": 0.1},
      "carbon_price": 0.0,                        # per kg CO2, optional
      "unserved_penalty": null                    # per kWh: report unmet demand, don't fail
    }

Output (JSON): ``summary`` (cost, renewable share, carbon, peaks), ``hours`` and one
``{column: [value per hour]}`` object per plan frame (flows, grid_import, storage, SoC, demand
response, nodal prices, ...), plus ``demand_moves``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import typer

from models.errors import InvalidInput
from models.errors import ModelError as ModelFailure
from models.optimization import Dispatch, Grid, Weights, optimize_dispatch
from oracle.cli._common import (
    ConfigOpt,
    InputOpt,
    OutputOpt,
    check_output,
    read_json,
    settings_for,
    write_output,
)
from oracle.config import ApiSettings
from oracle.errors import InputTooLarge, SourceDataInvalid
from oracle.jsonsafe import excerpt
from oracle.limits import Limits, check_dispatch
from oracle.model_errors import translate

FRAMES = ("flows", "generation", "renewable_spilled", "storage_charge", "storage_discharge",
          "state_of_charge", "demand_shift", "demand_curtailed", "unserved", "served_demand",
          "nodal_prices")


def optimize_file(input_path: Path, output: Path, limits: Limits | None = None) -> dict[str, Any]:
    """Optimise the dispatch described in ``input_path``; write the plan; return the summary.

    The document's shape and the problem's size (``[api]`` limits) are checked before the
    model allocates anything."""
    check_output(output, document=True)
    doc = read_json(input_path)
    try:
        arguments = _arguments(doc, limits or ApiSettings())
        dispatch = optimize_dispatch(**arguments)
    except InputTooLarge as err:
        raise InputTooLarge(f"{input_path}: {err}", field=err.field, setting=err.setting,
                            limit=err.limit) from None
    except ModelFailure as err:
        raise translate(err, str(input_path)) from err
    except (TypeError, ValueError) as err:  # wrong shapes or types in the JSON document
        raise SourceDataInvalid(f"{input_path}: {excerpt(str(err), 200)}", field="input",
                                value=None) from err
    result = plan_document(dispatch)
    write_output(result, output)
    return result["summary"]


def _number(doc: dict[str, Any], name: str, default: float | None) -> float | None:
    value = doc.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{name} must be a number, got {excerpt(repr(value), 40)}",
                           field=name, value=None)
    return float(value)


def _horizon(doc: dict[str, Any], lengths: list[int]) -> int:
    value = doc.get("horizon")
    if value is None:
        return min(lengths) if lengths else 24
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) \
            or value < 1:
        raise InvalidInput(f"horizon must be a whole number of hours >= 1, got "
                           f"{excerpt(repr(value), 40)}", field="horizon", value=None)
    return int(value)


def _profiles(doc: dict[str, Any], name: str) -> dict[str, list[Any]] | None:
    """``{node: [kW per hour]}``, or None when absent."""
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
        raise InvalidInput(f"{name} must be an object of hourly lists per node "
                           f"({{\"node\": [kW, ...]}}), got {type(value).__name__}",
                           field=name, value=None)
    return value


def _arguments(doc: Any, limits: Limits) -> dict[str, Any]:
    """The JSON document as ``optimize_dispatch`` keyword arguments, within ``limits``."""
    if not isinstance(doc, dict):
        raise InvalidInput("input must be a JSON object with a 'grid'", field="grid", value=None)
    grid_doc = doc.get("grid", doc)
    nodes = grid_doc.get("nodes") if isinstance(grid_doc, dict) else None
    if not isinstance(nodes, list):
        raise InvalidInput("grid needs a 'nodes' list", field="grid.nodes", value=None)
    series = {k: v for k in ("demand", "generation") if (v := _profiles(doc, k)) is not None}
    prices = doc.get("prices")
    if isinstance(prices, dict):
        if not all(isinstance(v, list | int | float) for v in prices.values()):
            raise InvalidInput("prices must be a number or an object of numbers or hourly lists",
                               field="prices", value=None)
    elif prices is not None and (isinstance(prices, bool) or not isinstance(prices, int | float)):
        raise InvalidInput("prices must be a number or an object of numbers or hourly lists",
                           field="prices", value=None)
    lengths = [len(v) for s in series.values() for v in s.values()]
    if isinstance(prices, dict):
        lengths += [len(v) for v in prices.values() if isinstance(v, list)]
    horizon = _horizon(doc, lengths)
    check_dispatch(limits, len(nodes), horizon)  # before anything of that size exists
    grid = Grid.from_dict(grid_doc)
    hours = doc.get("hours")
    if hours is not None and not isinstance(hours, list):
        raise InvalidInput("hours must be a list of ISO 8601 times", field="hours", value=None)
    index = pd.DatetimeIndex(pd.to_datetime(hours[:horizon], utc=True)) if hours else None

    def frame(data: dict[str, Any], name: str) -> pd.DataFrame:
        try:
            out = pd.DataFrame({k: list(v)[:horizon] for k, v in data.items()})
        except (TypeError, ValueError) as err:
            raise InvalidInput(f"{name}: every node needs a list of hourly values ({err})",
                               field=name, value=None) from err
        return out.set_axis(index) if index is not None and len(index) == len(out) else out

    if isinstance(prices, dict):
        prices = frame(prices, "prices")
    weights = doc.get("weights")
    if weights is not None and not isinstance(weights, dict):
        raise InvalidInput("weights must be an object (cost, renewable, stability)",
                           field="weights", value=None)
    return {"grid": grid, "horizon": horizon,
            "demand": frame(series["demand"], "demand") if "demand" in series else None,
            "generation": frame(series["generation"], "generation")
            if "generation" in series else None,
            "prices": prices, "weights": Weights(**weights) if weights else None,
            "carbon_price": _number(doc, "carbon_price", 0.0),
            "unserved_penalty": _number(doc, "unserved_penalty", None)}


def plan_document(d: Dispatch) -> dict[str, Any]:
    """The dispatch as plain JSON-ready data."""
    hours = [h.isoformat() if isinstance(h, pd.Timestamp) else h for h in d.grid_import.index]
    doc: dict[str, Any] = {"summary": d.summary(), "hours": hours,
                           "grid_import": d.grid_import.tolist(),
                           "grid_export": d.grid_export.tolist()}
    for name in FRAMES:
        frame = getattr(d, name)
        doc[name] = {str(c): frame[c].tolist() for c in frame.columns}
    moves = d.demand_moves.copy()
    for col in ("from_hour", "to_hour"):
        moves[col] = [h.isoformat() if isinstance(h, pd.Timestamp) else h for h in moves[col]]
    doc["demand_moves"] = moves.to_dict(orient="records")
    return doc


def register(app: typer.Typer) -> None:
    """Add `optimize` to the `model` sub-app."""

    @app.command("optimize")
    def optimize(input: InputOpt, output: OutputOpt, config: ConfigOpt = None) -> None:
        """Optimise microgrid dispatch (storage, demand response, lines, imports) from a grid
        JSON file to a plan JSON (see the module docstring for both formats). Problems larger
        than api.max_nodes, api.max_dispatch_hours or api.max_node_hours are refused."""
        summary = optimize_file(input, output, settings_for(config).api)
        typer.echo(f"cost {summary['total_cost']:.4f}, renewable share "
                   f"{summary['renewable_share']:.1%}, peak {summary['peak_kw']:.2f} kW "
                   f"({summary['peak_reduction_pct']:.1f}% below baseline); written to {output}")
