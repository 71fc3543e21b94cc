"""The detect stage's groups on a real distributed.LocalCluster (2 worker processes, loopback)
store the same anomalies as in-process, on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from pmdarima.datasets import load_taylor
from sqlalchemy import insert, text

from models.anomaly.inject import inject_anomalies, meters_from_load
from oracle.executor import InProcessExecutor
from oracle.jobs.detection_groups import detect_anomalies, fit_detector
from oracle.store import migrate
from oracle.store.engine import make_engine
from oracle.store.tables import Reading

distributed = pytest.importorskip("distributed")
pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _stored(engine) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT meter_id, ts, type, score, severity FROM anomalies "
                                 "ORDER BY meter_id, ts, type")).all()
    return pd.DataFrame(rows, columns=["meter_id", "ts", "type", "score", "severity"])


def _load(engine) -> tuple[pd.Timestamp, datetime]:  # type: ignore[no-untyped-def]
    """40 meters x 3 weeks of Taylor load, anomalies injected in the 4 days before ``start``;
    returns (since, start): detection reads [since, start)."""
    migrate.upgrade(engine)
    frame = meters_from_load(load_taylor(), n_meters=40, weeks=3, pv_share=0.5, seed=2)
    since = frame["ts"].min() + pd.Timedelta(days=8)
    until = since + pd.Timedelta(days=4)
    test, _ = inject_anomalies(frame[(frame["ts"] >= since) & (frame["ts"] < until)], since=since, seed=1)
    rows = pd.concat([frame[frame["ts"] < since], test]).drop_duplicates(["meter_id", "ts"]).dropna()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(Reading), [{"meter_id": r.meter_id, "ts": r.ts.to_pydatetime(),
                                        "consumption_kwh": float(r.consumption_kwh),
                                        "production_kwh": float(r.production_kwh), "ingested_at": now}
                                       for r in rows.itertuples()])
    return since, until.to_pydatetime()


def test_local_cluster_stores_what_in_process_stores(pg_schema: str) -> None:
    engine = make_engine(pg_schema)
    since, start = _load(engine)

    def run(executor) -> pd.DataFrame:  # type: ignore[no-untyped-def]
        detector, _ = fit_detector(engine, executor, since.to_pydatetime() - pd.Timedelta(days=7),
                                   since.to_pydatetime(), group_size=7, max_rows=2000)
        found = detect_anomalies(engine, executor, detector, since.to_pydatetime(), start,
                                 interval_start=start, report_id="r", group_size=7)
        return found

    local = run(InProcessExecutor())
    in_process = _stored(engine)
    assert len(in_process) == len(local) > 0
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM anomalies"))
    from oracle.executor.cluster import DaskExecutor

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        run(DaskExecutor(client=client))
        run(DaskExecutor(client=client))  # a second run of every group leaves each row once
    pd.testing.assert_frame_equal(_stored(engine), in_process)


def test_a_worker_killed_mid_detection_leaves_every_row_once(pg_schema: str) -> None:
    import os
    import signal
    import threading
    import time

    from oracle.executor.cluster import DaskExecutor

    engine = make_engine(pg_schema)
    since, start = _load(engine)
    executor = InProcessExecutor()
    detector, _ = fit_detector(engine, executor, since.to_pydatetime() - pd.Timedelta(days=7),
                               since.to_pydatetime(), group_size=7, max_rows=2000)
    detect_anomalies(engine, executor, detector, since.to_pydatetime(), start,
                     interval_start=start, report_id="r", group_size=1)
    expected = _stored(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM anomalies"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        done = threading.Event()
        killed: list[bool] = []

        def kill_when_busy() -> None:  # while groups are writing (the finish tasks)
            while not done.is_set():
                if any(str(key).startswith("finish-") for keys in client.processing().values()
                       for key in keys):
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(not done.is_set())
                    return
                time.sleep(0.01)

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        found = detect_anomalies(engine, DaskExecutor(client=client), detector, since.to_pydatetime(),
                                 start, interval_start=start, report_id="r", group_size=1)
        done.set()
        killer.join()
    assert killed == [True]  # the worker died while groups were writing their rows
    assert len(found) == len(expected)
    pd.testing.assert_frame_equal(_stored(engine), expected)


class _Graphs(distributed.diagnostics.plugin.SchedulerPlugin):  # type: ignore[misc, name-defined]
    """Keeps every task the scheduler receives, pickled as the scheduler sends it to workers."""

    def __init__(self) -> None:
        self.blobs: list[bytes] = []

    def update_graph(self, scheduler, *, tasks, **kwargs) -> None:  # type: ignore[no-untyped-def]
        from distributed.protocol.pickle import dumps

        self.blobs += [dumps(scheduler.tasks[key].run_spec) for key in tasks
                       if key in scheduler.tasks]


def test_tasks_carry_no_database_password(pg_schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon's URL holds a password; the tasks the cluster gets hold only the masked
    name, and each worker takes the password from its own secrets (trust auth here: the
    server accepts the password and ignores it)."""
    import os

    from oracle.errors import ConfigError
    from oracle.executor.cluster import DaskExecutor

    password = "Task-pw-5f0c2e9b"
    engine = make_engine(pg_schema.replace("postgres@", f"postgres:{password}@"))
    assert engine.url.password == password
    since, start = _load(engine)

    def run(executor) -> None:  # type: ignore[no-untyped-def]
        detector, _ = fit_detector(engine, executor, since.to_pydatetime() - pd.Timedelta(days=7),
                                   since.to_pydatetime(), group_size=7, max_rows=2000)
        detect_anomalies(engine, executor, detector, since.to_pydatetime(), start,
                         interval_start=start, report_id="r", group_size=7)

    run(InProcessExecutor())
    in_process = _stored(engine)
    assert len(in_process) > 0
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM anomalies"))
    monkeypatch.delenv("ORACLE_DATABASE_PASSWORD", raising=False)
    graphs = _Graphs()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        cluster.scheduler.add_plugin(graphs)
        executor = DaskExecutor(client=client)
        with pytest.raises(ConfigError, match=r"no password for the database .*database_password"):
            run(executor)  # a worker without the secret says which one it needs
        client.run(lambda: os.environ.__setitem__("ORACLE_DATABASE_PASSWORD", password))
        run(executor)
    pd.testing.assert_frame_equal(_stored(engine), in_process)
    schema = pg_schema.rsplit("%3D", 1)[1].encode()
    assert len(graphs.blobs) > 10
    assert all(schema in blob for blob in graphs.blobs)  # each task names its database ...
    assert not any(password.encode() in blob for blob in graphs.blobs)  # ... and no password
