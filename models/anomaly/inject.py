"""Evaluation data: meter-like series from real load, and anomalies injected by a seeded protocol.

THE LABELS ARE INJECTED. No labelled meter-anomaly set ships offline, so evaluation uses real
demand (the caller passes e.g. ``pmdarima.datasets.load_taylor()``, half-hourly England & Wales
demand from Monday 2000-06-05) turned into meter-like series, plus PV driven by real irradiance
(e.g. pvlib's TMY3 GHI), and plants anomalies whose positions are the labels.

Meters (:func:`meters_from_load`): meter ``m`` takes ``weeks`` consecutive whole weeks of the
load starting at a random week offset (so weekdays stay aligned and meters do not share the
same real irregularities), divides by its mean, scales to a household level drawn from
U(0.15, 0.6) kWh per reading, multiplies by a per-day factor exp(N(0, 0.05)) and per-reading
noise exp(N(0, s_m)) with s_m ~ U(0.04, 0.12). A share ``pv_share`` are prosumers with
k ~ U(3, 8) kWp: production = k x 0.8 x GHI/1000 x hours-per-reading x exp(N(0, 0.03)).
All meters are stamped on one common calendar from ``start``.

Injection (:func:`inject_anomalies`), only at or after ``since``, one ``numpy`` Generator from
``seed``; events never overlap and keep two readings apart. Per kind (``PROTOCOL``): length in
readings, what is done to the series, and the type label:

=================  ========  ===========================================  ==================
kind               length    change                                       type
=================  ========  ===========================================  ==================
spike              1-2       consumption x U(2.5, 5)                      consumption_spike
drop               2-6       consumption x U(0.05, 0.3)                   consumption_drop
flat_line          6-24      consumption held at its first value          meter_tampering
zeroing            4-24      consumption = 0                              meter_tampering
scale_change       48-144    consumption x U(0.3, 0.55) or x U(1.8, 3)    meter_tampering
reversed           2-8       consumption = -consumption                   meter_tampering
pv_yield_loss      3-8       production x U(0.05, 0.35), daylight start   production_anomaly
pv_failure         2-3 days  production x U(0, 0.25)                      equipment_failure
coordinated        1-2       consumption x U(3, 5) on U(40, 70)% meters   cyber_attack
impossible         1         consumption = 1e4 kWh                        data_corruption
duplicate          1         the row repeated with consumption x 1.3      data_corruption
gap                1-4       rows removed; the next reading is labelled   data_corruption
=================  ========  ===========================================  ==================

PV kinds are labelled only where the clean output exceeds 10% of the meter's peak (a loss at
dusk is not observable). Counts per kind scale with the number of meters (``counts``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from models.errors import InvalidInput

WEEK = 7 * 48
TYPE_OF = {"spike": "consumption_spike", "drop": "consumption_drop",
           "flat_line": "meter_tampering", "zeroing": "meter_tampering",
           "scale_change": "meter_tampering", "reversed": "meter_tampering",
           "pv_yield_loss": "production_anomaly", "pv_failure": "equipment_failure",
           "coordinated": "cyber_attack", "impossible": "data_corruption",
           "duplicate": "data_corruption", "gap": "data_corruption"}
PER_METER = {"spike": 3.0, "drop": 2.0, "flat_line": 1.0, "zeroing": 1.0, "scale_change": 0.25,
             "reversed": 0.3, "pv_yield_loss": 2.0, "pv_failure": 0.4, "impossible": 0.3,
             "duplicate": 0.3, "gap": 0.3}
LENGTH = {"spike": (1, 2), "drop": (2, 6), "flat_line": (6, 24), "zeroing": (4, 24),
          "scale_change": (48, 144), "reversed": (2, 8), "pv_yield_loss": (3, 8),
          "pv_failure": (96, 144), "impossible": (1, 1), "duplicate": (1, 1), "gap": (1, 4)}


def meters_from_load(load: np.ndarray, *, n_meters: int = 30, weeks: int = 6,
                     irradiance: np.ndarray | None = None, pv_share: float = 0.5,
                     start: str = "2000-06-05", seed: int = 0) -> pd.DataFrame:
    """Long frame ``meter_id, ts, consumption_kwh, production_kwh[, ghi_wm2]`` (see docstring)."""
    load = np.asarray(load, dtype=float)
    n = weeks * WEEK
    if load.size < n or n_meters < 1:
        raise InvalidInput(f"load: need at least {n} half-hourly values for {weeks} weeks, "
                           f"got {load.size}", field="load", value=load.size)
    if irradiance is not None and len(irradiance) < n:
        raise InvalidInput(f"irradiance: need {n} values, got {len(irradiance)}",
                           field="irradiance", value=len(irradiance))
    rng = np.random.default_rng(seed)
    ts = pd.date_range(start, periods=n, freq="30min", tz="UTC")
    frames = []
    for m in range(n_meters):
        off = int(rng.integers(0, load.size // WEEK - weeks + 1)) * WEEK
        base = load[off:off + n] / load[off:off + n].mean()
        daily = np.repeat(np.exp(rng.normal(0, 0.05, n // 48 + 1)), 48)[:n]
        cons = base * rng.uniform(0.15, 0.6) * daily * np.exp(
            rng.normal(0, rng.uniform(0.04, 0.12), n))
        prod = np.zeros(n)
        if irradiance is not None and rng.random() < pv_share:
            ghi = np.clip(np.asarray(irradiance[:n], dtype=float), 0, None)
            prod = rng.uniform(3, 8) * 0.8 * ghi / 1000 * 0.5 * np.exp(rng.normal(0, 0.03, n))
        frame = pd.DataFrame({"meter_id": f"m{m:03d}", "ts": ts, "consumption_kwh": cons,
                              "production_kwh": prod})
        if irradiance is not None:
            frame["ghi_wm2"] = np.asarray(irradiance[:n], dtype=float)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


class _Planner:
    """Picks non-overlapping event windows per meter."""

    def __init__(self, frame: pd.DataFrame, since: pd.Timestamp, rng: np.random.Generator):
        self.rng = rng
        self.rows = {m: idx for m, idx in frame.groupby("meter_id").indices.items()}
        ns = pd.to_datetime(frame["ts"], utc=True).astype("int64").to_numpy()
        cut = (since.tz_localize("UTC") if since.tzinfo is None else since).value
        self.first = {m: int(np.searchsorted(ns[idx], cut)) for m, idx in self.rows.items()}
        self.busy = {m: np.zeros(len(idx), dtype=bool) for m, idx in self.rows.items()}

    def free(self, meter: str, a: int, length: int) -> bool:
        busy = self.busy[meter]
        return a >= self.first[meter] + 2 and a + length + 2 <= len(busy) \
            and not busy[a - 2:a + length + 2].any()

    def take(self, meter: str, a: int, length: int) -> np.ndarray:
        self.busy[meter][a:a + length] = True
        return self.rows[meter][a:a + length]

    def pick(self, meters: list[str], length: int,
             ok: Callable[[np.ndarray], bool] | None = None) -> tuple[str, np.ndarray] | None:
        for _ in range(200):
            m = meters[int(self.rng.integers(len(meters)))]
            a = int(self.rng.integers(self.first[m], len(self.busy[m]) - length + 1))
            if self.free(m, a, length) and (ok is None or ok(self.rows[m][a:a + length])):
                return m, self.take(m, a, length)
        return None


def inject_anomalies(frame: pd.DataFrame, *, since: str | pd.Timestamp, seed: int = 0,
                     counts: Mapping[str, int] | None = None,
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Plant anomalies by the module's protocol; returns ``(frame, labels)``.

    ``labels`` has ``meter_id, ts, kind, type, event``, one row per anomalous reading
    (``event`` numbers the planted events).
    """
    df = frame.sort_values(["meter_id", "ts"]).reset_index(drop=True).copy()
    rng = np.random.default_rng(seed)
    plan = _Planner(df, pd.Timestamp(since), rng)
    meters = sorted(plan.rows)
    n_m = len(meters)
    todo = {k: round(v * n_m) for k, v in PER_METER.items()}
    todo["coordinated"] = max(1, n_m // 10)
    todo.update(counts or {})
    labels: list[tuple[int, str, int]] = []
    events: list[str] = []
    c = df["consumption_kwh"].to_numpy().copy()
    p = df["production_kwh"].to_numpy().copy()
    peak = df.groupby("meter_id")["production_kwh"].transform("max").to_numpy()
    pv_meters = [m for m in meters if peak[plan.rows[m][0]] > 0]
    drop_rows: list[int] = []
    dup_rows: list[int] = []
    for kind in ("scale_change", "pv_failure", "coordinated", "flat_line", "zeroing", "drop",
                 "reversed", "pv_yield_loss", "spike", "impossible", "duplicate", "gap"):
        for _ in range(todo.get(kind, 0)):
            lo, hi = LENGTH.get(kind, (1, 2))
            length = int(rng.integers(lo, hi + 1))
            if kind == "coordinated":
                labels += [(r, k, len(events)) for r, k in
                           _coordinated(plan, meters, length, c, rng)]
                events.append(kind)
                continue
            if kind.startswith("pv"):
                if not pv_meters:
                    continue
                got = plan.pick(pv_meters, length, lambda r: bool(p[r[0]] > 0.3 * peak[r[0]]))
            else:
                got = plan.pick(meters, length)
            if got is None:
                continue
            rows = got[1]
            labels += [(r, k, len(events)) for r, k in
                       _apply(kind, rows, c, p, peak, rng, drop_rows, dup_rows)]
            events.append(kind)
    df["consumption_kwh"], df["production_kwh"] = c, p
    lab = pd.DataFrame(labels, columns=["row", "kind", "event"])
    lab["meter_id"] = df["meter_id"].to_numpy()[lab["row"]]
    lab["ts"] = df["ts"].to_numpy()[lab["row"]]
    dups = df.iloc[dup_rows].copy()
    dups["consumption_kwh"] *= 1.3
    out = pd.concat([df.drop(index=drop_rows), dups]).sort_values(["meter_id", "ts"], kind="stable")
    lab["ts"] = pd.to_datetime(lab["ts"], utc=True)
    lab["type"] = lab["kind"].map(TYPE_OF)
    lab = lab.drop(columns="row").drop_duplicates(["meter_id", "ts"])
    return out.reset_index(drop=True), lab.sort_values(["ts", "meter_id"]).reset_index(drop=True)


def _apply(kind: str, rows: np.ndarray, c: np.ndarray, p: np.ndarray, peak: np.ndarray,
           rng: np.random.Generator, drop_rows: list[int],
           dup_rows: list[int]) -> list[tuple[int, str]]:
    if kind == "spike":
        c[rows] *= rng.uniform(2.5, 5)
    elif kind == "drop":
        c[rows] *= rng.uniform(0.05, 0.3)
    elif kind == "flat_line":
        c[rows] = c[rows[0]]
    elif kind == "zeroing":
        c[rows] = 0.0
    elif kind == "scale_change":
        c[rows] *= rng.uniform(0.3, 0.55) if rng.random() < 0.5 else rng.uniform(1.8, 3)
    elif kind == "reversed":
        c[rows] = -c[rows]
    elif kind in ("pv_yield_loss", "pv_failure"):
        seen = rows[p[rows] > 0.1 * peak[rows]]
        p[rows] *= rng.uniform(0.05, 0.35) if kind == "pv_yield_loss" else rng.uniform(0, 0.25)
        return [(int(r), kind) for r in seen]
    elif kind == "impossible":
        c[rows] = 1e4
    elif kind == "duplicate":
        dup_rows.extend(int(r) for r in rows)
    elif kind == "gap":
        drop_rows.extend(int(r) for r in rows)
        return [(int(rows[-1]) + 1, kind)]
    return [(int(r), kind) for r in rows]


def _coordinated(plan: _Planner, meters: list[str], length: int, c: np.ndarray,
                 rng: np.random.Generator) -> list[tuple[int, str]]:
    """One interval, many meters, one factor: a false-data injection across the fleet."""
    share = rng.uniform(0.4, 0.7)
    m0 = meters[0]
    a = int(rng.integers(plan.first[m0] + 2, len(plan.busy[m0]) - length - 2))
    free = [m for m in meters if plan.free(m, a, length)]
    chosen = rng.choice(free, size=min(len(free), round(share * len(meters))), replace=False)
    factor = rng.uniform(3, 5)
    out = []
    for m in sorted(chosen):
        rows = plan.take(m, a, length)
        c[rows] *= factor
        out += [(int(r), "coordinated") for r in rows]
    return out
