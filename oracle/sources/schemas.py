"""Pydantic models of every payload the backend and the weather service send.

Rows are validated one by one so that a bad row is quarantined with its reason while the
rest of the batch is kept; a bad envelope (not a list, no ``items``) fails the whole call.
Numbers are strict (no strings, no booleans), finite and bounded; timestamps carry a zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from oracle.errors import SourceDataInvalid

# Anything bigger than this is a unit or overflow error, not energy, power or a price.
MAX_MAGNITUDE = 1e6


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Number = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MAX_MAGNITUDE,
                                le=MAX_MAGNITUDE)]
Ident = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64,
                                         pattern=r"^[A-Za-z0-9_.:\-]+$")]
UtcTime = Annotated[AwareDatetime, AfterValidator(_utc)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MeterIn(Payload):
    meter_id: Ident
    user_id: Ident
    node_id: Ident
    kind: Literal["consumer", "prosumer", "producer"]
    pv_kwp: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=100_000)]
    storage_kwh: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1_000_000)]
    lat: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-90, le=90)] | None = None
    lon: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-180, le=180)] | None = None


class ReadingIn(Payload):
    """One interval's energy for one meter; the sign is checked by plausibility rules."""

    meter_id: Ident
    ts: UtcTime
    consumption_kwh: Number
    production_kwh: Number


class OrderIn(Payload):
    order_id: Ident
    user_id: Ident
    meter_id: Ident
    node_id: Ident
    side: Literal["bid", "offer"]
    quantity_kwh: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0,
                                         le=MAX_MAGNITUDE)]
    limit_price: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1000)]
    ts: UtcTime


class GridNode(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)  # the contract allows extra node data
    node_id: Ident
    storage_kwh: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0,
                                        le=MAX_MAGNITUDE)]
    storage_kw: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=MAX_MAGNITUDE)]


class GridLine(Payload):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_node: Ident = Field(alias="from")
    to_node: Ident = Field(alias="to")
    capacity_kw: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0,
                                        le=MAX_MAGNITUDE)]


class GridIn(Payload):
    nodes: list[GridNode] = Field(min_length=1)
    lines: list[GridLine]
    import_price: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1000)]
    export_price: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1000)]
    carbon_g_per_kwh: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=5000)]


class ReadingsEnvelope(Payload):
    items: list[dict[str, Any]]
    next_cursor: Annotated[str, StringConstraints(strict=True, min_length=1,
                                                  max_length=400)] | None


WEATHER_VARIABLES = ("temperature_2m", "relative_humidity_2m", "shortwave_radiation",
                     "direct_normal_irradiance", "diffuse_radiation", "wind_speed_10m",
                     "cloud_cover")
WeatherValue = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-100,
                                      le=5000)] | None


class WeatherHourly(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)  # Open-Meteo may add variables
    time: list[Annotated[str, StringConstraints(strict=True, max_length=32)]]
    temperature_2m: list[WeatherValue] | None = None
    relative_humidity_2m: list[WeatherValue] | None = None
    shortwave_radiation: list[WeatherValue] | None = None
    direct_normal_irradiance: list[WeatherValue] | None = None
    diffuse_radiation: list[WeatherValue] | None = None
    wind_speed_10m: list[WeatherValue] | None = None
    cloud_cover: list[WeatherValue] | None = None


class WeatherEnvelope(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    latitude: Annotated[float, Field(strict=True, ge=-90, le=90)]
    longitude: Annotated[float, Field(strict=True, ge=-180, le=180)]
    utc_offset_seconds: Annotated[int, Field(strict=True, ge=-86_400, le=86_400)] = 0
    hourly: WeatherHourly


# ---------------------------------------------------------------- batches

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Rejected:
    """A row kept out of the store, with why; becomes a quarantine row."""

    source: str
    row: int | None
    row_key: str | None
    field: str | None
    value: Any
    reason: str
    payload: Any = None

    def as_row(self) -> dict[str, Any]:
        """The quarantine table's columns (``oracle.store.tables.QuarantinedRow``)."""
        return {"source": self.source, "row_key": self.row_key, "field": self.field,
                "value": None if self.value is None else repr(self.value)[:500],
                "reason": self.reason[:500], "payload": _jsonable(self.payload)}


@dataclass
class Batch(Generic[T]):
    """Valid rows and rejected rows of one payload."""

    valid: list[T] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def _jsonable(payload: Any) -> Any:
    if isinstance(payload, float) and payload != payload:  # NaN cannot go into JSON columns
        return None
    if isinstance(payload, dict):
        return {str(k): _jsonable(v) for k, v in payload.items()}
    if isinstance(payload, list):
        return [_jsonable(v) for v in payload]
    if isinstance(payload, float | int | str | bool) or payload is None:
        return payload if not isinstance(payload, float) or abs(payload) != float("inf") else None
    return repr(payload)


def _key_of(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return None
    parts = [str(raw[k]) for k in ("meter_id", "order_id", "ts") if k in raw]
    return "|".join(parts)[:200] or None


def first_error(err: ValidationError) -> tuple[str, Any, str]:
    """(field, value, message) of the first error pydantic found."""
    first = err.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in first["loc"]) or "(row)"
    return loc, first.get("input"), first["msg"]


def validate_rows(model: type[T], raw_rows: Any, *, source: str) -> Batch[T]:
    """Validate a JSON list row by row: valid rows in ``valid``, the rest in ``rejected``."""
    if not isinstance(raw_rows, list):
        raise SourceDataInvalid(f"{source}: expected a JSON list, got {type(raw_rows).__name__}",
                                field="(body)", value=type(raw_rows).__name__)
    adapter: TypeAdapter[list[T]] = TypeAdapter(list[model])  # type: ignore[valid-type]
    try:
        return Batch(valid=adapter.validate_python(raw_rows))
    except ValidationError:
        pass  # at least one bad row: sort them out one by one
    batch: Batch[T] = Batch()
    for index, raw in enumerate(raw_rows):
        try:
            batch.valid.append(model.model_validate(raw))
        except ValidationError as err:
            loc, value, message = first_error(err)
            batch.rejected.append(Rejected(
                source=source, row=index, row_key=_key_of(raw), field=loc, value=value,
                reason=f"{loc}: {message}", payload=raw))
    return batch


def validate_document(model: type[T], raw: Any, *, source: str) -> T:
    """Validate a whole document; raise SourceDataInvalid naming field and value."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        loc, value, message = first_error(err)
        raise SourceDataInvalid(f"{source}: field {loc!r} = {value!r:.80}: {message}",
                                field=loc, row=None, value=value) from err
