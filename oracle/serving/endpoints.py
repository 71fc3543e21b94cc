"""One function per model endpoint: request body in, response body out (see ``service``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from oracle.serving.schemas import (
    AnomalyRequest,
    ClearRequest,
    DemandForecastRequest,
    DispatchRequest,
    PricingRequest,
    Reading,
)
from oracle.serving.service import Choice, Models, Rejected, refit_copy, series_of


def forecast_frame(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Forecaster output (mean, lo_80, hi_80, ...) as response steps."""
    bounds = [c for c in frame.columns if c != "mean"]
    return [{"ts": ts, "mean": float(row["mean"]),
             "bounds": {c: (float(row[c]) if np.isfinite(row[c]) else None) for c in bounds}}
            for ts, row in frame.iterrows()]


def max_horizon(models: Models, choice: Choice) -> int:
    value = choice.params.get("max_horizon")
    return int(value) if value else models.config.default_max_horizon


def check_horizon(horizon: int, limit: int, choice: Choice) -> None:
    if horizon > limit:
        who = (f"model {choice.name!r} version {choice.version}" if choice.record is not None
               else "the default model")
        raise Rejected(422, ("horizon",), f"horizon {horizon} is beyond the trained maximum "
                       f"of {who}: {limit} steps", "horizon_too_long")


def forecast_demand(models: Models, request: DemandForecastRequest) -> dict[str, Any]:
    """Champion hyperparameters refit on the request history, else the default forecaster."""
    choice = models.run("demand", (), lambda: models.choose(request, "demand"))
    y = models.run("demand", ("history",), lambda: series_of(request.history, "history"))
    check_horizon(request.horizon, max_horizon(models, choice), choice)

    if choice.record is not None:
        model = models.run("demand", (), lambda: refit_copy(models.load(choice)))
        note = "champion hyperparameters refit on the request history"
    else:
        model = models.run("demand", (), lambda: default_forecaster(models))
        note = (f"no champion registered for {choice.name!r}: default "
                f"{models.config.default_forecaster} fitted on the request history")
    frame = models.run("demand", ("history",), lambda: model.fit(y).predict(
        request.horizon, level=tuple(request.level)))
    return {**choice.provenance(note), "horizon": request.horizon,
            "forecast": forecast_frame(frame)}


def default_forecaster(models: Models) -> Any:
    from models.forecasting import Forecaster

    return Forecaster(model=models.config.default_forecaster)


def clear(models: Models, request: ClearRequest) -> dict[str, Any]:
    """Double-auction clearing with the request's rule or the champion's registered one."""
    from models.pricing import clear_market

    choice = models.run("pricing", (), lambda: models.choose(request, "pricing"))
    params = choice.params
    rule = request.rule or params.get("rule") or models.config.rule
    floor = request.floor if request.floor is not None else params.get("floor", models.config.floor)
    cap = request.cap if request.cap is not None else params.get("cap", models.config.cap)
    bids = [o.model_dump(exclude_none=True) for o in request.bids]
    offers = [o.model_dump(exclude_none=True) for o in request.offers]
    clearing = models.run("pricing", (), lambda: clear_market(
        pd.DataFrame(bids), pd.DataFrame(offers), rule=rule, floor=float(floor), cap=float(cap)))
    out = clearing.to_dict()
    note = ("registered parameters of the champion" if choice.record is not None
            else "no champion registered: configured rule, floor and cap")
    return {**choice.provenance(note), **{k: out[k] for k in (
        "rule", "price", "volume_kwh", "price_interval", "buyer_surplus", "seller_surplus",
        "total_surplus", "matches")}}


def optimize_price(models: Models, request: PricingRequest) -> dict[str, Any]:
    """The welfare-optimal price of two curves and its components."""
    from models.pricing import price_components, welfare_optimal_price

    choice = models.run("pricing", (), lambda: models.choose(request, "pricing"))
    params = choice.params
    kwargs: dict[str, Any] = {
        "weights": tuple(request.weights or params.get("weights", (0.4, 0.4, 0.2))),
        "balancing_cost": request.balancing_cost if request.balancing_cost is not None
        else params.get("balancing_cost", 0.10),
        "floor": request.floor if request.floor is not None else params.get("floor", models.config.floor),
        "cap": request.cap if request.cap is not None else params.get("cap", models.config.cap)}
    demand = (request.demand.prices, request.demand.quantities_kwh)
    supply = (request.supply.prices, request.supply.quantities_kwh)

    def call() -> dict[str, Any]:
        best = welfare_optimal_price(demand, supply, **kwargs)
        parts = price_components(best.price, congestion_level=request.congestion_level,
                                 ts=request.ts, grid_fee=request.grid_fee,
                                 floor=kwargs["floor"], cap=kwargs["cap"])
        return {**best.__dict__, "components": parts.as_dict()}

    result = models.run("pricing", (), call)
    note = ("registered parameters of the champion" if choice.record is not None
            else "no champion registered: default welfare weights (0.4, 0.4, 0.2)")
    return {**choice.provenance(note), **result}


def readings_frame(rows: list[Reading]) -> pd.DataFrame:
    frame = pd.DataFrame([r.model_dump() for r in rows])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    for column in ("consumption_kwh", "production_kwh"):
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame


def detect(models: Models, request: AnomalyRequest) -> dict[str, Any]:
    """The champion detector, else the default ensemble fitted on the history (or readings)."""
    from models.anomaly import AnomalyDetector

    choice = models.run("anomaly", (), lambda: models.choose(request, "anomaly"))
    frame = models.run("anomaly", ("readings",), lambda: readings_frame(request.readings))
    if choice.record is not None:
        detector = models.run("anomaly", (), lambda: models.load(choice))
        note = "fitted champion detector"
    else:
        past = request.history
        history = (models.run("anomaly", ("history",), lambda: readings_frame(past or []))
                   if request.history else frame)
        where = ("history",) if request.history else ("readings",)
        detector = models.run("anomaly", where, lambda: AnomalyDetector().fit(history))
        note = (f"no champion registered for {choice.name!r}: default ensemble fitted on the "
                f"request {'history' if request.history else 'readings'}")
    found = models.run("anomaly", ("readings",), lambda: detector.detect(frame))
    records = found.astype(object).where(found.notna(), None).to_dict(orient="records")
    return {**choice.provenance(note), "anomalies": records}


def _hourly(name: str, profile: dict[str, list[float]] | None, horizon: int) -> pd.DataFrame | None:
    if profile is None:
        return None
    for node, values in profile.items():
        if len(values) < horizon:
            raise Rejected(422, (name, node), f"has {len(values)} hourly values, fewer than the "
                           f"horizon of {horizon}", "too_short")
    return pd.DataFrame({node: values[:horizon] for node, values in profile.items()},
                        index=pd.RangeIndex(horizon, name="hour"))


def dispatch(models: Models, request: DispatchRequest) -> dict[str, Any]:
    """Optimal dispatch of the request's grid; the champion supplies carbon price and weights."""
    from models.optimization import Grid, optimize_dispatch

    choice = models.run("dispatch", (), lambda: models.choose(request, "dispatch"))
    horizon = request.horizon
    demand = _hourly("demand", request.demand, horizon)
    generation = _hourly("generation", request.generation, horizon)
    prices = None
    if request.import_prices is not None:
        if len(request.import_prices) < horizon:
            raise Rejected(422, ("import_prices",), f"has {len(request.import_prices)} values, "
                           f"fewer than the horizon of {horizon}", "too_short")
        prices = pd.Series(request.import_prices[:horizon], index=pd.RangeIndex(horizon, name="hour"))
    doc = request.grid.model_dump(by_alias=True, exclude_none=True)
    if demand is None:
        demand = pd.DataFrame({n["node_id"]: [n["demand_kw"]] * horizon for n in doc["nodes"]},
                              index=pd.RangeIndex(horizon, name="hour"))
    carbon_price = float(choice.params.get("carbon_price", 0.0))

    def call() -> Any:
        grid = Grid.from_dict(doc)
        return grid, optimize_dispatch(grid, demand, generation, prices, horizon,
                                       carbon_price=carbon_price)

    grid, plan = models.run("dispatch", ("grid",), call)
    capacity = {f"{r['from']}->{r['to']}": float(r["capacity_kw"]) for _, r in grid.lines.iterrows()}
    loading = {k: [abs(float(v)) / capacity[k] if np.isfinite(capacity[k]) else 0.0
                   for v in plan.flows[k]] for k in plan.flows.columns}
    note = ("champion's registered carbon price" if choice.record is not None
            else "no champion registered: cost-optimal dispatch, no carbon price")
    return {**choice.provenance(note), "summary": plan.summary(),
            "grid_import_kw": plan.grid_import.tolist(),
            "grid_export_kw": plan.grid_export.tolist(),
            "state_of_charge_kwh": {str(k): v.tolist() for k, v in plan.state_of_charge.items()},
            "line_flow_kw": {str(k): v.tolist() for k, v in plan.flows.items()},
            "line_loading": loading,
            "nodal_prices": {str(k): v.tolist() for k, v in plan.nodal_prices.items()}}
