"""What goes on chain and when: report ids, the price feed's publishing policy, and the calls
that carry each report (function name and arguments for the transaction manager).

Report ids are deterministic (kind, scope, interval), so re-running a tick for the same interval
finds the report already in the outbox and never queues a second one. Prices are published the
way Chainlink and API3 feeds do: when the price moves more than the deviation threshold since
the last published round, or when the heartbeat has expired.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from eth_utils import keccak

from oracle.chain.encoding import (
    FLAGGING_TYPES,
    MAX_ABS_COST_MILLI,
    MAX_ABS_PEAK_BPS,
    MAX_CARBON_GRAMS,
    PriceReport,
    anomaly_fields,
    bounded,
    curve_hash,
    feed_id,
    finite,
    schedule_bytes,
    to_answer,
)
from oracle.chain.merkle import MerkleTree

__all__ = ["FLAGGING_TYPES", "ChainCall", "PublishDecision", "anomaly_call", "interval_key",
           "price_call", "report_id", "round_number", "schedule_call", "should_publish"]


def interval_key(interval_start: datetime) -> str:
    """UTC, minute precision: 2026-01-05T10:00Z; seconds too when the interval does not start
    on a minute (sub-minute intervals must not share a report id): 2026-01-05T10:00:30Z."""
    utc = interval_start.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ" if utc.second else "%Y-%m-%dT%H:%MZ")


def report_id(kind: str, scope: str, interval_start: datetime) -> str:
    """``price:zone-1:2026-01-05T10:00Z`` — one report per kind, scope and interval."""
    return f"{kind}:{scope}:{interval_key(interval_start)}"


def round_number(interval_start: datetime, interval_s: int) -> int:
    """Round / batch id of an interval: intervals since the Unix epoch (always increasing).

    The contracts accept an id only once its interval has started (``id * interval_s`` no later
    than the observation or detection time), and the daemon ticks only intervals that have
    started, so every id it sends, catch-up after an outage included, is within that bound.
    """
    return int(interval_start.timestamp()) // interval_s


@dataclass(frozen=True)
class PublishDecision:
    publish: bool
    reason: str  # first / deviation / heartbeat / no-trade / within-deviation
    deviation_percent: float | None = None


def should_publish(price: float | None, now: datetime, last_price: float | None,
                   last_time: datetime | None, *, deviation_percent: float,
                   heartbeat_s: float) -> PublishDecision:
    """Deviation + heartbeat: publish the first round, any move beyond the threshold, and at
    least once per heartbeat (re-publishing the current price); never publish "no trade"."""
    if price is None:
        return PublishDecision(False, "no-trade")
    if last_price is None or last_time is None:
        return PublishDecision(True, "first")
    moved = abs(price - last_price) / abs(last_price) * 100 if last_price else float("inf")
    if moved > deviation_percent:
        return PublishDecision(True, "deviation", moved)
    if (now - last_time).total_seconds() >= heartbeat_s:
        return PublishDecision(True, "heartbeat", moved)
    return PublishDecision(False, "within-deviation", moved)


@dataclass(frozen=True)
class ChainCall:
    """One report's transaction: contract, function, arguments, and the JSON kept in the outbox."""

    contract: str
    fn_name: str
    args: list[Any]
    payload: dict[str, Any]


def price_call(zone: str, round_id: int, price: float, curve: list[float], decimals: int) -> ChainCall:
    """``transmit`` (quorum of one: the transmitter's transaction signature is the report's)."""
    observed_at = int(time.time())  # when the oracle observed it; the contract bounds its age
    report = PriceReport(feed=feed_id(zone), round_id=round_id, answer=to_answer(price, decimals),
                         observed_at=observed_at, curve_hash=curve_hash(curve, decimals))
    payload = {"zone": zone, "round_id": round_id, "price": price, "answer": report.answer,
               "observed_at": observed_at, "curve": curve, "curve_hash": report.curve_hash.hex()}
    return ChainCall("EnergyPriceOracle", "transmit", report.args(), payload)


def anomaly_call(batch_id: int, anomalies: pd.DataFrame) -> ChainCall:
    """``recordBatch``: Merkle root of the anomalies, count, highest severity, and the meters to
    flag, each with its most severe flagging anomaly and that anomaly's proof as evidence."""
    rows = anomalies.sort_values(["meter_id", "ts", "type"]).to_dict("records") \
        if not anomalies.empty else []
    fields = [anomaly_fields(str(r["meter_id"]), int(pd.Timestamp(r["ts"]).timestamp()),
                             str(r["type"]), str(r["severity"]), float(r["score"])) for r in rows]
    leaves = [f.leaf(batch_id) for f in fields]
    tree = MerkleTree(leaves)
    evidence: dict[str, int] = {}  # meter -> index of its most severe flagging anomaly
    for i, r in enumerate(rows):
        meter = str(r["meter_id"])
        if r["type"] in FLAGGING_TYPES and (
                meter not in evidence or fields[i].severity > fields[evidence[meter]].severity):
            evidence[meter] = i
    flagged = sorted(evidence)
    max_severity = max((f.severity for f in fields), default=0)
    detected_at = int(time.time())
    flags = [(fields[evidence[m]].as_struct(), tree.proof(evidence[m])) for m in flagged]
    args = [batch_id, tree.root, len(rows), max_severity, detected_at, flags, []]
    payload = {"batch_id": batch_id, "root": tree.root.hex(), "count": len(rows),
               "max_severity": max_severity, "flagged": flagged, "detected_at": detected_at,
               "leaves": [leaf.hex() for leaf in leaves]}
    return ChainCall("AnomalyRegistry", "recordBatch", args, payload)


def schedule_call(interval_start: datetime, schedule: dict[str, Any],
                  summary: dict[str, Any]) -> ChainCall:
    """``commitSchedule``: hash of the full schedule plus its summary figures; the schedule
    itself travels in the calldata and the event log. A figure outside the registry's range is
    refused here, naming it, rather than queued to revert; peak reduction is clamped to ±100%."""
    body = schedule_bytes(schedule)
    peak = max(-100.0, min(100.0, finite(summary["peak_reduction_pct"], field="peak_reduction_pct")))
    carbon = max(0.0, finite(summary["carbon_kg"], field="carbon_kg"))  # solver noise: -1e-9
    args = [int(interval_start.timestamp()), keccak(body),
            bounded(summary["total_cost"], 1000, -MAX_ABS_COST_MILLI, MAX_ABS_COST_MILLI,
                    field="total_cost"),
            bounded(summary["renewable_share"], 10_000, 0, 10_000, field="renewable_share"),
            bounded(peak, 100, -MAX_ABS_PEAK_BPS, MAX_ABS_PEAK_BPS, field="peak_reduction_pct"),
            bounded(carbon, 1000, 0, MAX_CARBON_GRAMS, field="carbon_kg"),
            body]
    payload = {"interval_start": interval_key(interval_start), "schedule_hash": keccak(body).hex(),
               **{k: summary[k] for k in ("total_cost", "renewable_share", "peak_reduction_pct",
                                          "carbon_kg")}}
    return ChainCall("GridOptimizationRegistry", "commitSchedule", args, payload)
