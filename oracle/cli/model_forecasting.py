"""`oracle model forecast`: forecast one series from a CSV/JSON file with intervals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from models.errors import InvalidInput
from models.features import degree_features, temperature_on
from models.forecasting import Forecaster
from models.forecasting.base import future_index
from models.forecasting.catalog import SITE_MODELS
from models.forecasting.daylight import Site
from models.forecasting.forecaster import CHOICES
from oracle.cli._common import (
    ConfigOpt,
    InputOpt,
    OutputOpt,
    check_output,
    read_table,
    settings_for,
    write_output,
)
from oracle.config import ApiSettings
from oracle.errors import ConfigError, SourceDataInvalid
from oracle.limits import Limits, check_at_most
from oracle.model_errors import model_errors

HorizonOpt = Annotated[int, typer.Option("--horizon", "-H", min=1,
                                         help="Steps to forecast (at the series' frequency; "
                                              "at most api.max_horizon).")]
ModelOpt = Annotated[str, typer.Option("--model", help=f"One of: {', '.join(CHOICES)}.")]
TsOpt = Annotated[str, typer.Option("--ts-column", help="Timestamp column (ISO 8601).")]
ValueOpt = Annotated[str, typer.Option("--value-column", help="Value column to forecast.")]
LevelOpt = Annotated[list[float] | None, typer.Option(
    "--level", help="Interval level in percent; repeat for several (default 80 and 95).")]
SiteOpt = Annotated[str | None, typer.Option(
    "--site", help="Where the demand is, 'LAT,LON' in degrees: enables the daylight-aware "
                   "models (ets_daylight, mstl_ar_daylight) and adds them to auto's candidates.")]

WeatherOpt = Annotated[Path | None, typer.Option(
    "--weather", dir_okay=False,
    help="CSV/JSON of temperature (°C) with columns ts (or time) and temperature (or "
         "temperature_2m), covering the history and the forecast horizon: measured for the past, "
         "the weather forecast for the future. Heating and cooling degrees from it become "
         "exogenous inputs (ets, mstl_ar, gbm and auto's candidates use them).")]
TS_NAMES = ("ts", "time")
TEMPERATURE_NAMES = ("temperature", "temperature_2m")


def parse_site(text: str | None) -> Site | None:
    """``--site 'LAT,LON'`` as a Site (the file's timestamps carry their own offsets)."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) != 2:
            raise ValueError(text)
        return Site(float(parts[0]), float(parts[1]))
    except (ValueError, InvalidInput) as err:
        raise ConfigError(f"--site must be 'LAT,LON' in degrees (latitude -90..90, longitude "
                          f"-180..180), got {text!r}", key="site", value=text) from err


def read_series(path: Path, ts_column: str, value_column: str) -> pd.Series:
    """The file's value column indexed by its timestamps, on a regular inferred grid."""
    frame = read_table(path, required=[ts_column, value_column])
    ts = pd.to_datetime(frame[ts_column], utc=True, errors="coerce")
    if ts.isna().any():
        row = int(ts.isna().to_numpy().argmax())
        raise SourceDataInvalid(f"{path}: {ts_column} at row {row} is not a timestamp: "
                                f"{frame[ts_column].iloc[row]!r}", field=ts_column, row=row,
                                value=frame[ts_column].iloc[row])
    values = pd.to_numeric(frame[value_column], errors="coerce")
    bad = values.isna() & frame[value_column].notna()
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise SourceDataInvalid(f"{path}: {value_column} at row {row} is not a number: "
                                f"{frame[value_column].iloc[row]!r}", field=value_column,
                                row=row, value=frame[value_column].iloc[row])
    y = pd.Series(values.to_numpy(dtype="float64"), index=pd.DatetimeIndex(ts, name=ts_column),
                  name=value_column).sort_index()
    dup = y.index.duplicated()
    if dup.any():
        stamp = y.index[dup][0]
        raise SourceDataInvalid(f"{path}: duplicate {ts_column} {stamp}", field=ts_column,
                                value=str(stamp))
    freq = pd.infer_freq(y.index) if len(y) >= 3 else None
    if freq is None:
        raise SourceDataInvalid(f"{path}: {ts_column} is not on a regular grid (gaps or "
                                "uneven steps); fill or resample it first", field=ts_column)
    return y.asfreq(freq)


def read_weather(path: Path) -> pd.Series:
    """The weather file's temperature indexed by its (UTC) timestamps, sorted."""
    if not path.exists():
        raise ConfigError(f"--weather: file {str(path)!r} does not exist", key="weather",
                          value=str(path))
    frame = read_table(path)
    ts_col = next((c for c in TS_NAMES if c in frame.columns), None)
    temp_col = next((c for c in TEMPERATURE_NAMES if c in frame.columns), None)
    if ts_col is None or temp_col is None:
        raise SourceDataInvalid(f"{path}: weather needs columns ts (or time) and temperature (or "
                                f"temperature_2m); found {', '.join(map(str, frame.columns))}",
                                field="temperature" if ts_col else "ts", value=None)
    ts = pd.to_datetime(frame[ts_col], utc=True, errors="coerce")
    temp = pd.to_numeric(frame[temp_col], errors="coerce")
    for name, parsed, what in ((ts_col, ts, "a timestamp"), (temp_col, temp, "a number")):
        bad = parsed.isna().to_numpy()
        if bad.any():
            row = int(bad.argmax())
            raise SourceDataInvalid(f"{path}: {name} at row {row} is not {what}: "
                                    f"{frame[name].iloc[row]!r}", field=name, row=row,
                                    value=frame[name].iloc[row])
    out = pd.Series(temp.to_numpy(dtype="float64"), index=pd.DatetimeIndex(ts),
                    name="temperature").sort_index()
    dup = out.index.duplicated()
    if dup.any():
        raise SourceDataInvalid(f"{path}: duplicate {ts_col} {out.index[dup][0]}", field=ts_col,
                                value=str(out.index[dup][0]))
    return out


def weather_inputs(path: Path, index: pd.DatetimeIndex, horizon: int
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Heating/cooling degrees for the series' timestamps and for the forecast horizon."""
    future = future_index(index, horizon)
    span = index.append(future)
    try:
        X = degree_features(temperature_on(span, read_weather(path)).asfreq(index.freq))
    except InvalidInput as err:
        raise SourceDataInvalid(f"{path}: {err}", field=err.field, row=err.row,
                                value=err.value) from err
    return X.loc[index], X.loc[future]


def forecast_file(input_path: Path, output: Path, horizon: int, model: str = "auto",
                  ts_column: str = "ts", value_column: str = "value",
                  levels: list[float] | None = None, site: str | None = None,
                  weather: Path | None = None, limits: Limits | None = None) -> pd.DataFrame:
    """Fit ``model`` on the file's series and write ``horizon`` steps with intervals."""
    limits = limits or ApiSettings()
    check_output(output)
    check_at_most("--horizon", horizon, limits.max_horizon, "max_horizon", "steps")
    if model not in CHOICES:
        raise ConfigError(f"--model: unknown model {model!r}; choose one of {', '.join(CHOICES)}",
                          key="model", value=model)
    where = parse_site(site)
    if model in SITE_MODELS and where is None:
        raise ConfigError(f"--model {model} needs --site 'LAT,LON'", key="site", value=None)
    y = read_series(input_path, ts_column, value_column)
    check_at_most(f"{input_path}", len(y), limits.max_points, "max_points", "points")
    X, X_future = weather_inputs(weather, y.index, horizon) if weather else (None, None)
    level = tuple(levels) if levels else (80, 95)
    with model_errors(str(input_path)):
        forecast = Forecaster(model=model, horizon=horizon, level=level,
                              site=where).fit(y, X).predict(horizon, X_future)
    forecast.index = forecast.index.map(lambda t: t.isoformat())
    forecast.index.name = ts_column
    write_output(forecast.reset_index(), output)
    return forecast


def register(app: typer.Typer) -> None:
    """Add `forecast` to the `model` sub-app."""

    @app.command("forecast")
    def forecast(input: InputOpt, output: OutputOpt, horizon: HorizonOpt,
                 model: ModelOpt = "auto", ts_column: TsOpt = "ts",
                 value_column: ValueOpt = "value", level: LevelOpt = None,
                 site: SiteOpt = None, weather: WeatherOpt = None,
                 config: ConfigOpt = None) -> None:
        """Forecast a regular series (ts, value) to a file of mean, lo_<level>, hi_<level>
        per future timestamp; `auto` picks the model by rolling-origin backtest and never does
        worse there than seasonal naive (day or week)."""
        frame = forecast_file(input, output, horizon, model, ts_column, value_column, level,
                              site, weather, settings_for(config).api)
        typer.echo(f"{len(frame)} steps from {frame.index[0]} written to {output}")
