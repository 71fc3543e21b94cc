"""`oracle train` on the history the demo stores (three weeks and a bit, several meters) and at
the smallest history it accepts: every backtest the champion is calibrated on gets a week of
data, and gaps leave one unbroken series."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.forecasting.backtest import rolling_origins
from oracle.cli import main
from oracle.lifecycle.registry import ModelRegistry
from oracle.lifecycle.training import (
    MAX_GAP_FILLED_H,
    MIN_HISTORY_H,
    calibration_plan,
    latest_stretch,
    zone_demand,
)
from oracle.store.engine import make_engine, session_scope
from oracle.store.migrate import upgrade
from oracle.store.tables import Reading

T0 = pd.Timestamp("2000-06-05T05:00:00Z")  # where the demo's replay starts


def _store(tmp_path: Path, hours: int, *, meters: int = 3, drop: range = range(0)) -> str:
    url = f"sqlite:///{tmp_path}/t.db"
    engine = make_engine(url)
    upgrade(engine)
    index = pd.date_range(T0, periods=hours, freq="h")
    rng = np.random.default_rng(1)
    with session_scope(engine) as s:
        for i, ts in enumerate(index):
            if i in drop:
                continue
            for m in range(meters):
                weekend = 1.4 if ts.dayofweek >= 5 else 1.0  # a weekly season, as in real demand
                value = weekend * (1 + 0.5 * np.sin(2 * np.pi * ts.hour / 24)) + rng.normal(0, 0.05)
                s.add(Reading(meter_id=f"m{m}", ts=ts.to_pydatetime(),
                              consumption_kwh=float(value)))
    engine.dispose()
    return url


@pytest.mark.parametrize("n", [MIN_HISTORY_H + 24, 200, 240, 522, 528, 700, 2000])
def test_every_calibration_backtest_fits_on_a_week(n: int) -> None:
    horizon, windows = calibration_plan(n, 48)
    origins = rolling_origins(n, horizon, windows, 24, 49)  # the Forecaster's own placement
    assert min(origins) >= MIN_HISTORY_H and max(origins) + horizon == n
    assert horizon == min(48, n - MIN_HISTORY_H) and 1 <= len(origins) <= 14


@pytest.mark.parametrize(("model", "hours"), [("seasonal_naive", 522), ("gbm", MIN_HISTORY_H + 26)])
def test_train_on_demo_sized_and_smallest_history(model: str, hours: int, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """522 stored hours used to fail ("y has 162 values; this model needs at least 168"), and
    GBM on a week and a day ("window shape cannot be larger than input array shape")."""
    monkeypatch.setenv("ORACLE_DATA_DIR", str(tmp_path / "var"))
    url = _store(tmp_path, hours)
    code = main(["train", "--model", model, "--trials", "2", "--budget", "60", "--db-url", url])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"{model} MAE" in out and "Traceback" not in out + err
    if model == "seasonal_naive":  # the weekly season wins: the one that needs a week per fit
        assert "'season': 'week'" in out
    code = main(["model", "list", "--format", "json", "--db-url", url])
    rows = json.loads(capsys.readouterr().out)
    assert code == 0 and [(r["version"], r["params"]["model"]) for r in rows] == [("1", model)]
    assert rows[0]["metrics"]["calibrated_horizon"] == min(48, hours - MIN_HISTORY_H)
    forecaster = ModelRegistry(make_engine(url), tmp_path / "var" / "models").load(
        "demand", "1").model
    frame = forecaster.predict(48, level=(80, 95))
    assert len(frame) == 48 and frame.notna().all().all()
    assert frame.index[0] == T0 + pd.Timedelta(hours=hours)
    assert (frame["lo_95"] <= frame["mean"]).all() and (frame["mean"] <= frame["hi_95"]).all()


def test_gaps_leave_the_latest_unbroken_stretch(tmp_path: Path) -> None:
    long_gap = range(100, 100 + MAX_GAP_FILLED_H + 4)
    short_gap = range(300, 300 + MAX_GAP_FILLED_H)
    y = zone_demand(make_engine(_store(tmp_path, 522, meters=2)))
    assert len(y) == 522 and y.index.freq == "h"
    gapped = y.drop(y.index[[*long_gap, *short_gap]])
    stretch = latest_stretch(gapped)
    assert stretch.index[0] == y.index[long_gap.stop] and stretch.index[-1] == y.index[-1]
    assert stretch.index.freq == "h" and stretch.notna().all() and len(stretch) == 522 - long_gap.stop
    # the short gap is interpolated between its neighbours, not left out
    assert stretch[y.index[short_gap.start]] == pytest.approx(
        np.interp(1, [0, MAX_GAP_FILLED_H + 1],
                  [y[y.index[short_gap.start - 1]], y[y.index[short_gap.stop]]]))


def test_train_with_a_long_gap_says_how_much_unbroken_history(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """A day missing 150 hours before the end: only what follows it is a series to train on."""
    monkeypatch.setenv("ORACLE_DATA_DIR", str(tmp_path / "var"))
    url = _store(tmp_path, 522, meters=1, drop=range(348, 372))
    code = main(["train", "--model", "seasonal_naive", "--trials", "1", "--db-url", url])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1
    assert "too little data" in err and "150 hours" in err and "without gaps" in err


def test_help_states_the_history_needed(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 0 and f"({MIN_HISTORY_H + 24} h)" in out and "6 h" in out
