"""app.build(settings) is the one wiring point: it builds every part from the settings and hands
each part its own section (not the whole Settings, not a copy with other values)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oracle.app import Application, build
from oracle.config import Settings, load_settings
from oracle.readiness import Readiness
from oracle.store import migrate
from oracle.store.engine import make_engine


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    url = f"sqlite:///{tmp_path / 'oracle.db'}"
    migrate.upgrade(make_engine(url))
    return load_settings(None, data_dir=tmp_path, database_url=url,
                         backend={"url": "http://127.0.0.1:9", "retries": 0},
                         weather={"url": "http://127.0.0.1:9"},
                         scheduler={"interval_s": 900},
                         chain={"rpc_urls": [], "confirmations": 1,
                                "keystore_path": tmp_path / "keystore.json"})


@pytest.fixture
def app(settings: Settings) -> Iterator[Application]:
    application = build(settings)  # in-process py-evm: contracts deployed on the dev chain
    yield application
    application.close()


def test_each_part_gets_its_own_section(app: Application, settings: Settings) -> None:
    assert app.settings is settings
    assert app.backend.settings is settings.backend
    assert app.weather is not None and app.weather.settings is settings.weather
    assert app.txm is not None and app.txm.settings is settings.chain
    assert app.plausibility.interval_s == settings.scheduler.interval_s == 900
    assert app.leader is not None and app.leader.lock_dir == settings.data_dir
    assert str(app.engine.url) == settings.database_url


def test_the_parts_are_connected_and_ready_to_be_probed(app: Application) -> None:
    assert isinstance(app.readiness, Readiness)
    assert set(app.readiness.checks) == {"database", "backend", "rpc"}
    assert app.readiness.max_tick_age_s == 3 * 900
    assert app.w3 is not None and app.account is not None
    assert app.w3.eth.get_balance(app.account.address) > 0  # the dev signer is funded
    ready, checks = app.readiness.evaluate()
    assert checks["database"] == "ok" and checks["rpc"] == "ok"
    assert not ready and checks["backend"].startswith("failing")  # nothing listens on port 9


def test_each_stage_gets_its_own_parts_and_sections(app: Application, settings: Settings) -> None:
    """The stages are handed the parts app built and the sections they use, never the app."""
    tick = app.tick_parts()
    assert tick.engine is app.engine and tick.interval_s == settings.scheduler.interval_s
    assert tick.metrics is app.metrics and tick.readiness is app.readiness
    ingest = tick.ingest
    assert ingest.backend is app.backend and ingest.backend.settings is settings.backend
    assert ingest.weather is app.weather and ingest.plausibility is app.plausibility
    assert tick.forecast.models is settings.models and tick.forecast.zone == settings.pricing.zone
    price = tick.price
    assert price.pricing is settings.pricing and price.feed_decimals == settings.chain.feed_decimals
    assert price.interval_s == 900 and price.txm is app.txm and price.submit.txm is app.txm
    assert price.tariffs.max_age.total_seconds() == settings.pricing.tariff_max_age_s
    detect = tick.detect
    assert detect.compute is settings.compute and detect.executor is app.executor
    assert detect.interval_s == 900 and detect.txm is app.txm
    assert tick.optimize.backend is app.backend and tick.optimize.zone == settings.pricing.zone
    assert tick.submit.txm is app.txm and tick.submit.chain_lock is app.chain_lock
    assert tick.push.backend is app.backend and tick.push.zone == settings.pricing.zone
    upkeep = app.upkeep_parts()
    assert upkeep.models is settings.models and upkeep.compute is settings.compute
    assert upkeep.registry is app.registry and upkeep.registry.engine is app.engine
    assert app.registry.artifact_dir == settings.data_dir / "models"
    assert upkeep.detector is detect.detector  # what retrain replaces is what detect scores with
    assert upkeep.executor is app.executor


def test_the_executor_gets_the_compute_section(settings: Settings) -> None:
    compute = settings.compute.model_copy(update={"scheduler": "tcp://127.0.0.1:9",
                                                  "connect_timeout_s": 3.0})
    app = build(settings.model_copy(update={"compute": compute}), with_chain=False)
    try:
        assert getattr(app.executor, "address", None) == "tcp://127.0.0.1:9"  # connected lazily
        assert getattr(app.executor, "connect_timeout_s", None) == 3.0
        assert app.tick_parts().detect.executor is app.executor
    finally:
        app.close()


def test_serve_builds_the_store_and_a_database_probe_only(settings: Settings) -> None:
    """`oracle serve`: no chain, no weather, no ticks: /readyz probes the database alone."""
    app = build(settings, with_chain=False, with_weather=False, ticks=False)
    try:
        assert app.txm is None and app.weather is None and app.committee is None
        assert set(app.readiness.checks) == {"database"} and app.readiness.max_tick_age_s is None
        ready, checks = app.readiness.evaluate()
        assert ready and checks == {"database": "ok"}
    finally:
        app.close()
