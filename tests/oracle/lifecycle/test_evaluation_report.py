"""The evaluation report: stored results scored and drawn; rendered in headless Chromium."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from oracle.lifecycle.evaluation import gather
from oracle.lifecycle.html_report import render_report
from oracle.store.engine import make_engine, session_scope
from oracle.store.migrate import upgrade
from oracle.store.tables import (
    AnomalyRow,
    DispatchSchedule,
    ForecastRow,
    ModelRun,
    PriceRound,
    Reading,
)

T0 = pd.Timestamp("2024-05-06T00:00:00Z")


def populate(engine: Engine) -> None:
    """Two meters, three days; forecasts biased by +2 kWh with ±3 (95%) and ±1 (80%) bands."""
    hours = pd.date_range(T0, periods=72, freq="h")
    demand = {ts: 10 + 4 * np.sin(2 * np.pi * ts.hour / 24) for ts in hours}
    with session_scope(engine) as s:
        for ts, value in demand.items():
            for meter, share in (("m1", 0.4), ("m2", 0.6)):
                s.add(Reading(meter_id=meter, ts=ts.to_pydatetime(),
                              consumption_kwh=share * value, production_kwh=0.0))
        for origin in (hours[24], hours[48]):
            for h in range(1, 24):
                ts = origin + timedelta(hours=h)
                mean = demand[ts] + 2
                s.add(ForecastRow(target="demand", entity_id="zone-1", origin=origin.to_pydatetime(),
                                  ts=ts.to_pydatetime(), mean=mean, lo_80=mean - 1, hi_80=mean + 1,
                                  lo_95=mean - 3, hi_95=mean + 3, model="ets"))
        for i, (meter, severity) in enumerate([("m1", "high"), ("m2", "medium"), ("m1", "low")]):
            s.add(AnomalyRow(interval_start=hours[10 * i].to_pydatetime(), meter_id=meter,
                             ts=hours[10 * i + 1].to_pydatetime(), type="consumption_spike",
                             score=0.9, severity=severity, confidence=0.8,
                             recommended_action="inspect"))
        for i in range(24):
            s.add(PriceRound(zone="zone-1", interval_start=hours[i].to_pydatetime(),
                             rule="uniform", price=0.1 + 0.01 * (i % 5), volume_kwh=5 + i % 7))
        s.add(DispatchSchedule(
            zone="zone-1", interval_start=hours[0].to_pydatetime(), horizon_h=4, total_cost=1.0,
            renewable_share=0.5, carbon_kg=1.0, peak_reduction=10.0, schedule_hash="0x00",
            schedule={"grid_import_kw": [3, 2, 0, 1], "state_of_charge_kwh": {"a": [5, 6, 8, 7]},
                      "line_loading": {"a->b": [0.2, 0.5, 0.9, 0.4]}}))


@pytest.fixture
def report(tmp_path: Path) -> Path:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    populate(engine)
    return render_report(gather(engine), tmp_path / "report")


def test_gather_scores_stored_forecasts(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    populate(engine)
    data = gather(engine)
    metrics = data.tables["Forecast metrics by model"].loc["ets"]
    assert metrics["mae"] == pytest.approx(2.0) and metrics["steps"] == 46
    assert metrics["coverage_95_%"] == pytest.approx(100.0)
    assert metrics["coverage_80_%"] == pytest.approx(0.0)
    assert data.calibration is not None and list(data.calibration["empirical"]) == [0.0, 100.0]
    assert data.by_horizon is not None and data.by_horizon["bias"].to_numpy() == pytest.approx(2.0)
    # the newest forecast (origin hour 48, 23 steps) beside the actuals from a day before it
    assert data.forecast is not None and data.forecast["mean"].notna().sum() == 23
    assert data.forecast.index[0] == T0 + pd.Timedelta("24h")
    assert data.forecast.index[-1] == T0 + pd.Timedelta("71h")
    assert data.forecast["actual"].notna().all()
    # dispatch panels are indexed by the schedule's hours, not step numbers
    assert data.grid_import is not None and list(data.grid_import.index) == list(
        pd.date_range(T0, periods=4, freq="h"))


def test_report_embeds_every_plot(report: Path) -> None:
    page = report.read_text()
    titles = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)
    assert titles == ["Forecast against actual", "Error by horizon", "Interval calibration",
                      "Anomaly timeline per meter", "Clearing prices and volumes", "Dispatch"]
    assert "Forecast metrics by model" in page and "Anomalies by type and severity" in page
    assert "src=\"http" not in page  # self-contained


def test_empty_store_renders_a_note(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    page = render_report(gather(engine), tmp_path / "r").read_text()
    assert "No stored results" in page and "<img" not in page


@pytest.mark.chromium
def test_report_renders_in_headless_chromium(report: Path, tmp_path: Path, chromium: Path) -> None:
    shot = report.parent / "report.png"
    profile = tmp_path / "chromium-profile"
    subprocess.run([str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                    f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri()],
                   check=True, capture_output=True, timeout=120)
    from matplotlib import image

    pixels = image.imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    # A rendered page has text and plots: many distinct colours, not a blank or error page.
    colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200
    # The first plot (drawn in matplotlib's tab:blue) is visible in the screenshot.
    blue = np.all(np.abs(pixels[..., :3] - np.array([0.12, 0.47, 0.71])) < 0.03, axis=-1)
    assert blue.sum() > 500


def _fresh_forecast(engine: Engine) -> None:
    """A forecast made an hour before the last reading: one of its 24 steps observed so far
    (what `oracle evaluate` meets right after a daemon tick)."""
    origin = T0 + pd.Timedelta("70h")
    with session_scope(engine) as s:
        for h in range(1, 25):
            s.add(ForecastRow(target="demand", entity_id="zone-1", origin=origin.to_pydatetime(),
                              ts=(origin + pd.Timedelta(hours=h)).to_pydatetime(), mean=12.0,
                              lo_80=11.0, hi_80=13.0, lo_95=9.0, hi_95=15.0, model="ets"))


def test_newest_forecast_is_drawn_in_full(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    populate(engine)
    _fresh_forecast(engine)
    frame = gather(engine).forecast
    assert frame is not None
    assert frame["mean"].notna().sum() == 24 and frame["actual"].notna().sum() == 26  # 46 h..71 h
    assert frame.index.min() == T0 + pd.Timedelta("46h")
    assert frame.index.max() == T0 + pd.Timedelta("94h")


def test_tables_are_readable_and_failed_runs_say_why(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    populate(engine)
    with session_scope(engine) as s:
        s.add(ModelRun(model="demand", purpose="train", params={"model": "gbm"}, metrics={},
                       status="failed", error="too little data to train 'gbm': 100 hours"))
        s.add(ModelRun(model="demand", version="1", purpose="train",
                       params={"model": "seasonal_naive"}, metrics={"mae": 1.23456, "trials": 2},
                       status="ok"))
    page = render_report(gather(engine), tmp_path / "r").read_text()
    runs = page[page.index("Recent model runs"):]
    assert "<td>failed: too little data to train 'gbm': 100 hours</td>" in runs
    assert "mae: 1.235, trials: 2" in runs
    assert "{" not in runs and "{}" not in page and "{&#x27;" not in page
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d UTC</td>", runs)


def _dom(chromium: Path, page: Path, profile: Path) -> str:
    done = subprocess.run([str(chromium), "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-quic", "--no-first-run", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                          check=True, capture_output=True, text=True, timeout=120)
    return done.stdout


@pytest.mark.chromium
def test_chart_time_axes_show_the_data_dates(tmp_path: Path, chromium: Path) -> None:
    """Rendered by Chromium, every time axis is labelled with the data's own dates (May 2024),
    hours within them, and nothing outside: the one-observed-step forecast included."""
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    populate(engine)
    _fresh_forecast(engine)
    dom = _dom(chromium, render_report(gather(engine), tmp_path / "r"), tmp_path / "profile")
    sections = {m.group(1): m.group(0) for m in
                re.finditer(r"<h2>([^<]+)</h2>.*?(?=<section>|</body>)", dom, re.S)}
    charts = ["Forecast against actual", "Anomaly timeline per meter",
              "Clearing prices and volumes", "Dispatch"]
    for title in charts:
        ticks = re.search(r'<span class="time-ticks">([^<]+)</span>', sections[title])
        assert ticks, title
        labels = ticks.group(1).split(" · ")
        assert labels[-1].startswith("2024-May-"), (title, labels)  # the date offset
        assert all(re.fullmatch(r"\d\d:\d\d|May-\d\d|2024-May-\d\d( \d\d:\d\d)?", label)
                   for label in labels), (title, labels)
        days = {int(d) for d in re.findall(r"May-(\d\d)", ticks.group(1))}
        assert days <= {6, 7, 8, 9, 10}, (title, labels)  # the data: 6 to 9 May
    forecast_days = re.findall(r"May-(\d\d)", re.search(
        r'<span class="time-ticks">([^<]+)</span>', sections["Forecast against actual"]).group(1))
    assert {"08", "09"} <= set(forecast_days) or {"09", "10"} <= set(forecast_days)


def test_a_forecast_nothing_of_which_came_true_yet_is_drawn(tmp_path: Path) -> None:
    """Small data: a day of readings and one forecast from its last hour; no step observed."""
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    origin = T0 + pd.Timedelta("23h")
    with session_scope(engine) as s:
        for ts in pd.date_range(T0, periods=24, freq="h"):
            s.add(Reading(meter_id="m1", ts=ts.to_pydatetime(), consumption_kwh=1.0))
        for h in range(1, 13):
            s.add(ForecastRow(target="demand", entity_id="zone-1", origin=origin.to_pydatetime(),
                              ts=(origin + pd.Timedelta(hours=h)).to_pydatetime(), mean=1.0,
                              model="ets"))
    data = gather(engine)
    assert "Forecast metrics by model" not in data.tables
    assert data.forecast is not None and data.forecast["mean"].notna().sum() == 12
    assert data.forecast["actual"].notna().sum() == 24
    page = render_report(data, tmp_path / "r").read_text()
    assert '<img alt="Forecast against actual"' in page
    assert re.search(r'class="time-ticks">[^<]*2024-May-0[67]', page)
