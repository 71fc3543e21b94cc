"""Market clearing and pricing strategies for the peer-to-peer energy market.

``clear_market`` / ``clear_by_node`` run the double auction; ``strategies`` holds the tariff
rules (marginal cost, time of use, congestion, supply-demand ratio, nodal congestion);
``welfare_optimal_price`` finds the exact welfare-optimal price from supply and demand curves;
``price_components`` breaks a published price into parts that sum to it.
"""

from models.pricing.clearing import RULES, Clearing, clear_books, clear_by_node, clear_market
from models.pricing.components import PriceComponents, price_components
from models.pricing.orders import load_books, split_orders
from models.pricing.strategies import (
    TimeOfUse,
    congestion_multiplier,
    marginal_cost_price,
    nodal_congestion,
    supply_demand_price,
    time_of_use_price,
)
from models.pricing.welfare import WelfarePrice, welfare_optimal_price

__all__ = [
    "RULES",
    "Clearing",
    "PriceComponents",
    "TimeOfUse",
    "WelfarePrice",
    "clear_books",
    "clear_by_node",
    "clear_market",
    "congestion_multiplier",
    "load_books",
    "marginal_cost_price",
    "nodal_congestion",
    "price_components",
    "split_orders",
    "supply_demand_price",
    "time_of_use_price",
    "welfare_optimal_price",
]
