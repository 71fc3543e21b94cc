"""Double-auction market clearing: a sort and a sweep over the two cumulative quantity curves.

Bids are ranked highest price first and offers lowest price first (ties: earlier ``ts``, then
order id). Energy is matched unit by unit along both ranked books for as long as the bid's
limit is at least the offer's limit, so the matched volume maximises total surplus and, among
the welfare-maximising allocations, trades the most energy (zero-surplus units are traded).
Both books are sorted once (O(n log n)) and the sweep is a vectorised merge of the cumulative
quantities, so 100k orders clear in well under a second.

Prices
    ``uniform`` (pay-as-clear): every match trades at one price, the midpoint of the interval of
    market-clearing prices ``[max(marginal offer, best unmatched bid), min(marginal bid, best
    unmatched offer)]``. Every matched buyer's limit is at or above it, every matched seller's
    ask at or below it, and no unmatched order would trade at it. Clipped to [floor, cap].
    ``pay_as_bid`` (discriminatory): each matched pair trades at the midpoint of its own bid
    and offer limits; the buyer pays and the seller receives that same price, so each pair
    splits its surplus equally. ``Clearing.price`` is then the volume-weighted mean price.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.errors import InvalidInput
from models.pricing.orders import Book, Orders, load_books

RULES = ("uniform", "pay_as_bid")
QUANTITY_TOL = 1e-9
"""kWh below which a remainder or a matched slice counts as zero (float rounding of sums)."""

MATCH_COLUMNS = ["bid_id", "offer_id", "quantity_kwh", "price"]


@dataclass(frozen=True, eq=False)
class Clearing:
    """The result of one clearing: price (None without trade), volume, matches, surpluses."""

    rule: str
    price: float | None
    volume: float
    matches: pd.DataFrame
    buyer_surplus: float
    seller_surplus: float
    unmatched_bids: pd.DataFrame
    unmatched_offers: pd.DataFrame
    price_interval: tuple[float, float] | None = None

    @property
    def traded(self) -> bool:
        """Whether any energy changed hands."""
        return self.price is not None

    @property
    def total_surplus(self) -> float:
        """Buyer plus seller surplus: the welfare the matches create."""
        return self.buyer_surplus + self.seller_surplus

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary with the matches and the unmatched remainders as records."""
        interval = list(self.price_interval) if self.price_interval else None
        return {
            "rule": self.rule, "price": self.price, "volume_kwh": self.volume,
            "price_interval": interval, "buyer_surplus": self.buyer_surplus,
            "seller_surplus": self.seller_surplus, "total_surplus": self.total_surplus,
            "matches": _records(self.matches),
            "unmatched_bids": _records(self.unmatched_bids),
            "unmatched_offers": _records(self.unmatched_offers),
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].map(lambda t: t.isoformat() if pd.notna(t) else None)
    return out.astype(object).where(out.notna(), None).to_dict(orient="records")


def _sweep(bids: Book, offers: Book) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match the ranked books; return (bid position, offer position, quantity) per match."""
    empty = np.zeros(0, dtype=np.int64)
    if len(bids) == 0 or len(offers) == 0:
        return empty, empty, np.zeros(0)
    bid_cum = np.cumsum(bids.quantity)
    offer_cum = np.cumsum(offers.quantity)
    total = min(bid_cum[-1], offer_cum[-1])
    inner = np.union1d(bid_cum, offer_cum)
    edges = np.concatenate(([0.0], inner[inner < total - QUANTITY_TOL], [total]))
    keep = np.concatenate(([True], np.diff(edges) > QUANTITY_TOL))
    keep[-1] = True
    edges = edges[keep]
    mid = (edges[:-1] + edges[1:]) / 2
    bid_pos = np.minimum(np.searchsorted(bid_cum, mid), len(bids) - 1)
    offer_pos = np.minimum(np.searchsorted(offer_cum, mid), len(offers) - 1)
    crossing = bids.price[bid_pos] >= offers.price[offer_pos]
    n_match = int(np.argmin(crossing)) if not crossing.all() else len(crossing)
    quantity = np.diff(edges)[:n_match]
    return bid_pos[:n_match], offer_pos[:n_match], quantity


def _remaining(book: Book, positions: np.ndarray, quantity: np.ndarray) -> np.ndarray:
    filled = np.bincount(positions, weights=quantity, minlength=len(book))
    remaining = book.quantity - filled
    remaining[remaining <= QUANTITY_TOL] = 0.0
    return remaining


def _unmatched(book: Book, remaining: np.ndarray) -> pd.DataFrame:
    open_ = remaining > 0
    frame = book.frame.loc[open_].reset_index(drop=True)
    frame.insert(2, "remaining_kwh", remaining[open_])
    return frame


def _uniform_interval(bids: Book, offers: Book, bid_pos: np.ndarray, offer_pos: np.ndarray,
                      bid_left: np.ndarray, offer_left: np.ndarray) -> tuple[float, float]:
    """The interval of market-clearing prices around the marginal pair."""
    best_open_bid = bids.price[np.argmax(bid_left > 0)] if (bid_left > 0).any() else -np.inf
    best_open_offer = (offers.price[np.argmax(offer_left > 0)] if (offer_left > 0).any()
                       else np.inf)
    low = max(float(offers.price[offer_pos[-1]]), float(best_open_bid))
    high = min(float(bids.price[bid_pos[-1]]), float(best_open_offer))
    return low, high


def _match_frame(bids: Book, offers: Book, bid_pos: np.ndarray, offer_pos: np.ndarray,
                 quantity: np.ndarray, price: np.ndarray) -> pd.DataFrame:
    columns: dict[str, Any] = {
        "bid_id": bids.frame["order_id"].to_numpy()[bid_pos],
        "offer_id": offers.frame["order_id"].to_numpy()[offer_pos],
        "quantity_kwh": quantity, "price": price,
    }
    for source, buyer, seller in (("user_id", "buyer_id", "seller_id"),
                                  ("meter_id", "buyer_meter_id", "seller_meter_id")):
        if source in bids.frame.columns:
            columns[buyer] = bids.frame[source].to_numpy()[bid_pos]
        if source in offers.frame.columns:
            columns[seller] = offers.frame[source].to_numpy()[offer_pos]
    return pd.DataFrame(columns)


def clear_books(bids: Book, offers: Book, rule: str, floor: float, cap: float) -> Clearing:
    """Clear two validated, ranked books (see ``clear_market``)."""
    bid_pos, offer_pos, quantity = _sweep(bids, offers)
    bid_left = _remaining(bids, bid_pos, quantity)
    offer_left = _remaining(offers, offer_pos, quantity)
    unmatched_bids, unmatched_offers = _unmatched(bids, bid_left), _unmatched(offers, offer_left)
    if len(quantity) == 0:
        matches = pd.DataFrame({c: pd.Series(dtype=float) for c in MATCH_COLUMNS})
        return Clearing(rule, None, 0.0, matches, 0.0, 0.0, unmatched_bids, unmatched_offers)
    bid_limit, offer_limit = bids.price[bid_pos], offers.price[offer_pos]
    interval = _uniform_interval(bids, offers, bid_pos, offer_pos, bid_left, offer_left)
    if rule == "uniform":
        price = float(np.clip((interval[0] + interval[1]) / 2, floor, cap))
        match_price = np.full(len(quantity), price)
    else:
        match_price = np.clip((bid_limit + offer_limit) / 2, floor, cap)
        price = float(np.dot(quantity, match_price) / quantity.sum())
    matches = _match_frame(bids, offers, bid_pos, offer_pos, quantity, match_price)
    return Clearing(
        rule=rule, price=price, volume=float(quantity.sum()), matches=matches,
        buyer_surplus=float(np.dot(quantity, bid_limit - match_price)),
        seller_surplus=float(np.dot(quantity, match_price - offer_limit)),
        unmatched_bids=unmatched_bids, unmatched_offers=unmatched_offers,
        price_interval=interval,
    )


def _check_rule(rule: str) -> None:
    if rule not in RULES:
        raise InvalidInput(f"rule must be one of {RULES}, got {rule!r}", field="rule", value=rule)


def clear_market(bids: Orders, offers: Orders, rule: str = "uniform", floor: float = 0.05,
                 cap: float = 0.50) -> Clearing:
    """Clear a double auction of bids against offers; an empty or uncrossed book does not trade.

    Each book is a frame (or list of dicts) with order_id, quantity_kwh, limit_price, ts and
    optionally user_id, meter_id, node_id. Limits must lie in [floor, cap].
    """
    _check_rule(rule)
    bid_book, offer_book = load_books(bids, offers, floor, cap)
    return clear_books(bid_book, offer_book, rule, floor, cap)


def clear_by_node(bids: Orders, offers: Orders, rule: str = "uniform", floor: float = 0.05,
                  cap: float = 0.50) -> dict[Any, Clearing]:
    """Clear each node (zone) on its own: orders trade only with orders at the same node_id."""
    _check_rule(rule)
    bid_book, offer_book = load_books(bids, offers, floor, cap)
    for book in (bid_book, offer_book):
        if len(book) and "node_id" not in book.frame.columns:
            raise InvalidInput(f"{book.side}s: missing column node_id for clearing by node",
                               field="node_id")
    groups = {}
    for book in (bid_book, offer_book):
        groups[book.side] = (book.frame.groupby("node_id", sort=False).indices
                             if len(book) else {})
    nodes = sorted(set(groups["bid"]) | set(groups["offer"]), key=lambda n: (str(type(n)), n))
    none = np.zeros(0, dtype=np.int64)
    return {
        node: clear_books(bid_book.take(groups["bid"].get(node, none)),
                          offer_book.take(groups["offer"].get(node, none)), rule, floor, cap)
        for node in nodes
    }
