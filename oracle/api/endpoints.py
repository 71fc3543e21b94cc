"""One function per model endpoint: the request in, a ``Job`` out (see ``service``).

Each function does the cheap part here (choose the model, check the limits, load a champion,
shape the inputs) and leaves the heavy call to a worker process (``compute``); the job's
``finish`` turns the worker's result into the response body.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from oracle.api import compute
from oracle.api.schemas import (
    AnomalyRequest,
    ClearRequest,
    DemandForecastRequest,
    DispatchRequest,
    PricingRequest,
    Reading,
)
from oracle.api.service import Choice, Job, Models, Rejected, refit_copy, series_of
from oracle.limits import Limits, check_at_most, check_dispatch


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


def forecast_demand(models: Models, request: DemandForecastRequest, limits: Limits) -> Job:
    """Champion hyperparameters refit on the request history, else the default forecaster."""
    check_at_most("history.values", len(request.history.values), limits.max_points,
                  "max_points", "points")
    check_at_most("horizon", request.horizon, limits.max_horizon, "max_horizon", "steps")
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
    return Job("demand", ("history",), compute.fit_forecast,
               (model, y, request.horizon, tuple(request.level)),
               lambda frame: {**choice.provenance(note), "horizon": request.horizon,
                              "forecast": forecast_frame(frame)})


def default_forecaster(models: Models) -> Any:
    from models.forecasting import Forecaster

    return Forecaster(model=models.config.default_forecaster)


def clear(models: Models, request: ClearRequest, limits: Limits) -> Job:
    """Double-auction clearing with the request's rule or the champion's registered one."""
    for side in ("bids", "offers"):
        check_at_most(side, len(getattr(request, side)), limits.max_orders, "max_orders",
                      "orders")
    choice = models.run("pricing", (), lambda: models.choose(request, "pricing"))
    params = choice.params
    rule = request.rule or params.get("rule") or models.config.rule
    floor = request.floor if request.floor is not None else params.get("floor", models.config.floor)
    cap = request.cap if request.cap is not None else params.get("cap", models.config.cap)
    bids = [o.model_dump(exclude_none=True) for o in request.bids]
    offers = [o.model_dump(exclude_none=True) for o in request.offers]
    note = ("registered parameters of the champion" if choice.record is not None
            else "no champion registered: configured rule, floor and cap")
    return Job("pricing", (), compute.clear_orders, (bids, offers, rule, float(floor), float(cap)),
               lambda out: {**choice.provenance(note), **{k: out[k] for k in (
                   "rule", "price", "volume_kwh", "price_interval", "buyer_surplus",
                   "seller_surplus", "total_surplus", "matches")}})


def optimize_price(models: Models, request: PricingRequest, limits: Limits) -> Job:
    """The welfare-optimal price of two curves and its components."""
    for side in ("demand", "supply"):
        check_at_most(f"{side}.prices", len(getattr(request, side).prices),
                      limits.max_curve_points, "max_curve_points", "points")
    choice = models.run("pricing", (), lambda: models.choose(request, "pricing"))
    params = choice.params
    options: dict[str, Any] = {
        "weights": tuple(request.weights or params.get("weights", (0.4, 0.4, 0.2))),
        "balancing_cost": request.balancing_cost if request.balancing_cost is not None
        else params.get("balancing_cost", 0.10),
        "floor": request.floor if request.floor is not None else params.get("floor", models.config.floor),
        "cap": request.cap if request.cap is not None else params.get("cap", models.config.cap)}
    demand = (request.demand.prices, request.demand.quantities_kwh)
    supply = (request.supply.prices, request.supply.quantities_kwh)
    note = ("registered parameters of the champion" if choice.record is not None
            else "no champion registered: default welfare weights (0.4, 0.4, 0.2)")
    return Job("pricing", (), compute.welfare_price,
               (demand, supply, options, request.congestion_level, request.ts, request.grid_fee),
               lambda result: {**choice.provenance(note), **result})


def readings_frame(rows: list[Reading]) -> pd.DataFrame:
    frame = pd.DataFrame([r.model_dump() for r in rows])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    for column in ("consumption_kwh", "production_kwh"):
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    return frame


def detect(models: Models, request: AnomalyRequest, limits: Limits) -> Job:
    """The champion detector, else the default ensemble fitted on the history (or readings)."""
    check_at_most("readings", len(request.readings), limits.max_points, "max_points", "rows")
    check_at_most("history", len(request.history or []), limits.max_points, "max_points", "rows")
    choice = models.run("anomaly", (), lambda: models.choose(request, "anomaly"))
    frame = models.run("anomaly", ("readings",), lambda: readings_frame(request.readings))
    history = None
    if choice.record is not None:
        detector = models.run("anomaly", (), lambda: models.load(choice))
        note, where = "fitted champion detector", ("readings",)
    else:
        detector = None
        past = request.history
        if past:
            history = models.run("anomaly", ("history",), lambda: readings_frame(past))
        where = ("history",) if past else ("readings",)
        note = (f"no champion registered for {choice.name!r}: default ensemble fitted on the "
                f"request {'history' if past else 'readings'}")
    return Job("anomaly", where, compute.detect_anomalies, (detector, history, frame),
               lambda records: {**choice.provenance(note), "anomalies": records})


def _hourly(name: str, profile: dict[str, list[float]] | None, horizon: int) -> pd.DataFrame | None:
    if profile is None:
        return None
    for node, values in profile.items():
        if len(values) < horizon:
            raise Rejected(422, (name, node), f"has {len(values)} hourly values, fewer than the "
                           f"horizon of {horizon}", "too_short")
    return pd.DataFrame({node: values[:horizon] for node, values in profile.items()},
                        index=pd.RangeIndex(horizon, name="hour"))


def dispatch(models: Models, request: DispatchRequest, limits: Limits) -> Job:
    """Optimal dispatch of the request's grid; the champion supplies carbon price and weights."""
    horizon = request.horizon
    check_dispatch(limits, len(request.grid.nodes), horizon)
    choice = models.run("dispatch", (), lambda: models.choose(request, "dispatch"))
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
    note = ("champion's registered carbon price" if choice.record is not None
            else "no champion registered: cost-optimal dispatch, no carbon price")
    return Job("dispatch", ("grid",), compute.solve_dispatch,
               (doc, demand, generation, prices, horizon, carbon_price),
               lambda plan: {**choice.provenance(note), **plan})
