"""The daemon's jobs: the only package that calls sources, models, store and chain together.

A tick is named by its market interval's start ``T`` (a boundary of ``scheduler.interval_s``):
readings up to ``T`` are in, the orders for ``[T, T+1 interval)`` are on the book.

    ingest   readings up to T, orders for T, weather           (sources -> store)
    forecast zone demand and solar for the next 24 h from T   (store -> models -> store)
    price    clear the book for T; publish on deviation or heartbeat (-> outbox)
    detect   anomalies in the last ended interval [T-1, T)     (-> store, outbox)
    optimize dispatch for [T, T+24 h) on the backend's grid    (-> store, outbox)
    submit   the transaction manager: broadcast, confirm, bump (outbox -> chain)
    push     results back to the backend, keyed by report id  (store -> backend)

Every stage is idempotent for its interval: rows are upserted on natural keys, reports have
deterministic ids and the outbox ignores a report it already has. A stage that meets bad data
or a failing model (``DataError``) is skipped and audited; the others go on. A dependency that
is down (``RetryableError``) stops the tick, which is caught up, in order, on a later run.
Weather is optional input and one bad page is skipped (and fetched again later): the tick goes
on, its stages marked ``degraded`` in the outcome, the audit log and ``/readyz``.

One module per stage: ``ingestion`` (ingest), ``forecasting`` (forecast), ``pricing`` (price),
``detection`` (detect), ``dispatch`` (optimize), ``submission`` (submit), ``publishing`` (push),
``upkeep`` (retrain, monitor, off the tick path); ``tick`` runs them in order; ``shared`` holds
what they share. The forecast stage's parts: ``calibration`` (the zone demand forecast calibrated
live) and ``meter_forecasts`` (per-meter demand through the executor, like ``detection_groups``).
Model errors are translated by :mod:`oracle.model_errors`.

Each stage takes only its own parts (a frozen ``...Parts`` dataclass in its module: the store,
the clients, the settings sections and the metrics it uses), never the whole application;
``oracle.app`` builds them (``Application.tick_parts``, ``Application.upkeep_parts``). The
state the stages keep between ticks is theirs: the fitted anomaly detector
(``detection.DetectorHolder``, replaced by ``retrain``) and the grid's tariffs
(``tariffs.TariffBook``, fetched again after ``pricing.tariff_max_age_s``).
"""

from oracle.jobs.detection import DetectorHolder, DetectParts, detect
from oracle.jobs.dispatch import OptimizeParts, optimize
from oracle.jobs.forecasting import (
    ForecastParts,
    forecast,
    forecast_error,
    forecaster_for,
    one_step_errors,
)
from oracle.jobs.ingestion import IngestParts, ingest
from oracle.jobs.pricing import PriceParts, forward_curve, price
from oracle.jobs.publishing import PushParts, push
from oracle.jobs.shared import DETECTION_HISTORY, FORECAST_HOURS, HISTORY, TICK_STREAM, TickOutcome
from oracle.jobs.submission import SubmitParts, submit
from oracle.jobs.tariffs import TariffBook
from oracle.jobs.tick import STAGES, Tick, catch_up, due_intervals, run_tick
from oracle.jobs.upkeep import UpkeepParts, monitor, retrain

__all__ = [
    "DETECTION_HISTORY",
    "FORECAST_HOURS",
    "HISTORY",
    "STAGES",
    "TICK_STREAM",
    "DetectParts",
    "DetectorHolder",
    "ForecastParts",
    "IngestParts",
    "OptimizeParts",
    "PriceParts",
    "PushParts",
    "SubmitParts",
    "TariffBook",
    "Tick",
    "TickOutcome",
    "UpkeepParts",
    "catch_up",
    "detect",
    "due_intervals",
    "forecast",
    "forecast_error",
    "forecaster_for",
    "forward_curve",
    "ingest",
    "monitor",
    "one_step_errors",
    "optimize",
    "price",
    "push",
    "retrain",
    "run_tick",
    "submit",
]
