"""The price stage's tariffs come from the backend's grid document and are fetched again once
older than ``pricing.tariff_max_age_s`` (one day by default), on the application's clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from oracle.app import Application, build
from oracle.cli.demo import SimClock
from oracle.config import Settings, load_settings
from oracle.simulator.backend import serve_in_thread
from oracle.store import migrate
from oracle.store.engine import make_engine

GRID: dict[str, Any] = {
    "nodes": [{"node_id": "n1", "storage_kwh": 10.0, "storage_kw": 5.0}],
    "lines": [], "import_price": 0.20, "export_price": 0.08, "carbon_g_per_kwh": 390.0}


def grid_backend(document: dict[str, Any], served: list[datetime]) -> FastAPI:
    """A backend whose grid document is ``document`` as it is at each request."""
    api = FastAPI()

    @api.get("/api/v1/grid")
    def grid() -> dict[str, Any]:
        served.append(datetime.now(UTC))
        return document

    return api


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Application, SimClock, dict[str, Any], list[datetime]]]:
    document, served = dict(GRID), []
    clock = SimClock(datetime(2024, 6, 1, 12, tzinfo=UTC))
    with serve_in_thread(grid_backend(document, served)) as url:
        url_db = f"sqlite:///{tmp_path / 'oracle.db'}"
        migrate.upgrade(make_engine(url_db))
        settings: Settings = load_settings(None, data_dir=tmp_path, database_url=url_db,
                                           backend={"url": url, "retries": 0})
        app = build(settings, with_chain=False, with_weather=False, clock=clock)
        yield app, clock, document, served
        app.close()


def test_the_tariffs_are_fetched_again_after_a_day(world) -> None:  # type: ignore[no-untyped-def]
    app, clock, document, served = world
    assert app.settings.pricing.tariff_max_age_s == 86_400 and app.tariffs.max_age == timedelta(days=1)
    book = app.tick_parts().price.tariffs
    assert book.current() == {"import_price": 0.20, "export_price": 0.08}
    document.update(import_price=0.30, export_price=0.05)  # the backend's tariffs change
    clock.now_value += timedelta(hours=23, minutes=59)
    assert book.current() == {"import_price": 0.20, "export_price": 0.08}  # not yet a day old
    assert len(served) == 1
    clock.now_value += timedelta(minutes=1)
    assert book.current() == {"import_price": 0.30, "export_price": 0.05}
    assert len(served) == 2 and book.fetched_at == clock.now_value


def test_the_age_is_the_setting(tmp_path: Path) -> None:
    document, served = dict(GRID), []
    clock = SimClock(datetime(2024, 6, 1, 12, tzinfo=UTC))
    url_db = f"sqlite:///{tmp_path / 'oracle.db'}"
    migrate.upgrade(make_engine(url_db))
    with serve_in_thread(grid_backend(document, served)) as url:
        settings = load_settings(None, data_dir=tmp_path, database_url=url_db,
                                 backend={"url": url, "retries": 0},
                                 pricing={"tariff_max_age_s": 600})
        app = build(settings, with_chain=False, with_weather=False, clock=clock)
        try:
            app.tariffs.current()
            document.update(import_price=0.25)
            clock.now_value += timedelta(seconds=599)
            assert app.tariffs.current()["import_price"] == 0.20
            clock.now_value += timedelta(seconds=1)
            assert app.tariffs.current()["import_price"] == 0.25
        finally:
            app.close()
    assert len(served) == 2
