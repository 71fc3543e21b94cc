from __future__ import annotations

import time

from fastapi.testclient import TestClient

from oracle.api.probes import Readiness, create_api
from oracle.telemetry import Metrics


def _down() -> None:
    raise ConnectionError("connection refused")


def test_healthz_and_metrics() -> None:
    metrics = Metrics()
    metrics.job_runs.labels(job="price", outcome="ok").inc()
    client = TestClient(create_api(metrics, Readiness()))
    assert client.get("/healthz").json()["status"] == "ok"
    body = client.get("/metrics").text
    assert 'oracle_job_runs_total{job="price",outcome="ok"} 1.0' in body
    assert "oracle_pending_transactions" in body


def test_readyz_reports_each_failing_dependency() -> None:
    readiness = Readiness(checks={"database": lambda: None, "rpc": _down})
    client = TestClient(create_api(Metrics(), readiness))
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == "ok" and "connection refused" in checks["rpc"]
    readiness.checks["rpc"] = lambda: None
    assert client.get("/readyz").status_code == 200


def test_readyz_fails_when_the_last_tick_is_stale() -> None:
    readiness = Readiness(max_tick_age_s=60)
    client = TestClient(create_api(Metrics(), readiness))
    assert client.get("/readyz").status_code == 200  # just started
    readiness.last_tick = time.time() - 120
    response = client.get("/readyz")
    assert response.status_code == 503 and "stale" in response.json()["checks"]["tick"]
    readiness.tick_done()
    assert client.get("/readyz").status_code == 200


def test_readyz_shows_what_the_daemon_runs_without() -> None:
    readiness = Readiness(checks={"database": lambda: None})
    client = TestClient(create_api(Metrics(), readiness))
    assert client.get("/readyz").json()["degraded"] == {}
    readiness.degraded["weather"] = "weather unavailable: HTTP 503"
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["ready"] is True  # still serving
    assert response.json()["degraded"] == {"weather": "weather unavailable: HTTP 503"}
