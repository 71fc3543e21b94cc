"""Trading fraud: per-user features, a supervised classifier and a novelty score, and graph
analysis of the trade network (wash-trading cycles, collusive groups), combined into one risk.

Orders: ``user_id, side, quantity_kwh, limit_price, interval, status`` (``status`` ``cancelled``
counts as a cancellation). Trades: ``interval, seller_id, buyer_id, quantity_kwh, price``.
A wash cycle is a directed cycle of users whose hops all fall inside ``window`` consecutive
intervals with quantities within ``qty_tol`` of each other, repeated in >= ``min_repeats``
distinct intervals; overlapping cycles merge into one ring.
"""

from __future__ import annotations

from collections import defaultdict

import networkx as nx
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest, RandomForestClassifier

from models.errors import InvalidInput, check_fitted

ORDER_COLS = ("user_id", "side", "quantity_kwh", "limit_price", "interval", "status")
TRADE_COLS = ("interval", "seller_id", "buyer_id", "quantity_kwh", "price")
FEATURES = ("order_to_trade", "cancel_rate", "both_sides", "price_dev", "over_capacity",
            "reciprocity", "concentration")
LEVELS = ((0.9, "critical"), (0.7, "high"), (0.5, "medium"), (0.0, "low"))


def _check(frame: pd.DataFrame, cols: tuple[str, ...], name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(f"{name} must be a DataFrame", field=name, value=type(frame).__name__)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{name}: missing column(s) {', '.join(missing)}", field=missing[0],
                           value=None)
    bad = frame[[c for c in cols if c in ("quantity_kwh", "price", "limit_price")]]
    if len(bad.columns) and (~np.isfinite(bad.to_numpy(dtype=float)) | (bad < 0)).any(axis=None):
        row, col = np.argwhere(~np.isfinite(bad.to_numpy(dtype=float)) | (bad < 0).to_numpy())[0]
        raise InvalidInput(f"{name}: {bad.columns[col]} at row {row} must be a non-negative "
                           f"number, got {bad.iat[row, col]!r}", field=str(bad.columns[col]),
                           row=int(row), value=bad.iat[row, col])


def user_features(orders: pd.DataFrame, trades: pd.DataFrame,
                  capacity: pd.Series | None = None) -> pd.DataFrame:
    """One row per user: the features of ``FEATURES`` (plus ``n_orders``, ``n_trades``)."""
    _check(orders, ORDER_COLS, "orders")
    _check(trades, TRADE_COLS, "trades")
    legs = pd.concat([
        trades.assign(user_id=trades["seller_id"], other=trades["buyer_id"], sold=True),
        trades.assign(user_id=trades["buyer_id"], other=trades["seller_id"], sold=False)])
    users = sorted(set(orders["user_id"].astype(str)) | set(legs["user_id"].astype(str)))
    f = pd.DataFrame(index=pd.Index(users, name="user_id"))
    f["n_orders"] = orders.groupby("user_id").size().reindex(users, fill_value=0)
    f["n_trades"] = legs.groupby("user_id").size().reindex(users, fill_value=0)
    f["order_to_trade"] = f["n_orders"] / f["n_trades"].clip(lower=1)
    cancelled = (orders["status"] == "cancelled").groupby(orders["user_id"]).mean()
    f["cancel_rate"] = cancelled.reindex(users, fill_value=0.0)
    sides = legs.groupby(["user_id", "interval"])["sold"].nunique()
    f["both_sides"] = (sides == 2).groupby(level=0).mean().reindex(users, fill_value=0.0)
    median = trades.groupby("interval")["price"].transform("median")
    legs["dev"] = (np.abs(legs["price"] - pd.concat([median, median]))
                   / pd.concat([median, median]).clip(lower=1e-9))
    f["price_dev"] = legs.groupby("user_id")["dev"].mean().reindex(users, fill_value=0.0)
    sold = legs[legs["sold"]].groupby(["user_id", "interval"])["quantity_kwh"].sum()
    cap = (capacity if capacity is not None else pd.Series(dtype=float)).reindex(
        sold.index.get_level_values(0)).to_numpy()
    ratio = np.where(np.isnan(cap), 0.0, sold.to_numpy() / np.maximum(np.nan_to_num(cap), 0.1))
    f["over_capacity"] = pd.Series(np.minimum(ratio, 10.0), index=sold.index).groupby(
        level=0).max().reindex(users, fill_value=0.0)
    vol = legs.groupby(["user_id", "other", "sold"])["quantity_kwh"].sum().unstack(fill_value=0)
    vol = vol.reindex(columns=[False, True], fill_value=0.0)
    pair = vol.sum(axis=1)
    both = pair.where((vol[False] > 0) & (vol[True] > 0), 0.0)
    total = pair.groupby(level=0).sum()
    f["reciprocity"] = (both.groupby(level=0).sum() / total).reindex(users, fill_value=0.0)
    f["concentration"] = (pair.groupby(level=0).max() / total).reindex(users, fill_value=0.0)
    return f.fillna(0.0)


def _canonical(cycle: list[str]) -> tuple[str, ...]:
    i = cycle.index(min(cycle))
    return tuple(cycle[i:] + cycle[:i])


def wash_rings(trades: pd.DataFrame, *, window: int = 6, max_len: int = 6,
               min_repeats: int = 3, qty_tol: float = 0.1) -> list[frozenset[str]]:
    """Users in repeated, balanced trade cycles (see the module docstring), merged into rings."""
    _check(trades, TRADE_COLS, "trades")
    seen: dict[tuple[str, ...], set[int]] = defaultdict(set)
    by_t = {int(t): g for t, g in trades.groupby("interval")}
    for t in sorted(by_t):
        w = pd.concat([by_t[s] for s in range(t, t + window) if s in by_t])
        g = nx.DiGraph()
        for (s, b), grp in w.groupby(["seller_id", "buyer_id"]):
            if s != b:
                g.add_edge(s, b, qty=grp["quantity_kwh"].sum(), first=int(grp["interval"].min()))
        core = g.subgraph([n for n in g if g.in_degree(n) and g.out_degree(n)])
        for cycle in nx.simple_cycles(core, length_bound=max_len):
            hops = list(zip(cycle, cycle[1:] + cycle[:1], strict=True))
            qty = np.array([core.edges[h]["qty"] for h in hops])
            first = min(core.edges[h]["first"] for h in hops)
            if first == t and qty.max() <= (1 + qty_tol) * qty.min():
                seen[_canonical(cycle)].add(first)
    links = nx.Graph()
    for cyc, starts in seen.items():
        if len(starts) >= min_repeats:
            nx.add_path(links, [*cyc, cyc[0]])
    return [frozenset(c) for c in nx.connected_components(links)]


def collusive_groups(trades: pd.DataFrame, *, min_size: int = 3, max_size: int = 10,
                     min_internal_share: float = 0.5, min_density: float = 0.5,
                     seed: int = 0) -> list[frozenset[str]]:
    """Small, dense Louvain communities of the trade network whose members trade mostly among
    themselves (a tight group, not a neighbourhood)."""
    _check(trades, TRADE_COLS, "trades")
    g = nx.Graph()
    for (s, b), q in trades.groupby(["seller_id", "buyer_id"])["quantity_kwh"].sum().items():
        w = g.get_edge_data(s, b, {"weight": 0.0})["weight"]
        g.add_edge(s, b, weight=w + q)
    out = []
    for com in nx.community.louvain_communities(g, weight="weight", seed=seed):
        if not min_size <= len(com) <= max_size or nx.density(g.subgraph(com)) < min_density:
            continue
        internal = g.subgraph(com).size(weight="weight")
        total = sum(d for _, d in g.degree(com, weight="weight")) - internal
        if total > 0 and internal / total >= min_internal_share:
            out.append(frozenset(com))
    return out


def risk_level(risk: np.ndarray | pd.Series) -> np.ndarray:
    """low < 0.5 <= medium < 0.7 <= high < 0.9 <= critical."""
    r = np.asarray(risk, dtype=float)
    return np.select([r >= lo for lo, _ in LEVELS], [name for _, name in LEVELS], "low")


class TradingFraudDetector(BaseEstimator):
    """Per-user trading risk: ring membership, collusive groups, a supervised classifier (when
    labels are given to ``fit``) and an IsolationForest novelty score, combined by ``max``.

    Ring membership scores 0.95 (critical), a collusive group 0.75 (high); the novelty score is
    r / (1 + r) with r the isolation score over its ``contamination`` threshold (0.5 = medium).
    """

    def __init__(self, contamination: float = 0.05, window: int = 6, min_repeats: int = 3,
                 random_state: int = 0) -> None:
        self.contamination = contamination
        self.window = window
        self.min_repeats = min_repeats
        self.random_state = random_state

    def fit(self, orders: pd.DataFrame, trades: pd.DataFrame, labels: pd.Series | None = None,
            capacity: pd.Series | None = None) -> TradingFraudDetector:
        """Fit the novelty model (and the classifier if ``labels``: user_id -> bool)."""
        f = user_features(orders, trades, capacity)
        x = f[list(FEATURES)].to_numpy()
        self.novelty_ = IsolationForest(contamination=self.contamination,
                                        random_state=self.random_state).fit(x)
        self.classifier_: RandomForestClassifier | None = None
        if labels is not None:
            y = labels.reindex(f.index).fillna(False).astype(bool).to_numpy()
            if y.all() or not y.any():
                raise InvalidInput("labels: need both fraudulent and clean users",
                                   field="labels", value=int(y.sum()))
            self.classifier_ = RandomForestClassifier(
                n_estimators=200, class_weight="balanced",
                random_state=self.random_state).fit(x, y)
        return self

    def score(self, orders: pd.DataFrame, trades: pd.DataFrame,
              capacity: pd.Series | None = None) -> pd.DataFrame:
        """Per user: features, ``novelty``, ``probability``, ``ring``, ``group``, ``risk``,
        ``risk_level``."""
        check_fitted(self, "novelty_")
        f = user_features(orders, trades, capacity)
        x = f[list(FEATURES)].to_numpy()
        r = -self.novelty_.score_samples(x) / -self.novelty_.offset_
        f["novelty"] = r / (1 + r)
        f["probability"] = (self.classifier_.predict_proba(x)[:, 1]
                            if self.classifier_ is not None else np.nan)
        f["ring"], f["group"] = -1, -1
        for i, ring in enumerate(wash_rings(trades, window=self.window,
                                            min_repeats=self.min_repeats)):
            f.loc[f.index.isin(ring), "ring"] = i
        for i, grp in enumerate(collusive_groups(trades, seed=self.random_state)):
            f.loc[f.index.isin(grp), "group"] = i
        risk = np.maximum(f["novelty"], f["probability"].fillna(0.0))
        risk = np.maximum(risk, np.where(f["group"] >= 0, 0.75, 0.0))
        f["risk"] = np.maximum(risk, np.where(f["ring"] >= 0, 0.95, 0.0))
        f["risk_level"] = risk_level(f["risk"])
        return f


def fraud_anomalies(scores: pd.DataFrame, ts: pd.Timestamp,
                    meters: dict[str, str] | None = None, min_level: str = "medium"
                    ) -> pd.DataFrame:
    """Users at or above ``min_level`` as rows of the anomaly schema (type trading_fraud)."""
    from models.anomaly.classify import ACTIONS, SEVERITIES
    from models.anomaly.ensemble import OUTPUT
    keep = scores[scores["risk_level"].map(SEVERITIES.index) >= SEVERITIES.index(min_level)]
    reason = np.where(keep["ring"] >= 0, "wash_trading_ring",
                      np.where(keep["group"] >= 0, "collusive_group", "unusual_trading"))
    out = pd.DataFrame({
        "meter_id": [(meters or {}).get(u, u) for u in keep.index], "ts": ts,
        "type": "trading_fraud", "score": keep["risk"].round(4).to_numpy(),
        "severity": keep["risk_level"].to_numpy(),
        "confidence": keep["risk"].round(4).to_numpy(),
        "recommended_action": ACTIONS["trading_fraud"], "reason": reason})
    return out[list(OUTPUT)].reset_index(drop=True)
