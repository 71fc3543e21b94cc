"""Property-based run of the model endpoints against their OpenAPI document: no server error.

Schemathesis generates valid and invalid bodies from the schema (few examples per endpoint, to
stay fast); every answer must be below 500.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from oracle.api import Models, limit_body_size, model_router  # noqa: E402
from oracle.api.probes import Readiness, create_api  # noqa: E402
from oracle.lifecycle import ModelRegistry  # noqa: E402
from oracle.store.engine import make_engine  # noqa: E402
from oracle.store.migrate import upgrade  # noqa: E402
from oracle.telemetry import Metrics  # noqa: E402


def api_schema() -> schemathesis.BaseSchema:
    path = Path(tempfile.mkdtemp(prefix="schemathesis-"))
    engine = make_engine(f"sqlite:///{path}/t.db")
    upgrade(engine)
    metrics = Metrics()
    api = create_api(metrics, Readiness(), routers=[
        model_router(Models(ModelRegistry(engine, path / "models"), metrics))])
    limit_body_size(api, 1_000_000)
    return schemathesis.openapi.from_asgi("/openapi.json", api)


schema = api_schema()


@schema.include(method="POST").parametrize()
@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])
