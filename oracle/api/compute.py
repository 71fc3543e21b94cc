"""The heavy half of each model endpoint, run in a worker process (``workers``).

Plain functions of picklable arguments (frames, series, unfitted or fitted models), each
returning picklable data; the endpoint functions prepare their arguments and shape the answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def fit_forecast(model: Any, y: pd.Series, horizon: int, level: tuple[int, ...]) -> pd.DataFrame:
    """Fit an (unfitted) forecaster on ``y`` and forecast ``horizon`` steps with intervals."""
    return model.fit(y).predict(horizon, level=level)


def solar_production(specs: dict[str, Any], model: Any, past: pd.DataFrame,
                     history: pd.Series | None, future: pd.DataFrame) -> pd.Series:
    """PV production over ``future``: physics alone without history, else ``model`` (a
    SolarForecaster) fitted on the history and its weather."""
    from models.solar import PVSystem, physical_production

    if history is None:
        return physical_production(future, PVSystem(**specs))
    return model.fit(past, history).predict(future)


def detect_anomalies(detector: Any, history: pd.DataFrame | None,
                     frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Anomalies in ``frame``: a fitted ``detector``, else the default ensemble fitted on
    ``history``."""
    if detector is None:
        from models.anomaly import AnomalyDetector

        detector = AnomalyDetector().fit(history if history is not None else frame)
    found = detector.detect(frame)
    return list(found.astype(object).where(found.notna(), None).to_dict(orient="records"))


def clear_orders(bids: list[dict[str, Any]], offers: list[dict[str, Any]], rule: str,
                 floor: float, cap: float) -> dict[str, Any]:
    """Double-auction clearing of two books."""
    from models.pricing import clear_market

    clearing = clear_market(pd.DataFrame(bids), pd.DataFrame(offers), rule=rule, floor=floor,
                            cap=cap)
    return clearing.to_dict()


def welfare_price(demand: tuple[list[float], list[float]], supply: tuple[list[float], list[float]],
                  options: dict[str, Any], congestion_level: float, ts: Any,
                  grid_fee: float) -> dict[str, Any]:
    """The welfare-optimal price of two curves and its components."""
    from models.pricing import price_components, welfare_optimal_price

    best = welfare_optimal_price(demand, supply, **options)
    parts = price_components(best.price, congestion_level=congestion_level, ts=ts,
                             grid_fee=grid_fee, floor=options["floor"], cap=options["cap"])
    return {**best.__dict__, "components": parts.as_dict()}


def solve_dispatch(doc: dict[str, Any], demand: pd.DataFrame, generation: pd.DataFrame | None,
                   prices: pd.Series | None, horizon: int, carbon_price: float) -> dict[str, Any]:
    """Optimal dispatch of the grid document, as the response's plan fields."""
    from models.optimization import Grid, optimize_dispatch

    grid = Grid.from_dict(doc)
    plan = optimize_dispatch(grid, demand, generation, prices, horizon, carbon_price=carbon_price)
    capacity = {f"{r['from']}->{r['to']}": float(r["capacity_kw"]) for _, r in grid.lines.iterrows()}
    loading = {k: [abs(float(v)) / capacity[k] if np.isfinite(capacity[k]) else 0.0
                   for v in plan.flows[k]] for k in plan.flows.columns}
    return {"summary": plan.summary(),
            "grid_import_kw": plan.grid_import.tolist(),
            "grid_export_kw": plan.grid_export.tolist(),
            "state_of_charge_kwh": {str(k): v.tolist() for k, v in plan.state_of_charge.items()},
            "line_flow_kw": {str(k): v.tolist() for k, v in plan.flows.items()},
            "line_loading": loading,
            "nodal_prices": {str(k): v.tolist() for k, v in plan.nodal_prices.items()}}
