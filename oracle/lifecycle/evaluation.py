"""``oracle evaluate``: stored forecasts scored against the readings that came true, and the
stored anomalies, price rounds and dispatch schedules, gathered into a :class:`ReportData`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session

from oracle.lifecycle.html_report import ReportData, cell
from oracle.store import model_rows, results
from oracle.store.calibration import calibrations
from oracle.store.readings import consumption_rows

LEVELS = (80, 95)
LIVE_WINDOW = pd.Timedelta("2D")  # the live figures: one-step forecasts of the past two days


def _frame(rows: list[Any]) -> pd.DataFrame:
    return pd.DataFrame([r.model_dump() for r in rows])


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True)


def actual_demand(session: Session) -> pd.Series:
    """Zone demand per hour: the sum of every meter's consumption in that hour."""
    rows = consumption_rows(session)
    if not rows:
        return pd.Series(dtype=float)
    frame = pd.DataFrame(rows, columns=["ts", "consumption_kwh"])
    frame["ts"] = _utc(frame["ts"]).dt.floor("h")
    return frame.groupby("ts")["consumption_kwh"].sum()


def stored_forecasts(engine: Engine, target: str = "demand") -> tuple[pd.DataFrame, pd.Series]:
    """Every stored zone forecast step (``ts`` and ``origin`` in UTC; a meter's own forecasts
    are left out) and the zone demand observed."""
    with Session(engine) as session:
        forecasts = _frame(results.zone_forecasts(session, target))
        actual = actual_demand(session)
    if not forecasts.empty:
        forecasts["ts"], forecasts["origin"] = _utc(forecasts["ts"]), _utc(forecasts["origin"])
    return forecasts, actual


def scored_forecasts(engine: Engine, target: str = "demand") -> pd.DataFrame:
    """Every stored forecast step whose hour has been observed, with actual, error, horizon."""
    forecasts, actual = stored_forecasts(engine, target)
    if forecasts.empty or actual.empty:
        return pd.DataFrame()
    forecasts["actual"] = forecasts["ts"].map(actual)
    forecasts = forecasts.dropna(subset=["actual"])
    forecasts["horizon"] = ((forecasts["ts"] - forecasts["origin"]) / pd.Timedelta("1h")).round()
    forecasts["error"] = forecasts["mean"] - forecasts["actual"]
    return forecasts


def forecast_metrics(scored: pd.DataFrame) -> pd.DataFrame:
    """MAE, RMSE, MAPE and interval coverage per model."""
    rows = {}
    for model, part in scored.groupby("model"):
        error, actual = part["error"].to_numpy(), part["actual"].to_numpy()
        row = {"steps": len(part), "mae": float(np.mean(np.abs(error))),
               "rmse": float(np.sqrt(np.mean(error ** 2))),
               "mape_%": float(100 * np.mean(np.abs(error) / np.maximum(np.abs(actual), 1e-9)))}
        for level in LEVELS:
            inside = (part[f"lo_{level}"] <= part["actual"]) & (part["actual"] <= part[f"hi_{level}"])
            row[f"coverage_{level}_%"] = float(100 * inside[part[f"lo_{level}"].notna()].mean())
        rows[model] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def latest_forecast(forecasts: pd.DataFrame, actual: pd.Series,
                    context: pd.Timedelta = pd.Timedelta("24h")) -> pd.DataFrame:
    """The newest forecast (every step, observed yet or not) beside the actual demand from
    ``context`` before its origin to its last step; index the real hours (UTC)."""
    origin = forecasts["origin"].max()
    bands = [f"{b}_{lv}" for lv in LEVELS for b in ("lo", "hi")]
    last = forecasts[forecasts["origin"] == origin].set_index("ts").sort_index()[["mean", *bands]]
    last = last[~last.index.duplicated(keep="last")]
    seen = actual[(actual.index >= origin - context) & (actual.index <= last.index.max())]
    frame = last.join(seen.rename("actual"), how="outer").sort_index()
    frame.index.name = "ts"
    return frame[["actual", "mean", *bands]]


def _calibration(scored: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for level in LEVELS:
        part = scored[scored[f"lo_{level}"].notna()]
        if len(part):
            inside = (part[f"lo_{level}"] <= part["actual"]) & (part["actual"] <= part[f"hi_{level}"])
            rows.append({"nominal": float(level), "empirical": float(100 * inside.mean())})
    return pd.DataFrame(rows)


def interval_scores(forecasts: pd.DataFrame, actual: pd.Series) -> dict[str, Any]:
    """Coverage (%) of the 80 and 95 % intervals and bias (mean actual minus forecast) of
    ``forecasts`` (index ts; mean, lo_/hi_ columns) at the hours ``actual`` has; ``steps``: how
    many were scored (the figures are None without any)."""
    stamps = pd.DatetimeIndex(pd.to_datetime(actual.index, utc=True))
    actual = pd.Series(actual.to_numpy(dtype="float64"), index=stamps)
    index = pd.DatetimeIndex(pd.to_datetime(forecasts.index, utc=True))
    joined = forecasts.set_axis(index).assign(
        actual=actual.reindex(index).to_numpy()).dropna(subset=["actual", "mean"])
    out: dict[str, Any] = {"steps": len(joined), "bias_kwh": None,
                           **{f"coverage_{lv}": None for lv in LEVELS}}
    if joined.empty:
        return out
    out["bias_kwh"] = float((joined["actual"] - joined["mean"]).mean())
    for level in LEVELS:
        part = joined.dropna(subset=[f"lo_{level}", f"hi_{level}"])
        if len(part):
            inside = (part[f"lo_{level}"] <= part["actual"]) & (part["actual"] <= part[f"hi_{level}"])
            out[f"coverage_{level}"] = float(100 * inside.mean())
    return out


def live_calibration(scored: pd.DataFrame, engine: Engine) -> pd.DataFrame:
    """The live figures as the daemon exports them: per level, the coverage (%) and bias of the
    one-step forecasts observed in the :data:`LIVE_WINDOW` up to the last observed hour, beside
    the live calibration's current one-step scale and bias correction."""
    one = scored[scored["horizon"] == 0]
    if one.empty:
        return pd.DataFrame()
    last = one["ts"].max()
    recent = one[one["ts"] > last - LIVE_WINDOW].set_index("ts")
    figures = interval_scores(recent[["mean", *(f"{b}_{lv}" for lv in LEVELS for b in ("lo", "hi"))]],
                              recent["actual"])
    with Session(engine) as session:
        states = calibrations(session, "demand")
    first = {}
    for row in states:  # the zone's (one row per calibrated series; meters are not calibrated)
        first = (row.state or {}).get("calibrators", {}).get("1", {})
    scales = first.get("log_scales", {})
    rows = []
    for level in LEVELS:
        coverage = figures[f"coverage_{level}"]
        rows.append({"nominal_%": float(level), "live_coverage_%": coverage,
                     "gap_points": None if coverage is None else coverage - level,
                     "steps": figures["steps"], "live_bias_kwh": figures["bias_kwh"],
                     "scale_now": float(np.exp(scales[str(level)])) if str(level) in scales
                     else None,
                     "bias_correction_kwh": first.get("bias")})
    return pd.DataFrame(rows)


def schedule_hours(doc: dict[str, Any], start: Any, steps: int) -> pd.DatetimeIndex:
    """The hours (UTC) a stored schedule's steps stand for: its own ``hours`` when they match
    the steps, otherwise hourly from the interval start."""
    hours = doc.get("hours")
    if isinstance(hours, list) and len(hours) == steps:
        try:
            return pd.DatetimeIndex(pd.to_datetime(hours, utc=True), name="hour")
        except (ValueError, TypeError):
            pass
    return pd.date_range(pd.Timestamp(start).tz_localize("UTC") if pd.Timestamp(start).tzinfo
                         is None else pd.Timestamp(start), periods=steps, freq="h", name="hour")


def _dispatch(engine: Engine) -> dict[str, Any]:
    with Session(engine) as session:
        row = results.latest_schedule(session)
    if row is None or not isinstance(row.schedule, dict):
        return {}
    doc = row.schedule
    out: dict[str, Any] = {}
    if doc.get("state_of_charge_kwh"):
        soc = pd.DataFrame(doc["state_of_charge_kwh"], dtype=float)
        out["soc"] = soc.set_axis(schedule_hours(doc, row.interval_start, len(soc)))
    if doc.get("grid_import_kw"):
        imports = pd.Series(doc["grid_import_kw"], dtype=float)
        out["grid_import"] = imports.set_axis(schedule_hours(doc, row.interval_start,
                                                             len(imports)))
    if doc.get("line_loading"):
        loading = pd.DataFrame(doc["line_loading"], dtype=float)
        out["line_loading"] = loading.set_axis(schedule_hours(doc, row.interval_start,
                                                              len(loading)))
    return out


def run_outcome(run: pd.Series) -> str:
    """What a model run came to, in words: its metrics, or why it failed."""
    if run.get("status") != "ok":
        error = run.get("error")
        return f"failed: {error}" if isinstance(error, str) and error else "failed (no error recorded)"
    metrics = run.get("metrics")
    return cell(metrics) if metrics else "ok"


def gather(engine: Engine) -> ReportData:
    """Everything the evaluation report shows, from the store."""
    scored = scored_forecasts(engine)
    data = ReportData()
    forecasts, actual = stored_forecasts(engine)
    if not forecasts.empty:  # drawn as soon as there is one, before any hour of it came true
        data.forecast = latest_forecast(forecasts, actual)
    if not scored.empty:
        data.by_horizon = scored.assign(abs_error=scored["error"].abs()).groupby("horizon").agg(
            mae=("abs_error", "mean"), bias=("error", "mean"))
        data.calibration = _calibration(scored)
        live = live_calibration(scored, engine)
        if not live.empty:
            data.live = live
        data.tables["Forecast metrics by model"] = forecast_metrics(scored)
    with Session(engine) as session:
        anomalies = _frame(results.anomalies(session))
        prices = _frame(results.price_rounds(session))
        versions = _frame(model_rows.versions(session))
        runs = _frame(model_rows.recent_runs(session, limit=50))
    if not anomalies.empty:
        data.anomalies = anomalies[["meter_id", "ts", "type", "severity"]]
        data.tables["Anomalies by type and severity"] = pd.crosstab(anomalies["type"],
                                                                     anomalies["severity"])
    if not prices.empty:
        prices["interval_start"] = _utc(prices["interval_start"])
        data.clearing = prices.set_index("interval_start").sort_index()[["price", "volume_kwh"]]
    for key, value in _dispatch(engine).items():
        setattr(data, key, value)
    if not versions.empty:
        data.tables["Model registry"] = versions[["name", "version", "family", "stage", "params",
                                                  "metrics", "data_start", "data_end",
                                                  "created_at"]]
    if not runs.empty:
        runs["outcome"] = runs.apply(run_outcome, axis=1)
        data.tables["Recent model runs"] = runs[["id", "model", "version", "purpose", "status",
                                                 "outcome", "started_at"]].set_index("id")
    return data
