"""Small real-load fixtures for the anomaly tests: 8 meters, 2 weeks history + 1 week test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pmdarima.datasets import load_taylor

from models.anomaly import AnomalyDetector
from models.anomaly.inject import meters_from_load

WEEKS = 3


def bell_irradiance(n: int) -> np.ndarray:
    """Clear-sky-like GHI: a daily bell from 6 h to 20 h, peak 900 W/m², with cloudy days."""
    hour = (np.arange(n) % 48) / 2
    day = np.arange(n) // 48
    cloud = np.where(day % 5 == 3, 0.4, 1.0)
    return np.clip(900 * np.sin(np.pi * (hour - 6) / 14), 0, None) * cloud


@pytest.fixture(scope="session")
def readings() -> pd.DataFrame:
    n = WEEKS * 7 * 48
    return meters_from_load(load_taylor(), n_meters=8, weeks=WEEKS,
                            irradiance=bell_irradiance(n), pv_share=0.6, seed=3)


@pytest.fixture(scope="session")
def split(readings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    since = readings["ts"].min() + pd.Timedelta(weeks=2)
    return (readings[readings["ts"] < since].reset_index(drop=True),
            readings[readings["ts"] >= since].reset_index(drop=True), since)


@pytest.fixture(scope="session")
def fitted(split: tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]) -> AnomalyDetector:
    return AnomalyDetector().fit(split[0])
