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
