"""Pydantic models of every payload the backend and the weather service send.

Rows are validated one by one so that a bad row is quarantined with its reason while the
rest of the batch is kept; a bad envelope (not a list, no ``items``) fails the whole call.
Numbers are strict (no strings, no booleans), finite and bounded; timestamps are ISO 8601
strings with a zone, between 1970 and 2200 (no epochs, no naive times, nothing that overflows).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from oracle.errors import SourceDataInvalid
from oracle.textsafe import printable

# Anything bigger than this is a unit or overflow error, not energy, power or a price.
MAX_MAGNITUDE = 1e6
TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TIME_MAX = datetime(2200, 1, 1, tzinfo=UTC)
_ISO_ZONED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"
                        r"(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)")


def _time_error(kind: str, message: str, value: object) -> PydanticCustomError:
    return PydanticCustomError(kind, message, {"shown": printable(value, 40)})


def utc_time(value: Any) -> datetime:
    """An ISO 8601 string with a zone, as an aware UTC datetime; anything else is refused.
    (An aware ``datetime`` is taken as is: parsed JSON never holds one, our own code does.)"""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return _in_range(value.astimezone(UTC), value)
    if not isinstance(value, str):
        raise _time_error("time_type", "must be an ISO 8601 string with a time zone, "
                          f"not {type(value).__name__} {{shown}}", value)
    if len(value) > 40 or not _ISO_ZONED.fullmatch(value):
        raise _time_error("time_format", "{shown} is not an ISO 8601 time with a zone "
                          "(e.g. 2024-01-01T00:00:00Z)", value)
    try:
        ts = datetime.fromisoformat(value).astimezone(UTC)
    except (ValueError, OverflowError) as err:
        raise _time_error("time_value", f"{{shown}} is not a valid time: {err}", value) from None
    return _in_range(ts, value)


def _in_range(ts: datetime, value: object) -> datetime:
    if not TIME_MIN <= ts < TIME_MAX:
        raise _time_error("time_range", f"{{shown}} is outside {TIME_MIN.year}..{TIME_MAX.year}",
                          value)
    return ts


Number = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MAX_MAGNITUDE,
                                le=MAX_MAGNITUDE)]
Ident = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64,
                                         pattern=r"^[A-Za-z0-9_.:\-]+$")]
UtcTime = Annotated[datetime, BeforeValidator(utc_time)]
Cursor = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=4096,
                                          pattern=r"^[^\x00-\x1f\x7f]+$")]


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


class ReadingsEnvelope(BaseModel):
    """A page of readings: a broken envelope fails the page; keys it does not know are ignored
    (a backend may add paging metadata), rows are validated one by one afterwards."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    items: list[Any]
    next_cursor: Cursor | None


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


class DuplicateKeys(dict[str, Any]):
    """A JSON object that named a key more than once (the last value kept). A row like this
    is quarantined; a document or envelope like this is refused whole."""

    duplicate: str = ""


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
        """The quarantine table's columns (``oracle.store.tables.QuarantinedRow``); the store
        cuts them to size. ``payload_hash`` tells a re-sent row from a changed one."""
        payload = jsonable(self.payload)
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=True,
                                           default=repr).encode()).hexdigest()
        return {"source": self.source, "row_key": self.row_key, "field": self.field,
                "value": None if self.value is None else printable(self.value, 500),
                "reason": self.reason, "payload": payload, "payload_hash": digest}


@dataclass
class Batch(Generic[T]):
    """Valid rows and rejected rows of one payload."""

    valid: list[T] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def jsonable(payload: Any) -> Any:
    """``payload`` as plain JSON: NaN and infinities as their names, anything else as repr."""
    if isinstance(payload, float) and not math.isfinite(payload):
        return str(payload).replace("inf", "Infinity").replace("nan", "NaN")
    if isinstance(payload, dict):
        return {str(k): jsonable(v) for k, v in payload.items()}
    if isinstance(payload, list):
        return [jsonable(v) for v in payload]
    if isinstance(payload, float | int | str | bool) or payload is None:
        return payload
    return repr(payload)


def _key_of(raw: Any) -> str | None:
    """The row's natural key as sent (meter or order id, and time), for the quarantine."""
    if not isinstance(raw, dict):
        return None
    parts = [printable(raw[k], 100) for k in ("meter_id", "order_id", "ts") if k in raw]
    return "|".join(parts) or None


def first_error(err: ValidationError) -> tuple[str, Any, str]:
    """(field, value, message) of the first error pydantic found, each printable."""
    first = err.errors(include_url=False)[0]
    loc = printable(".".join(str(p) for p in first["loc"]) or "(row)", 100)
    return loc, first.get("input"), printable(first["msg"], 200)


def _validate_row(model: type[T], raw: Any, *, source: str, index: int) -> T | Rejected:
    """One raw row as the model, or why it is refused."""
    if isinstance(raw, DuplicateKeys):
        key = printable(raw.duplicate, 100)
        return Rejected(source=source, row=index, row_key=_key_of(raw), field=key,
                        value=raw.get(raw.duplicate), payload=raw,
                        reason=f"{key}: the key appears more than once in the row")
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        loc, value, message = first_error(err)
        return Rejected(source=source, row=index, row_key=_key_of(raw), field=loc, value=value,
                        reason=f"{loc}: {message}", payload=raw)


def validate_rows(model: type[T], raw_rows: Any, *, source: str) -> Batch[T]:
    """Validate a JSON list row by row: valid rows in ``valid``, the rest in ``rejected``."""
    if not isinstance(raw_rows, list):
        raise SourceDataInvalid(f"{source}: expected a JSON list, got {type(raw_rows).__name__}",
                                field="(body)", value=type(raw_rows).__name__)
    adapter: TypeAdapter[list[T]] = TypeAdapter(list[model])  # type: ignore[valid-type]
    if not any(isinstance(r, DuplicateKeys) for r in raw_rows):
        try:
            return Batch(valid=adapter.validate_python(raw_rows))
        except ValidationError:
            pass  # at least one bad row: sort them out one by one
    batch: Batch[T] = Batch()
    for index, raw in enumerate(raw_rows):
        row = _validate_row(model, raw, source=source, index=index)
        if isinstance(row, Rejected):
            batch.rejected.append(row)
        else:
            batch.valid.append(row)
    return batch


def _duplicate_in(raw: Any) -> str | None:
    """A key repeated anywhere in a parsed document (whose nesting the parser bounded)."""
    if isinstance(raw, DuplicateKeys):
        return raw.duplicate
    children = raw.values() if isinstance(raw, dict) else raw if isinstance(raw, list) else ()
    return next((d for d in map(_duplicate_in, children) if d is not None), None)


def validate_document(model: type[T], raw: Any, *, source: str, deep: bool = True) -> T:
    """Validate a whole document; raise SourceDataInvalid naming field and value. With
    ``deep`` false, repeated keys are refused only at the top (rows are checked on their own)."""
    duplicate = _duplicate_in(raw) if deep else getattr(raw, "duplicate", None) or None
    if duplicate is not None:
        shown = printable(duplicate, 60)
        raise SourceDataInvalid(f"{source}: duplicate key {shown!r} in a JSON object",
                                field=shown, value=None)
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        loc, value, message = first_error(err)
        raise SourceDataInvalid(f"{source}: field {loc!r} = {printable(value, 80)}: {message}",
                                field=loc, row=None, value=printable(value, 80)) from err
