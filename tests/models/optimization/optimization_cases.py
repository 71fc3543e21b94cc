"""A small three-node microgrid over one day: a feeder node on the main grid, a prosumer with a
battery and panels, and a consumer with flexible load behind a limited line."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from models.optimization import Grid, GridConnection

HOURS = pd.date_range("2024-06-03", periods=24, freq="h", tz="UTC")


def small_case(*, line_kw: float = 6.0, soc_final: float = 0.5,
               export_price: float = 0.05) -> dict[str, Any]:
    """Grid plus hourly demand, PV and prices with an evening peak and a midday solar surplus."""
    h = np.arange(24)
    nodes = pd.DataFrame({
        "storage_kwh": [0.0, 10.0, 0.0], "storage_kw": [0.0, 4.0, 0.0],
        "charge_efficiency": [0.95, 0.95, 0.95], "discharge_efficiency": [0.9, 0.9, 0.9],
        "soc_initial": [0.5, 0.5, 0.5], "soc_final": [0.5, soc_final, 0.5],
        "soc_min": [0.0, 0.1, 0.0], "soc_max": [1.0, 0.95, 1.0],
        "dr_shift_kw": [0.0, 0.0, 1.0], "dr_window_h": [4, 4, 3],
        "dr_curtail_kw": [0.0, 0.0, 0.5], "dr_curtail_cost": [1.0, 1.0, 0.6],
    }, index=pd.Index(["feeder", "prosumer", "consumer"], name="node_id"))
    lines = pd.DataFrame({"from": ["feeder", "feeder"], "to": ["prosumer", "consumer"],
                          "capacity_kw": [20.0, line_kw]})
    evening = ((h >= 17) & (h <= 21)).astype(float)
    demand = pd.DataFrame({
        "feeder": 1.0 + 0.5 * evening,
        "prosumer": 0.8 + 1.5 * evening,
        "consumer": 2.0 + 4.0 * evening,
    }, index=HOURS)
    sun = np.clip(np.sin((h - 6) / 12 * np.pi), 0, None)
    generation = pd.DataFrame({"prosumer": 6.0 * sun}, index=HOURS)
    prices = pd.DataFrame({"import": 0.20 + 0.15 * evening, "export": export_price}, index=HOURS)
    grid = Grid(nodes=nodes, lines=lines,
                connection=GridConnection(node="feeder", import_price=0.25,
                                          export_price=export_price, carbon_g_per_kwh=250.0))
    return {"grid": grid, "demand": demand, "generation": generation, "prices": prices}
