"""Synthetic order books with planted wash-trade rings (THE LABELS ARE PLANTED, not observed).

Clean market, per half-hour interval: prosumers (40% of users, half with batteries) offer
surplus by day (8-17 h, probability 0.7) and battery owners also at night (0.4); everyone else
bids (0.6 by day, 0.5 at night). A user posts one side per interval; 5% of orders are
cancelled. Orders match greedily (best prices first) at the mid price; a few loyal pairs are
matched first when both are present (legitimate repeated one-way trades).

Rings (``n_rings``): k ~ U(ring_size) users trade a quantity q ~ U(0.5, 2) kWh around a cycle
``u0 -> u1 -> ... -> u0`` at 1.2-1.5x the reference price, in ``repeats`` events spaced at
least k + 3 intervals apart; half the rings trade the whole cycle in one interval, the others one
hop per interval (staggered). Ring members also post 3-6 cancelled orders per event.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Books:
    """Orders, trades, per-user capacity and the planted rings."""

    orders: pd.DataFrame    # order_id, user_id, meter_id, side, quantity_kwh, limit_price, interval, ts, status
    trades: pd.DataFrame    # interval, ts, seller_id, buyer_id, quantity_kwh, price
    capacity: pd.Series     # user_id -> kWh a user can sell per interval (PV + storage)
    rings: list[frozenset[str]]


def _reference(t: int) -> float:
    return 0.15 + 0.05 * np.sin(2 * np.pi * ((t % 48) / 48 - 0.25))


def synthetic_books(*, n_users: int = 60, n_intervals: int = 96, n_rings: int = 3,
                    ring_size: tuple[int, int] = (2, 5), repeats: tuple[int, int] = (6, 12),
                    loyal_pairs: int = 5, seed: int = 0, start: str = "2000-06-05") -> Books:
    """A market of ``n_users`` over ``n_intervals`` half-hours, with ``n_rings`` planted rings."""
    rng = np.random.default_rng(seed)
    users = [f"u{i:03d}" for i in range(n_users)]
    prosumer = rng.random(n_users) < 0.4
    battery = prosumer & (rng.random(n_users) < 0.5)
    capacity = pd.Series(np.where(prosumer, rng.uniform(1.0, 4.0, n_users), 0.0), index=users)
    sellers = np.flatnonzero(prosumer)
    loyal = {(int(rng.choice(sellers)), int(b)) for b in
             rng.choice(np.flatnonzero(~prosumer), min(loyal_pairs, int((~prosumer).sum())),
                        replace=False)} if len(sellers) else set()
    orders: list[dict[str, object]] = []
    trades: list[dict[str, object]] = []
    for t in range(n_intervals):
        _clean_interval(t, rng, users, prosumer, battery, capacity.to_numpy(), loyal,
                        orders, trades)
    rings = _plant_rings(rng, users, n_rings, ring_size, repeats, n_intervals, orders, trades)
    t0 = pd.Timestamp(start, tz="UTC")
    o = pd.DataFrame(orders)
    o.insert(0, "order_id", [f"o{i:06d}" for i in range(len(o))])
    o["meter_id"] = "m" + o["user_id"].str[1:]
    o["ts"] = t0 + pd.to_timedelta(o["interval"] * 30, unit="min")
    tr = pd.DataFrame(trades, columns=["interval", "seller_id", "buyer_id", "quantity_kwh",
                                       "price"])
    tr["ts"] = t0 + pd.to_timedelta(tr["interval"] * 30, unit="min")
    return Books(o, tr, capacity, rings)


def _clean_interval(t: int, rng: np.random.Generator, users: list[str], prosumer: np.ndarray,
                    battery: np.ndarray, cap: np.ndarray, loyal: set[tuple[int, int]],
                    orders: list[dict[str, object]], trades: list[dict[str, object]]) -> None:
    ref = _reference(t)
    day = 16 <= t % 48 < 34
    sell_p = np.where(prosumer & day, 0.7, np.where(battery, 0.4, 0.0))
    side = np.where(rng.random(len(users)) < sell_p, "offer",
                    np.where(~(prosumer & day) & (rng.random(len(users)) < (0.6 if day else 0.5)),
                             "bid", ""))
    book: dict[str, list[list[float]]] = {"offer": [], "bid": []}
    for i in np.flatnonzero(side != ""):
        s = str(side[i])
        qty = rng.uniform(0.2, max(0.3, 0.5 * cap[i])) if s == "offer" else rng.uniform(0.1, 1.5)
        price = ref * (rng.uniform(0.85, 1.0) if s == "offer" else rng.uniform(1.0, 1.15))
        status = "cancelled" if rng.random() < 0.05 else "open"
        orders.append({"user_id": users[i], "side": s, "quantity_kwh": qty, "limit_price": price,
                       "interval": t, "status": status})
        if status == "open":
            book[s].append([float(i), qty, price])
    offers = sorted(book["offer"], key=lambda o: o[2])
    bids = sorted(book["bid"], key=lambda b: -b[2])
    pairs = [(o, b) for o in offers for b in bids if (o[0], b[0]) in loyal]
    pairs += [(o, b) for o in offers for b in bids]
    for o, b in pairs:
        qty = min(o[1], b[1])
        if qty <= 1e-9 or b[2] < o[2]:
            continue
        o[1] -= qty
        b[1] -= qty
        trades.append({"interval": t, "seller_id": users[int(o[0])],
                       "buyer_id": users[int(b[0])],
                       "quantity_kwh": qty, "price": (o[2] + b[2]) / 2})


def _plant_rings(rng: np.random.Generator, users: list[str], n_rings: int,
                 size: tuple[int, int], repeats: tuple[int, int], n_intervals: int,
                 orders: list[dict[str, object]],
                 trades: list[dict[str, object]]) -> list[frozenset[str]]:
    free = list(rng.permutation(len(users)))
    rings = []
    for _ in range(n_rings):
        k = int(rng.integers(size[0], size[1] + 1))
        if len(free) < k:
            break
        members = [users[free.pop()] for _ in range(k)]
        staggered = rng.random() < 0.5
        n_events = int(rng.integers(repeats[0], repeats[1] + 1))
        grid = np.arange(0, n_intervals - k, k + 3)
        starts = rng.choice(grid, size=min(n_events, len(grid)), replace=False)
        for t0 in starts:
            q = rng.uniform(0.5, 2.0)
            for j, seller in enumerate(members):
                t = int(t0) + (j if staggered else 0)
                buyer = members[(j + 1) % k]
                qty = q * rng.uniform(0.97, 1.03)
                price = _reference(t) * rng.uniform(1.2, 1.5)
                trades.append({"interval": t, "seller_id": seller, "buyer_id": buyer,
                               "quantity_kwh": qty, "price": price})
                for who, s in ((seller, "offer"), (buyer, "bid")):
                    orders.append({"user_id": who, "side": s, "quantity_kwh": qty,
                                   "limit_price": price, "interval": t, "status": "filled"})
            for _ in range(int(rng.integers(3, 7))):
                orders.append({"user_id": members[int(rng.integers(k))], "side": "offer",
                               "quantity_kwh": rng.uniform(0.5, 3), "interval": int(t0),
                               "limit_price": _reference(int(t0)) * 1.4, "status": "cancelled"})
        rings.append(frozenset(members))
    return rings
