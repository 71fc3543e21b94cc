"""Request and response bodies of the model endpoints (pydantic): strict, finite, bounded.

Every number is finite (``NaN`` and infinities are rejected naming the field), timestamps are
ISO 8601 strings within 1970-2200, lists are bounded by the ceilings of ``oracle.limits`` (the
configured ``[api]`` limits, lower, are checked by the endpoints), unknown fields are refused,
and paired lists must have the same length.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from oracle.jsonsafe import excerpt
from oracle.limits import (
    CEILING_CURVE_POINTS,
    CEILING_DISPATCH_HOURS,
    CEILING_HORIZON,
    CEILING_LINES,
    CEILING_NODES,
    CEILING_ORDERS,
    CEILING_POINTS,
)

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MAX_POINTS = CEILING_POINTS
MAX_ORDERS = CEILING_ORDERS
MAX_HORIZON = CEILING_HORIZON  # a model's own trained maximum is usually lower

Finite = Annotated[float, Field(allow_inf_nan=False)]
NonNegative = Annotated[float, Field(allow_inf_nan=False, ge=0)]
Positive = Annotated[float, Field(allow_inf_nan=False, gt=0)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Version = Annotated[str, Field(min_length=1, max_length=64)]
Id = Annotated[str, Field(min_length=1, max_length=64)]
Profile = Annotated[list[NonNegative], Field(max_length=CEILING_DISPATCH_HOURS)]


def iso_8601(value: Any) -> Any:
    """A timestamp is an ISO 8601 string (or a datetime); never an epoch number."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 string such as 2024-01-01T00:00:00Z, not "
                         f"{type(value).__name__}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{excerpt(value)!r} is not an ISO 8601 timestamp") from None


def as_utc(value: datetime) -> datetime:
    """Naive timestamps are taken as UTC; aware ones are converted to UTC; 1970-2200 only."""
    outside = f"timestamp is outside {EARLIEST.year}-{LATEST.year}"
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the year 9999 in UTC
        raise ValueError(outside) from None
    if not EARLIEST <= value <= LATEST:
        raise ValueError(outside)
    return value


Timestamp = Annotated[datetime, BeforeValidator(iso_8601), AfterValidator(as_utc)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelChoice(Strict):
    """Which registered model answers: the champion of ``model`` unless ``version`` is given."""

    model: Name | None = Field(default=None, description="Registry name; default per endpoint.")
    version: Version | None = Field(default=None, description="A registered version; default: "
                                    "the champion.")


class Series(Strict):
    """A regular time series: equally spaced UTC timestamps and one finite value each."""

    timestamps: list[Timestamp] = Field(min_length=1, max_length=MAX_POINTS)
    values: list[Finite] = Field(min_length=1, max_length=MAX_POINTS)

    @field_validator("values")
    @classmethod
    def _same_length(cls, value: list[float], info: ValidationInfo) -> list[float]:
        stamps = info.data.get("timestamps")
        if stamps is not None and len(stamps) != len(value):
            raise ValueError(f"has {len(value)} values but timestamps has {len(stamps)}")
        return value


class DemandForecastRequest(ModelChoice):
    history: Series = Field(description="Recent demand (kWh per interval), the forecast origin "
                            "is its last timestamp.")
    horizon: int = Field(ge=1, le=MAX_HORIZON, description="Steps ahead, at the history's "
                         "frequency; at most the model's trained maximum.")
    level: list[Annotated[int, Field(ge=1, le=99)]] = Field(default=[80, 95], min_length=1,
                                                            max_length=5)


class WeatherRow(Strict):
    ts: Timestamp
    shortwave_radiation: NonNegative = Field(description="Global horizontal irradiance, W/m².")
    temperature_2m: Finite | None = Field(default=None, ge=-90, le=70)
    wind_speed_10m: NonNegative | None = None
    cloud_cover: Finite | None = Field(default=None, ge=0, le=100)
    direct_normal_irradiance: NonNegative | None = None
    diffuse_radiation: NonNegative | None = None


class Site(Strict):
    lat: Finite = Field(ge=-90, le=90)
    lon: Finite = Field(ge=-180, le=180)
    pv_kwp: Positive = Field(le=100_000)
    tilt: Finite = Field(default=30.0, ge=0, le=90)
    azimuth: Finite = Field(default=180.0, ge=0, le=360)


class SolarForecastRequest(ModelChoice):
    site: Site
    history: Series | None = Field(default=None, description="Past production (kWh per "
                                   "interval), aligned with weather rows, for the learned "
                                   "correction.")
    weather: list[WeatherRow] = Field(min_length=1, max_length=MAX_POINTS,
                                      description="Weather for the history and the horizon.")
    horizon: int = Field(ge=1, le=MAX_HORIZON)


class ForecastStep(BaseModel):
    ts: datetime
    mean: float
    bounds: dict[str, float | None] = Field(description="lo_80, hi_80, ... by requested level.")


class Provenance(BaseModel):
    """Which model answered and how."""

    model: str
    version: str | None
    source: Literal["champion", "version", "default"]
    note: str


class ForecastResponse(Provenance):
    horizon: int
    forecast: list[ForecastStep]


class StoredForecastResponse(BaseModel):
    """The daemon's newest stored demand forecast of a meter, or of a user's meters summed."""

    user_id: str | None
    meter_ids: list[str] = Field(description="The meters whose forecasts are summed.")
    origin: datetime
    model: str
    horizon: int
    forecast: list[ForecastStep]


class Order(Strict):
    order_id: Id
    quantity_kwh: Positive = Field(le=1e6)
    limit_price: NonNegative = Field(le=1e6)
    ts: Timestamp
    node_id: Id | None = None
    user_id: Id | None = None
    meter_id: Id | None = None


class ClearRequest(ModelChoice):
    bids: list[Order] = Field(max_length=MAX_ORDERS)
    offers: list[Order] = Field(max_length=MAX_ORDERS)
    rule: Literal["uniform", "pay_as_bid"] | None = None
    floor: NonNegative | None = Field(default=None, le=1e6)
    cap: Positive | None = Field(default=None, le=1e6)


class ClearResponse(Provenance):
    rule: str
    price: float | None
    volume_kwh: float
    price_interval: list[float] | None
    buyer_surplus: float
    seller_surplus: float
    total_surplus: float
    matches: list[dict[str, Any]]


class Curve(Strict):
    """Quantity (kWh) at each price; prices strictly increasing."""

    prices: list[NonNegative] = Field(min_length=1, max_length=CEILING_CURVE_POINTS)
    quantities_kwh: list[NonNegative] = Field(min_length=1, max_length=CEILING_CURVE_POINTS)

    @field_validator("quantities_kwh")
    @classmethod
    def _same_length(cls, value: list[float], info: ValidationInfo) -> list[float]:
        prices = info.data.get("prices")
        if prices is not None and len(prices) != len(value):
            raise ValueError(f"has {len(value)} quantities but prices has {len(prices)}")
        return value


class PricingRequest(ModelChoice):
    demand: Curve
    supply: Curve
    weights: tuple[NonNegative, NonNegative, NonNegative] | None = None
    balancing_cost: NonNegative | None = Field(default=None, le=1e6)
    floor: NonNegative | None = Field(default=None, le=1e6)
    cap: Positive | None = Field(default=None, le=1e6)
    congestion_level: Finite = Field(default=0.0, ge=0, le=10)
    grid_fee: NonNegative = Field(default=0.0, le=1e6)
    ts: Timestamp | None = Field(default=None, description="Interval start, for time-of-use.")


class PricingResponse(Provenance):
    price: float
    objective: float
    consumer_surplus: float
    producer_surplus: float
    grid_stability: float
    volume_kwh: float
    imbalance_kwh: float
    components: dict[str, float]


class Reading(Strict):
    meter_id: Id
    ts: Timestamp
    consumption_kwh: NonNegative | None = Field(le=1e6)
    production_kwh: NonNegative | None = Field(default=0.0, le=1e6)


class AnomalyRequest(ModelChoice):
    readings: list[Reading] = Field(min_length=1, max_length=MAX_POINTS)
    history: list[Reading] | None = Field(default=None, max_length=MAX_POINTS,
                                          description="Clean history to fit on when no "
                                          "champion exists; default: the readings themselves.")


class AnomalyOut(BaseModel):
    meter_id: str
    ts: datetime
    type: str
    score: float
    severity: str
    confidence: float
    recommended_action: str
    reason: str | None = None


class AnomalyResponse(Provenance):
    anomalies: list[AnomalyOut]


class Node(Strict):
    node_id: Id
    demand_kw: NonNegative = Field(default=0.0, le=1e6)
    storage_kwh: NonNegative = Field(default=0.0, le=1e7)
    storage_kw: NonNegative = Field(default=0.0, le=1e7)
    soc_initial: Finite = Field(default=0.5, ge=0, le=1)
    soc_min: Finite = Field(default=0.0, ge=0, le=1)
    soc_max: Finite = Field(default=1.0, ge=0, le=1)
    dr_shift_kw: NonNegative = Field(default=0.0, le=1e6)
    dr_curtail_kw: NonNegative = Field(default=0.0, le=1e6)


class Line(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_node: Id = Field(alias="from")
    to_node: Id = Field(alias="to")
    capacity_kw: Positive = Field(le=1e7)


class GridDoc(Strict):
    nodes: list[Node] = Field(min_length=1, max_length=CEILING_NODES)
    lines: list[Line] = Field(default=[], max_length=CEILING_LINES)
    import_price: NonNegative = Field(le=1e3)
    export_price: NonNegative = Field(default=0.0, le=1e3)
    carbon_g_per_kwh: NonNegative = Field(default=0.0, le=1e4)
    connection_node: Id | None = None


class DispatchRequest(ModelChoice):
    grid: GridDoc
    demand: dict[Id, Profile] | None = Field(
        default=None, max_length=CEILING_NODES, description="kW per hour for each node id.")
    generation: dict[Id, Profile] | None = Field(
        default=None, max_length=CEILING_NODES,
        description="Renewable kW per hour for each node id.")
    import_prices: Profile | None = None
    horizon: int = Field(default=24, ge=1, le=CEILING_DISPATCH_HOURS,
                         description="Hours to plan; at most api.max_dispatch_hours, and nodes "
                         "x hours at most api.max_node_hours.")


class DispatchResponse(Provenance):
    summary: dict[str, Any]
    grid_import_kw: list[float]
    grid_export_kw: list[float]
    state_of_charge_kwh: dict[str, list[float]]
    line_flow_kw: dict[str, list[float]]
    line_loading: dict[str, list[float]]
    nodal_prices: dict[str, list[float]]
