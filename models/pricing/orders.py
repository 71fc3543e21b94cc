"""Order books: validate bids and offers and sort them into priority order.

Priority is price first (highest bid, lowest offer), then time (earliest first), then order id
(integers compare as integers; any other ids compare as strings).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from models.errors import InvalidInput

REQUIRED_COLUMNS = ("order_id", "quantity_kwh", "limit_price", "ts")
OPTIONAL_COLUMNS = ("user_id", "meter_id", "node_id")
SIDES = ("bid", "offer")

Orders: TypeAlias = pd.DataFrame | Iterable[Mapping[str, Any]] | None
"""A book as a frame or a list of dicts with the REQUIRED_COLUMNS (and any OPTIONAL_COLUMNS)."""


@dataclass(frozen=True, eq=False)
class Book:
    """One side of the market, validated and sorted in priority order (row i = rank i)."""

    side: str
    frame: pd.DataFrame
    quantity: np.ndarray
    price: np.ndarray

    def __len__(self) -> int:
        return len(self.quantity)

    def take(self, positions: np.ndarray) -> Book:
        """The sub-book at ``positions`` (ascending positions keep priority order)."""
        frame = self.frame.iloc[positions].reset_index(drop=True)
        return Book(self.side, frame, self.quantity[positions], self.price[positions])


def check_bounds(floor: float, cap: float) -> None:
    """Reject a price floor and cap that are not finite or not ordered."""
    for name, value in (("floor", floor), ("cap", cap)):
        if not isinstance(value, numbers.Real) or not np.isfinite(value):
            raise InvalidInput(f"{name} must be a finite number, got {value!r}",
                               field=name, value=value)
    if floor >= cap:
        raise InvalidInput(f"floor ({floor}) must be below cap ({cap})", field="floor",
                           value=floor)


def _as_frame(orders: Orders, side: str) -> pd.DataFrame:
    if orders is None:
        return pd.DataFrame(columns=list(REQUIRED_COLUMNS))
    if isinstance(orders, pd.DataFrame):
        return orders.reset_index(drop=True)
    try:
        return pd.DataFrame(list(orders))
    except (TypeError, ValueError) as err:
        raise InvalidInput(f"{side}s: expected a DataFrame or a list of dicts: {err}",
                           field=f"{side}s", value=type(orders).__name__) from err


def _fail(side: str, frame: pd.DataFrame, mask: np.ndarray, field: str, problem: str) -> None:
    """Raise for the first row flagged in ``mask``, naming order id, field and value."""
    if not mask.any():
        return
    pos = int(np.flatnonzero(mask)[0])
    order_id = frame["order_id"].iloc[pos]
    value = frame[field].iloc[pos]
    raise InvalidInput(f"{side}s: order {order_id!r} (row {pos}): {field} {problem}, "
                       f"got {value!r}", field=field, row=order_id, value=value)


def _numeric(side: str, frame: pd.DataFrame, field: str) -> np.ndarray:
    values = pd.to_numeric(frame[field], errors="coerce").to_numpy(dtype=float)
    _fail(side, frame, ~np.isfinite(values), field, "must be a finite number")
    return values


def _time_key(side: str, frame: pd.DataFrame) -> np.ndarray:
    """Timestamps as sortable numbers: epoch nanoseconds, or the numbers themselves."""
    column = frame["ts"]
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return _numeric(side, frame, "ts")
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        stamps = column.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(column):
        stamps = column.dt.tz_localize("UTC")
    else:
        stamps = pd.to_datetime(column, utc=True, errors="coerce", format="mixed")
    _fail(side, frame, stamps.isna().to_numpy(), "ts", "must be a timestamp")
    return stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _id_key(ids: pd.Series) -> np.ndarray:
    """Order ids as a sortable array: integers if every id is an integer, else strings."""
    if pd.api.types.is_integer_dtype(ids):
        return ids.to_numpy()
    return ids.astype(str).to_numpy(dtype=str)


def load_book(orders: Orders, side: str, floor: float, cap: float) -> Book:
    """Validate one side of the market and return it sorted in priority order."""
    if side not in SIDES:
        raise InvalidInput(f"side must be one of {SIDES}, got {side!r}", field="side", value=side)
    frame = orders if isinstance(orders, pd.DataFrame) else _as_frame(orders, side)
    if frame.empty:
        empty = pd.DataFrame(columns=list(REQUIRED_COLUMNS))
        return Book(side, empty, np.zeros(0), np.zeros(0))
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{side}s: missing column(s) {', '.join(missing)}; found "
                           f"{', '.join(map(str, frame.columns))}", field=missing[0])
    _fail(side, frame, frame["order_id"].isna().to_numpy(), "order_id", "must be present")
    if "side" in frame.columns:
        sides = frame["side"].astype(str).str.strip().str.lower()
        wrong = frame["side"].notna() & (sides != side)  # a missing side means this book's
        _fail(side, frame, wrong.to_numpy(), "side", f"must be {side!r}")
    if "node_id" in frame.columns:
        _fail(side, frame, frame["node_id"].isna().to_numpy(), "node_id", "must be present")
    quantity = _numeric(side, frame, "quantity_kwh")
    _fail(side, frame, quantity <= 0, "quantity_kwh", "must be > 0")
    price = _numeric(side, frame, "limit_price")
    _fail(side, frame, (price < floor) | (price > cap), "limit_price",
          f"must lie in [floor, cap] = [{floor}, {cap}]")
    time_key = _time_key(side, frame)
    first = -price if side == "bid" else price
    order = np.lexsort((_id_key(frame["order_id"]), time_key, first))
    frame = frame.iloc[order].reset_index(drop=True)
    return Book(side, frame, quantity[order], price[order])


def load_books(bids: Orders, offers: Orders, floor: float, cap: float) -> tuple[Book, Book]:
    """Validate both sides; an order id may appear only once across both books."""
    check_bounds(floor, cap)
    bid_frame, offer_frame = _as_frame(bids, "bid"), _as_frame(offers, "offer")
    ids = [f["order_id"] for f in (bid_frame, offer_frame) if "order_id" in f.columns]
    if ids:
        _check_unique(pd.concat(ids, ignore_index=True) if len(ids) > 1 else ids[0],
                      len(bid_frame) if "order_id" in bid_frame.columns else 0)
    return load_book(bid_frame, "bid", floor, cap), load_book(offer_frame, "offer", floor, cap)


def _check_unique(ids: pd.Series, n_bids: int) -> None:
    """Reject an order id seen twice, in one book or across both (ids = bids then offers)."""
    repeat = (ids.duplicated() & ids.notna()).to_numpy()
    if not repeat.any():
        return
    pos = int(np.flatnonzero(repeat)[0])
    order_id = ids.iloc[pos]
    first = int(np.flatnonzero((ids == order_id).to_numpy())[0])
    if (first < n_bids) != (pos < n_bids):
        problem = "appears both as a bid and as an offer"
    else:
        side, row = ("bid", pos) if pos < n_bids else ("offer", pos - n_bids)
        problem = f"is duplicated in the {side}s (row {row})"
    raise InvalidInput(f"order {order_id!r} {problem}", field="order_id", row=order_id,
                       value=order_id)


def split_orders(orders: Orders) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split one table with a ``side`` column (bid/offer) into bids and offers."""
    frame = _as_frame(orders, "order")
    if frame.empty:
        return frame, frame
    if "side" not in frame.columns:
        raise InvalidInput("orders: missing column side (bid/offer)", field="side")
    sides = frame["side"].astype(str).str.strip().str.lower()
    unknown = ~sides.isin(SIDES).to_numpy()
    if unknown.any():
        pos = int(np.flatnonzero(unknown)[0])
        order_id = frame["order_id"].iloc[pos] if "order_id" in frame.columns else None
        value = frame["side"].iloc[pos]
        raise InvalidInput(f"orders: order {order_id!r} (row {pos}): side must be 'bid' or "
                           f"'offer', got {value!r}", field="side", row=order_id, value=value)
    is_bid = (sides == "bid").to_numpy()
    return frame[is_bid].reset_index(drop=True), frame[~is_bid].reset_index(drop=True)
