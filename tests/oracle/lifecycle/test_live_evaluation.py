"""The evaluation report's live calibration: the one-step forecasts of the past two days scored
as the daemon exports them, the calibrator's current correction, and meters' own forecasts
kept out of the zone's scores."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oracle.jobs.calibration import LiveCalibration
from oracle.lifecycle.evaluation import gather
from oracle.lifecycle.html_report import render_report
from oracle.store.calibration import save_calibration
from oracle.store.engine import make_engine, session_scope
from oracle.store.migrate import upgrade
from oracle.store.tables import ForecastRow, Meter, Reading

T0 = pd.Timestamp("2024-05-06T00:00:00Z")


def test_live_coverage_bias_and_correction_are_reported(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/t.db")
    upgrade(engine)
    hours = pd.date_range(T0, periods=72, freq="h")
    demand = {ts: 10 + 4 * np.sin(2 * np.pi * ts.hour / 24) for ts in hours}
    errors = {ts: 2.0 if ts.hour % 4 == 0 else 0.5 for ts in hours}  # forecast minus actual
    with session_scope(engine) as s:
        for meter in ("m1", "m2"):
            s.add(Meter(meter_id=meter, user_id=f"u-{meter}", node_id="n1", kind="consumer"))
        for ts, value in demand.items():
            for meter, share in (("m1", 0.4), ("m2", 0.6)):
                s.add(Reading(meter_id=meter, ts=ts.to_pydatetime(),
                              consumption_kwh=share * value, production_kwh=0.0))
        for ts in hours[1:]:  # one-step forecasts: origin == ts
            mean = demand[ts] + errors[ts]
            s.add(ForecastRow(target="demand", entity_id="zone-1", origin=ts.to_pydatetime(),
                              ts=ts.to_pydatetime(), mean=mean, lo_80=mean - 1, hi_80=mean + 1,
                              lo_95=mean - 3, hi_95=mean + 3, model="ets"))
            # a meter's own forecast, far off the zone: never scored against the zone's demand
            s.add(ForecastRow(target="demand", entity_id="m1", origin=ts.to_pydatetime(),
                              ts=ts.to_pydatetime(), mean=1000.0, lo_80=999.0, hi_80=1001.0,
                              lo_95=998.0, hi_95=1002.0, model="meters_gbm"))
        live = LiveCalibration(24)
        live.calibrators[1].bias = 0.3
        live.calibrators[1].log_scales[95] = math.log(1.5)
        save_calibration(s, "demand", "zone-1", live.state(), hours[-1].to_pydatetime())
    data = gather(engine)
    assert list(data.tables["Forecast metrics by model"].index) == ["ets"]
    window = [ts for ts in hours[1:] if ts > hours[-1] - pd.Timedelta("2D")]
    missed = sum(errors[ts] > 1 for ts in window)
    assert data.live is not None
    rows = data.live.set_index("nominal_%")
    assert rows.loc[80.0, "steps"] == len(window) == 48
    assert rows.loc[80.0, "live_coverage_%"] == pytest.approx(100 * (1 - missed / len(window)))
    assert rows.loc[95.0, "live_coverage_%"] == pytest.approx(100.0)
    assert rows.loc[80.0, "live_bias_kwh"] == pytest.approx(-np.mean([errors[t] for t in window]))
    assert rows.loc[95.0, "scale_now"] == pytest.approx(1.5)
    assert rows.loc[80.0, "scale_now"] == pytest.approx(1.0)
    assert rows.loc[95.0, "bias_correction_kwh"] == pytest.approx(0.3)
    page = render_report(data, tmp_path / "r").read_text()
    assert "Live calibration (one-step forecasts, past 2 days)" in page
    assert "live_coverage_%" in page
