"""Read-only forecasts the daemon stored: ``GET /forecast/demand?meter_id=...`` (or
``user_id=...``), the newest per-meter demand forecast of the forecast stage.

A user's forecast is the sum of their meters' forecasts at each hour: the mean exactly, the
interval bounds summed too (an interval at least as wide as the sum's own, since the meters'
errors are not perfectly correlated). An unknown meter or user, or one without a stored
forecast yet, is a 404 naming it; neither or both parameters are a 422.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from oracle.api.schemas import StoredForecastResponse
from oracle.store import results
from oracle.store.engine import session_scope

BANDS = ("lo_80", "hi_80", "lo_95", "hi_95")


def _missing(loc: str, message: str, kind: str, status: int = 404) -> HTTPException:
    return HTTPException(status, detail=[{"loc": ["query", loc], "msg": message, "type": kind}])


def stored_demand(engine: Engine, user_id: str | None, meter_id: str | None) -> dict[str, Any]:
    """The response body for one meter or one user (see the module)."""
    if (user_id is None) == (meter_id is None):
        raise _missing("user_id" if user_id is None else "meter_id",
                       "give exactly one of user_id and meter_id", "one_of", 422)
    with session_scope(engine) as session:
        if user_id is not None:
            meters = results.meters_of_user(session, user_id)
            if not meters:
                raise _missing("user_id", f"unknown user_id {user_id!r}: no meter of that user",
                               "unknown_user")
        else:
            assert meter_id is not None
            if not results.meter_exists(session, meter_id):
                raise _missing("meter_id", f"unknown meter_id {meter_id!r}", "unknown_meter")
            meters = [meter_id]
        frame = results.latest_forecasts(session, target="demand", entity_ids=meters)
    who = f"user_id {user_id!r}" if user_id is not None else f"meter_id {meter_id!r}"
    if frame.empty:
        raise _missing("user_id" if user_id is not None else "meter_id",
                       f"no stored demand forecast for {who} yet", "no_forecast")
    summed = frame.groupby("ts")[["mean", *BANDS]].sum(min_count=1).sort_index()
    steps = [{"ts": ts, "mean": float(row["mean"]),
              "bounds": {b: (None if row[b] != row[b] else float(row[b])) for b in BANDS}}
             for ts, row in summed.iterrows()]
    return {"user_id": user_id, "meter_ids": sorted(frame["entity_id"].unique()),
            "origin": frame["origin"].iloc[0], "model": str(frame["model"].iloc[0]),
            "horizon": len(steps), "forecast": steps}


def stored_router(engine: Engine, guard: Callable[..., None]) -> APIRouter:
    """``GET /forecast/demand`` over ``engine``, behind ``guard`` (the bearer token)."""
    router = APIRouter(tags=["forecasts"], dependencies=[Depends(guard)])

    @router.get("/forecast/demand", response_model=StoredForecastResponse,
                responses={404: {"description": "Unknown meter or user, or no stored "
                                                "forecast yet (named)."},
                           422: {"description": "Neither or both of user_id and meter_id."}})
    async def forecast_demand_stored(
            user_id: str | None = Query(None, min_length=1, max_length=64,
                                        description="Sum the forecasts of this user's meters."),
            meter_id: str | None = Query(None, min_length=1, max_length=64,
                                         description="One meter's forecast."),
    ) -> StoredForecastResponse:
        """The newest stored per-meter demand forecast (the daemon's forecast stage)."""
        body = await run_in_threadpool(stored_demand, engine, user_id, meter_id)
        return StoredForecastResponse.model_validate(body)

    return router
