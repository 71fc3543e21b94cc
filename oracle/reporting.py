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
    SEVERITY,
    PriceReport,
    anomaly_leaf,
    curve_hash,
    feed_id,
    meter_key,
    schedule_bytes,
    to_answer,
    to_bps,
)
from oracle.chain.merkle import MerkleTree

# Anomaly types that flag a meter on chain, so settlement contracts refuse its trades.
FLAGGING_TYPES = frozenset({"meter_tampering", "trading_fraud"})


def interval_key(interval_start: datetime) -> str:
    """UTC, minute precision: 2026-01-05T10:00Z."""
    return interval_start.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def report_id(kind: str, scope: str, interval_start: datetime) -> str:
    """``price:zone-1:2026-01-05T10:00Z`` — one report per kind, scope and interval."""
    return f"{kind}:{scope}:{interval_key(interval_start)}"


def round_number(interval_start: datetime, interval_s: int) -> int:
    """Round / batch id of an interval: intervals since the Unix epoch (always increasing)."""
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
    """``recordBatch``: Merkle root of the anomalies, count, highest severity, meters to flag."""
    rows = anomalies.sort_values(["meter_id", "ts", "type"]).to_dict("records")
    leaves = [anomaly_leaf(str(r["meter_id"]), int(pd.Timestamp(r["ts"]).timestamp()),
                           str(r["type"]), str(r["severity"]), float(r["score"])) for r in rows]
    root = MerkleTree(leaves).root if leaves else b"\x00" * 32
    max_severity = max((SEVERITY[str(r["severity"])] for r in rows), default=0)
    flagged = sorted({str(r["meter_id"]) for r in rows if r["type"] in FLAGGING_TYPES})
    detected_at = int(time.time())
    args = [batch_id, root, len(rows), max_severity, detected_at,
            [meter_key(m) for m in flagged], []]
    payload = {"batch_id": batch_id, "root": root.hex(), "count": len(rows),
               "max_severity": max_severity, "flagged": flagged, "detected_at": detected_at,
               "leaves": [leaf.hex() for leaf in leaves]}
    return ChainCall("AnomalyRegistry", "recordBatch", args, payload)


def schedule_call(interval_start: datetime, schedule: dict[str, Any],
                  summary: dict[str, Any]) -> ChainCall:
    """``commitSchedule``: hash of the full schedule plus its summary figures; the schedule
    itself travels in the calldata and the event log."""
    body = schedule_bytes(schedule)
    args = [int(interval_start.timestamp()), keccak(body), round(summary["total_cost"] * 1000),
            to_bps(summary["renewable_share"], field="renewable_share"),
            max(-10_000, min(10_000, round(summary["peak_reduction_pct"] * 100))),
            max(0, round(summary["carbon_kg"] * 1000)), body]
    payload = {"interval_start": interval_key(interval_start), "schedule_hash": keccak(body).hex(),
               **{k: summary[k] for k in ("total_cost", "renewable_share", "peak_reduction_pct",
                                          "carbon_kg")}}
    return ChainCall("GridOptimizationRegistry", "commitSchedule", args, payload)
