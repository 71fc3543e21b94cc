"""The price stage: clear the book for T; publish on deviation or heartbeat (-> outbox)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from oracle.chain.reports import (
    price_call,
    report_id,
    round_number,
    should_publish,
)
from oracle.config import PricingSettings
from oracle.errors import RpcUnavailable
from oracle.jobs.shared import queue
from oracle.jobs.submission import SubmitParts, submit
from oracle.jobs.tariffs import TariffBook
from oracle.model_errors import model_errors
from oracle.store import results
from oracle.store.audit import append_entry
from oracle.store.engine import session_scope

if TYPE_CHECKING:
    from oracle.chain.txmanager import TxManager
    from oracle.committee import Committee

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PriceParts:
    """What the price stage uses: the store, ``[pricing]``, the interval length, the feed's
    decimals, the tariffs of the forward curve, the transaction manager (None: no chain), the
    committee (None: a lone signer) and the submit stage's parts (a committee's leader sends
    its signed report at once)."""

    engine: Engine
    pricing: PricingSettings
    interval_s: int  # scheduler.interval_s
    feed_decimals: int  # chain.feed_decimals
    tariffs: TariffBook
    txm: TxManager | None
    committee: Committee | None
    submit: SubmitParts


def forward_curve(engine: Engine, p: PricingSettings, tariffs: TariffBook,
                  start: datetime) -> list[float]:
    """Forward price curve for the next 24 h: supply-demand-ratio pricing on the forecasts."""
    from models.pricing.strategies import supply_demand_price

    zone = p.zone
    with session_scope(engine) as session:
        demand = results.forecast_frame(session, target="demand", entity_id=zone, origin=start)
        solar = results.forecast_frame(session, target="solar", entity_id=zone, origin=start)
    if demand.empty or solar.empty:
        return []
    tariff = tariffs.current()
    return [round(min(p.cap, max(p.floor, supply_demand_price(
        max(s, 0.0), max(d, 1e-9), tariff["export_price"], tariff["import_price"]))), 6)
        for d, s in zip(demand["mean"], solar["mean"], strict=False)]


@model_errors("price", unexpected=True)
def price(parts: PriceParts, start: datetime) -> dict[str, Any]:
    """Clear the book for T; queue a price report on deviation or heartbeat."""
    from models.pricing import clear_market, split_orders
    from models.pricing.components import price_components

    p = parts.pricing
    with session_scope(parts.engine) as session:
        orders = results.orders_frame(session, start)
    bids, offers = split_orders(orders) if not orders.empty else (orders, orders)
    clearing = clear_market(bids, offers, rule=p.rule, floor=p.floor, cap=p.cap)
    rid = report_id("price", p.zone, start)
    with session_scope(parts.engine) as session:
        last = results.last_published_round(session, p.zone, start)
        decision = should_publish(clearing.price, start, last.price if last else None,
                                  last.interval_start.replace(tzinfo=UTC) if last else None,
                                  deviation_percent=p.deviation_percent, heartbeat_s=p.heartbeat_s)
    publish = decision.publish and clearing.price is not None
    # everything that reads the backend (the tariffs behind the curve) comes before the round is
    # stored: a round stored as published always goes on to queue its report, and a backend
    # outage here retries the whole interval with nothing written
    curve = forward_curve(parts.engine, p, parts.tariffs, start) if publish else []
    components = (price_components(clearing.price, floor=p.floor, cap=p.cap).as_dict()
                  if clearing.price is not None else None)
    with session_scope(parts.engine) as session:
        results.save_price_round(
            session, zone=p.zone, interval_start=start, rule=p.rule, price=clearing.price,
            volume_kwh=clearing.volume, buyer_surplus=clearing.buyer_surplus,
            seller_surplus=clearing.seller_surplus, components=components,
            matches=clearing.matches.head(500).to_dict("records") if not clearing.matches.empty else [],
            published=decision.publish, publish_reason=decision.reason,
            report_id=rid if decision.publish else None)
        append_entry(session, "price.round", {"interval_start": start, "price": clearing.price,
                                              "volume_kwh": clearing.volume,
                                              "decision": decision.reason}, ref=rid)
    queued: bool | str = False
    if publish:
        assert clearing.price is not None
        if parts.committee is not None:
            queued = _committee_round(parts, rid, start, clearing.price, curve)
        else:
            call = price_call(p.zone, round_number(start, parts.interval_s), clearing.price,
                              curve, parts.feed_decimals)
            queued = queue(parts.txm, rid, "price", call, start)
    return {"price": clearing.price, "volume_kwh": clearing.volume, "publish": decision.reason,
            "queued": queued}


def _committee_round(parts: PriceParts, rid: str, start: datetime, price: float,
                     curve: list[float]) -> str:
    """The committee's round for T (oracle.committee): lead it or sign and wait; the leader's
    report goes through the transaction manager like any other. Returns the round's outcome."""
    from oracle.chain.encoding import PriceReport

    committee, txm = parts.committee, parts.txm
    assert committee is not None

    def transmit(report: PriceReport, signatures: bytes) -> bool:
        if txm is None:
            return False
        payload = {"zone": parts.pricing.zone, "round_id": report.round_id,
                   "price": price, "answer": report.answer, "observed_at": report.observed_at,
                   "curve": curve, "curve_hash": report.curve_hash.hex(),
                   "signatures": signatures.hex()}
        queued = txm.queue(rid, "price", "EnergyPriceOracle", "transmitSigned",
                           [*report.args(), signatures], start, payload)
        try:
            submit(parts.submit)
        except RpcUnavailable as err:  # queued: the submit job sends it
            log.warning("round %d: queued, not yet sent: %s", report.round_id, err)
        return queued

    result = committee.publish(start, price, curve, transmit)
    return f"committee: {result.outcome}" + (" (led)" if result.led else "")
