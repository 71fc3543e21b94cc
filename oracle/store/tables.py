"""SQL tables: every input, output and decision the oracle keeps.

Times are UTC. Energy in kWh, power in kW, prices in currency units per kWh.
The schema is created and changed only by Alembic migrations (``migrations/``).
"""

# No ``from __future__ import annotations`` here: SQLModel reads the annotations at runtime.
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(*, primary_key: bool = False, nullable: bool = False, index: bool = False,
        now: bool = False) -> Any:
    column = Column(DateTime(timezone=True), primary_key=primary_key, nullable=nullable,
                    index=index)
    if now:
        return Field(default_factory=utcnow, sa_column=column)
    if nullable:
        return Field(default=None, sa_column=column)
    return Field(sa_column=column)


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


# ---------------------------------------------------------------- inputs


class Meter(SQLModel, table=True):
    __tablename__ = "meters"
    meter_id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(max_length=64, index=True)
    node_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=16)  # consumer / prosumer / producer
    pv_kwp: float = 0.0
    storage_kwh: float = 0.0
    lat: float | None = None
    lon: float | None = None
    updated_at: datetime = _ts(now=True)


class Reading(SQLModel, table=True):
    """One interval's energy for one meter; upserted idempotently on (meter_id, ts)."""

    __tablename__ = "readings"
    meter_id: str = Field(primary_key=True, max_length=64)
    ts: datetime = _ts(primary_key=True)
    consumption_kwh: float
    production_kwh: float = 0.0
    ingested_at: datetime = _ts(now=True)
    __table_args__ = (Index("ix_readings_ts", "ts"),)


class WeatherValues(SQLModel):
    """The hourly weather variables (Open-Meteo names; each the mean over the hour ending at
    ``ts``, temperature and wind at ``ts``); None where the service has no value."""

    temperature_2m: float | None = None
    relative_humidity_2m: float | None = None
    shortwave_radiation: float | None = None
    direct_normal_irradiance: float | None = None
    diffuse_radiation: float | None = None
    wind_speed_10m: float | None = None
    cloud_cover: float | None = None


class WeatherObservation(WeatherValues, table=True):
    """The weather an hour at a location had: one row per (location, ts), hours that had ended
    when they were fetched (a later fetch of the same hour replaces the row)."""

    __tablename__ = "weather"
    location: str = Field(primary_key=True, max_length=64)  # "lat,lon" rounded
    ts: datetime = _ts(primary_key=True)
    ingested_at: datetime = _ts(now=True)


class WeatherForecast(WeatherValues, table=True):
    """One hour of one weather forecast issue at a location. Every issue is kept, one row per
    (location, issued_at, ts), so the issue the daemon forecast with is never overwritten by a
    later issue or by the observation; ``ts`` is after ``issued_at``."""

    __tablename__ = "weather_forecasts"
    location: str = Field(primary_key=True, max_length=64)
    issued_at: datetime = _ts(primary_key=True)
    ts: datetime = _ts(primary_key=True)
    ingested_at: datetime = _ts(now=True)
    __table_args__ = (Index("ix_weather_forecasts_location_ts", "location", "ts"),)


class MarketOrder(SQLModel, table=True):
    __tablename__ = "market_orders"
    order_id: str = Field(primary_key=True, max_length=64)
    interval_start: datetime = _ts(index=True)
    user_id: str = Field(max_length=64, index=True)
    meter_id: str = Field(max_length=64)
    node_id: str = Field(max_length=64)
    side: str = Field(max_length=8)  # bid / offer
    quantity_kwh: float
    limit_price: float
    ts: datetime = _ts()
    ingested_at: datetime = _ts(now=True)


class QuarantinedRow(SQLModel, table=True):
    """A row that failed validation or plausibility checks, kept with the reason, never dropped.

    One row per (source, natural key, payload hash), so a bad row the backend re-sends on every
    pass is counted (``count``, ``last_seen_at``) rather than stored again. Text columns are
    unbounded TEXT (the store cuts them to a sane size and strips NUL, which PostgreSQL refuses).
    A page's rejects beyond ``backend.quarantine_per_page`` become one summary row whose
    ``count`` is how many there were.
    """

    __tablename__ = "quarantine"
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=32, index=True)  # readings / orders / meters / weather / grid
    row_key: str | None = Field(default=None, sa_type=Text)
    field: str | None = Field(default=None, sa_type=Text)
    value: str | None = Field(default=None, sa_type=Text)
    reason: str = Field(sa_type=Text)
    payload: Any = _json()
    payload_hash: str = Field(max_length=64)
    dedup_key: str = Field(max_length=64)  # sha256 of (source, row_key, payload_hash)
    count: int = 1
    received_at: datetime = _ts(index=True, now=True)  # first seen
    last_seen_at: datetime = _ts(now=True)
    __table_args__ = (Index("ux_quarantine_dedup_key", "dedup_key", unique=True),)


class IngestCursor(SQLModel, table=True):
    """Where incremental ingestion of one stream resumes."""

    __tablename__ = "ingest_cursors"
    stream: str = Field(primary_key=True, max_length=64)
    cursor: str | None = Field(default=None, sa_type=Text)  # the backend's cursors are opaque
    watermark: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts(now=True)


class SkippedWindow(SQLModel, table=True):
    """An interval of a stream the backend could not deliver (a page-level fault: bad JSON,
    envelope or encoding). Re-fetched on later passes until it arrives, then deleted."""

    __tablename__ = "skipped_windows"
    stream: str = Field(primary_key=True, max_length=64)
    window_start: datetime = _ts(primary_key=True)
    window_end: datetime = _ts()
    attempts: int = 1
    error: str = Field(sa_type=Text)
    first_failed_at: datetime = _ts(now=True)
    last_failed_at: datetime = _ts(now=True)


class ReadingGap(SQLModel, table=True):
    """Missing intervals for a meter, as found by gap detection."""

    __tablename__ = "reading_gaps"
    meter_id: str = Field(primary_key=True, max_length=64)
    gap_start: datetime = _ts(primary_key=True)
    gap_end: datetime = _ts()
    intervals: int
    detected_at: datetime = _ts(now=True)


# ---------------------------------------------------------------- model outputs


class ForecastRow(SQLModel, table=True):
    """One forecast step: target (demand / solar) for an entity (meter, node or zone)."""

    __tablename__ = "forecasts"
    target: str = Field(primary_key=True, max_length=16)
    entity_id: str = Field(primary_key=True, max_length=64)
    origin: datetime = _ts(primary_key=True)
    ts: datetime = _ts(primary_key=True)
    mean: float
    lo_80: float | None = None
    hi_80: float | None = None
    lo_95: float | None = None
    hi_95: float | None = None
    model: str = Field(max_length=64)
    model_version: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts(now=True)


class PriceRound(SQLModel, table=True):
    """A market clearing for one interval and zone, with the published price's components."""

    __tablename__ = "price_rounds"
    zone: str = Field(primary_key=True, max_length=64)
    interval_start: datetime = _ts(primary_key=True)
    rule: str = Field(max_length=16)
    price: float | None = None
    volume_kwh: float = 0.0
    buyer_surplus: float = 0.0
    seller_surplus: float = 0.0
    components: Any = _json()
    matches: Any = _json()
    published: bool = False
    publish_reason: str | None = Field(default=None, max_length=32)  # deviation / heartbeat
    report_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = _ts(now=True)


class AnomalyRow(SQLModel, table=True):
    __tablename__ = "anomalies"
    id: int | None = Field(default=None, primary_key=True)
    interval_start: datetime = _ts(index=True)
    meter_id: str = Field(max_length=64, index=True)
    ts: datetime = _ts()
    type: str = Field(max_length=32)
    score: float
    severity: str = Field(max_length=16)
    confidence: float
    recommended_action: str = Field(max_length=200)
    report_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = _ts(now=True)
    __table_args__ = (UniqueConstraint("meter_id", "ts", "type", name="uq_anomalies_meter_ts_type"),)


class DispatchSchedule(SQLModel, table=True):
    __tablename__ = "dispatch_schedules"
    zone: str = Field(primary_key=True, max_length=64)
    interval_start: datetime = _ts(primary_key=True)
    horizon_h: int
    total_cost: float
    renewable_share: float
    carbon_kg: float
    peak_reduction: float
    schedule: Any = _json()
    schedule_hash: str = Field(max_length=66)
    report_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = _ts(now=True)


class ForecastCalibration(SQLModel, table=True):
    """The live calibration of one forecast series (target, entity): the calibrators' state,
    the raw forecasts still waiting for their actuals, and ``watermark``, the last observed
    hour learned from (a re-run of a tick learns nothing twice)."""

    __tablename__ = "forecast_calibration"
    target: str = Field(primary_key=True, max_length=16)
    entity_id: str = Field(primary_key=True, max_length=64)
    state: Any = _json(nullable=False)
    watermark: datetime | None = _ts(nullable=True)
    updated_at: datetime = _ts(now=True)


# ---------------------------------------------------------------- models in production


class ModelVersion(SQLModel, table=True):
    """The model registry: one trained model, its data window, metrics and artifact digest."""

    __tablename__ = "model_versions"
    name: str = Field(primary_key=True, max_length=64)
    version: str = Field(primary_key=True, max_length=64)
    family: str = Field(max_length=32)  # forecasting / solar / pricing / anomaly / optimization
    params: Any = _json()
    data_start: datetime | None = _ts(nullable=True)
    data_end: datetime | None = _ts(nullable=True)
    metrics: Any = _json()
    artifact_path: str | None = Field(default=None, max_length=500)
    artifact_sha256: str | None = Field(default=None, max_length=64)
    stage: str = Field(default="candidate", max_length=16)  # candidate / champion / archived
    created_at: datetime = _ts(now=True)


class ModelRun(SQLModel, table=True):
    """One training, evaluation or prediction run of a model."""

    __tablename__ = "model_runs"
    id: int | None = Field(default=None, primary_key=True)
    model: str = Field(max_length=64, index=True)
    version: str | None = Field(default=None, max_length=64)
    purpose: str = Field(max_length=16)  # train / evaluate / predict / retrain
    params: Any = _json()
    data_start: datetime | None = _ts(nullable=True)
    data_end: datetime | None = _ts(nullable=True)
    metrics: Any = _json()
    status: str = Field(default="ok", max_length=16)
    error: str | None = Field(default=None, max_length=1000)
    started_at: datetime = _ts(now=True)
    finished_at: datetime | None = _ts(nullable=True)


class JobRun(SQLModel, table=True):
    """One scheduled job execution, as recorded by the scheduler's listeners."""

    __tablename__ = "job_runs"
    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64, index=True)
    interval_start: datetime | None = _ts(nullable=True)
    started_at: datetime = _ts(now=True)
    finished_at: datetime | None = _ts(nullable=True)
    outcome: str = Field(max_length=16)  # running / ok / skipped / failed
    duration_s: float | None = None
    error: str | None = Field(default=None, max_length=1000)


# ---------------------------------------------------------------- chain


class Report(SQLModel, table=True):
    """The outbox: a report is written here before anything is broadcast.

    ``report_id`` is deterministic (kind, feed/zone, interval), so a report is queued at most once.
    status: pending -> broadcast -> confirmed, or failed (with ``error``).
    """

    __tablename__ = "reports"
    report_id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(max_length=16, index=True)  # price / anomaly / optimization
    contract: str = Field(max_length=64)
    interval_start: datetime = _ts(index=True)
    payload: Any = _json(nullable=False)
    payload_hash: str = Field(max_length=66)
    status: str = Field(default="pending", max_length=16, index=True)
    error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _ts(now=True)
    updated_at: datetime = _ts(now=True)


class ChainTransaction(SQLModel, table=True):
    """Each signed attempt to land a report; a fee bump is a new row with the same nonce."""

    __tablename__ = "transactions"
    id: int | None = Field(default=None, primary_key=True)
    report_id: str = Field(foreign_key="reports.report_id", max_length=128, index=True)
    chain_id: int = Field(sa_type=BigInteger)
    from_address: str = Field(max_length=42)
    to_address: str = Field(max_length=42)
    nonce: int = Field(sa_type=BigInteger)
    tx_hash: str = Field(max_length=66, unique=True)
    raw_tx: str | None = Field(default=None)
    max_fee_per_gas: int = Field(sa_type=BigInteger)
    max_priority_fee_per_gas: int = Field(sa_type=BigInteger)
    gas_limit: int = Field(sa_type=BigInteger)
    status: str = Field(default="signed", max_length=16, index=True)
    # signed / broadcast / mined / confirmed / replaced / reverted / dropped
    broadcast_at: datetime | None = _ts(nullable=True)
    broadcast_block: int | None = Field(default=None, sa_type=BigInteger)
    block_number: int | None = Field(default=None, sa_type=BigInteger)
    block_hash: str | None = Field(default=None, max_length=66)
    gas_used: int | None = Field(default=None, sa_type=BigInteger)
    effective_gas_price: int | None = Field(default=None, sa_type=BigInteger)
    error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _ts(now=True)
    __table_args__ = (Index("ix_transactions_from_nonce", "from_address", "nonce"),)


class NonceState(SQLModel, table=True):
    """Next nonce per sending address; advances only after a successful broadcast."""

    __tablename__ = "nonces"
    chain_id: int = Field(primary_key=True, sa_type=BigInteger)
    address: str = Field(primary_key=True, max_length=42)
    next_nonce: int = Field(sa_type=BigInteger)
    updated_at: datetime = _ts(now=True)


class ContractDeployment(SQLModel, table=True):
    __tablename__ = "contracts"
    chain_id: int = Field(primary_key=True, sa_type=BigInteger)
    name: str = Field(primary_key=True, max_length=64)
    address: str = Field(max_length=42)
    tx_hash: str | None = Field(default=None, max_length=66)
    block_number: int | None = Field(default=None, sa_type=BigInteger)
    artifact_sha256: str = Field(max_length=64)
    deployed_at: datetime = _ts(now=True)


# ---------------------------------------------------------------- audit


class AuditEntry(SQLModel, table=True):
    """Append-only, hash-chained: ``hash`` = SHA-256 of the canonical JSON of the entry,
    which includes ``prev_hash``; editing or deleting a row breaks the chain."""

    __tablename__ = "audit_log"
    seq: int = Field(primary_key=True, sa_type=BigInteger)
    ts: datetime = _ts(index=True)
    kind: str = Field(max_length=64, index=True)
    ref: str | None = Field(default=None, max_length=200, index=True)
    actor: str = Field(max_length=64)
    payload: str  # canonical JSON text, hashed as stored
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
