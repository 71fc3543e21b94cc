"""Settings: ``oracle.toml`` (``--config``), overridden by ``ORACLE_*`` environment variables.

Each part of the daemon gets only its own section (``settings.chain``, ``settings.backend``...).
Secrets (keystore password, database password, backend token) live apart in ``Secrets``, read
from the environment or from files in a secrets directory (systemd credentials), never printed.
Nested keys in the environment use ``__``: ``ORACLE_CHAIN__RPC_URLS='["http://127.0.0.1:8545"]'``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from oracle import limits
from oracle.errors import ConfigError
from oracle.redact import MASK, is_secret_name, redact, remember, remember_url, shown, url_userinfo

DEFAULT_DATABASE_URL = "sqlite:///var/oracle.db"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def checked_url(value: str) -> str:
    """A URL setting: its password is masked from now on; a raw ``@`` in it is refused.

    Parsers disagree on where ``user:p@ss@host`` ends (one takes ``ss@host`` for the host and
    prints it in its errors), so the password must spell ``@`` as ``%40``.
    """
    user, password = url_userinfo(value)
    remember_url(value)
    if "@" in user or (password is not None and "@" in password):
        raise ValueError("the user or password holds an '@'; write it as %40")
    return value



class ChainSettings(Section):
    rpc_urls: list[str] = Field(default_factory=list, description="JSON-RPC endpoints; the healthiest is used (ties: the order given); empty: the in-process py-evm chain.")
    send_only_urls: list[str] = Field(default_factory=list, description="Endpoints that only receive signed transactions (eth_sendRawTransaction), e.g. a private relay; never read from.")

    @field_validator("rpc_urls", "send_only_urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return [checked_url(url) for url in value]

    chain_id: int | None = Field(default=None, description="Expected chain id; None: read from the node.")
    keystore_path: Path = Field(default=Path("var/keystore.json"), description="Encrypted JSON keystore (scrypt), mode 0600.")
    confirmations: int = Field(default=3, ge=0, le=1000, description="Blocks on top of a receipt before it counts.")
    resend_after_blocks: int = Field(default=5, ge=1, description="Re-send with bumped fees when not mined after this many blocks.")
    fee_bump_percent: float = Field(default=12.5, ge=12.5, le=500, description="Minimum fee increase when re-sending (EIP-1559 replacement needs >= 12.5%).")
    max_fee_per_gas_gwei: float = Field(default=500.0, gt=0, description="Cap on maxFeePerGas.")
    tx_timeout_s: float = Field(default=120.0, gt=0, description="Give up waiting for one RPC call after this long.")
    finality_depth: int = Field(default=50, ge=1, le=100_000, description="Confirmed reports are re-checked until their block is this deep; a receipt that disappears sends the report again.")
    finality_tag: bool = Field(default=False, description="Use the node's 'finalized' block instead of finality_depth (only where the chain has real finality; dev nodes report their head).")
    max_in_flight: int = Field(default=16, ge=1, le=1000, description="Broadcast no new report while this many transactions wait to be mined.")
    max_head_lag_blocks: int = Field(default=5, ge=0, description="An endpoint whose head is more than this many blocks behind the best one is unhealthy.")
    max_rpc_failures: int = Field(default=3, ge=1, description="Consecutive failed calls after which an endpoint is unhealthy (until a health check succeeds).")
    rpc_retries: int = Field(default=2, ge=0, le=10, description="Extra rounds over the endpoints for a read or a re-sendable call that failed in transit.")
    low_balance_eth: float = Field(default=0.1, ge=0, description="Alert (and oracle_signer_balance_low = 1) when the key holds less than this, in ether.")

    @model_validator(mode="after")
    def _finality_after_confirmations(self) -> ChainSettings:
        if self.finality_depth < self.confirmations:
            raise ValueError(f"finality_depth ({self.finality_depth}) must be at least "
                             f"confirmations ({self.confirmations})")
        return self
    feed_description: str = Field(default="SolChain zone-1 energy price (currency/kWh)", description="AggregatorV3 description().")
    feed_decimals: int = Field(default=8, ge=0, le=18, description="Decimals of the on-chain price answer.")


class BackendSettings(Section):
    url: str = Field(default="http://127.0.0.1:8600", description="SolChain backend base URL (REST v1).")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return checked_url(value)

    timeout_s: float = Field(default=10.0, gt=0, description="Per-request timeout.")
    retries: int = Field(default=4, ge=0, le=20, description="Retries on timeouts, connection errors and 5xx.")
    backoff_s: float = Field(default=0.5, ge=0, description="Base of the exponential backoff (with jitter).")
    page_size: int = Field(default=5000, ge=1, le=100_000, description="Readings per page.")
    max_pages: int = Field(default=10_000, ge=1, description="Stop a cursor walk after this many pages (loop guard).")
    page_retries: int = Field(default=2, ge=0, le=10, description="Re-requests of a page whose body is broken (not JSON, nested too deep, bad envelope or encoding) before it is skipped for this pass.")
    skip_after_passes: int = Field(default=3, ge=1, le=1000, description="Passes a readings window may fail before the watermark moves past it; it stays in skipped_windows and is re-fetched on every later pass until it arrives.")
    quarantine_per_page: int = Field(default=100, ge=1, le=100_000, description="Rejected rows of one page kept in full in the quarantine; the rest are counted in one summary row.")
    max_response_bytes: int = Field(default=8_000_000, ge=1024, description="Largest backend response body, counted after decompression (refused from Content-Length before reading); the meters and orders lists grow about 400 bytes per meter.")


class WeatherSettings(Section):
    url: str = Field(default="http://127.0.0.1:8600", description="Open-Meteo-compatible base URL (/v1/forecast).")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return checked_url(value)

    timeout_s: float = Field(default=10.0, gt=0, description="Per-request timeout of the weather service.")


class SchedulerSettings(Section):
    interval_s: int = Field(default=3600, ge=1, description="Market interval length (one tick per interval).")
    pricing_every_s: int = Field(default=300, ge=1, description="How often the price job runs (the seed's update_frequency).")
    retrain_every_s: int = Field(default=86_400, ge=60, description="How often the retrain job refits and backtests the forecaster (seconds).")
    misfire_grace_s: int = Field(default=60, ge=1, description="A job that could not start on time still runs if it is at most this late (seconds); later, that run is skipped.")
    clock: Literal["wall", "backend"] = Field(default="wall", description="Time source: the wall clock, or the reference backend's replay clock (GET /healthz replay_now) for replays in accelerated time.")
    submit_every_s: float = Field(default=15.0, gt=0, description="How often the transaction manager broadcasts, confirms and bumps.")


class PricingSettings(Section):
    zone: str = Field(default="zone-1", description="Market zone of the price feed.")
    rule: Literal["uniform", "pay_as_bid"] = Field(default="uniform", description="Clearing rule: one uniform price where supply meets demand, or pay-as-bid (each accepted order at its own limit price).")
    floor: float = Field(default=0.05, ge=0, description="Price floor, currency/kWh.")
    cap: float = Field(default=0.50, gt=0, description="Price cap, currency/kWh.")
    deviation_percent: float = Field(default=0.5, gt=0, description="Publish when the price moves more than this.")
    heartbeat_s: int = Field(default=3600, ge=1, description="Publish at least this often.")
    tariff_max_age_s: int = Field(default=86_400, ge=1, description="Fetch the grid document's retail and feed-in tariffs (the forward price curve's) again once they are this old, in seconds.")


class ModelSettings(Section):
    forecast_model: str = Field(default="ets", description="Forecaster used by the daemon: auto, seasonal_naive, ets, mstl_ar, ets_daylight, mstl_ar_daylight, arima, week_analog, day_analog, gbm, lstm, transformer, prophet, ensemble.")
    site_latitude: float | None = Field(default=None, ge=-90, le=90, description="Latitude of the market's demand in degrees; with site_longitude it enables the daylight-aware forecasters (the evening lighting ramp follows sunset) and adds them to auto's candidates.")
    site_longitude: float | None = Field(default=None, ge=-180, le=180, description="Longitude of the market's demand in degrees (east positive); set both or neither.")
    solar_fleet_max_meters: int = Field(default=2000, ge=0, le=1_000_000, description="Forecast each PV meter from its own history and weather (about 0.1 s of fit per meter per tick) up to this many PV meters; above it, or at 0, the zone's solar comes from its production history alone (audited).")
    demand_meters_max_meters: int = Field(default=1000, ge=0, le=1_000_000, description="Forecast each meter's demand with one global model per group of meters (compute.group_size), scaled so the meters add up to the zone's forecast of the same origin (a fit costs about 12 s per group plus 0.075 s per meter, so ~75 s for 1,000 meters), up to this many meters with readings; above it, or at 0, no per-meter demand forecasts are made (audited).")
    demand_meters_every_h: int = Field(default=6, ge=1, le=24, description="Make the per-meter demand forecasts at most this often, in hours of market time: a tick less than this after the newest stored ones keeps them (each covers the next 24 h and adds up to the zone's forecast of its own origin).")

    @model_validator(mode="after")
    def _both_or_neither(self) -> ModelSettings:
        if (self.site_latitude is None) != (self.site_longitude is None):
            missing = "site_longitude" if self.site_longitude is None else "site_latitude"
            raise ValueError(f"set site_latitude and site_longitude together ({missing} is missing)")
        return self


class ComputeSettings(Section):
    scheduler: str | None = Field(default=None, description="Dask scheduler (tcp://host:8786 or tls://...) that runs the per-meter stages (anomaly detection) in groups of meters; None: in the daemon's process. Needs the 'cluster' extra; workers import this package and reach the database.")
    group_size: int = Field(default=2000, ge=1, le=1_000_000, description="Meters per group: one task, one read by meter range and one batch write; a lost worker re-runs only its groups. A worker's memory grows with it.")
    fit_sample_rows: int = Field(default=20_000, ge=1000, description="Feature rows per group that the anomaly detector's thresholds are fitted on (a seeded sample; every meter's profile is kept).")
    connect_timeout_s: float = Field(default=10.0, gt=0, le=600, description="Give up connecting to the Dask scheduler after this long (the tick is retried).")

    @field_validator("scheduler")
    @classmethod
    def _scheduler_address(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("tcp://", "tls://")):
            raise ValueError("must be a Dask scheduler address: tcp://host:port or tls://host:port")
        return value


class ApiSettings(Section):
    host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on (`oracle serve --host` overrides).")
    port: int = Field(default=8700, ge=0, le=65535, description="Port of the HTTP API; 0 picks a free one (`oracle serve --port` overrides).")
    max_body_bytes: int = Field(default=5_000_000, ge=1024, le=500_000_000, description="Largest request body (413 beyond it, refused from Content-Length before reading).")
    max_json_depth: int = Field(default=64, ge=2, le=limits.CEILING_JSON_DEPTH, description="Deepest nesting of arrays and objects in a request body (refused before routing and auth).")
    max_points: int = Field(default=50_000, ge=1, le=limits.CEILING_POINTS, description="Most values in one series, readings list or weather list of a request (and of a model CLI input).")
    max_orders: int = Field(default=20_000, ge=1, le=limits.CEILING_ORDERS, description="Most bids, and most offers, in one clearing request.")
    max_curve_points: int = Field(default=2_000, ge=1, le=limits.CEILING_CURVE_POINTS, description="Most points of a demand or supply curve in /pricing/optimize (its exact search grows with the square).")
    max_horizon: int = Field(default=336, ge=1, le=limits.CEILING_HORIZON, description="Most forecast steps in one request or `oracle model forecast` (a model's trained maximum may be lower).")
    max_nodes: int = Field(default=500, ge=1, le=limits.CEILING_NODES, description="Most grid nodes in one dispatch problem.")
    max_dispatch_hours: int = Field(default=168, ge=1, le=limits.CEILING_DISPATCH_HOURS, description="Longest dispatch horizon in hours.")
    max_node_hours: int = Field(default=12_000, ge=1, le=limits.CEILING_NODE_HOURS, description="Largest dispatch problem: nodes x hours (e.g. 500 x 24).")
    request_timeout_s: float = Field(default=30.0, gt=0, le=3600, description="Time budget of one model request, waiting for a worker included; past it, or when the client goes away, its worker process is stopped.")
    workers: int = Field(default=2, ge=1, le=64, description="Worker processes that run the models for the API (each request in one; a stopped one is replaced).")
    worker_memory_mb: int = Field(default=2048, ge=64, description="Memory a worker may allocate beyond its start-up size; a request needing more is refused.")
    header_timeout_s: float = Field(default=5.0, gt=0, le=600, description="A connection that has not sent its complete request head within this time is closed.")
    body_timeout_s: float = Field(default=10.0, gt=0, le=3600, description="A request whose body has not fully arrived within this time is answered 408 and closed.")


class CommitteeMember(Section):
    address: str = Field(description="The member's signer address (0x..., as in the feed's signers()).")
    base_url: str = Field(description="The member's API base URL, e.g. http://127.0.0.1:8701.")

    @field_validator("address")
    @classmethod
    def _is_address(cls, value: str) -> str:
        from eth_utils import is_address, to_checksum_address

        if not is_address(value):
            raise ValueError(f"{value!r} is not a 20-byte hex address")
        return str(to_checksum_address(value))

    @field_validator("base_url")
    @classmethod
    def _is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with http:// or https://")
        return value.rstrip("/")


class CommitteeSettings(Section):
    members: list[CommitteeMember] = Field(default_factory=list, description="Every member of the committee, this daemon included (address + base_url); empty: one daemon signs alone.")
    quorum: int = Field(default=1, ge=1, le=31, description="Signatures a price report needs (f+1 for a committee of n >= 3f+1); must equal the feed's quorum().")
    tolerance_percent: float = Field(default=1.0, gt=0, le=100, description="A member signs a proposal only when its price (and each curve point) is within this of its own answer.")
    leader_timeout_s: float = Field(default=30.0, gt=0, le=3600, description="Seconds a round's leader has before the next member in line takes over.")
    max_message_age_s: float = Field(default=60.0, gt=0, le=3600, description="Peer messages older (or further ahead) than this are refused.")

    @model_validator(mode="after")
    def _committee_shape(self) -> CommitteeSettings:
        addresses = [m.address for m in self.members]
        if len(set(addresses)) != len(addresses):
            raise ValueError("members: an address is listed twice")
        if self.members and self.quorum > len(self.members):
            raise ValueError(f"quorum {self.quorum} is above the {len(self.members)} members")
        faulty = self.quorum - 1
        if self.members and len(self.members) < 3 * faulty + 1:
            raise ValueError(f"quorum {self.quorum} tolerates f={faulty} faulty members, which "
                             f"needs n >= {3 * faulty + 1} members (have {len(self.members)})")
        return self


class Settings(BaseSettings):
    """Every setting the oracle reads, validated once at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="ORACLE_", env_nested_delimiter="__", extra="forbid", frozen=True,
    )

    database_url: str = Field(default=DEFAULT_DATABASE_URL, description="SQLAlchemy URL: SQLite file or PostgreSQL.")
    data_dir: Path = Field(default=Path("var"), description="Where the SQLite file, keys, locks and artifacts live.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Lowest level of the JSON log lines on stderr; INFO is what an operator acts on.")
    secrets_dir: Path | None = Field(default=None, description="Directory with one file per secret (e.g. systemd $CREDENTIALS_DIRECTORY).")
    chain: ChainSettings = Field(default_factory=ChainSettings)
    backend: BackendSettings = Field(default_factory=BackendSettings)
    weather: WeatherSettings = Field(default_factory=WeatherSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    committee: CommitteeSettings = Field(default_factory=CommitteeSettings)
    compute: ComputeSettings = Field(default_factory=ComputeSettings)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return checked_url(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file"):
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)


class Secrets(BaseSettings):
    """Secrets, read from ``ORACLE_<NAME>`` or a file ``<secrets_dir>/<name>``; never printed."""

    model_config = SettingsConfigDict(env_prefix="ORACLE_", extra="ignore", frozen=True)

    keystore_password: SecretStr | None = None
    database_password: SecretStr | None = None
    backend_token: SecretStr | None = None
    api_token: SecretStr | None = None  # the HTTP API's bearer token; none: endpoints open


def _describe(error: Any) -> str:
    key = ".".join(str(p) for p in error["loc"]) or "(settings)"
    if error["type"] == "extra_forbidden":  # a misplaced secret lands here: never echo it
        return f"unknown setting {key!r} = {MASK}; see oracle.example.toml for the keys"
    return f"setting {key!r} = {shown(key, error.get('input'))}: {redact(error['msg'])}"


def _remember_env_secrets() -> None:
    """Secret-named ORACLE_* variables (also wrongly nested ones) are masked in every message."""
    for name, value in os.environ.items():
        if name.startswith("ORACLE_") and is_secret_name(name):
            remember(value)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from the TOML file and the environment; raise ConfigError naming the key."""
    if config_file is None and os.environ.get("ORACLE_CONFIG"):
        config_file = Path(os.environ["ORACLE_CONFIG"])
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {str(config_file)!r} does not exist", key="--config",
                          value=str(config_file))
    cls: type[Settings] = Settings
    if config_file is not None:
        config = SettingsConfigDict(**{**Settings.model_config, "toml_file": config_file})
        cls = type("Settings", (Settings,), {"model_config": config, "__module__": __name__})
    _remember_env_secrets()
    try:
        return cls(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(map(str, first["loc"]))
        raise ConfigError(_describe(first), key=key, value=shown(key, first.get("input"))) from err
    except SettingsError as err:  # an ORACLE_* variable that is not valid JSON for its section
        raise ConfigError(f"environment: {redact(str(err))} (nested sections take JSON, or "
                          "ORACLE_<SECTION>__<KEY>=value)", key="environment") from err
    except ValueError as err:  # malformed TOML
        raise ConfigError(f"config file {str(config_file)!r} is not valid TOML: {err}",
                          key="--config", value=str(config_file)) from err


def load_secrets(settings: Settings) -> Secrets:
    """Read secrets from ``ORACLE_<NAME>``, else from the file ``<secrets_dir>/<name>``."""
    secrets_dir = settings.secrets_dir or (
        Path(os.environ["CREDENTIALS_DIRECTORY"]) if os.environ.get("CREDENTIALS_DIRECTORY") else None
    )
    from_files: dict[str, Any] = {}
    if secrets_dir is not None:
        if not secrets_dir.is_dir():
            raise ConfigError(f"setting 'secrets_dir' = {str(secrets_dir)!r}: not a directory",
                              key="secrets_dir", value=str(secrets_dir))
        for name in Secrets.model_fields:
            path = secrets_dir / name
            if path.is_file() and os.environ.get(f"ORACLE_{name.upper()}") is None:
                from_files[name] = read_secret_file(path)
    secrets = Secrets(**from_files)
    for value in secrets.model_dump().values():
        remember(value.get_secret_value() if value is not None else None)
    return secrets


def read_secret_file(path: Path) -> str:
    """One secret from its file (stripped), remembered so no message ever shows it."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
        raise ConfigError(f"secret file {path} is not readable ({reason})", key=path.name) from None
    remember(value)
    return value


_EXAMPLE_HEADER = """\
# oracle.example.toml: every setting with its default. Copy to oracle.toml and pass --config,
# or set ORACLE_<KEY> (nested: ORACLE_CHAIN__CONFIRMATIONS=6). Secrets are NOT set here:
# ORACLE_KEYSTORE_PASSWORD, ORACLE_DATABASE_PASSWORD, ORACLE_BACKEND_TOKEN, ORACLE_API_TOKEN, or
# files of those names (lower case) in secrets_dir / $CREDENTIALS_DIRECTORY.
# Generated by `python -m oracle.config > oracle.example.toml`; a test keeps it in sync.
"""


def _toml_lines(model: type[BaseModel]) -> list[str]:
    import json

    lines = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            continue
        if field.description:
            lines.append(f"# {field.description}")
        default = field.get_default(call_default_factory=True)
        if default is None:
            lines.append(f'# {name} = ""  (unset)')
        elif isinstance(default, bool):
            lines.append(f"{name} = {'true' if default else 'false'}")
        else:
            lines.append(f"{name} = {json.dumps(str(default) if isinstance(default, Path) else default)}")
    return lines


def example_toml() -> str:
    """The documented example configuration, derived from the settings models."""
    lines = [_EXAMPLE_HEADER, *_toml_lines(Settings)]
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            lines += ["", f"[{name}]", *_toml_lines(annotation)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(example_toml(), end="")
