"""``oracle train``: tune and train models on the stored data with progress bars; every
training is a ``ModelRun`` and a registered version (a candidate until promoted).

Hyperparameter search is Optuna's TPE (Bayesian optimisation) under a wall-clock budget: tree
parameters for the GBM; learning rate, batch size, hidden units and dropout for the deep models.
Each trial fits on the data before a holdout window and is scored there (MAE), like retraining.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session

from oracle.errors import ModelError, SourceDataInvalid
from oracle.lifecycle.evaluation import actual_demand
from oracle.lifecycle.registry import ModelRegistry, jsonable
from oracle.lifecycle.retraining import score
from oracle.store.engine import session_scope
from oracle.store.model_rows import add_run
from oracle.store.tables import ModelRun, ModelVersion

Space = Callable[[Any], dict[str, Any]]

SPACES: dict[str, Space] = {
    "gbm": lambda t: {
        "learning_rate": t.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "max_leaf_nodes": t.suggest_int("max_leaf_nodes", 8, 64, log=True),
        "min_samples_leaf": t.suggest_int("min_samples_leaf", 5, 60, log=True),
        "max_iter": t.suggest_int("max_iter", 50, 300, step=50)},
    "lstm": lambda t: {
        "learning_rate": t.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        "batch_size": t.suggest_categorical("batch_size", [16, 32, 64]),
        "units": t.suggest_categorical("units", [(32,), (64, 32), (128, 64, 32)]),
        "dropout": t.suggest_float("dropout", 0.0, 0.5), "epochs": 5},
    "transformer": lambda t: {
        "learning_rate": t.suggest_float("learning_rate", 1e-4, 1e-2, log=True),
        "batch_size": t.suggest_categorical("batch_size", [16, 32, 64]),
        "d_model": t.suggest_categorical("d_model", [16, 32, 64]),
        "dropout": t.suggest_float("dropout", 0.0, 0.5), "epochs": 5},
    "seasonal_naive": lambda t: {"season": t.suggest_categorical("season", ["day", "week"])},
}


# Hours of history every fit needs (the tuning fits before the holdout and each backtest the
# champion's intervals are calibrated on): a week for the weekly season, and for the GBM's
# difference over a week two hours more (it has no training row on exactly 168 or 169 hours).
MIN_HISTORY_H = 7 * 24 + 2
# Backtest windows the champion's conformal intervals are calibrated on, at most; one day apart.
CALIBRATION_WINDOWS = 14


def check_enough_history(name: str, y: pd.Series, *, window: int) -> None:
    """A clear line, before any work, when there is too little stored demand to train on."""
    needed = MIN_HISTORY_H + window
    if len(y) < needed:
        raise SourceDataInvalid(
            f"too little data to train {name!r}: {len(y)} hours of zone demand stored (without "
            f"gaps), {needed} needed ({MIN_HISTORY_H} h of history + {window} h held out to "
            "score); ingest more (`oracle ingest`) or let the daemon run longer",
            field="readings", value=len(y))


@dataclass(frozen=True)
class TrainResult:
    version: ModelVersion
    params: dict[str, Any]
    score: float
    trials: int


MAX_GAP_FILLED_H = 6


def latest_stretch(y: pd.Series, *, max_gap_h: int = MAX_GAP_FILLED_H) -> pd.Series:
    """``y`` on a regular hourly grid: gaps up to ``max_gap_h`` hours interpolated; before a
    longer gap nothing is kept (a model fits one unbroken series), so the result is the latest
    gap-free stretch, with ``freq`` set."""
    grid = y.asfreq("h")
    missing = grid.isna()
    run = missing.groupby((~missing).cumsum()).transform("sum")  # length of each gap
    long_gap = missing & (run > max_gap_h)
    if long_gap.any():
        grid = grid[grid.index > grid.index[long_gap.to_numpy()][-1]]
    return grid.interpolate(limit_area="inside").asfreq("h")


def zone_demand(engine: Engine) -> pd.Series:
    """Stored zone demand per hour on a regular grid: short gaps (up to ``MAX_GAP_FILLED_H``)
    interpolated, and only the latest stretch after any longer gap."""
    with Session(engine) as session:
        y = actual_demand(session)
    if y.empty:
        raise SourceDataInvalid("no stored readings to train on; run `oracle ingest` first",
                                field="readings", value=0)
    return latest_stretch(y)


def calibration_plan(n: int, max_horizon: int, *, day: int = 24) -> tuple[int, int]:
    """The calibrated horizon and the number of backtest windows for a champion fitted on
    ``n`` hours, such that every backtest fits on at least ``MIN_HISTORY_H`` hours (backtest
    origins sit one ``day`` apart, the last ``horizon`` before the end)."""
    horizon = max(1, min(max_horizon, n - MIN_HISTORY_H))
    windows = max(1, min(CALIBRATION_WINDOWS, (n - horizon - MIN_HISTORY_H) // day + 1))
    return horizon, windows


def _fit(name: str, params: dict[str, Any], y: pd.Series) -> Any:
    from models.forecasting.catalog import make_model

    return make_model(name, **params).fit(y.asfreq(y.index.freq or "h"))


def _champion(name: str, params: dict[str, Any], y: pd.Series, max_horizon: int) -> Any:
    """What the registry serves: a ``Forecaster`` around the tuned point model, with conformal
    intervals calibrated on backtests up to the trained maximum horizon (shorter, and fewer
    windows, when the stored history cannot give every backtest ``MIN_HISTORY_H`` hours)."""
    from models.forecasting import Forecaster

    horizon, windows = calibration_plan(len(y), max_horizon)
    return Forecaster(model=name, params=params, horizon=horizon, n_windows=windows).fit(
        y.asfreq(y.index.freq or "h"))


def tune(name: str, y: pd.Series, *, window: int = 24, budget_s: float = 60.0,
         n_trials: int = 20, on_trial: Callable[[int, float], None] | None = None
         ) -> tuple[dict[str, Any], float, int]:
    """Best parameters, their holdout MAE and the number of finished trials."""
    import optuna

    if name not in SPACES:
        raise SourceDataInvalid(f"--model {name!r}: no search space; choose one of "
                                f"{', '.join(SPACES)}", field="model", value=name)
    check_enough_history(name, y, window=window)
    fit_on, holdout = y.iloc[:-window], y.iloc[-window:]

    failures: list[str] = []  # why trials failed, for the one line when none finished

    def objective(trial: Any) -> float:
        params = SPACES[name](trial)
        trial.set_user_attr("params", params)
        try:
            value = score(_fit(name, params, fit_on), fit_on.index[-1], holdout)
        except (ModelError, ValueError) as err:
            failures.append(f"{type(err).__name__}: {err}")
            raise
        if on_trial is not None:
            on_trial(trial.number, value)
        return value

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed trial: said below, no traceback
    study = optuna.create_study(direction="minimize",
                                sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=n_trials, timeout=budget_s, catch=(ModelError, ValueError))
    done = [t for t in study.trials if t.value is not None]
    if not done:
        why = f"; {failures[-1][:300]}" if failures else ""
        raise ModelError(f"tuning {name!r}: no trial finished within {budget_s:.0f}s"
                         f" ({len(failures)} failed){why}")
    return dict(study.best_trial.user_attrs["params"]), float(study.best_value), len(done)


def train_forecaster(engine: Engine, registry: ModelRegistry, y: pd.Series, *, model: str = "gbm",
                     name: str = "demand", window: int = 24, budget_s: float = 60.0,
                     n_trials: int = 20, max_horizon: int = 48,
                     progress: Any | None = None) -> TrainResult:
    """Tune ``model`` on ``y``, fit the best on all of it, register it, record the run."""
    started = datetime.now(UTC)
    task = progress.add_task(f"{name}: tuning {model}", total=n_trials) if progress else None

    def on_trial(number: int, value: float) -> None:
        if progress is not None:
            progress.update(task, advance=1, description=f"{name}: {model} trial {number} "
                                                         f"MAE {value:.3g}")

    clock = time.perf_counter()
    try:
        params, best, trials = tune(model, y, window=window, budget_s=budget_s,
                                    n_trials=n_trials, on_trial=on_trial)
        fitted = _champion(model, params, y, max_horizon)
    except Exception as err:
        _run(engine, name, None, "train", {"model": model}, y, {}, started, error=str(err))
        raise
    calibrated_h, windows = calibration_plan(len(y), max_horizon)
    metrics = {"mae": best, "window": window, "trials": trials,
               "calibrated_horizon": calibrated_h, "calibration_windows": windows,
               "seconds": round(time.perf_counter() - clock, 2)}
    # Beyond the calibrated horizon the Forecaster widens its last interval (square root of
    # the lead time), so the served maximum stays the one asked for.
    all_params = {"model": model, **params, "max_horizon": max_horizon}
    version = registry.register(name, "forecasting", fitted, params=all_params,
                                data_start=y.index[0].to_pydatetime(),
                                data_end=y.index[-1].to_pydatetime(), metrics=metrics)
    _run(engine, name, version.version, "train", all_params, y, metrics, started)
    return TrainResult(version, params, best, trials)


def _run(engine: Engine, name: str, version: str | None, purpose: str, params: dict[str, Any],
         y: pd.Series, metrics: dict[str, Any], started: datetime, error: str | None = None) -> None:
    with session_scope(engine) as session:
        add_run(session, ModelRun(model=name, version=version, purpose=purpose,
                                  params=jsonable(params), data_start=y.index[0].to_pydatetime(),
                                  data_end=y.index[-1].to_pydatetime(), metrics=jsonable(metrics),
                                  status="failed" if error else "ok",
                                  error=(error or None) and error[:1000],
                                  started_at=started, finished_at=datetime.now(UTC)))
