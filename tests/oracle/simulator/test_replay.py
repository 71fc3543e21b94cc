"""The replay dataset: deterministic, shaped by the real data, orders from net positions."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pytest

from oracle.simulator.backend import ReplayClock, _readings_page
from oracle.simulator.replay import Replay, build_replay, load_shape

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def replay() -> Replay:
    return build_replay(meters=8, weeks=1, seed=5)


def test_same_seed_same_data_other_seed_other_households(replay: Replay) -> None:
    again = build_replay(meters=8, weeks=1, seed=5)
    other = build_replay(meters=8, weeks=1, seed=6)
    assert np.array_equal(again.consumption, replay.consumption)
    assert again.meters == replay.meters and again.orders(12) == replay.orders(12)
    assert not np.array_equal(other.consumption, replay.consumption)


def test_load_follows_the_real_taylor_curve(replay: Replay) -> None:
    community = replay.consumption.sum(axis=0)
    shape = load_shape(replay.hours)
    assert np.corrcoef(community, shape)[0, 1] > 0.7
    assert (replay.consumption >= 0).all()


def test_pv_follows_the_real_irradiance_and_each_kwp(replay: Replay) -> None:
    ghi = replay.weather["shortwave_radiation"]
    hour_starts = [replay.start + timedelta(hours=t) for t in range(replay.hours)]
    # Weather labels are hour-ending: the hour starting at ts is labelled ts + 1 h.
    irradiance = ghi.reindex([ts + timedelta(hours=1) for ts in hour_starts]).to_numpy()
    for i, meter in enumerate(replay.meters):
        production = replay.production[i]
        if meter["pv_kwp"] == 0:
            assert not production.any()
            continue
        assert not production[irradiance == 0].any()  # nothing at night
        assert production.max() <= meter["pv_kwp"] * 1.0 + 1e-9
        assert np.corrcoef(production, irradiance)[0, 1] > 0.8


def test_orders_come_from_net_positions_around_the_tariff(replay: Replay) -> None:
    t = 13
    net = {m["meter_id"]: replay.production[i, t] - replay.consumption[i, t]
           for i, m in enumerate(replay.meters)}
    orders = replay.orders(t)
    assert orders
    for order in orders:
        position = net[order["meter_id"]]
        assert order["side"] == ("offer" if position > 0 else "bid")
        assert order["quantity_kwh"] == pytest.approx(abs(position), abs=1e-4)
        assert 0.4 * replay.tariff <= order["limit_price"] <= 1.15 * replay.tariff
    assert replay.orders(-1) == [] and replay.orders(replay.hours) == []


def test_pages_only_serve_ended_intervals_and_cover_each_reading_once(replay: Replay) -> None:
    now = replay.start + timedelta(hours=5, minutes=30)  # five intervals have ended
    since, until = replay.start, replay.end
    seen, cursor = [], None
    while True:
        page = _readings_page(replay, now, since, until, cursor, limit=3)
        seen += [(r["meter_id"], r["ts"]) for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5 * len(replay.meters)


def test_clock_runs_at_speed(replay: Replay) -> None:
    clock = ReplayClock(replay.start, speed=3600.0)
    time.sleep(0.01)
    assert clock.now() - replay.start >= timedelta(seconds=36)  # 0.01 s x 3600
    with pytest.raises(ValueError, match="positive"):
        ReplayClock(replay.start, speed=0)
