"""`oracle model forecast` on files, through Typer's test runner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from oracle.cli.model_forecasting import forecast_file, register
from oracle.errors import ConfigError, SourceDataInvalid


@pytest.fixture()
def app() -> typer.Typer:
    model = typer.Typer()

    @model.callback()
    def _group() -> None:
        """model"""

    register(model)
    return model


def series_file(tmp_path: Path, days: int = 6, name: str = "load.csv") -> Path:
    ts = pd.date_range("2024-05-06", periods=24 * days, freq="1h", tz="UTC")
    rng = np.random.default_rng(1)
    value = 50 + 10 * np.sin(2 * np.pi * ts.hour / 24) + rng.normal(0, 0.5, len(ts))
    frame = pd.DataFrame({"timestamp": ts.map(lambda t: t.isoformat()), "kwh": value})
    path = tmp_path / name
    if name.endswith(".json"):
        frame.to_json(path, orient="records")
    else:
        frame.to_csv(path, index=False)
    return path


def test_forecast_writes_intervals(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, [
        "forecast", "--input", str(series_file(tmp_path)), "--output", str(out),
        "--horizon", "12", "--model", "ets", "--ts-column", "timestamp",
        "--value-column", "kwh"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["timestamp", "mean", "lo_80", "hi_80", "lo_95", "hi_95"]
    assert len(frame) == 12
    assert pd.Timestamp(frame["timestamp"].iloc[0]) == pd.Timestamp("2024-05-12T00:00:00Z")
    assert (frame["lo_95"] <= frame["lo_80"]).all() and (frame["hi_80"] <= frame["hi_95"]).all()


def test_level_option_repeats(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    result = CliRunner().invoke(app, [
        "forecast", "-i", str(series_file(tmp_path)), "-o", str(out), "-H", "5",
        "--model", "seasonal_naive", "--ts-column", "timestamp", "--value-column", "kwh",
        "--level", "90", "--level", "50"])
    assert result.exit_code == 0, result.output
    assert list(pd.read_json(out).columns) == ["timestamp", "mean", "lo_90", "hi_90", "lo_50",
                                               "hi_50"]


def test_json_input_and_custom_level(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    frame = forecast_file(series_file(tmp_path, name="load.json"), out, 6, "seasonal_naive",
                          "timestamp", "kwh", [90.0])
    assert list(frame.columns) == ["mean", "lo_90", "hi_90"]
    assert len(pd.read_json(out)) == 6


def test_missing_value_is_source_data_invalid(tmp_path: Path) -> None:
    path = series_file(tmp_path)
    frame = pd.read_csv(path)
    frame.loc[30, "kwh"] = np.nan
    frame.to_csv(path, index=False)
    with pytest.raises(SourceDataInvalid, match="row 30") as info:
        forecast_file(path, tmp_path / "o.csv", 6, "ets", "timestamp", "kwh")
    assert info.value.field == "y"


def test_bad_rows_and_columns(tmp_path: Path) -> None:
    path = series_file(tmp_path)
    frame = pd.read_csv(path)
    with pytest.raises(SourceDataInvalid, match="missing column"):
        forecast_file(path, tmp_path / "o.csv", 6, "ets")
    frame.loc[7, "timestamp"] = "yesterday"
    frame.to_csv(path, index=False)
    with pytest.raises(SourceDataInvalid, match="row 7"):
        forecast_file(path, tmp_path / "o.csv", 6, "ets", "timestamp", "kwh")
    frame = pd.read_csv(series_file(tmp_path)).drop(index=[10])
    frame.to_csv(path, index=False)
    with pytest.raises(SourceDataInvalid, match="regular grid"):
        forecast_file(path, tmp_path / "o.csv", 6, "ets", "timestamp", "kwh")
    with pytest.raises(ConfigError, match="unknown model"):
        forecast_file(series_file(tmp_path), tmp_path / "o.csv", 6, "holt", "timestamp", "kwh")


def test_too_short_series_exits_2(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(app, [
        "forecast", "--input", str(series_file(tmp_path, days=1)), "--output", str(out),
        "--horizon", "6", "--model", "ets", "--ts-column", "timestamp", "--value-column", "kwh"])
    assert isinstance(result.exception, SourceDataInvalid)
    assert result.exception.exit_code == 2
    assert not out.exists()


def test_site_option_runs_a_daylight_model(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, [
        "forecast", "-i", str(series_file(tmp_path, days=10)), "-o", str(out), "-H", "24",
        "--model", "ets_daylight", "--site", "51.5,-0.13", "--ts-column", "timestamp",
        "--value-column", "kwh"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 24


@pytest.mark.parametrize(("model", "site", "match"), [
    ("ets_daylight", None, "needs --site"),
    ("ets", "51.5", "--site must be"),
    ("ets", "north,west", "--site must be"),
    ("ets", "95,0", "--site must be"),
])
def test_bad_or_missing_site_names_the_option(tmp_path: Path, model: str, site: str | None,
                                              match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        forecast_file(series_file(tmp_path), tmp_path / "o.csv", 6, model, "timestamp", "kwh",
                      site=site)
    assert err.value.key == "site"


def weather_files(tmp_path: Path, days: int = 8, horizon: int = 12) -> tuple[Path, Path]:
    """A load that follows the temperature (cooling) and the weather file covering it + horizon."""
    ts = pd.date_range("2024-07-01", periods=24 * days + horizon, freq="1h", tz="UTC")
    rng = np.random.default_rng(2)
    temp = 24 + np.repeat(rng.normal(0, 4, days + 1), 24)[:len(ts)] + 5 * np.sin(
        2 * np.pi * (ts.hour - 9) / 24)
    load = 40 + 8 * np.sin(2 * np.pi * ts.hour / 24) + 3 * np.clip(temp - 22, 0, None)
    series = pd.DataFrame({"ts": ts.map(lambda t: t.isoformat()), "value": load})
    series.iloc[:-horizon].to_csv(tmp_path / "load.csv", index=False)
    pd.DataFrame({"time": ts.map(lambda t: t.isoformat()), "temperature_2m": temp}).to_json(
        tmp_path / "weather.json", orient="records")
    return tmp_path / "load.csv", tmp_path / "weather.json"


def test_weather_option_feeds_heating_and_cooling_degrees(app: typer.Typer,
                                                          tmp_path: Path) -> None:
    load, weather = weather_files(tmp_path)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["forecast", "-i", str(load), "-o", str(out), "-H", "12",
                                      "--model", "mstl_ar", "--weather", str(weather)])
    assert result.exit_code == 0, result.output
    with_weather = pd.read_csv(out)["mean"].to_numpy()
    without = forecast_file(load, tmp_path / "plain.csv", 12, "mstl_ar")["mean"].to_numpy()
    assert len(with_weather) == 12
    assert not np.allclose(with_weather, without)


def test_weather_must_cover_the_horizon_and_be_numbers(tmp_path: Path) -> None:
    load, weather = weather_files(tmp_path)
    frame = pd.read_json(weather)
    frame.iloc[:-3].to_json(weather, orient="records")
    with pytest.raises(SourceDataInvalid, match=r"no temperature for 2024-07-09 09:00.*outside"):
        forecast_file(load, tmp_path / "o.csv", 12, "ets", weather=weather)
    frame["temperature_2m"] = frame["temperature_2m"].astype(object)
    frame.loc[4, "temperature_2m"] = "hot"
    frame.to_json(weather, orient="records")
    with pytest.raises(SourceDataInvalid, match="temperature_2m at row 4 is not a number"):
        forecast_file(load, tmp_path / "o.csv", 12, "ets", weather=weather)
    frame[["time"]].to_json(weather, orient="records")
    with pytest.raises(SourceDataInvalid, match="needs columns ts"):
        forecast_file(load, tmp_path / "o.csv", 12, "ets", weather=weather)
    with pytest.raises(ConfigError, match="--weather: file"):
        forecast_file(load, tmp_path / "o.csv", 12, "ets", weather=tmp_path / "none.csv")
    assert not (tmp_path / "o.csv").exists()
