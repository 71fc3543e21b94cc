"""`oracle train` and `oracle evaluate` on the database `oracle demo` leaves (three weeks of
replayed history and two ticks): both succeed, and the report, rendered in headless Chromium,
labels its time axes with the replay's own dates (June 2000)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from oracle.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.chromium]


def test_train_and_evaluate_the_demo_database(tmp_path: Path, chromium: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "demo"
    assert main(["demo", "--ticks", "2", "--meters", "5", "--data-dir", str(data_dir)]) == 0
    capsys.readouterr()
    url = f"sqlite:///{data_dir / 'oracle.db'}"
    monkeypatch.setenv("ORACLE_DATA_DIR", str(tmp_path / "var"))
    # the weekly season wins on real demand: the model that used to meet a 146 h backtest
    code = main(["train", "--model", "seasonal_naive", "--trials", "2", "--budget", "60",
                 "--db-url", url])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert re.search(r"zone demand: 50\d hours, 2000-06-05", out) and "seasonal_naive MAE" in out
    assert "'season': 'week'" in out
    assert main(["model", "list", "--format", "json", "--db-url", url]) == 0
    assert [r["stage"] for r in json.loads(capsys.readouterr().out)] == ["candidate"]

    report = tmp_path / "report"
    code = main(["evaluate", "--report", str(report), "--db-url", url])
    out, err = capsys.readouterr()
    assert code == 0, err
    done = subprocess.run([str(chromium), "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-quic", "--no-first-run", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                           (report / "index.html").as_uri()],
                          check=True, capture_output=True, text=True, timeout=120)
    dom = done.stdout
    sections = {m.group(1): m.group(0) for m in
                re.finditer(r"<h2>([^<]+)</h2>.*?(?=<section>|</body>)", dom, re.S)}
    for title in ("Forecast against actual", "Dispatch"):
        ticks = re.search(r'<span class="time-ticks">([^<]+)</span>', sections[title])
        assert ticks, title
        labels = ticks.group(1).split(" · ")
        assert labels[-1].startswith("2000-Jun-2"), (title, labels)
        assert not re.search(r"19\d\d|200[1-9]", ticks.group(1)), (title, labels)
    runs = sections["Recent model runs"]
    assert "mae: " in runs and "{" not in runs
