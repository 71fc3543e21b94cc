"""Champion/challenger retraining: train a challenger, score both on the same recent window,
promote the challenger only if it beats the champion by a configured margin.

The window is the last ``window`` steps of the data; the challenger is trained on everything
before it, so neither model has seen it. Each model forecasts from the end of its own training
data up to the end of the window and is scored on the window's timestamps. Every decision
(promoted or kept) is recorded as a ``ModelRun`` and an audit entry with both scores, in one
transaction with the promotion itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from oracle.errors import ModelError, SourceDataInvalid
from oracle.lifecycle.registry import ModelRegistry, jsonable
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope
from oracle.store.model_rows import add_run
from oracle.store.tables import ModelRun, ModelVersion

Trainer = Callable[[pd.Series], Any]
"""Fits a fresh model on a series and returns it (e.g. ``Forecaster(...).fit``)."""


@dataclass(frozen=True)
class RetrainPolicy:
    """``margin``: relative improvement the challenger needs (0.05 = 5 % lower error)."""

    window: int = 24
    margin: float = 0.05
    metric: str = "mae"


@dataclass(frozen=True)
class Decision:
    name: str
    champion_version: str | None
    challenger_version: str
    champion_score: float | None
    challenger_score: float
    promoted: bool
    reason: str


def forecast_mean(model: Any, trained_until: pd.Timestamp, index: pd.DatetimeIndex) -> pd.Series:
    """The model's mean forecast on ``index``, forecasting from ``trained_until``."""
    freq = index.freq or pd.tseries.frequencies.to_offset(pd.infer_freq(index))
    steps = round((index[-1] - trained_until) / pd.Timedelta(freq))
    if steps < len(index):
        raise SourceDataInvalid(f"model trained until {trained_until} has seen the window "
                                f"starting {index[0]}", field="window", value=str(index[0]))
    out = model.predict(steps)
    if isinstance(out, pd.DataFrame):
        mean = out["mean"]
    else:
        future = pd.date_range(trained_until + freq, periods=steps, freq=freq)
        mean = pd.Series(np.asarray(out, dtype=float), index=future)
    return mean.reindex(index)


def score(model: Any, trained_until: pd.Timestamp, actual: pd.Series, metric: str = "mae") -> float:
    """Error of ``model`` on ``actual`` (MAE, RMSE or MAPE in %)."""
    predicted = forecast_mean(model, trained_until, pd.DatetimeIndex(actual.index))
    error = (predicted - actual).to_numpy(dtype=float)
    if not np.isfinite(error).all():
        raise ModelError("the forecast does not cover the scoring window")
    if metric == "mae":
        return float(np.mean(np.abs(error)))
    if metric == "rmse":
        return float(np.sqrt(np.mean(error ** 2)))
    if metric == "mape":
        return float(100 * np.mean(np.abs(error) / np.maximum(np.abs(actual.to_numpy()), 1e-9)))
    raise SourceDataInvalid(f"metric {metric!r} must be mae, rmse or mape", field="metric",
                            value=metric)


def champion_challenger(registry: ModelRegistry, name: str, data: pd.Series, train: Trainer, *,
                        policy: RetrainPolicy | None = None, family: str = "forecasting",
                        params: dict[str, Any] | None = None, trigger: str = "schedule") -> Decision:
    """Train a challenger on ``data`` minus the window, score both there, promote if better."""
    policy = policy or RetrainPolicy()
    if len(data) <= 2 * policy.window:
        raise SourceDataInvalid(f"retraining {name!r} needs more than {2 * policy.window} values, "
                                f"got {len(data)}", field="data", value=len(data))
    started = datetime.now(UTC)
    fit_on, window = data.iloc[:-policy.window], data.iloc[-policy.window:]
    challenger = train(fit_on)
    trained_until = fit_on.index[-1]
    challenger_score = score(challenger, trained_until, window, policy.metric)
    record = registry.champion(name)
    champion_score = None
    if record is not None:
        champion = registry.load(name, record.version).model
        champion_score = score(champion, _as_ts(record.data_end), window, policy.metric)
    promoted, reason = _decide(champion_score, challenger_score, policy.margin)
    metrics = {policy.metric: challenger_score, "window": policy.window,
               "window_start": window.index[0].isoformat()}
    new = registry.register(name, family, challenger, params=params,
                            data_start=fit_on.index[0].to_pydatetime(),
                            data_end=trained_until.to_pydatetime(), metrics=metrics)
    decision = Decision(name, record.version if record else None, new.version, champion_score,
                        challenger_score, promoted, reason)
    _record(registry, decision, new, policy, trigger, started, window)
    if promoted:
        registry.promote(name, new.version, reason=f"retrain: {reason}",
                         scores={"champion": champion_score, "challenger": challenger_score})
    return decision


def _decide(champion: float | None, challenger: float, margin: float) -> tuple[bool, str]:
    if champion is None:
        return True, "no champion yet"
    threshold = champion * (1 - margin)
    if challenger < threshold:
        return True, (f"challenger {challenger:.4g} beats champion {champion:.4g} by more than "
                      f"{margin:.0%}")
    return False, (f"challenger {challenger:.4g} is not {margin:.0%} better than champion "
                   f"{champion:.4g} (needs < {threshold:.4g})")


def _record(registry: ModelRegistry, decision: Decision, new: ModelVersion, policy: RetrainPolicy,
            trigger: str, started: datetime, window: pd.Series) -> None:
    """The decision as a model run and an audit entry, in one transaction."""
    payload = jsonable({**asdict(decision), "metric": policy.metric, "margin": policy.margin,
                         "trigger": trigger, "window_start": window.index[0].isoformat(),
                         "window_end": window.index[-1].isoformat()})
    with session_scope(registry.engine) as session:
        add_run(session, ModelRun(model=decision.name, version=new.version, purpose="retrain",
                                  params=new.params, data_start=new.data_start,
                                  data_end=new.data_end, metrics=payload, status="ok",
                                  started_at=started, finished_at=datetime.now(UTC)))
        append_entry(session, "model.retrain", payload, ref=f"model:{decision.name}")


def _as_ts(value: datetime | None) -> pd.Timestamp:
    if value is None:
        raise ModelError("the champion has no recorded end of training data")
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
