"""`oracle train` on too little stored data: one clear line (exit 2), no traceback, nothing
registered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oracle.cli import main
from oracle.lifecycle.training import MIN_HISTORY_H
from oracle.store.engine import make_engine, session_scope
from oracle.store.migrate import upgrade
from oracle.store.tables import Reading


def _store(tmp_path: Path, hours: int) -> str:
    url = f"sqlite:///{tmp_path}/t.db"
    engine = make_engine(url)
    upgrade(engine)
    index = pd.date_range(pd.Timestamp("2024-02-05T00:00:00Z"), periods=hours, freq="h")
    values = 20 + 8 * np.sin(2 * np.pi * index.hour / 24)
    with session_scope(engine) as s:
        for ts, value in zip(index, values, strict=True):
            s.add(Reading(meter_id="m1", ts=ts.to_pydatetime(), consumption_kwh=float(value)))
    engine.dispose()
    return url


@pytest.mark.parametrize("model", ["seasonal_naive", "gbm"])
def test_too_little_data_is_one_clear_line(model: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORACLE_DATA_DIR", str(tmp_path / "var"))
    url = _store(tmp_path, 186)  # 7.75 days: less than a week of history plus the holdout
    code = main(["train", "--model", model, "--trials", "2", "--budget", "20", "--db-url", url])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in out + err
    assert "too little data" in err and "186 hours" in err
    assert str(MIN_HISTORY_H + 24) in err
    code = main(["model", "list", "--format", "json", "--db-url", url])
    out, _ = capsys.readouterr()
    assert code == 0 and out.strip() == "[]"
