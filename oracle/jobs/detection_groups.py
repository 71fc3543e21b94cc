"""The detect stage's per-meter work in groups of meters, run through the executor.

Each task reads its group's readings by meter range straight from the store, runs the pure
group functions of :mod:`models.anomaly.groups` and (when detecting) writes the group's
anomalies in one batch, idempotent per (interval, meter group): a group that runs twice (its
worker was lost) leaves its rows once. The zone's crowd (the cyber-attack rule) is gathered
between the two passes; the report and the audit entry are made by the caller, once, after
every group is done.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy.engine import Engine

from models.anomaly import AnomalyDetector
from models.anomaly.classify import Rules
from models.anomaly.ensemble import OUTPUT, MeterHistory
from models.anomaly.groups import (
    common_step,
    finish_group,
    fit_groups,
    for_meters,
    learn_group,
    vote_group,
    zone_crowd,
)
from oracle.executor import Executor
from oracle.executor.stores import store_engine, store_name
from oracle.store.engine import session_scope
from oracle.store.meter_groups import (
    MeterGroup,
    group_readings,
    meter_ids,
    save_group_anomalies,
    split,
)


@dataclass(frozen=True)
class Window:
    """Where a task reads: the database (its :func:`~oracle.executor.stores.store_name`, no
    password) and the readings' time range [since, until)."""

    store: str
    since: datetime
    until: datetime


@dataclass(frozen=True)
class LearnTask:
    window: Window
    group: MeterGroup
    params: AnomalyDetector
    step: pd.Timedelta | None
    max_rows: int | None


@dataclass(frozen=True)
class VoteTask:
    window: Window
    group: MeterGroup
    detector: AnomalyDetector


@dataclass(frozen=True)
class FinishTask:
    store: str
    group: MeterGroup
    interval_start: datetime
    report_id: str | None
    points: pd.DataFrame | None
    zone: pd.DataFrame
    rules: Rules | None


def _read(window: Window, group: MeterGroup) -> pd.DataFrame:
    with session_scope(store_engine(window.store)) as session:
        frame = group_readings(session, group, window.since, window.until)
    return frame.drop(columns=["node_id"])


def learn(task: LearnTask) -> tuple[MeterHistory | None, int]:
    """A group's part of the detector's fit, and the readings it was learned from."""
    frame = _read(task.window, task.group)
    if frame.empty:
        return None, 0
    return learn_group(task.params, frame, step=task.step, max_rows=task.max_rows), len(frame)


def vote(task: VoteTask) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """A group's scored points and its crowd."""
    frame = _read(task.window, task.group)
    if frame.empty:
        return None, zone_crowd([])
    return vote_group(task.detector, frame)


def finish(task: FinishTask) -> pd.DataFrame:
    """Type the group's points with the zone's crowd; replace its stored anomalies by them."""
    found = (finish_group(task.points, task.zone, task.rules) if task.points is not None
             else pd.DataFrame(columns=list(OUTPUT)))
    with session_scope(store_engine(task.store)) as session:
        save_group_anomalies(session, task.interval_start, task.group, found, task.report_id)
    return found


def groups_of(engine: Engine, since: datetime, until: datetime, size: int) -> list[MeterGroup]:
    """The meters with readings in [since, until), in groups of ``size``."""
    with session_scope(engine) as session:
        return split(meter_ids(session, since, until), size)


def fit_detector(engine: Engine, executor: Executor, since: datetime, until: datetime, *,
                 group_size: int, max_rows: int | None,
                 params: AnomalyDetector | None = None) -> tuple[AnomalyDetector, int]:
    """Fit the anomaly detector on the readings in [since, until), group by group; returns it
    and the number of readings read."""
    params = params if params is not None else AnomalyDetector()
    window = Window(store_name(engine), since, until)
    groups = groups_of(engine, since, until, group_size)
    learned = executor.map_groups(learn, [LearnTask(window, g, params, None, max_rows)
                                          for g in groups])
    parts = {g.index: part for g, (part, _) in zip(groups, learned, strict=True) if part is not None}
    rows = sum(n for _, n in learned)
    step = common_step(list(parts.values()))
    other = [g for g in groups if g.index in parts and parts[g.index].step != step]
    if other:  # a group whose readings look coarser or finer is learned again with the zone's step
        again = executor.map_groups(learn, [LearnTask(window, g, params, step, max_rows) for g in other])
        parts.update({g.index: part for g, (part, _) in zip(other, again, strict=True)
                      if part is not None})
    return fit_groups(copy.copy(params), [parts[i] for i in sorted(parts)]), rows


def detect_anomalies(engine: Engine, executor: Executor, detector: AnomalyDetector,
                     since: datetime, until: datetime, *, interval_start: datetime,
                     report_id: str | None, group_size: int) -> pd.DataFrame:
    """Anomalies in the readings of [since, until), stored group by group; returns them all
    (``OUTPUT`` columns, by time then meter). Raises nothing for an empty window: the caller
    decides (see :func:`groups_of`)."""
    store = store_name(engine)
    window = Window(store, since, until)
    groups = groups_of(engine, since, until, group_size)
    voted = executor.map_groups(vote, [VoteTask(window, g, for_meters(detector, g.meters))
                                       for g in groups])
    zone = zone_crowd(c for _, c in voted)
    rules = getattr(detector, "rules", None)
    found = executor.map_groups(finish, [FinishTask(store, g, interval_start, report_id, points, zone,
                                                    rules)
                                         for g, (points, _) in zip(groups, voted, strict=True)])
    frames = [f for f in found if len(f)]
    if not frames:
        return pd.DataFrame(columns=list(OUTPUT))
    return pd.concat(frames).sort_values(["ts", "meter_id"]).reset_index(drop=True)
