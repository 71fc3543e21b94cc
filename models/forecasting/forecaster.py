"""The ``Forecaster`` facade: one point model (or an ensemble) plus conformal intervals.

``fit`` backtests on the recent history (rolling origins one day apart, refitting at each), uses
the backtest forecasts to weight the candidates (``model="auto"``: a stack, non-negative weights
summing to one, which may keep a single model) or an ensemble, and calibrates the interval
half-widths per horizon step on those errors, each origin's divided by how much demand moved in
the week before it and the widths scaled to the last week's movement (``calibrated_widths``);
then it fits the chosen model(s) on all of ``y``.

``auto`` can never be worse than the simple baselines on its own inner backtest: seasonal naive
over a day and over a week are always candidates and always offered to the stack, and when the
stack's held-out MASE on the inner windows does not beat the better baseline's, that baseline is
used alone. ``choice_`` records the decision and the inner scores for audit.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from models.errors import InvalidInput, ModelError
from models.forecasting.base import (
    PointModel,
    check_fitted,
    check_horizon,
    check_positive_int,
    check_series,
    steps_per_day,
)
from models.forecasting.catalog import BASELINES, MODEL_PATHS, SITE_MODELS, make_model
from models.forecasting.conformal import (
    check_levels,
    conformal_widths,
    intervals,
    local_scale,
)
from models.forecasting.daylight import Site, as_site
from models.forecasting.ensemble import (
    WeightedEnsemble,
    combine,
    forward_errors,
    held_out_errors,
    inverse_error_weights,
    stacked_weights,
)

if TYPE_CHECKING:
    from models.forecasting.backtest import BacktestResult

FORMAT = "solchain-forecaster"
VERSION = 1
CHOICES = ("auto", "ensemble", *MODEL_PATHS)
DEFAULT_CANDIDATES = ("ets", "mstl_ar", "week_analog", "day_analog")  # auto adds BASELINES
# added to the default candidates when the forecaster knows the demand's site
DAYLIGHT_CANDIDATES = ("ets_daylight", "mstl_ar_daylight")


class Forecaster(BaseEstimator):
    """Point forecasts with calibrated intervals, as a DataFrame indexed by future timestamps.

    ``horizon`` is the calibrated horizon in steps (default one day); longer predictions widen
    the last calibrated interval with the square root of the lead time. ``site`` (a
    ``daylight.Site`` or (latitude, longitude, timezone[, holidays])) is where the demand is:
    it goes to the daylight-aware models and adds them to ``auto``'s default candidates; a site
    with a holiday calendar has every model forecast its public holidays like Sundays and learn
    from a history without them (``special_days.HolidayAdjusted``). ``X`` given to
    ``fit`` (e.g. ``models.features.degree_features``) reaches every candidate; those that take
    it (ets, mstl_ar, day_analog, gbm) need the same columns in ``X_future`` at ``predict``.
    ``screen_baselines``: whether the seasonal-naive baselines pass the stack's screen like any
    candidate (True, chosen on the forecast benchmark's validation windows) or always join it.
    ``held_out``: how ``auto`` scores the stack against the baselines and gets its errors for the
    intervals: "leave_one_out" (weights fitted without each inner window) or "forward" (weights
    fitted on the earlier windows only, scored with the baselines on the windows after the
    first ``FORWARD_WARMUP``).
    After ``fit``, ``choice_`` holds ``auto``'s decision and inner scores, ``fallback_`` whether
    a baseline replaced the stack.
    """

    def __init__(self, model: str = "auto", params: Mapping[str, Any] | None = None,
                 horizon: int | None = None, level: Sequence[float] = (80, 95),
                 n_windows: int = 14, candidates: Sequence[str] | None = None,
                 ensemble_size: int = 3, screen_baselines: bool = True,
                 held_out: str = "leave_one_out",
                 site: Site | tuple[float, float, str] | None = None) -> None:
        self.model = model
        self.params = params
        self.horizon = horizon
        self.level = level
        self.n_windows = n_windows
        self.candidates = candidates
        self.ensemble_size = ensemble_size
        self.screen_baselines = screen_baselines
        self.held_out = held_out
        self.site = site

    def fit(self, y: pd.Series, X: pd.DataFrame | None = None) -> Forecaster:
        """Backtest, choose or weight, calibrate intervals, then fit on all of ``y``."""
        if self.model not in CHOICES:
            raise InvalidInput(f"unknown model {self.model!r}; choose one of {', '.join(CHOICES)}",
                               field="model", value=self.model)
        levels = check_levels(self.level)
        self.site_ = as_site(self.site)
        values = check_series(y, min_length=4)
        day = steps_per_day(y.index.freq)
        horizon = check_horizon(self.horizon if self.horizon is not None else day)
        check_positive_int(self.n_windows, "n_windows")
        if self.held_out not in HELD_OUT:
            raise InvalidInput(f"held_out must be one of {', '.join(HELD_OUT)}, got "
                               f"{self.held_out!r}", field="held_out", value=self.held_out)
        t0 = time.perf_counter()
        results = self._backtests(values, X, horizon)
        name, weights, errors, self.choice_ = self._choose(results)
        self.fallback_ = bool(self.choice_.get("fallback", False))
        # the errors are those of the most recent origins (all, or those after the warm-up)
        origins = values.index.get_indexer(next(iter(results.values())).origins)[-len(errors):]
        self.widths_ = calibrated_widths(values.to_numpy(), origins, errors, day, levels)
        self.selected_, self.weights_ = name, weights
        self.backtest_ = {n: r.metrics() for n, r in results.items()}
        self.backtest_errors_ = errors
        self.model_ = self._final_model(name, weights).fit(values, X)
        self.horizon_, self.levels_ = horizon, levels
        self.last_ts_, self.freq_ = values.index[-1], values.index.freq
        self.index_name_ = values.index.name
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def predict(self, horizon: int, X_future: pd.DataFrame | None = None,
                level: Sequence[float] | None = None) -> pd.DataFrame:
        """``mean`` and ``lo_<level>``/``hi_<level>`` for the next ``horizon`` steps."""
        check_fitted(self, "model_")
        horizon = check_horizon(horizon)
        if X_future is not None and len(X_future) < horizon:
            raise InvalidInput(f"X_future has {len(X_future)} rows; horizon {horizon} needs as "
                               "many", field="X_future", value=len(X_future))
        mean = np.asarray(self.model_.predict(horizon, X_future), dtype="float64").reshape(-1)
        if mean.shape != (horizon,) or not np.isfinite(mean).all():
            raise ModelError(f"model {self.selected_!r} returned an invalid forecast "
                             f"(shape {mean.shape}, finite: {bool(np.isfinite(mean).all())})")
        index = pd.date_range(self.last_ts_ + self.freq_, periods=horizon, freq=self.freq_,
                              name=self.index_name_)
        bands = intervals(mean, self.widths_, self.levels_ if level is None else level)
        return pd.DataFrame({"mean": mean, **bands}, index=index)

    def dumps(self) -> bytes:
        """This fitted forecaster as bytes (pickle with format and version metadata)."""
        check_fitted(self, "model_")
        meta = {"format": FORMAT, "version": VERSION, "model": self.selected_,
                "weights": self.weights_, "fitted_through": str(self.last_ts_),
                "choice": self.choice_}
        return pickle.dumps({"meta": meta, "forecaster": self}, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def loads(cls, data: bytes) -> Forecaster:
        """A forecaster from :meth:`dumps` bytes; only load bytes this oracle wrote itself."""
        return _payload(data)["forecaster"]

    @staticmethod
    def metadata(data: bytes) -> dict[str, Any]:
        """The metadata stored by :meth:`dumps`: format, version, model, weights."""
        return dict(_payload(data)["meta"])

    def _member_names(self) -> list[str]:
        if self.model not in ("auto", "ensemble"):
            return [self.model]
        default = DEFAULT_CANDIDATES + (DAYLIGHT_CANDIDATES if self.site_ is not None else ())
        names = list(self.candidates or default)
        bad = [n for n in names if n not in MODEL_PATHS]
        if bad or not names:
            raise InvalidInput(f"unknown candidate(s) {bad}; choose from {', '.join(MODEL_PATHS)}",
                               field="candidates", value=bad or names)
        if self.model == "auto":
            names = [*BASELINES, *(n for n in names if n not in BASELINES)]
        return names

    def _backtests(self, y: pd.Series, X: pd.DataFrame | None,
                   horizon: int) -> dict[str, BacktestResult]:
        """Backtest each member; in auto/ensemble mode skip members that cannot run here."""
        from models.forecasting.backtest import backtest

        results: dict[str, BacktestResult] = {}
        failures: dict[str, str] = {}
        for name in self._member_names():
            member_params = self._params_for(name)

            def factory(name: str = name, kw: Mapping[str, Any] = member_params) -> PointModel:
                return self._on_calendar(make_model(name, **kw))

            try:
                results[name] = backtest(factory, y, horizon, n_origins=self.n_windows, X=X)
            except ModelError as err:
                if self.model not in ("auto", "ensemble"):
                    raise
                failures[name] = str(err)
        if not results:
            raise InvalidInput(f"no candidate model could be backtested: {failures}",
                               field="y", row=len(y), value=len(y))
        return results

    def _choose(self, results: Mapping[str, BacktestResult]
                ) -> tuple[str, dict[str, float], np.ndarray, dict[str, Any]]:
        """The chosen model or weighted ensemble, its (held-out) backtest errors, and the record.

        ``auto`` stacks the candidates: non-negative weights summing to one fitted to their
        backtest forecasts, which keeps one model when it is best; its errors for calibration
        come from refitting the weights with each backtest window left out. When those held-out
        errors do not beat the better seasonal-naive baseline (inner MASE), the baseline is used
        alone. ``ensemble`` weights the ``ensemble_size`` best members by inverse squared MAE.
        """
        errors = {n: r.errors for n, r in results.items()}
        if self.model not in ("auto", "ensemble"):
            return self.model, {self.model: 1.0}, errors[self.model], {"chosen": self.model}
        if len(errors) == 1:
            (name, error), = errors.items()
            return name, {name: 1.0}, error, {"chosen": name}
        if self.model == "ensemble":
            weights = inverse_error_weights(errors, top=self.ensemble_size)
            return "ensemble", weights, combine(errors, weights), {"chosen": "ensemble"}
        return choose_stack_or_baseline(results, screen_baselines=bool(self.screen_baselines),
                                        forward=self.held_out == "forward")

    def _params_for(self, name: str) -> dict[str, Any]:
        """A member's hyperparameters: its entry of ``params`` in auto/ensemble mode, all of
        ``params`` for a single model; the site for the daylight-aware models."""
        params = dict(self.params or {})
        own = dict(params.get(name, {})) if self.model in ("auto", "ensemble") else params
        if name in SITE_MODELS and self.site_ is not None:
            own["site"] = self.site_
        return own

    def _final_model(self, name: str, weights: Mapping[str, float]) -> PointModel:
        if name == "ensemble" or (self.model in ("auto", "ensemble") and len(weights) > 1):
            return self._on_calendar(WeightedEnsemble(
                weights=weights, params={n: self._params_for(n) for n in weights}))
        return self._on_calendar(make_model(name, **self._params_for(name)))

    def _on_calendar(self, model: PointModel) -> PointModel:
        """``model`` told the site's public holidays (``special_days``), when the site has a
        calendar; in the inner backtests as in the final fit, so the choice and the intervals
        see the holidays handled as the forecast handles them."""
        if self.site_ is None or self.site_.holidays is None:
            return model
        from models.forecasting.special_days import HolidayAdjusted

        return HolidayAdjusted(model, holidays=self.site_.holidays,
                               timezone=self.site_.timezone)


# Chosen on days outside every benchmark test window: Victoria 2014's day-ahead errors at each
# midnight (weekly naive: 265 days; mstl_ar: 51 days, February to May), each day covered by the
# widths calibrated on the 14 or 28 days before it. Scaling by the local scale kept the mean 95 %
# coverage (naive 0.940 -> 0.941, mstl_ar 0.963 -> 0.955) at equal or narrower widths; a recency
# half-life of 7 or 14 days and 28 calibration days did no better.
CALIBRATION_HALF_LIFE: float | None = None
NORMALISE_WIDTHS = True


def calibrated_widths(values: np.ndarray, origins: np.ndarray, errors: np.ndarray, day: int,
                      levels: Sequence[float]) -> dict[float, np.ndarray]:
    """Conformal half-widths from the backtest ``errors`` at positions ``origins`` of ``values``.

    Each origin's errors are divided by the local scale before it (``conformal.local_scale``:
    the mean day-on-day change over the week before) and the widths multiplied by the local
    scale at the end of ``values``, so that intervals follow how much demand moves now (a calm
    week after a hot spell, rising winter swings) instead of the average of the inner windows.
    Without a positive local scale everywhere (a flat series) the errors are used as they are.
    """
    local = np.array([local_scale(values, int(o), day) for o in origins])
    now = local_scale(values, len(values), day)
    if not NORMALISE_WIDTHS or len(local) != len(errors) or not (local > 0).all() or now <= 0:
        return conformal_widths(errors, levels, half_life=CALIBRATION_HALF_LIFE)
    widths = conformal_widths(errors / local[:, None], levels, half_life=CALIBRATION_HALF_LIFE)
    return {level: now * w for level, w in widths.items()}


def inner_mase(errors: np.ndarray, scales: np.ndarray) -> float:
    """Mean over origins of the MAE divided by that origin's in-sample naive scale."""
    return float(np.mean(np.abs(errors).mean(axis=1) / scales))


HELD_OUT = ("leave_one_out", "forward")
FORWARD_WARMUP = 4  # inner windows the forward stack is first fitted on before one is scored


def choose_stack_or_baseline(results: Mapping[str, BacktestResult], screen_baselines: bool = True,
                             forward: bool = False
                             ) -> tuple[str, dict[str, float], np.ndarray, dict[str, Any]]:
    """``auto``'s decision: the stack when its held-out inner MASE beats every baseline's,
    otherwise the better baseline alone (ties go to the baseline). The baselines are offered to
    the stack like every candidate; with ``screen_baselines=False`` they skip its screen. With
    ``forward`` the stack's weights at each window are fitted on the earlier windows only and
    everything is scored on the windows after the first ``FORWARD_WARMUP``."""
    first = next(iter(results.values()))
    same = {n: r for n, r in results.items() if r.origins.equals(first.origins)}
    forecasts = {n: r.forecasts for n, r in same.items()}
    baselines = [b for b in BASELINES if b in same]

    def weigh(f: Mapping[str, np.ndarray], a: np.ndarray) -> dict[str, float]:
        return stacked_weights(f, a, always=() if screen_baselines else baselines)

    weights = {n: w for n, w in weigh(forecasts, first.actuals).items() if w > 0}
    if forward:
        stack_errors = forward_errors(forecasts, first.actuals, weigh, FORWARD_WARMUP)
    else:
        stack_errors = held_out_errors(forecasts, first.actuals, weigh)
    rows = slice(len(first.actuals) - len(stack_errors), None)
    scores = {"stack": inner_mase(stack_errors, first.scales[rows])}
    scores |= {b: inner_mase(same[b].errors[rows], same[b].scales[rows]) for b in baselines}
    how = "weights fitted on earlier windows" if forward else "held-out weights"
    record: dict[str, Any] = {"metric": f"inner MASE (stack: {how})",
                              "scores": scores, "stack_weights": dict(weights),
                              "origins": [str(t) for t in first.origins[rows]]}
    if baselines:
        best = min(baselines, key=scores.__getitem__)
        if not scores["stack"] < scores[best]:
            record |= {"chosen": best, "fallback": True}
            return best, {best: 1.0}, same[best].errors[rows], record
    name = next(iter(weights)) if len(weights) == 1 else "ensemble"
    record |= {"chosen": name, "fallback": False}
    return name, weights, stack_errors, record


def _payload(data: bytes) -> dict[str, Any]:
    """Unpickle and check the format and version of a saved forecaster."""
    try:
        payload = pickle.loads(data)  # our own artifacts from the model store
    except Exception as err:  # unpickling foreign bytes raises many error types
        raise InvalidInput(f"not a saved forecaster: {err}", field="artifact",
                           value=len(data) if isinstance(data, bytes | bytearray) else None
                           ) from err
    meta = payload.get("meta", {}) if isinstance(payload, dict) else {}
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise InvalidInput(f"not a version-{VERSION} forecaster artifact: {meta!r}",
                           field="artifact", value=meta.get("version"))
    return payload
